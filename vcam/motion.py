"""Faces carried between detections: where each face the detector found has moved since, found by
matching its picture at the detection in the new frame.

A face that drifts (a person shifting in their chair, a laptop camera that sways) changes the
picture around it on most frames, and each change used to cost a whole detection (the full-range
model over the frame, 2–5 ms at 1280×720). Its own picture, scaled down to MATCH_WIDTH px and
looked for within SEARCH of its width around where it was, is found again by OpenCV's normalised
cross-correlation in a few hundredths of a millisecond, and the face, keypoints and all, moves
by what it moved. A face whose picture no longer matches well (it turned, changed its expression
much, or left) is not carried: the detector looks again.

    motion.remember(frame, faces)             # the detector's faces, on the frame it saw
    moved = motion.carried(frame, faces)      # a later frame: the same faces moved, or None

The detection schedule (vcam/schedule.py) decides when carrying is enough: only when the picture
changed around the faces alone, and never for longer than a still picture waits for a detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcam.faces import Face
from vcam.schedule import grey
from vcam.tiles import WHOLE_FRAME_FACE
from vcam.track import moved

MATCH_WIDTH = 40
"""A face's picture is matched this many pixels wide (scaled down, never up): one step is
1/40 of the face, refined to a fraction of that by the peak's neighbours."""
SEARCH = 0.25
"""A face is looked for this share of its width around where it was last found, each way: a
face that moved further between two frames is detected again."""
LEAST_MATCH = 0.9
"""Correlation of the face's picture with the best place in the new frame below which it is not
carried. A face that drifts with its look held matches at 0.97 and more; one that turned or left
falls far below."""


@dataclass
class _Carried:
    face: Face
    """The face as the detector found it."""
    scale: float
    template: np.ndarray
    origin: tuple[int, int]
    """The frame pixel of the template's top-left corner."""
    shift: tuple[float, float] = (0.0, 0.0)
    """How far the face has moved since it was detected."""


class FaceMotion:
    """Carries the detector's last faces along as they move: `remember(frame, faces)` after each
    detection, `carried(frame, faces)` on a later frame."""

    def __init__(self, least_match: float = LEAST_MATCH) -> None:
        self.least_match = least_match
        self._faces: list[_Carried] = []

    def remember(self, frame: np.ndarray, faces: list[Face]) -> None:
        """The faces the detector found on `frame`: their pictures are what is looked for later."""
        channel = grey(frame)
        self._faces = []
        for face in faces:
            cut = _cut(channel, face)
            if cut is None:
                self._faces = []  # a face that cannot be matched: nothing is carried until the next detection
                return
            scale, template, origin = cut
            self._faces.append(_Carried(face, scale, template, origin))

    def forget(self) -> None:
        self._faces = []

    def carried(self, frame: np.ndarray, faces: list[Face]) -> list[Face] | None:
        """The remembered faces moved to where their pictures are in `frame`; None when one of
        them is not found well enough (or `faces` are not the ones remembered), for the detector
        to look again. Every face or none: the faces of one frame stay one detection's faces."""
        if not faces or len(faces) != len(self._faces):
            return None
        if any(face.box[2] < WHOLE_FRAME_FACE * max(frame.shape[:2]) for face in faces):
            return None  # a small face: where faces come and go in a crowd, and the detector's tiles keep it
        channel = grey(frame)
        shifts = []
        for carried in self._faces:
            shift = _find(channel, carried, self.least_match)
            if shift is None:
                return None
            shifts.append(shift)
        for carried, shift in zip(self._faces, shifts):
            carried.shift = shift
        return [moved(carried.face, *carried.shift) for carried in self._faces]


def _cut(channel: np.ndarray, face: Face) -> tuple[float, np.ndarray, tuple[int, int]] | None:
    """The face's picture scaled to MATCH_WIDTH px wide, its scale and its top-left frame pixel."""
    height, width = channel.shape
    x, y, w, h = face.box
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    scale = min(1.0, MATCH_WIDTH / (x1 - x0))
    template = cv2.resize(channel[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if min(template.shape) < 4 or float(template.std()) < 2.0:  # a flat picture matches anywhere
        return None
    return scale, template, (x0, y0)


def _find(channel: np.ndarray, carried: _Carried, least_match: float) -> tuple[float, float] | None:
    """How far the face has moved since its detection: where its picture matches best within
    SEARCH of where it was last, to a fraction of a pixel; None when nowhere well enough."""
    height, width = channel.shape
    tw, th = carried.template.shape[1], carried.template.shape[0]
    scale = carried.scale
    margin = SEARCH * carried.face.box[2]
    left = carried.origin[0] + carried.shift[0]
    top = carried.origin[1] + carried.shift[1]
    x0, y0 = max(0, round(left - margin)), max(0, round(top - margin))
    x1 = min(width, round(left + (tw / scale) + margin))
    y1 = min(height, round(top + (th / scale) + margin))
    if x1 <= x0 or y1 <= y0:
        return None
    window = cv2.resize(channel[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if window.shape[0] < th + 2 or window.shape[1] < tw + 2:
        return None
    scores = cv2.matchTemplate(window, carried.template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (u, v) = cv2.minMaxLoc(scores)
    rows, columns = scores.shape
    if best < least_match or not (0 < u < columns - 1 and 0 < v < rows - 1):
        return None  # a poor match, or the best place at the search's edge: it may lie beyond
    du = _peak(scores[v, u - 1], best, scores[v, u + 1])
    dv = _peak(scores[v - 1, u], best, scores[v + 1, u])
    # The window's pixel (u, v) is the frame's (x0 + u / s, y0 + v / s), as its scale rounded it.
    sx, sy = window.shape[1] / (x1 - x0), window.shape[0] / (y1 - y0)
    return x0 + (u + du) / sx - carried.origin[0], y0 + (v + dv) / sy - carried.origin[1]


def _peak(before: float, at: float, after: float) -> float:
    """Where a parabola through three neighbouring scores peaks, from the middle one (−½ to ½)."""
    curve = before - 2 * at + after
    return 0.0 if curve >= 0 else float(np.clip(0.5 * (before - after) / curve, -0.5, 0.5))
