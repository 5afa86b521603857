"""Conditions: FER2013 faces changed the way a webcam in a real room changes a face, and faces
unlike FER2013's as the app cuts them out of a frame.

FER2013's faces are mostly well lit, sharp, large, upright and cropped by hand; a webcam gives
dim rooms, washed-out light, focus blur, sensor noise, heavy compression and faces far from the
camera (the webcam family), and the app reads faces it found and cut itself, heads rolled to one
side, light from a window beside the face (the transfer family). Each condition here is a fixed,
seeded transform of uint8 48×48 faces, so that a model's robustness report (python -m
training.robustness) reads the same faces every time and two models are compared on the same
damage. The augmentations that train for the webcam's conditions are in training/augment.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import cache
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
    APP_CUT = "app_cut"
    ROLLED = "rolled"
    SIDE_LIT = "side_lit"


class Family(StrEnum):
    """Which kind of change a condition stands for; the report averages each family apart."""

    WEBCAM = "webcam"
    """A webcam's damage to a FER2013 face (its figures since the first robustness report)."""
    TRANSFER = "transfer"
    """Faces unlike FER2013's, found and cut by the app (vcam.detect, vcam.preprocess.crop_face)."""


FAMILY: dict[Condition, Family] = {
    Condition.DARK: Family.WEBCAM, Condition.LOW_CONTRAST: Family.WEBCAM, Condition.BLUR: Family.WEBCAM,
    Condition.JPEG: Family.WEBCAM, Condition.NOISE: Family.WEBCAM, Condition.FAR: Family.WEBCAM,
    Condition.APP_CUT: Family.TRANSFER, Condition.ROLLED: Family.TRANSFER, Condition.SIDE_LIT: Family.TRANSFER,
}
"""Each condition's family, named one by one (a new condition must say which it belongs to)."""


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


SCENE_SCALE, SCENE_PAD = 3, 96
"""A transfer scene: the face scaled 3× (144 px) in a 336×336 frame, its border pixels carried out
to the frame's edge, as a face seen from arm's length fills part of a webcam's picture."""
ROLL_DEGREES = 25.0
"""A head rolled to one side: 25°, left or right as the face's pixels decide (the same face always
the same way)."""
SIDE_LIGHT_FLOOR = 0.05
"""Light from a window beside the face: linear light falling from full on one side to 5 % on
the other, across the face (gamma 2.2 undone and redone: the dark side at a quarter of its grey)."""


def _app_cut(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([cut_by_the_app(face) for face in faces])


def _rolled(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([cut_by_the_app(face, ROLL_DEGREES if zlib.crc32(face.tobytes()) % 2 else -ROLL_DEGREES)
                     for face in faces])


def _side_lit(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([cut_by_the_app(face) for face in lit_from_one_side(faces)])


def lit_from_one_side(faces: np.ndarray, floor: float = SIDE_LIGHT_FLOOR, dark_on_the_left: bool = True) -> np.ndarray:
    """uint8 faces lit from one side: linear light falling across each face from full on one side
    to `floor` of it on the other (the left, or the right)."""
    ramp = np.linspace(floor, 1.0, FACE_SIZE, dtype=np.float32)
    ramp = (ramp if dark_on_the_left else ramp[::-1])[None, None, :]
    linear = (faces.astype(np.float32) / 255.0) ** DARK_GAMMA * ramp
    return _to_uint8(255.0 * linear ** (1.0 / DARK_GAMMA))


def cut_by_the_app(face: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """A uint8 48×48 face set in a scene, rolled by `roll` degrees, then found and cut out as the
    app finds and cuts faces (the transfer checks' faces; training.app_cuts trains on them)."""
    return _found_and_cut(_scene(face, roll))


def _scene(face: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """A grayscale frame holding `face` 3× larger in its middle, rolled by `roll` degrees."""
    big = cv2.resize(face, None, fx=SCENE_SCALE, fy=SCENE_SCALE, interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, *[SCENE_PAD] * 4, cv2.BORDER_REPLICATE)
    if roll:
        centre = (frame.shape[1] / 2.0, frame.shape[0] / 2.0)
        frame = cv2.warpAffine(frame, cv2.getRotationMatrix2D(centre, roll, 1.0), frame.shape[::-1],
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return frame


def _found_and_cut(frame: np.ndarray) -> np.ndarray:
    """The face in the middle of a scene, as the app cuts it: found by the short-range detector
    and cut upright along its eyes by vcam.preprocess.crop_face. A face the detector misses
    (about 5 in 100) is cut from where it was placed, the way FER2013 frames it, so that every
    face is scored; the app would show nothing for it."""
    from vcam.preprocess import FACE_MARGIN, FACE_SHIFT_UP, crop_face

    centre = frame.shape[0] / 2.0
    near = [face for face in _scene_detector().detect(frame)
            if abs(face.center[0] - centre) < SCENE_SCALE * FACE_SIZE / 3 and abs(face.center[1] - centre) < SCENE_SCALE * FACE_SIZE / 3]
    if near:
        face = max(near, key=lambda face: face.score)
        return crop_face(frame, face.box, face.eyes)
    side = SCENE_SCALE * FACE_SIZE / FACE_MARGIN
    return crop_face(frame, (centre - side / 2.0, centre - side / 2.0 + FACE_SHIFT_UP * SCENE_SCALE * FACE_SIZE, side, side))


@cache
def _scene_detector():
    """The app's short-range detector, opened once (the one a face at arm's length meets)."""
    from vcam.choices import Detector
    from vcam.detect import FaceDetector

    return FaceDetector(Detector.SHORT)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


DEGRADE: dict[Condition, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    Condition.DARK: _dark,
    Condition.LOW_CONTRAST: _low_contrast,
    Condition.BLUR: _blur,
    Condition.JPEG: _jpeg,
    Condition.NOISE: _noise,
    Condition.FAR: _far,
    Condition.APP_CUT: _app_cut,
    Condition.ROLLED: _rolled,
    Condition.SIDE_LIT: _side_lit,
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
