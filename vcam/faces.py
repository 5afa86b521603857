"""The value object that carries one face through the pipeline's stages, and the maths of its box."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from vcam.emotions import EMOTIONS

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""x, y, width, height in frame pixels."""

KEYPOINTS: tuple[str, ...] = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")
"""BlazeFace's six keypoints, in its order. "Right" is the person's right: the image's left."""


@dataclass(frozen=True)
class Face:
    """One face in one frame. The detector fills box, keypoints and score; the classifier adds
    probabilities; the tracker adds track_id, the shown (smoothed) emotion and whether it is unsure."""

    box: Box
    keypoints: tuple[Point, ...]
    score: float
    probabilities: tuple[float, ...] | None = None
    """This frame's own reading by the classifier; None when the face was not classified on this
    frame (the effort classifies a face that holds its look a few times a second). A predicted
    face (`predicted`) keeps its last detection's."""
    track_id: int | None = None
    emotion: str | None = None
    unsure: bool = False
    """No emotion clearly ahead (the tracker then shows the unsure emoji, neutral by default)."""
    too_small: bool = False
    """Unsure for its size: too small to read, or read only as surely as would do for a larger face
    (vcam/readable.py)."""
    smoothed: tuple[float, ...] | None = None
    """The track's probabilities averaged over time, from which the tracker decides the emotion."""
    predicted: bool = False
    """Not detected in this frame: the tracker's guess of where the face is (a detector miss, a
    face cut by the frame's border), shown for a moment with the track's emotion."""

    @property
    def eyes(self) -> tuple[Point, Point]:
        """The two eye centres, image-left first."""
        return self.keypoints[0], self.keypoints[1]

    @property
    def center(self) -> Point:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0

    @property
    def top_emotion(self) -> str | None:
        """The most probable emotion of this frame alone (unsmoothed)."""
        if self.probabilities is None:
            return None
        return EMOTIONS[max(range(len(EMOTIONS)), key=self.probabilities.__getitem__)]

    def replace(self, **changes: object) -> Face:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, object]:
        """Plain JSON-ready form, as `vcam annotate --json` writes it."""
        return {
            "id": self.track_id,
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "keypoints": {name: [round(x, 1), round(y, 1)] for name, (x, y) in zip(KEYPOINTS, self.keypoints)},
            "probabilities": None
            if self.probabilities is None
            else {name: round(p, 4) for name, p in zip(EMOTIONS, self.probabilities)},
            "smoothed": None
            if self.smoothed is None
            else {name: round(p, 4) for name, p in zip(EMOTIONS, self.smoothed)},
            "emotion": self.emotion,
            "unsure": self.unsure,
            "too_small": self.too_small,
            "predicted": self.predicted,
        }


def ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every (x, y, w, h) box in `a` (n, 4) with every one in `b`
    (m, 4): (n, m). The one place vcam measures how much two boxes overlap."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def shares_inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The share of every (x, y, w, h) box in `a` (n, 4) that lies inside every one in `b` (m, 4):
    (n, m); 1 for a box wholly inside another, however much larger that one is."""
    inter, area_a, _ = _intersections(a, b)
    return inter / np.maximum(area_a, 1e-9)


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas of the intersections of the boxes of `a` (n, 4) with those of `b` (m, 4), (n, m), and
    the boxes' own areas, broadcast to it."""
    a, b = np.asarray(a, np.float64)[:, None, :], np.asarray(b, np.float64)[None, :, :]
    width = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None), a[..., 2] * a[..., 3], b[..., 2] * b[..., 3]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    return float(ious(np.array([a]), np.array([b]))[0, 0])
