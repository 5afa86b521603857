"""One frame in, one frame out: detect → classify → track → overlay.

The pipeline knows no devices. It takes a BGR uint8 frame and returns the composited frame and
the faces it found; sources, sinks, threads and the user interface live elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vcam.classify import EmotionModel
from vcam.config import Config
from vcam.detect import FaceDetector
from vcam.faces import Face
from vcam.overlay import EmojiOverlay, load_emojis
from vcam.track import Tracker, tracker_settings


@dataclass
class FrameResult:
    frame: np.ndarray
    faces: list[Face]


class Pipeline:
    """Turns frames into frames with an emoji on every face."""

    def __init__(self, detector: FaceDetector, model: EmotionModel, tracker: Tracker, overlay: EmojiOverlay,
                 overlay_enabled: bool = True, detect_every: int = 1) -> None:
        self.detector = detector
        self.model = model
        self.tracker = tracker
        self.overlay = overlay
        self.overlay_enabled = overlay_enabled
        self.detect_every = detect_every
        self._detected: list[Face] = []
        self._frames_since_detection = 0

    @classmethod
    def from_config(cls, config: Config) -> Pipeline:
        return cls(
            FaceDetector(config.detector, config.score_threshold, model_path=config.detector_model,
                         num_threads=config.threads),
            EmotionModel(config.emotion_model, num_threads=config.threads, views=config.classify_views),
            Tracker(tracker_settings(config)),
            EmojiOverlay(load_emojis(config.emoji_dir), config.placement),
            detect_every=config.detect_every,
        )

    def process(self, frame: np.ndarray, t: float | None = None) -> FrameResult:
        """Annotate `frame`, taken at `t` seconds, in place and return it with its faces.

        `t` drives the smoothing, the dwell and the cross-fade: a file's frame index / fps, or
        (the default) now on the monotonic clock, for a live camera."""
        t = time.monotonic() if t is None else t
        faces = self.detect(frame)
        faces = self.model.classify(frame, faces)
        faces = self.tracker.update(faces, t)
        self.draw(frame, faces, t)
        return FrameResult(frame, faces)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """The detector's faces: fresh on every `detect_every`-th frame, the last ones between."""
        if self._frames_since_detection % self.detect_every == 0:
            self._detected = self.detector.detect(frame)
            self._frames_since_detection = 0
        self._frames_since_detection += 1
        return self._detected

    def reset(self) -> None:
        """Forget the faces of earlier frames (a new camera or detector): tracks and kept detections."""
        self.tracker.reset()
        self._detected, self._frames_since_detection = [], 0

    def draw(self, frame: np.ndarray, faces: list[Face], t: float | None = None) -> None:
        """The emojis for `faces` onto `frame`, in place, when the overlay is on; with `t`, an
        emoji that changed fades into the new one (without, e.g. a redraw, it is shown at once)."""
        if self.overlay_enabled:
            self.overlay.draw(frame, faces, t)
