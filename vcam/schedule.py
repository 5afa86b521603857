"""When to classify each face: at once when it is new or its look has changed, then a few times
a second — not on every frame.

The emotion CNN is the dearest stage (1.4 ms a face on a 2-core laptop CPU, against 0.1 ms for
tracking), and an emoji changes a few times a minute; the tracker smooths each face's
probabilities with a time constant in seconds (vcam/track.py), so a face classified ten times a
second shows the same emoji as one classified thirty times, and a real change of expression
still reaches it at once, because a crop that changes much is classified on the next frame.

    due = schedule.due(frame, faces, t)        # which of this frame's faces to classify
    ...classify those, track all...
    schedule.done(frame, tracked, due, t)      # remember when each track was last classified

A face of this frame is the same as one of the last frame's when their boxes overlap (IoU) by
`match_iou`; its look is an 8×8 thumbnail of its box, and it has changed when the mean grey
level moved by more than `look_change` since that face was last classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.choices import Effort
from vcam.faces import Box, Face, iou

CLASSIFY_EVERY = {Effort.HIGH: 0.0, Effort.BALANCED: 0.1, Effort.LOW: 0.2}
"""Seconds between two classifications of an unchanged face, for each effort (0: every frame).
On the clip with known changes (benchmarks/known_changes.py) at 30 fps, 0.1 s classifies 71 of
240 faces with no false change and the same lag (0.33–0.40 s) as every frame; 0.25 s classified
41 but gave the average too few looks: 3 false changes and lags of 0.5 s. A classification
stands for at most 0.2 s in the tracker's average, so beyond that the average grows noisy.
`python -m benchmarks.live` measures the CPU each costs."""
LOOK = 8
LOOK_CHANGE = 10.0
"""Mean grey-level change of a face's 8×8 thumbnail that has it classified again at once: a
face that talks moves a few levels, a new expression or another face in its place tens."""


def look(frame: np.ndarray, box: Box) -> np.ndarray:
    """An 8×8 grey thumbnail of `box` (the green channel of a BGR frame stands for its grey)."""
    channel = frame if frame.ndim == 2 else frame[:, :, 1]
    height, width = channel.shape
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((LOOK, LOOK), np.float32)
    return cv2.resize(channel[y0:y1, x0:x1], (LOOK, LOOK), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class _Classified:
    box: Box
    at: float
    look: np.ndarray


class ClassifySchedule:
    def __init__(self, every: float, match_iou: float = 0.3, look_change: float = LOOK_CHANGE) -> None:
        self.every, self.match_iou, self.look_change = every, match_iou, look_change
        self._tracks: dict[int, _Classified] = {}

    def due(self, frame: np.ndarray, faces: Sequence[Face], t: float) -> list[bool]:
        """Whether each face is to be classified now: new, changed, or not classified for `every` s."""
        if self.every <= 0:
            return [True] * len(faces)
        known = list(self._tracks.values())
        due = []
        for face in faces:
            best = max(known, key=lambda k: iou(k.box, face.box), default=None)
            due.append(best is None or iou(best.box, face.box) < self.match_iou or t - best.at >= self.every
                       or float(np.abs(look(frame, face.box) - best.look).mean()) > self.look_change)
        return due

    def done(self, frame: np.ndarray, tracked: Sequence[Face], due: Sequence[bool], t: float) -> None:
        """After tracking: `tracked[i]` is the i-th face given to `due` (with its track id); a track
        classified now starts its wait, one not classified keeps its last time and look."""
        kept: dict[int, _Classified] = {}
        for face, now in zip(tracked, due):
            if face.track_id is None:
                continue
            before = self._tracks.get(face.track_id)
            if now or before is None:
                kept[face.track_id] = _Classified(face.box, t, look(frame, face.box))
            else:
                kept[face.track_id] = _Classified(face.box, before.at, before.look)
        self._tracks = kept

    def reset(self) -> None:
        self._tracks.clear()
