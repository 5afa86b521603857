"""When to detect faces and when to classify each face — not on every frame.

Detection (DetectSchedule): at once when the picture has changed since the last detection (a
face moved, came or left), else every few tenths of a second; between detections the last faces
stand where they were found and the tracker carries them.

Classification (ClassifySchedule): at once when a face is new or its look has changed, then a
few times a second.

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

CLASSIFY_EVERY = {Effort.HIGH: 0.0, Effort.BALANCED: 0.2, Effort.LOW: 0.25}
"""Seconds between two classifications of an unchanged face, for each effort (0: every frame).
On the clip with known changes (benchmarks/known_changes.py) at 30 fps, balanced effort's
schedule classified 80 faces at 0.1 s, 63 at 0.15 and 53 at 0.2, each with no change of emoji
where the truth held and the true changes followed after 0.30–0.40 s; 0.25 s classified 50 and
made one false change, 0.3 s 45 and two, with lags up to 0.67 s. On the test clip the look of
its moving faces changes so often that they are classified on most frames at any of these
(221, 195 and 190 of its faces), with the same 4 emoji changes on its long tracks. A
classification stands for at most 0.2 s in the tracker's average (vcam/track.py), so beyond
that the average grows noisy. `python -m benchmarks.live` measures the CPU each costs."""
LOOK = 8
LOOK_CHANGE = 10.0
"""Mean grey-level change of a face's 8×8 thumbnail that has it classified again at once: a
face that talks moves a few levels, a new expression or another face in its place tens."""


def cell_means(channel: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """The mean of each of columns × rows cells of a one-channel image, from every few pixels:
    about 4×4 of each cell are enough for its mean, and far cheaper than all of them."""
    height, width = channel.shape
    step = max(1, min(width // columns, height // rows) // 4)
    sampled = np.ascontiguousarray(channel[::step, ::step])
    return cv2.resize(sampled, (columns, rows), interpolation=cv2.INTER_AREA)


def grey(frame: np.ndarray) -> np.ndarray:
    """The frame's grey level: a BGR frame's green channel stands for it."""
    return frame if frame.ndim == 2 else frame[:, :, 1]


def look(frame: np.ndarray, box: Box) -> np.ndarray:
    """An 8×8 grey thumbnail of `box`."""
    channel = grey(frame)
    height, width = channel.shape
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((LOOK, LOOK), np.float32)
    return cell_means(channel[y0:y1, x0:x1], LOOK, LOOK).astype(np.float32)


DETECT_EVERY = {Effort.HIGH: 0.0, Effort.BALANCED: 0.5, Effort.LOW: 1.0}
"""Seconds between two detections of a picture that holds still, for each effort (0: every
frame). A picture that changes is detected again at once; a face that appears in a still room
is a change. `python -m benchmarks.live` measures the CPU and the faces kept against a detection
on every frame."""
PICTURE_WIDTH = 64
"""A frame's picture for change detection: its grey level averaged over cells of 1/64 of its width
(20 px at 1280×720)."""
PICTURE_CHANGE = 12.0
"""Grey-level change of any one cell, against the picture at the last detection, that has the
detector run again. On the test clip (a stage, people and camera moving) 12 detects on 77 % of
the frames and the kept faces miss 1.7–1.9 % of what a fresh detection finds; 15 detected on 74 %
and missed 2.6 %, 10 on 78 % and 1.9 %. Four faces drifting slowly are detected on 35 % of the
frames (python -m benchmarks.detect_schedule)."""
SOMETHING_NEW = 45.0
"""A cell that changed by more than this is where something came or went, not a drift: a face of
40 px stepping into a room changes 6 cells by more, a picture drifting by a few pixels its edges
by about 15 (python -m benchmarks.live's clips)."""


def picture(frame: np.ndarray) -> np.ndarray:
    """The frame's grey level averaged over cells: PICTURE_WIDTH across."""
    channel = grey(frame)
    height, width = channel.shape
    return cell_means(channel, PICTURE_WIDTH, max(1, round(PICTURE_WIDTH * height / width))).astype(np.int16)


class DetectSchedule:
    """Whether to run the detector on a frame: the first frame; then, at least `every_frames`
    frames after the last detection, when the picture has changed by more than `change` in any
    cell or `still_seconds` have passed (0: every `every_frames`-th frame, whatever changed)."""

    def __init__(self, still_seconds: float, every_frames: int = 1, change: float = PICTURE_CHANGE) -> None:
        self.still_seconds, self.every_frames, self.change = still_seconds, every_frames, change
        self._last: tuple[float, np.ndarray, tuple[int, ...]] | None = None
        """When the last detection ran, the picture it saw and the frame's size."""
        self._frames_since = 0
        self.changed: np.ndarray | None = None
        """After `due` said True: the cells of the picture where something came or went since
        the detection before (changed by more than SOMETHING_NEW; a PICTURE_WIDTH-wide boolean
        grid), for the detector to look there first; None when there are none."""

    def due(self, frame: np.ndarray, t: float) -> bool:
        """Whether to detect on `frame`, taken at `t`; True also starts the wait for the next one."""
        self._frames_since += 1
        if self._last is not None and self._frames_since < self.every_frames:
            return False
        now, size = picture(frame), frame.shape[:2]
        difference, most = None, 0
        if self._last is not None:
            at, before, before_size = self._last
            if before_size == size:  # another size of frame: the kept faces no longer fit it
                difference = np.abs(now - before)
                most = int(difference.max())
                if self.still_seconds > 0 and t - at < self.still_seconds and most <= self.change:
                    return False
        self._last, self._frames_since = (t, now, size), 0
        self.changed = difference > SOMETHING_NEW if most > SOMETHING_NEW else None
        return True

    def reset(self) -> None:
        """Detect on the next frame (a new camera, a new detector)."""
        self._last, self._frames_since, self.changed = None, 0, None


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
