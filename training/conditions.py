"""Webcam conditions: FER2013 faces degraded the way a webcam in a real room degrades a face.

FER2013's faces are mostly well lit, sharp and large; a webcam gives dim rooms, washed-out
light, focus blur, sensor noise, heavy compression and faces far from the camera. Each condition
here is a fixed, seeded transform of uint8 48×48 faces, so that a model's robustness report
(python -m training.robustness) reads the same faces every time and two models are compared on
the same damage. The augmentations that train for these conditions are in training/augment.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from enum import StrEnum

import cv2
import numpy as np

from vcam.preprocess import FACE_SIZE


class Condition(StrEnum):
    DARK = "dark"
    LOW_CONTRAST = "low_contrast"
    BLUR = "blur"
    JPEG = "jpeg"
    NOISE = "noise"
    FAR = "far"


DARK_GAMMA, DARK_GAIN, DARK_NOISE = 2.2, 0.6, 4.0
"""A dim room: the sensor's linear light (gamma 2.2 undone) at 0.6 of the exposure, re-encoded
without gamma as cheap cameras' auto-exposure leaves it, plus read noise of σ 4 grey levels."""
LOW_CONTRAST, LOW_CONTRAST_GREY = 0.3, 150.0
"""Washed-out light (a window behind, a haze of backlight): 30 % of the contrast around a light grey."""
BLUR_SIGMA = 1.2
"""Focus or motion blur of a 48-px face: a Gaussian of σ 1.2 px."""
JPEG_QUALITY = 15
"""A starved video call's compression: JPEG at quality 15."""
NOISE_SIGMA = 12.0
"""Sensor noise at high gain: Gaussian, σ 12 grey levels."""
FAR_SIDE = 18
"""A face 18 px across in the frame, scaled up to the model's 48."""


def _dark(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    linear = (faces.astype(np.float32) / 255.0) ** DARK_GAMMA
    return _to_uint8(255.0 * DARK_GAIN * linear + rng.normal(0.0, DARK_NOISE, faces.shape))


def _low_contrast(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(LOW_CONTRAST_GREY + LOW_CONTRAST * (faces.astype(np.float32) - 128.0))


def _blur(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(face, (0, 0), BLUR_SIGMA, borderType=cv2.BORDER_REFLECT) for face in faces])


def _jpeg(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    def squeezed(face: np.ndarray) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)

    return np.stack([squeezed(face) for face in faces])


def _noise(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(faces.astype(np.float32) + rng.normal(0.0, NOISE_SIGMA, faces.shape))


def _far(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    small = (FAR_SIDE, FAR_SIDE)
    return np.stack([cv2.resize(cv2.resize(face, small, interpolation=cv2.INTER_AREA), (FACE_SIZE, FACE_SIZE),
                                interpolation=cv2.INTER_LINEAR) for face in faces])


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


DEGRADE: dict[Condition, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    Condition.DARK: _dark,
    Condition.LOW_CONTRAST: _low_contrast,
    Condition.BLUR: _blur,
    Condition.JPEG: _jpeg,
    Condition.NOISE: _noise,
    Condition.FAR: _far,
}
"""Each condition's transform of a uint8 (N, 48, 48) batch, drawing any noise from the generator."""


def degrade(faces: np.ndarray, condition: Condition, seed: int = 0) -> np.ndarray:
    """`faces` (uint8 (N, 48, 48)) under `condition`: the same output for the same faces and seed,
    whatever else was degraded before (each condition draws from its own generator)."""
    rng = np.random.default_rng([seed, zlib.crc32(condition.value.encode())])
    return DEGRADE[condition](np.asarray(faces, np.uint8), rng)


def parse_conditions(text: str) -> list[Condition]:
    """A comma-separated list of condition names (argparse `type=`); ValueError naming the choices."""
    names = [name.strip().lower().replace("-", "_") for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in {condition.value for condition in Condition}]
    if unknown or not names:
        raise ValueError(f"unknown condition {', '.join(unknown) or repr(text)}; "
                         f"choose from {', '.join(Condition)}")
    return [Condition(name) for name in dict.fromkeys(names)]
