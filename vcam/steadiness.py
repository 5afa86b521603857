"""How steady the shown emojis are: changes a second per track, from `vcam annotate --json` records.

A record is one frame: `{"frame": index, "faces": [face.to_json(), ...]}`. The figures are what a
viewer sees: how often the emoji on each face changes once its first sure one is shown, and into
how many tracks the faces fall (a person who keeps one track keeps one smoothed emotion)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TrackSteadiness:
    track_id: int
    frames: int
    """Frames in which the track has a face (predicted ones included), first to last."""
    changes: int
    """Times the shown emotion differs from the one shown in the track's frame before."""
    seconds: float

    @property
    def changes_per_second(self) -> float:
        return self.changes / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Steadiness:
    tracks: tuple[TrackSteadiness, ...]

    def long_tracks(self, seconds: float = 1.0) -> tuple[TrackSteadiness, ...]:
        return tuple(track for track in self.tracks if track.seconds >= seconds)

    def __str__(self) -> str:
        long = self.long_tracks()
        rates = ", ".join(f"#{track.track_id} {track.changes_per_second:.2f}" for track in long)
        return (f"{len(self.tracks)} track{'s' * (len(self.tracks) != 1)}, {len(long)} of 1 s or more; "
                f"emoji changes a second: {rates or 'none'}")


def shown_emotions(records: Iterable[Mapping]) -> dict[int, list[tuple[int, str | None]]]:
    """Per track id, its (frame index, shown emotion) in frame order; None until the track's first
    sure emoji: the unsure one shown before it, while a new face's reading settles, is a
    placeholder, not a choice (vcam/track.py)."""
    tracks: dict[int, list[tuple[int, str | None]]] = {}
    decided: set[int] = set()
    for record in records:
        for face in record["faces"]:
            if (track := face.get("id")) is not None:
                if not face.get("unsure", False):
                    decided.add(track)
                shown = face.get("emotion") if track in decided else None
                tracks.setdefault(track, []).append((record["frame"], shown))
    return tracks


def count_changes(emotions: Iterable[str | None]) -> int:
    """How often a shown emotion differs from the one before it (an undecided face shows none)."""
    shown = [emotion for emotion in emotions if emotion is not None]
    return sum(1 for before, after in zip(shown, shown[1:]) if before != after)


def measure_steadiness(records: Iterable[Mapping], fps: float) -> Steadiness:
    """The changes of every track in `records`, a video at `fps` frames a second."""
    tracks = []
    for track_id, shown in sorted(shown_emotions(records).items()):
        first, last = shown[0][0], shown[-1][0]
        tracks.append(TrackSteadiness(track_id, len(shown), count_changes(emotion for _, emotion in shown),
                                      (last - first + 1) / fps))
    return Steadiness(tuple(tracks))
