"""When to detect faces and when to classify each face — not on every frame.

Detection (DetectSchedule): at once when the picture has changed since the last detection (a
face moved, came or left), else every few tenths of a second. When it changed only around the
faces found last, and their pictures are found again nearby, the faces are carried where they
moved instead (vcam/motion.py), until the still picture's wait for a detection is over; between
detections the faces stand where they were found or carried, and the tracker follows them.

Classification (ClassifySchedule): at once when a face is new or its look has changed, and on
every frame after while the classifier reads another emotion than the face's emoji shows; else a
few times a second, the faces taking turns.

Why: the emotion CNN is the dearest stage and an emoji changes a few times a minute; the tracker
smooths in seconds (vcam/track.py), so a face classified seven times a second shows the emoji of
one classified thirty times, and a crop that changes much is classified at once.

    due = schedule.due(frame, faces, t)        # which of this frame's faces to classify
    ...classify those, track all...
    schedule.done(frame, tracked, due, t)      # remember when each track was last classified

A face of this frame is the same as one of the last frame's when their boxes overlap (IoU) by
`match_iou`; its look is an 8×8 thumbnail of its box, and it has changed when the mean grey
level of the picture in the box it had at its last classification moved by more than
`look_change` since then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import zip_longest
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.choices import Effort
from vcam.faces import Box, Face, ious
from vcam.tiles import cells_under
from vcam.track import TrackerSettings

CLASSIFY_EVERY = {Effort.HIGH: 0.0, Effort.BALANCED: 0.15, Effort.LOW: 0.2}
"""Seconds between two classifications of a face that holds its look, for each effort (0: every
frame); a face whose look changed is classified at once and followed (ClassifySchedule). 0.15 s
costs two thirds of the classifications of 0.1 s and shows a new expression sooner
(docs/performance.md, "The detection and classification schedules")."""
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
frame); a picture that changes is detected again at once (docs/performance.md says why 0.5 s)."""
PICTURE_WIDTH = 64
"""A frame's picture for change detection: its grey level averaged over cells of 1/64 of its width
(20 px at 1280×720)."""
PICTURE_CHANGE = 12.0
"""Grey-level change of any one cell, against the picture at the last detection, that has the
detector run again (chosen with python -m benchmarks.detect_schedule; figures in docs/performance.md)."""
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
    cell or `still_seconds` have passed (0: every `every_frames`-th frame, whatever changed).

    When the picture changed only around the faces found last (`around`), the pipeline may carry
    them where they moved instead of detecting (vcam/motion.py), and says so (`carried`): the
    picture around them is then compared from there on, and the next detection still comes
    `still_seconds` after the last at the latest.

        if schedule.due(frame, t):
            if schedule.around(boxes) and (moved := motion.carried(frame, faces)) is not None:
                schedule.carried(boxes + boxes of moved)
            else:
                ...detect...
    """

    def __init__(self, still_seconds: float, every_frames: int = 1, change: float = PICTURE_CHANGE) -> None:
        self.still_seconds, self.every_frames, self.change = still_seconds, every_frames, change
        self._last: tuple[float, np.ndarray, tuple[int, ...]] | None = None
        """When the last detection ran, the picture it saw (since updated where faces were
        carried) and the frame's size."""
        self._before: tuple[tuple[float, np.ndarray, tuple[int, ...]], np.ndarray] | None = None
        """After `due` said True on a frame of the same size: the last detection's `_last` and
        the picture's difference from it, for `around` and `carried`."""
        self._frames_since = 0
        self.changed: np.ndarray | None = None
        """After `due` said True: the cells of the picture where something came or went since
        the detection before (changed by more than SOMETHING_NEW; a PICTURE_WIDTH-wide boolean
        grid), for the detector to look there first; None when there are none."""

    def due(self, frame: np.ndarray, t: float) -> bool:
        """Whether to detect on `frame`, taken at `t` (or to carry the faces: `around`); True
        also starts the wait for the next one."""
        self._frames_since += 1
        if self._last is not None and self._frames_since < self.every_frames:
            return False
        now, size = picture(frame), frame.shape[:2]
        difference, most, self._before = None, 0, None
        if self._last is not None:
            at, before, before_size = self._last
            if before_size == size:  # another size of frame: the kept faces no longer fit it
                difference = np.abs(now - before)
                most = int(difference.max())
                if self.still_seconds > 0 and t - at < self.still_seconds and most <= self.change:
                    return False
                self._before = self._last, difference
        self._last, self._frames_since = (t, now, size), 0
        self.changed = difference > SOMETHING_NEW if most > SOMETHING_NEW else None
        return True

    @property
    def carries(self) -> bool:
        """Whether faces may ever be carried between detections (not when every frame is
        detected: high effort)."""
        return self.still_seconds > 0

    def around(self, boxes: Sequence[Box]) -> bool:
        """Whether the frame `due` just said True for changed only around `boxes` (each grown by
        GROW of its side on every side: the hair and the edges of a face move with it), before a
        still picture's wait for a detection is over: then carrying those faces where they moved
        is as good as detecting them, as nothing can have come or gone anywhere else."""
        if self._before is None or self._last is None or not boxes or not self.carries:
            return False
        (at, _, size), difference = self._before
        if self._last[0] - at >= self.still_seconds:
            return False
        unexplained = difference > self.change
        unexplained[_cells_around(unexplained, size, boxes)] = False
        return not unexplained.any()

    def carried(self, boxes: Sequence[Box]) -> None:
        """The faces were carried instead of detected on the frame `due` just said True for, from
        and to `boxes`: the wait for a detection goes on from the last one, and the picture
        around the faces is compared with this frame's from now on."""
        assert self._before is not None and self._last is not None
        (at, before, size), _ = self._before
        now = self._last[1]
        before = before.copy()
        cells = _cells_around(before, size, boxes)
        before[cells] = now[cells]
        self._last, self._before = (at, before, size), None

    def reset(self) -> None:
        """Detect on the next frame (a new camera, a new detector)."""
        self._last, self._before, self._frames_since, self.changed = None, None, 0, None


