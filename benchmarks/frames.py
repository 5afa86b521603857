"""The benchmark's frames: a photo from tests/media, blurred into a background, with FER2013
faces from tests/data's sample pasted on it in a grid. Deterministic: the same files give the same
frames, so figures from two runs (or two machines) compare.

The faces are the first PublicTest faces, in the file's order, that the full-range detector finds
when pasted alone at the benchmark's size: FER2013's tight 48×48 crops lack the hair and the
background a detector also looks at, and a face it cannot find would not cost the classifier,
tracker and overlay anything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from vcam.detect import FaceDetector
from vcam.errors import MediaError

FACE_WIDTH_SHARE = 0.23
"""Face side ÷ frame width. The full-range detector sees a 1280-px frame at 192 px; below about
this share (≈ 290 px at 1280) it starts to miss these pasted faces (7 of 8 found at 280 px, 5 of
8 at 160 px)."""
COLUMNS = 4


def face_layout(width: int, height: int, count: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of `count` faces in a grid of up to four columns, centred in their cells."""
    columns = min(count, COLUMNS)
    rows = -(-count // columns)
    side = int(min(width * FACE_WIDTH_SHARE, 0.95 * width / columns, 0.95 * height / rows))
    cells = []
    for i in range(count):
        row, column = divmod(i, columns)
        x = int((column + 0.5) * width / columns - side / 2)
        y = int((row + 0.5) * height / rows - side / 2)
        cells.append((x, y, side))
    return cells


_BACKGROUNDS: dict[tuple[bytes, tuple[int, ...], int, int], np.ndarray] = {}
"""Backgrounds made, by the photo's content and the size: a clip's frames share one, and its blur
(σ of a fortieth of the width) takes a sixth of a second at 1280×720."""


def background(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo scaled to fill width×height and blurred past recognition (its own faces too); a
    copy of the one made before for the same photo and size."""
    key = (hashlib.blake2b(np.ascontiguousarray(photo).data, digest_size=16).digest(), photo.shape, width, height)
    if key not in _BACKGROUNDS:
        if len(_BACKGROUNDS) >= 8:
            _BACKGROUNDS.clear()
        _BACKGROUNDS[key] = _blurred(photo, width, height)
    return _BACKGROUNDS[key].copy()


def _blurred(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    scale = max(width / photo.shape[1], height / photo.shape[0])
    scaled = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                        interpolation=cv2.INTER_AREA)
    y, x = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return cv2.GaussianBlur(scaled[y:y + height, x:x + width], (0, 0), sigmaX=width / 40)


def build_frame(photo: np.ndarray, faces: list[np.ndarray], width: int, height: int,
                shifts: list[int] | None = None) -> np.ndarray:
    """The faces pasted on the photo's background in their grid cells, each moved sideways by its
    `shifts` pixels (default none)."""
    frame = background(photo, width, height)
    for index, (face, (x, y, side)) in enumerate(zip(faces, face_layout(width, height, len(faces)))):
        x = min(max(0, x + (shifts[index] if shifts else 0)), width - side)
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)[:, :, None]
    return frame


def findable_faces(data: Path, photo: np.ndarray, detector: FaceDetector, count: int = 8,
                   width: int = 1280, height: int = 720) -> list[np.ndarray]:
    """The first `count` PublicTest faces (FER+ says they are faces) that `detector` finds alone."""
    try:
        with np.load(data) as arrays:
            images, usage, votes = arrays["images"], arrays["usage"], arrays["ferplus_votes"]
            not_a_face = [str(name) for name in arrays["ferplus_columns"]].index("NF")
    except (OSError, KeyError, ValueError) as err:
        raise MediaError(f"{data}: not a FER2013 .npz with images, usage and ferplus_votes ({err});"
                         " pass --data with a FER2013 .npz such as tests/data/fer2013-sample.npz") from None
    chosen: list[np.ndarray] = []
    for index in np.flatnonzero((usage == "PublicTest") & (votes[:, not_a_face] == 0)):
        if len(detector.detect(build_frame(photo, [images[index]], width, height))) == 1:
            chosen.append(images[index])
            if len(chosen) == count:
                return chosen
    raise MediaError(f"{data}: only {len(chosen)} of its PublicTest faces are found by the detector; need {count}")
