"""Identity across frames and a steady emotion per face, both measured in seconds, not frames.

`Tracker.update(faces, t)` takes the faces of the frame taken at `t` seconds (any clock: a
camera's monotonic time, or frame index / fps for a file) and returns them with a `track_id`
and the emotion to show. Seconds make the behaviour the same at 15, 30 or 60 fps and when the
classifier skips frames: only the time between two classifications matters.

Smoothing: an exponential moving average with a time constant (`time_constant`, default
0.4 s). A classification `dt` seconds after the last one weighs `1 − exp(−dt / time_constant)`:
at 30 fps 0.080 a frame, at 15 fps 0.154, at 60 fps 0.041, so the average forgets at the same
speed in seconds. One classification stands for at most `longest_step` (0.2 s), so that a
face back after a detector miss is not judged on its first look. 0.4 s averages the frame-to-frame noise of the emotion CNN on a talking face
(its top pick changes 4.4 times a second on the test clip's performer) and still lets a new,
clear expression lead the average within about a third of a second.

A new face shows the unsure emoji until its reading settles (`settle_seconds` of
classifications, then sure as an unsure face becomes sure), so its first emoji is one it keeps.

Decisions with memory (hysteresis everywhere):
- another emotion replaces the shown one only when it leads it by `switch_margin` (0.15);
- a face becomes unsure (and shows neutral) when its top smoothed probability falls under
  `unsure_below` (0.4), and is sure again only above `unsure_below + unsure_gap` (0.5): a face
  hovering at 0.4 keeps one emoji instead of blinking between its emotion and neutral;
- a shown emoji stays at least `dwell` seconds (0.8): people hold an expression for seconds,
  so a faster change is almost always the classifier's noise. Only a clear and confident
  change overrides the dwell sooner: the new emotion's smoothed probability at least
  `confident_above` (0.6) and its lead over the shown one at least twice `switch_margin`.
- over its life a face changes its emoji at most `changes_per_second` (0.5) times a second: each
  change spends one of a budget that fills at that rate from the face's first classification,
  holding at most `change_burst` (2). A face that came a second ago and showed one emoji has
  not earned a change yet; one that has held its emoji for seconds changes at once.
With these defaults a face changes its emoji at most 1/0.8 = 1.25 times a second in a burst, 0.5
times a second over any track, and a real change of expression is shown within about 0.3–0.4 s
(`benchmarks/steady_emojis.py` measures both on the test clip and on a clip with known changes).

Tracks that last: faces are matched to tracks by overlap (IoU) with the track's predicted box
or by the distance of their keypoints from the predicted ones, in face sizes, greedily, nearest
first; a face much larger or smaller than the track's is another face. The prediction moves
the last box by the track's velocity for at most `predict_for` seconds. A track without a
detection is shown as a predicted face (`Face.predicted`, with the probabilities of its last
detection) for `show_missed` seconds (a face cut by the frame's border, a detector miss), and
is kept, unseen, for `forget_after` seconds: a face found again within that time continues its
track and its smoothed emotion instead of starting from nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vcam.choices import UnsureEmoji
from vcam.emotions import EMOTIONS
from vcam.faces import Face, Point, ious
from vcam.readable import Readability, face_width

if TYPE_CHECKING:
    from vcam.config import Config

CLOCKLESS_FPS = 30.0
"""The frame rate assumed when `update` is called without a time: frame index / 30."""


@dataclass(frozen=True)
class TrackerSettings:
    time_constant: float = 0.4
    """Seconds for the moving average to forget 63 % of what it knew (the config's `smoothing_seconds`)."""
    longest_step: float = 0.2
    """The most time one classification stands for. Under a schedule that classifies every few
    frames each result weighs for the time since the last; a face unseen for a second must not
    have its average replaced by the first look on its return."""
    new_look_step: float = 0.1
    """The least time a classification stands for when the face's look has just changed much
    (vcam/schedule.py): however soon after the last it came, it is the first reading of what may
    be a new expression. At balanced effort and 30 fps, on the known-changes clip and the test
    clip (python -m benchmarks.steady_emojis for the first):

    | least step | known changes shown after | the performer's changes in 8.4 s |
    |---|---|---|
    | none (the time since the last) | 8–9 frames (0.27–0.30 s) | 4 |
    | 0.05 s | 6–7 frames | 4 |
    | **0.1 s** | 4–6 frames (0.13–0.20 s) | 4 |
    | 0.15 s | 3–6 frames | 8 |
    | 0.2 s | 2–5 frames | 8 |

    Above 0.1 s one reading of a talking face's passing look weighs enough to turn its emoji."""
    settle_seconds: float = 0.4
    """Seconds of classifications (each standing for the time since the last, at most
    `longest_step`) a new track is unsure before its first emoji, which it then shows only as an
    unsure face becomes sure: at `unsure_below + unsure_gap`. A face's first emoji is then one it
    keeps (`python -m benchmarks.steady_emojis`, docs/performance.md)."""
    dwell: float = 0.8
    """Least seconds a shown emoji stays, unless a clear and confident change comes (`dwell_seconds`)."""
    changes_per_second: float = 0.5
    """Most emoji changes a second over a track's life: the rate its budget of changes fills at, from
    its first classification (0: no budget). Tracks of 1–2 s that showed one emoji and then
    another changed 0.6 times a second on the test clip and on small moving faces; a true change
    on a face that has held its emoji for 2 s still shows at once (docs/performance.md)."""
    change_burst: float = 2.0
    """Most changes the budget holds: after a long still spell, two changes may come a dwell apart."""
    switch_margin: float = 0.15
    """How far another emotion must lead the shown one, in smoothed probability, to replace it."""
    unsure_below: float = 0.4
    """Below this smoothed top probability the face is unsure and shows neutral (0: never). With
    the shipped model's calibrated probabilities, 6.7 % of PublicTest faces fall under 0.4, and
    the top pick is right for only 34.7 % of them (72.9 % for the rest): weights/README.md."""
    unsure_gap: float = 0.1
    """An unsure face is sure again only when its top smoothed probability reaches
    `unsure_below` + this (or what its size needs + this)."""
    smallest_readable: float = 10.0
    """Faces narrower than this, in frame pixels, are too small to read, and smaller faces than
    24 px need more confidence (vcam/readable.py; 0: no size rule)."""
    unsure_emoji: str | None = "neutral"
    """The emoji an unsure face shows; None: none (the face is left as it is)."""
    confident_above: float = 0.6
    """A change to an emotion this probable, leading by twice the margin, need not wait for the dwell."""
    match_iou: float = 0.3
    """Overlap with a track's predicted box enough for a face to continue that track ..."""
    match_distance: float = 0.5
    """... or else keypoints this close to the predicted ones, on average, in the track's face sizes."""
    match_size: float = 1.5
    """Most a face's size may differ from the track's, as a ratio, for it to continue the track."""
    predict_for: float = 0.3
    """Seconds a lost track's box keeps moving at its last velocity (longer guesses drift)."""
    show_missed: float = 0.3
    """Seconds a track without a detection is still returned, as a predicted face."""
    forget_after: float = 1.5
    """Seconds a track without a detection is kept to be found again; then it is dropped."""

    @property
    def readability(self) -> Readability:
        return Readability(smallest=self.smallest_readable, unsure_below=self.unsure_below)


def tracker_settings(config: Config) -> TrackerSettings:
    """The tracker's settings from the user's: the config's names are the ones users read."""
    return TrackerSettings(time_constant=config.smoothing_seconds, dwell=config.dwell_seconds,
                           switch_margin=config.switch_margin, unsure_below=config.unsure_below,
                           smallest_readable=config.smallest_readable_face,
                           unsure_emoji=None if config.unsure_emoji is UnsureEmoji.NONE else str(config.unsure_emoji))


@dataclass
class EmotionState:
    """One face's smoothed probabilities and the emotion it shows, decided with hysteresis."""

    settings: TrackerSettings
    probabilities: np.ndarray | None = None
    emotion: str | None = None
    """The emotion decided on (also kept while unsure, to come back to)."""
    unsure: bool = False
    too_small: bool = False
    """Unsure for the face's size: too small to read, or read with a confidence enough only for a larger face."""
    width: float = math.inf
    """The face's width at its last classification, frame pixels."""
    classified_at: float = 0.0
    changed_at: float = 0.0
    evidence: float = 0.0
    """Seconds of classifications the average holds: the sum of their steps (at most `longest_step` each)."""
    budget: float = 0.0
    """Changes of its emoji the face may still make (`changes_per_second`), as of `budget_at`."""
    budget_at: float = 0.0
    was_sure: bool = False
    """Whether the face has shown a sure emoji: the changes before its first are not spent from the budget."""

    @property
    def shown(self) -> str | None:
        return self.settings.unsure_emoji if self.unsure else self.emotion

    def shown_fields(self) -> dict[str, object]:
        """What a face carries of this state: the shown emotion, unsure (and whether for its size),
        the smoothed probabilities."""
        smoothed = None if self.probabilities is None else tuple(float(p) for p in self.probabilities)
        return {"emotion": self.shown, "unsure": self.unsure, "too_small": self.unsure and self.too_small,
                "smoothed": smoothed}

    def update(self, probabilities: np.ndarray, t: float, new_look: bool = False, width: float = math.inf) -> None:
        """A classification at `t` of a face `width` px wide; `new_look`: the face's look had
        changed much since the last."""
        self.width = width
        if self.probabilities is None:  # the first classification: the budget fills from now
            self.probabilities, self.budget_at = probabilities, t
        else:
            step = min(max(t - self.classified_at, 0.0), self.settings.longest_step)
            if new_look:
                step = max(step, self.settings.new_look_step)
            weight = 1.0 - math.exp(-step / self.settings.time_constant)
            self.evidence += step
            self.probabilities = self.probabilities + weight * (probabilities - self.probabilities)
        self.classified_at = t
        self._decide(t)

    def _decide(self, t: float) -> None:
        s, p = self.settings, self.probabilities
        leader = int(np.argmax(p))
        top = float(p[leader])
        readability = s.readability
        self.too_small = readability.too_small(self.width, top)
        needed = float(readability.needs(self.width))
        if self.emotion is None:
            if self.evidence < s.settle_seconds:
                self.unsure = True  # not settled yet: shown as unsure, and leaves it as an unsure face does
                return
            threshold = needed + s.unsure_gap if self.unsure else needed
            self.emotion, self.unsure, self.changed_at = EMOTIONS[leader], top < threshold, t
            self.was_sure = not self.unsure
            return
        unsure = top < (needed + s.unsure_gap if self.unsure else needed)
        emotion = self.emotion
        if not unsure and (self.unsure or p[leader] - p[EMOTIONS.index(emotion)] > s.switch_margin):
            emotion = EMOTIONS[leader]
        shown = s.unsure_emoji if unsure else emotion
        if shown != self.shown:
            lead = top - float(p[EMOTIONS.index(self.shown)]) if self.shown is not None else top
            confident = not unsure and top >= s.confident_above and lead >= 2 * s.switch_margin
            if t - self.changed_at < s.dwell and not confident:
                return
            if s.changes_per_second > 0 and self.was_sure:
                budget = min(s.change_burst, self.budget + max(t - self.budget_at, 0.0) * s.changes_per_second)
                self.budget, self.budget_at = budget, t
                if budget < 1.0:
                    return
                self.budget -= 1.0
            self.changed_at = t
        self.emotion, self.unsure = emotion, unsure
        self.was_sure = self.was_sure or not unsure


@dataclass
class _Track:
    track_id: int
    face: Face
    """The last detected face."""
    seen_at: float
    emotion: EmotionState
    velocity: Point = (0.0, 0.0)
    """Of the box, in pixels a second."""

    def shift(self, t: float, horizon: float) -> Point:
        """How far the box has moved since its last detection, by its last velocity."""
        dt = min(max(t - self.seen_at, 0.0), horizon)
        return self.velocity[0] * dt, self.velocity[1] * dt

    def follow(self, face: Face, t: float) -> None:
        """Continue the track with a new detection at `t`, learning its velocity."""
        dt = t - self.seen_at
        # The eyes, not the box: a face cut by the frame's edge keeps its eyes where they are
        # while its box shrinks towards the visible part, which would read as motion.
        (x0, y0), (x1, y1) = eyes_centre(self.face), eyes_centre(face)
        if 0 < dt <= 0.5:  # a velocity over a longer gap says little about the next frame
            measured = ((x1 - x0) / dt, (y1 - y0) / dt)
            # Averaged over about three detections: one detection's keypoints jitter by a few
            # pixels, and a face half out of frame jitters more.
            self.velocity = tuple(0.7 * v + 0.3 * m for v, m in zip(self.velocity, measured))
        else:
            self.velocity = (0.0, 0.0)
        self.face, self.seen_at = face, t


def eyes_centre(face: Face) -> tuple[float, float]:
    (rx, ry), (lx, ly) = face.eyes
    return (rx + lx) / 2, (ry + ly) / 2


def moved(face: Face, dx: float, dy: float) -> Face:
    x, y, w, h = face.box
    return face.replace(box=(x + dx, y + dy, w, h), keypoints=tuple((kx + dx, ky + dy) for kx, ky in face.keypoints))


def keypoint_distances(tracks: Sequence[Face], shifts: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """Mean distance of matching keypoints of each track's face, moved by its shift (tracks, 2),
    and each face, in the track's face sizes: (tracks, faces). Faces without the same keypoints
    are compared by box centres."""
    count = len(tracks[0].keypoints)
    if count and all(len(face.keypoints) == count for face in [*tracks, *faces]):
        a, b = np.array([face.keypoints for face in tracks]), np.array([face.keypoints for face in faces])
    else:
        a, b = np.array([[face.center] for face in tracks]), np.array([[face.center] for face in faces])
    a = a + shifts[:, None, :]
    sides = np.array([max(face.box[2], face.box[3], 1.0) for face in tracks])[:, None]
    return np.sqrt(((a[:, None] - b[None, :]) ** 2).sum(axis=-1)).mean(axis=-1) / sides


class Tracker:
    """`update(faces, t) -> faces`: the same faces with `track_id` and the shown `emotion` set,
    then the predicted faces of tracks briefly without a detection."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frames = 0

    def update(self, faces: Sequence[Face], t: float | None = None, new_looks: Sequence[bool] = ()) -> list[Face]:
        """The faces of the frame taken at `t` seconds (default: frame count / CLOCKLESS_FPS);
        `new_looks[i]`: the i-th face's look changed much since its last classification."""
        t = self._frames / CLOCKLESS_FPS if t is None else float(t)
        self._frames += 1
        s = self.settings
        self._tracks = [track for track in self._tracks if t - track.seen_at <= s.forget_after]
        shifts = np.array([track.shift(t, s.predict_for) for track in self._tracks]).reshape(-1, 2)
        track_of = self._match(shifts, faces)

        result = []
        for f, face in enumerate(faces):
            track = track_of.get(f)
            if track is None:
                track = _Track(self._next_id, face, t, EmotionState(s))
                self._next_id += 1
                self._tracks.append(track)
            else:
                track.follow(face, t)
            if face.probabilities is not None:
                track.emotion.update(np.asarray(face.probabilities, np.float64), t,
                                     new_look=f < len(new_looks) and new_looks[f], width=face_width(face))
            result.append(face.replace(track_id=track.track_id, **track.emotion.shown_fields()))
        matched = set(map(id, track_of.values()))
        for track, (dx, dy) in zip(list(self._tracks), shifts):  # the tracks from before this frame
            if id(track) not in matched and t - track.seen_at <= s.show_missed:
                result.append(moved(track.face, float(dx), float(dy)).replace(
                    track_id=track.track_id, predicted=True, **track.emotion.shown_fields()))
        return result

    def _match(self, shifts: np.ndarray, faces: Sequence[Face]) -> dict[int, _Track]:
        """Faces to tracks, the closest pairs first, each track's last face moved by its shift
        (its motion prediction); a pair qualifies by overlap or by keypoint distance, and by
        size. Computed as (tracks × faces) arrays: a crowd of 60 stays cheap."""
        s = self.settings
        if not self._tracks or not faces:
            return {}
        last = [track.face for track in self._tracks]
        boxes = np.array([face.box for face in last], np.float64)
        boxes[:, :2] += shifts
        overlap = ious(boxes, np.array([face.box for face in faces]))
        distance = keypoint_distances(last, shifts, faces)
        track_sides = np.array([max(face.box[2:]) for face in last])[:, None]
        face_sides = np.array([max(face.box[2:]) for face in faces])[None, :]
        similar = np.maximum(track_sides, face_sides) <= s.match_size * np.minimum(track_sides, face_sides)
        eligible = similar & ((overlap >= s.match_iou) | (distance <= s.match_distance))
        tracks, candidates = np.nonzero(eligible)
        cost = distance[tracks, candidates] - overlap[tracks, candidates]
        track_of: dict[int, _Track] = {}
        used: set[int] = set()
        for pair in np.argsort(cost, kind="stable"):
            t, f = int(tracks[pair]), int(candidates[pair])
            if t not in used and f not in track_of:
                used.add(t)
                track_of[f] = self._tracks[t]
        return track_of

    def reset(self) -> None:
        """Forget every track (e.g. when the source changes)."""
        self._tracks.clear()
        self._frames = 0

