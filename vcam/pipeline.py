"""One frame in, one frame out: detect → classify → track → overlay.

The pipeline knows no devices. It takes a BGR uint8 frame and returns the composited frame and
the faces it found; sources, sinks, threads and the user interface live elsewhere.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np

from vcam.choices import Detector, Faces, Placement
from vcam.classify import EmotionModel
from vcam.config import Config
from vcam.detect import FaceDetector
from vcam.emotions import Emotion
from vcam.faces import Face
from vcam.frames import FrameResult
from vcam.motion import FaceMotion
from vcam.overlay import Covered, EmojiOverlay, load_emojis
from vcam.reaction import Reaction
from vcam.schedule import CLASSIFY_EVERY, DETECT_EVERY, ClassifySchedule, DetectSchedule
from vcam.tiles import TILE_SCORE, TiledDetector, TileRotation
from vcam.track import Tracker, tracker_settings
from vcam.user_face import UserFace

PIXELS_PER_TILE = 1280 * 720
"""The live schedule visits one tile a frame for every this many pixels of the frame, beside the
whole frame: one at 1280×720 keeps the detector's time within 1.5× of the whole frame alone
(two were 1.86× here); `python -m benchmarks.crowd` measures it."""


StageTimer = Callable[[str], AbstractContextManager[object]]
"""`with timer("detect"): ...` around each stage: how a benchmark times the real sequence."""
STAGES = ("detect", "classify", "track", "overlay")


def untimed(stage: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


class Pipeline:
    """Turns frames into frames with an emoji on every face."""

    def __init__(self, detector: FaceDetector | TileRotation, model: EmotionModel, tracker: Tracker, overlay: EmojiOverlay,
                 overlay_enabled: bool = True, detect_every: int = 1, config: Config | None = None,
                 schedule: ClassifySchedule | None = None, detect_schedule: DetectSchedule | None = None) -> None:
        self.config = config or Config()
        """The settings the stages were built from; a detector chosen later is built from them too."""
        self.schedule = schedule or ClassifySchedule(0.0)
        """Which faces the classifier sees on each frame (every face, unless the effort says less)."""
        self.detect_schedule = detect_schedule or DetectSchedule(0.0, detect_every)
        """Which frames the detector sees (every `detect_every`-th, unless the effort says less)."""
        self.detector = detector
        self.model = model
        self.tracker = tracker
        self.overlay = overlay
        self.overlay_enabled = overlay_enabled
        self.motion = FaceMotion()
        """Carries the detected faces where they move between detections."""
        self.faces = self.config.faces
        """Whose faces get an emoji: everyone's, or only the user's."""
        self.user_face = UserFace()
        self.reaction = Reaction()
        self._detected: list[Face] = []
        self._missing = False
        """Whether the tracker follows a face that the detector's faces in force lack."""

    @classmethod
    def from_config(cls, config: Config) -> Pipeline:
        return cls(
            build_detector(config),
            EmotionModel(config.emotion_model, num_threads=config.threads, views=config.classify_views),
            Tracker(tracker_settings(config)),
            EmojiOverlay(load_emojis(config.emoji_dir), config.placement),
            config=config,
            schedule=ClassifySchedule(CLASSIFY_EVERY[config.effort], follow=config.smoothing_seconds),
            detect_schedule=DetectSchedule(DETECT_EVERY[config.effort], config.detect_every),
        )

    def process(self, frame: np.ndarray, t: float | None = None, timer: StageTimer = untimed,
                underneath: list[Covered] | None = None) -> FrameResult:
        """Annotate `frame`, taken at `t` seconds, in place and return it with its faces.

        `t` drives the smoothing, the dwell and the cross-fade: a file's frame index / fps, or
        (the default) now on the monotonic clock, for a live camera. `timer` wraps each of
        STAGES (benchmarks time them so). With `underneath`, the pixels the emojis cover are
        added to it (vcam.overlay.uncover puts them back)."""
        t = time.monotonic() if t is None else t
        with timer("detect"):
            faces = self.detect(frame, t)
        with timer("classify"):
            due = self.schedule.due(frame, faces, t)
            if self.faces is Faces.ONLY_ME:  # nobody else's emotion is shown: not read either
                due = [now and maybe for now, maybe in zip(due, self.user_face.may_be(faces, t))]
            classified = iter(self.model.classify(frame, [face for face, now in zip(faces, due) if now]))
            faces = [next(classified) if now else face for face, now in zip(faces, due)]
        with timer("track"):
            faces = self.tracker.update(faces, t, new_looks=self.schedule.changed)
            self._missing = any(face.predicted for face in faces)
            self.schedule.done(frame, faces, due, t)
            faces = self._users_choice(faces, frame, t)
        with timer("overlay"):
            self.draw(frame, faces, t, underneath)
        return FrameResult(frame, faces)

    def _users_choice(self, faces: list[Face], frame: np.ndarray, t: float) -> list[Face]:
        """The faces to draw: only the user's with "only me", and theirs with the reaction they
        asked for while it lasts, whatever the classifier reads."""
        user = self.user_face.pick(faces, frame.shape[1], frame.shape[0], t)
        reaction = self.reaction.showing(t)
        if self.faces is Faces.ONLY_ME:
            faces = [] if user is None else [user]
        if reaction is None or user is None:
            return faces
        return [face.replace(emotion=str(reaction), unsure=False, too_small=False) if face is user else face for face in faces]

    # --- what the user changes while it runs ---------------------------------------------------

    def set_faces(self, faces: Faces) -> None:
        self.faces = faces

    def react(self, emotion: Emotion) -> None:
        """Show `emotion` on the user's face from the next frame on, for REACTION_SECONDS."""
        self.reaction.ask(emotion)

    @property
    def reacting(self) -> bool:
        """Whether a reaction waits for its first frame or shows now: each frame matters to it."""
        return self.reaction.current is not None

    def set_overlay(self, enabled: bool) -> None:
        self.overlay_enabled = enabled

    def set_placement(self, placement: Placement) -> None:
        self.overlay.placement = placement

    def use_detector(self, kind: Detector) -> None:
        """Detect with `kind` from the next frame on, afresh (tracks and kept detections forgotten)."""
        self.config = self.config.replace(detector=kind)
        self.detector = build_detector(self.config)
        self.reset()

    def detect(self, frame: np.ndarray, t: float = 0.0) -> list[Face]:
        """The detector's faces: fresh when the detection schedule says so, carried where they
        moved when the picture changed only around them, the last ones between."""
        schedule = self.detect_schedule
        if not schedule.due(frame, t):
            return self._detected
        boxes = [face.box for face in self._detected]
        # Carried only when the picture changed around the faces alone, and the last detection
        # found every face the tracker follows: one it missed may be back, for the detector to see.
        if (schedule.around(boxes) and not self._missing
                and (carried := self.motion.carried(frame, self._detected)) is not None):
            schedule.carried(boxes + [face.box for face in carried])
            self._detected = carried
            return carried
        changed = schedule.changed
        if changed is not None and isinstance(self.detector, TileRotation):
            self._detected = self.detector.detect(frame, changed)
        else:
            self._detected = self.detector.detect(frame)
        if schedule.carries:  # the faces' pictures, to find them again where they move
            self.motion.remember(frame, self._detected)
        return self._detected

    def reset(self) -> None:
        """Forget the faces of earlier frames (a new camera or detector): tracks and kept detections."""
        self.tracker.reset()
        self.schedule.reset()
        self.detect_schedule.reset()
        self.motion.forget()
        self.user_face.reset()
        if isinstance(self.detector, TileRotation):
            self.detector.reset()  # the next frame searches every tile again
        self._detected = []
        self._missing = False

    def draw(self, frame: np.ndarray, faces: list[Face], t: float | None = None,
             underneath: list[Covered] | None = None) -> None:
        """The emojis for `faces` onto `frame`, in place, when the overlay is on; with `t`, an
        emoji that changed fades into the new one (without, e.g. a redraw, it is shown at once);
        with `underneath`, the pixels they cover are added to it."""
        if self.overlay_enabled:
            self.overlay.draw(frame, faces, t, underneath)


def build_detector(config: Config) -> FaceDetector | TileRotation:
    """The "short" (desk) detector: one pass of the short-range model. The "full" (room) one: the
    whole frame through the full-range model on every frame, and tiles through the short-range
    model for faces down to `min_face` px, a few tiles a frame (vcam/tiles.py says why)."""
    whole = FaceDetector(config.detector, config.score_threshold, model_path=config.detector_model,
                         num_threads=config.threads)
    if config.detector is Detector.SHORT:
        return whole
    tiles = FaceDetector(Detector.SHORT, TILE_SCORE, num_threads=config.threads)
    return TileRotation(TiledDetector(whole, tiles, config.min_face), PIXELS_PER_TILE)
