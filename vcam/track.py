"""Identity across frames and a steady emotion per face.

Faces are matched to the tracks of the previous frames by box overlap (IoU, greedy best-first).
Each track smooths its probabilities with an exponential moving average, and the emotion it
shows changes only when another emotion leads the shown one by a clear margin (hysteresis):
a face that hovers between "neutral" and "sad" keeps one emoji instead of flickering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcam import EMOTIONS
from vcam.faces import Face, iou


@dataclass(frozen=True)
class TrackerSettings:
    match_iou: float = 0.3
    """Least overlap with a track's last box for a face to continue that track."""
    max_missed: int = 10
    """Frames a track survives without a matching face (blinks of the detector)."""
    smoothing: float = 0.4
    """Weight of the newest probabilities in the moving average (1.0: no smoothing)."""
    switch_margin: float = 0.15
    """How far another emotion must lead the shown one, in smoothed probability, to replace it."""
    unsure_below: float = 0.4
    """Below this smoothed top probability the face is unsure and shows neutral (0: never). With
    the shipped model's calibrated probabilities, 6.7 % of PublicTest faces fall under 0.4, and
    the top pick is right for only 34.7 % of them (72.9 % for the rest): weights/README.md."""


@dataclass
class _Track:
    track_id: int
    box: tuple[float, float, float, float]
    probabilities: np.ndarray | None = None
    emotion: str | None = None
    missed: int = 0


class Tracker:
    """`update(faces) -> faces`: the same faces with `track_id` and the shown `emotion` set."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, faces: Sequence[Face]) -> list[Face]:
        pairs = sorted(
            ((iou(track.box, face.box), t, f) for t, track in enumerate(self._tracks) for f, face in enumerate(faces)),
            reverse=True,
        )
        track_of: dict[int, _Track] = {}
        used: set[int] = set()
        for overlap, t, f in pairs:
            if overlap < self.settings.match_iou:
                break
            if t in used or f in track_of:
                continue
            used.add(t)
            track_of[f] = self._tracks[t]
        for t, track in enumerate(self._tracks):
            if t not in used:
                track.missed += 1
        self._tracks = [track for t, track in enumerate(self._tracks) if t in used or track.missed <= self.settings.max_missed]

        result = []
        for f, face in enumerate(faces):
            track = track_of.get(f)
            if track is None:
                track = _Track(self._next_id, face.box)
                self._next_id += 1
                self._tracks.append(track)
            track.box, track.missed = face.box, 0
            if face.probabilities is not None:
                self._smooth(track, np.asarray(face.probabilities, np.float64))
            unsure = track.probabilities is not None and float(track.probabilities.max()) < self.settings.unsure_below
            result.append(face.replace(track_id=track.track_id, emotion="neutral" if unsure else track.emotion,
                                       unsure=unsure))
        return result

    def _smooth(self, track: _Track, probabilities: np.ndarray) -> None:
        alpha = self.settings.smoothing
        track.probabilities = probabilities if track.probabilities is None else (
            alpha * probabilities + (1 - alpha) * track.probabilities
        )
        leader = int(np.argmax(track.probabilities))
        if track.emotion is None:
            track.emotion = EMOTIONS[leader]
            return
        shown = EMOTIONS.index(track.emotion)
        if track.probabilities[leader] - track.probabilities[shown] > self.settings.switch_margin:
            track.emotion = EMOTIONS[leader]

    def reset(self) -> None:
        """Forget every track (e.g. when the source changes)."""
        self._tracks.clear()
