"""Which face is the user's: the one "only me" draws on, and the one a reaction shows on.

The user sits in front of their own webcam, so their face is the largest near the middle of the
picture. It is chosen once by that rule and then held by its track (vcam/track.py), wherever the
user moves: a partner, a child or a colleague who comes nearer the middle, or looks larger for a
moment, never takes it over. When the user's track ends (they turned away for longer than the
tracker remembers a face), the role waits where they were: a face found again there, about the
user's size, is theirs; nobody else's face is chosen until the user has been out of view for
`absent_for` seconds (they left the desk, and whoever sits down now is the user).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vcam.faces import Face


@dataclass(frozen=True)
class UserFaceSettings:
    return_distance: float = 1.0
    """A face whose centre is within this many of the user's face sizes from where the user was
    last seen, and of about their size, is the user back after a turn of the head."""
    return_size: float = 1.5
    """Most a returning face's size may differ from the user's, as a ratio (the tracker's own rule)."""
    absent_for: float = 5.0
    """Seconds without the user's face before the largest face near the middle is chosen afresh."""


def centrality(face: Face, width: int, height: int) -> float:
    """1 for a face at the middle of a width×height frame, falling to 0 at its corners."""
    cx, cy = face.center
    return max(0.0, 1.0 - math.hypot(cx - width / 2, cy - height / 2) / math.hypot(width / 2, height / 2))


def side(face: Face) -> float:
    return max(face.box[2], face.box[3])


class UserFace:
    """`pick(faces, width, height, t)`: the user's face among a frame's tracked faces, or None."""

    def __init__(self, settings: UserFaceSettings | None = None) -> None:
        self.settings = settings or UserFaceSettings()
        self._track: int | None = None
        self._last: Face | None = None
        """The user's face as last seen."""
        self._seen_at = 0.0

    def pick(self, faces: Sequence[Face], width: int, height: int, t: float) -> Face | None:
        """The user's face among `faces` (each with its track id) in a `width`×`height` frame
        taken at `t` seconds; None while the user is out of view."""
        user = self._held(faces)
        if user is None and self._choosing(t):
            seen = [face for face in faces if not face.predicted]
            user = max(seen, key=lambda face: side(face) * centrality(face, width, height), default=None)
        if user is not None:
            self._track, self._last, self._seen_at = user.track_id, user, t
        return user

    def may_be(self, faces: Sequence[Face], t: float) -> list[bool]:
        """Of a frame's detected faces, before tracking: which may be the user's (where the user
        was last seen, and of their size; any face while a user is to be chosen). "Only me"
        classifies these alone."""
        if self._choosing(t):
            return [True] * len(faces)
        return [self._near_last(face) for face in faces]

    def _choosing(self, t: float) -> bool:
        return self._last is None or t - self._seen_at > self.settings.absent_for

    def _near_last(self, face: Face) -> bool:
        assert self._last is not None
        s, size = self.settings, side(self._last)
        return (max(side(face), size) <= s.return_size * min(side(face), size)
                and self._distance(face) <= s.return_distance * size)

    def _distance(self, face: Face) -> float:
        assert self._last is not None
        return math.hypot(face.center[0] - self._last.center[0], face.center[1] - self._last.center[1])

    def _held(self, faces: Sequence[Face]) -> Face | None:
        """The user's track's face, else a new face where the user was and of their size."""
        for face in faces:
            if face.track_id is not None and face.track_id == self._track:
                return face
        if self._last is None:
            return None
        returning = [face for face in faces if not face.predicted and self._near_last(face)]
        return min(returning, key=self._distance, default=None)

    def reset(self) -> None:
        """Forget the user (a new camera: the picture is another)."""
        self._track, self._last, self._seen_at = None, None, 0.0
