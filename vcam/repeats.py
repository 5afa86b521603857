"""Frames the camera repeats: a photo shown as a camera, a still stretch of a clip, a driver that
hands the same buffer again. Running the detector and the classifier on the same picture again
finds what they found before, so the engine publishes its last result instead.

Not at once, though: the tracker's smoothing and its rules that act over time need a few runs to
settle on a new picture (an emoji that had just begun to change would otherwise freeze half way).
A repeated picture skips the pipeline once a run on it showed what the run before it showed, and
even then goes through it every REFRESH_EVERY-th frame, so that rules timed in seconds see time pass.
"""

from __future__ import annotations

import cv2
import numpy as np

from vcam.faces import Face

SAMPLE_STEP = 8
"""Every 8th pixel in each direction is compared: 1/64 of the frame, about 14,000 pixels at
1280×720, while any change bigger than 8×8 pixels, and a real sensor's noise, shows."""
REFRESH_EVERY = 15
"""A settled still picture still goes through the pipeline every 15th frame (twice a second at 30 fps)."""
CHANGING_AFTER = 30
LOOK_EVERY = 8
"""After 30 frames in a row that each differed from the one before (a webcam's live picture:
its sensor's noise alone changes every frame), only every 8th frame is compared: a camera that
starts repeating its picture is then noticed within 16 frames, and the comparison (0.08 ms of
CPU a 1280×720 frame here, 0.13–0.18 in the live app) is spared on the other seven."""
PROBABILITY_TOLERANCE = 0.01
"""Smoothed probabilities that moved less than this between two runs have settled."""


def shows_the_same(before: list[Face], after: list[Face]) -> bool:
    """Whether two runs of the pipeline show the user the same faces: the same boxes and emojis,
    and smoothed probabilities that no longer move."""
    return len(before) == len(after) and all(
        a.box == b.box and a.emotion == b.emotion and a.unsure == b.unsure
        and (a.smoothed is None) == (b.smoothed is None)
        and (a.smoothed is None or max(abs(p - q) for p, q in zip(a.smoothed, b.smoothed)) < PROBABILITY_TOLERANCE)
        for a, b in zip(before, after))


def sampled(frame: np.ndarray) -> np.ndarray:
    """Every SAMPLE_STEP-th pixel of `frame` in each direction (about every, for a size that is not
    a multiple of it), as a new array: OpenCV's nearest-pixel scaling gathers them in a quarter of
    the time numpy's strided copy takes (0.03 against 0.10 ms at 1280×720), and comparing the
    compact result takes 0.006 ms against 0.11 for the strided view."""
    height, width = frame.shape[:2]
    return cv2.resize(frame, (-(-width // SAMPLE_STEP), -(-height // SAMPLE_STEP)), interpolation=cv2.INTER_NEAREST)


class RepeatedPicture:
    """Call `may_skip(frame)` for every camera frame; when it says False, run the pipeline and
    tell `ran(faces before, faces after)`; `forget()` after anything that changes the output."""

    def __init__(self) -> None:
        self._sample: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()
        self._same = False
        self._settled = False
        self._skipped = 0
        self._changing = 0
        """Frames in a row, up to CHANGING_AFTER, that differed from the one compared before."""
        self._unlooked = 0
        """Frames let through uncompared since the last one compared."""

    def may_skip(self, frame: np.ndarray) -> bool:
        """Whether `frame` repeats a settled picture, so that the last result may be published for it."""
        if self._changing >= CHANGING_AFTER and self._unlooked < LOOK_EVERY - 1:
            self._unlooked += 1
            self._same = False
            return False
        self._unlooked = 0
        sample = sampled(frame)
        self._same = self._sample is not None and frame.shape == self._shape and np.array_equal(sample, self._sample)
        self._changing = 0 if self._same else min(self._changing + 1, CHANGING_AFTER)
        if self._same and self._settled and self._skipped < REFRESH_EVERY - 1:
            self._skipped += 1
            return True
        if not self._same:
            self._sample, self._shape = sample, frame.shape
        return False

    def ran(self, before: list[Face], after: list[Face]) -> None:
        """The pipeline ran on the frame `may_skip` last declined, turning the faces shown `before` into `after`."""
        self._settled = self._same and shows_the_same(before, after)
        self._skipped = 0

    def forget(self) -> None:
        """A setting changed, or something else was published: the next frame goes through the
        pipeline, and the next ones are compared again."""
        self._sample, self._same, self._settled = None, False, False
        self._changing = self._unlooked = 0
