"""A clip whose truth is known: FER2013 faces of different emotions pasted at one spot, one after
another, so the true expression changes at known frames and nowhere else.

Each segment holds one PublicTest face of one emotion for a few seconds; every frame moves it by
a few pixels, rescales it by a few per cent and adds camera noise, so the detector and the
classifier see a slightly different picture each frame, as they do with a person holding an
expression. The faces are fixed, by their row in fer2013.csv (CLIP_FACES), so that the clip is the
same from the whole data set and from the tests' sample, which carries them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.emotions import EMOTIONS
from vcam.faces import Face

SIZE = (640, 480)
FACE = 220
"""Pixels the 48×48 face is scaled to: a person about a metre from a 640×480 webcam."""


@dataclass(frozen=True)
class KnownChangesClip:
    faces: tuple[np.ndarray, ...]
    """One 48×48 gray face per segment."""
    emotions: tuple[str, ...]
    """The true emotion of each segment."""
    segment_seconds: float

    @property
    def seconds(self) -> float:
        return self.segment_seconds * len(self.emotions)

    def truth(self, t: float) -> str:
        return self.emotions[min(int(t / self.segment_seconds), len(self.emotions) - 1)]

    def change_times(self) -> list[float]:
        """When the true emotion changes."""
        return [i * self.segment_seconds for i in range(1, len(self.emotions))
                if self.emotions[i] != self.emotions[i - 1]]

    def frames(self, fps: float, seed: int = 0) -> Iterator[tuple[float, np.ndarray]]:
        """(time, frame) at `fps` frames a second; the same seed gives the same frames."""
        rng = np.random.default_rng(seed)
        background = _background()
        for index in range(round(self.seconds * fps)):
            t = index / fps
            face = self.faces[min(int(t / self.segment_seconds), len(self.faces) - 1)]
            yield t, _frame(background, face, rng)


def _background() -> np.ndarray:
    """A smooth, face-free backdrop: a blurred colour gradient."""
    width, height = SIZE
    ramp = np.linspace(60, 190, width, dtype=np.float32)[None, :].repeat(height, 0)
    background = np.dstack([ramp, ramp[::-1, ::-1], np.full_like(ramp, 120)])
    return cv2.GaussianBlur(background.astype(np.uint8), (0, 0), 15)


def _frame(background: np.ndarray, face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frame = background.copy()
    side = round(FACE * rng.uniform(0.97, 1.03))
    patch = cv2.cvtColor(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    x = (SIZE[0] - side) // 2 + int(rng.integers(-4, 5))
    y = (SIZE[1] - side) // 2 + int(rng.integers(-4, 5))
    frame[y:y + side, x:x + side] = patch
    noise = rng.normal(0, 6, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


CLIP_FACES: tuple[tuple[str, int], ...] = (("happy", 30885), ("surprise", 29535), ("happy", 29631),
                                          ("neutral", 28879))
"""Each segment's emotion and its face's row in fer2013.csv: PublicTest faces of that label that the
shipped detector finds alone and the shipped classifier reads as labelled, with a probability of
0.5 or more, in six noisy frames in a row (the clip tests the tracker, not the model); the first
such faces, in a fixed random order (seed 23), of the whole PublicTest."""


def known_changes_clip(npz: Path, segment_seconds: float = 2.0) -> KnownChangesClip:
    """The clip of CLIP_FACES, from a FER2013 .npz that holds their rows (the whole data set, or the
    tests' sample)."""
    emotions, rows = zip(*CLIP_FACES)
    with np.load(npz) as data:
        row_index, images, labels = data["row_index"], data["images"], data["labels"]
        faces = []
        for emotion, row in CLIP_FACES:
            found = np.flatnonzero(row_index == row)
            if len(found) != 1 or EMOTIONS[labels[found[0]]] != emotion:
                raise LookupError(f"{npz} has no {emotion} face of fer2013.csv row {row}; pass the FER2013 .npz "
                                  "or tests/data/fer2013-sample.npz")
            faces.append(images[found[0]])
    return KnownChangesClip(tuple(faces), emotions, segment_seconds)


@dataclass(frozen=True)
class FollowedTruth:
    """How the shown emotion of a clip's face followed the known truth."""

    false_changes: int
    """Changes of the shown emoji outside the half second after a true change."""
    steady_seconds: float
    """Time outside those half seconds."""
    lags: tuple[float | None, ...]
    """Per true change: seconds until the shown emotion became the new truth (None: never)."""

    @property
    def false_changes_per_second(self) -> float:
        return self.false_changes / self.steady_seconds


def shown_emotion(face: Face | None, before: list[tuple[float, str | None]]) -> str | None:
    """What a frame shows on the clip's face, for `followed_truth` (`before`: the frames before):
    None without a face, and while the face is unsure before its first sure emoji (a new face's
    reading settling: a placeholder, not a choice)."""
    if face is None or (face.unsure and all(emotion is None for _, emotion in before)):
        return None
    return face.emotion


def followed_truth(clip: KnownChangesClip, shown: list[tuple[float, str | None]], grace: float = 0.5) -> FollowedTruth:
    """`shown`: (time, shown emotion) for each frame of `clip`, from the face's track; None before
    its first emoji (no face yet, or a new face's reading still settling) is no change."""
    changes = clip.change_times()
    in_grace = [any(change <= t < change + grace for change in changes) for t, _ in shown]
    first = next((i for i, (_, emotion) in enumerate(shown) if emotion is not None), len(shown))
    false_changes = sum(1 for i in range(first + 1, len(shown))
                        if shown[i][1] != shown[i - 1][1] and not in_grace[i])
    frame_time = shown[1][0] - shown[0][0]
    lags = []
    for change in changes:
        after = [t for t, emotion in shown if t >= change and emotion == clip.truth(change)]
        lags.append(None if not after else after[0] - change)
    return FollowedTruth(false_changes, (len(shown) - sum(in_grace)) * frame_time, tuple(lags))