GROW = 0.75
"""A face's box grown by this share of its side on every side holds the picture that moves with
it: hair, ears, the outline of the head. A real portrait drifting in front of a room changes the
picture beyond 0.5 of it (tests/test_motion.py); at 1.0 four faces side by side cover a neighbour
the detector missed, and 1.6 % of them were lost, at 0.75 0.2 % (python -m benchmarks.detect_schedule)."""


def _cells_around(grid: np.ndarray, size: tuple[int, ...], boxes: Sequence[Box]) -> np.ndarray:
    """Which cells of `grid` (laid over a frame of `size`, height × width) lie under `boxes`,
    each grown by GROW of its side on every side."""
    return cells_under(grid, (size[1], size[0]), boxes, GROW)


FOLLOW_READING = TrackerSettings.confident_above
"""Least probability of a reading that disagrees with the shown emoji for its face to be followed:
what the tracker calls a confident reading."""


@dataclass
class _Classified:
    box: Box
    """Where the track's face is now (for matching the next frame's faces)."""
    at: float
    look: np.ndarray
    looked_at: Box
    """Where the face was when it was last classified: `look` is the picture there, then."""
    followed_until: float = 0.0
    """After its look changed: until when it is classified on every frame."""


class ClassifySchedule:
    """Which faces to classify on each frame: a new face and one whose look changed at once, and
    that one, when the classifier then reads another emotion than its emoji shows, on every frame
    for `follow` seconds more (the time its smoothed emotion takes to follow a new expression: the
    tracker's time constant), so that the emoji changes as soon as with every frame classified;
    the others when their `every` seconds are up, round-robin, so that faces found together do
    not all fall due on one frame (which would take that frame the time of all of them at once)."""

    def __init__(self, every: float, match_iou: float = 0.3, look_change: float = LOOK_CHANGE,
                 follow: float = TrackerSettings.time_constant) -> None:
        self.every, self.match_iou, self.look_change, self.follow = every, match_iou, look_change, follow
        self._tracks: dict[int, _Classified] = {}
        self._last_t: float | None = None
        self._changed: list[bool] = []
        """Of the faces `due` was last given: which looked much changed, or were new to it."""

    @property
    def changed(self) -> list[bool]:
        """Of the faces `due` was last given: which looked much changed since their last
        classification (new faces too)."""
        return self._changed

    def due(self, frame: np.ndarray, faces: Sequence[Face], t: float) -> list[bool]:
        """Whether each face is to be classified now: new or changed or being followed, or its
        turn among those not classified for `every` s. Each frame takes its share of those, the
        longest waiting first: the faces times the frame's interval over `every` (one in six at
        30 fps, 0.2 s and six faces), so that every face is still classified about every `every` s."""
        if self.every <= 0:
            self._changed = [False] * len(faces)
            return [True] * len(faces)
        interval = self.every if self._last_t is None else min(max(t - self._last_t, 0.0), self.every)
        self._last_t = t
        known = list(self._tracks.values())
        due, waiting, self._changed = [], [], []
        # Every face against every known one at once: a crowd's faces each look up their last classification.
        overlaps = (ious(np.array([face.box for face in faces]), np.array([k.box for k in known]))
                    if faces and known else np.zeros((len(faces), 0)))
        for index, face in enumerate(faces):
            if not known or overlaps[index].max() < self.match_iou:
                due.append(True)  # new to the schedule: its look is unknown, so changed
                self._changed.append(True)
                continue
            # The picture where the face was at its last classification: another expression, or another
            # face, changes it much, while the detector's box of a new face may frame it just as the
            # old one was framed (two faces, each centred in its box, look alike at 8×8).
            best = known[int(overlaps[index].argmax())]
            changed = float(np.abs(look(frame, best.looked_at) - best.look).mean()) > self.look_change
            self._changed.append(changed)
            due.append(changed or t < best.followed_until)
            if not due[-1] and t - best.at >= self.every:
                waiting.append((best.at, index))
        share = math.ceil(len(faces) * interval / self.every - 1e-9)
        for _, index in sorted(waiting)[:max(share, 1)]:
            due[index] = True
        return due

    def done(self, frame: np.ndarray, tracked: Sequence[Face], due: Sequence[bool], t: float) -> None:
        """After tracking: `tracked[i]` is the i-th face given to `due` (with its track id); a track
        classified now starts its wait, one not classified keeps its last time and look."""
        kept: dict[int, _Classified] = {}
        # The tracker adds the faces it predicts for a track the detector missed (after those given
        # to `due`): neither classified nor changed, kept as they were.
        for face, now, new_look in zip_longest(tracked, due, self._changed, fillvalue=False):
            if face.track_id is None:
                continue
            before = self._tracks.get(face.track_id)
            # Followed when its look changed and the classifier now reads another emotion than the
            # one shown: most likely a new expression, which the emoji should follow without the
            # wait for turns; and no longer once a reading agrees with the emoji again. A look that
            # changed while the reading holds (a turn of the head, the jitter of the box) is
            # classified once, at once, and not followed.
            followed_until = before.followed_until if before else 0.0
            if now and face.probabilities is not None:
                if face.top_emotion == face.emotion:
                    followed_until = 0.0
                elif new_look and max(face.probabilities) >= FOLLOW_READING:
                    followed_until = t + self.follow
            if now or before is None:
                kept[face.track_id] = _Classified(face.box, t, look(frame, face.box), face.box, followed_until)
            else:
                kept[face.track_id] = _Classified(face.box, before.at, before.look, before.looked_at, followed_until)
        self._tracks = kept

    def reset(self) -> None:
        self._tracks.clear()
        self._last_t = None
