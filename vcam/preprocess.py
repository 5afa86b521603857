"""Turning a face into the emotion model's input.

This module is the one place that decides how a face is cropped, aligned and normalised.
Training imports it too, so that the network sees at run time exactly what it saw in training.
It depends on numpy and OpenCV only; which normalisation a model was trained with is recorded
beside it and read by vcam.calibration.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vcam.choices import Normalisation, ViewCount

FACE_SIZE = 48
"""Side of the square grayscale face the emotion model takes (FER2013's 48×48)."""

FACE_MARGIN = 1.15
"""Crop side ÷ detector box side, and the crop centre's shift above the box centre as a fraction
of the crop side. Measured by running BlazeFace (short range) on 300 PublicTest faces: the
FER2013 crop is 1.155× the box (median) and the box centre sits 0.076 of the crop below its
centre. These reproduce FER2013's framing, which is what the emotion model learned from."""
FACE_SHIFT_UP = 0.075


STANDARD_MEAN, STANDARD_STD = 0.508, 0.210
"""The median per-face mean and standard deviation of FER2013's Training faces, in [0, 1]."""
CLAHE_CLIP, CLAHE_TILES = 2.0, (2, 2)


def prepare_faces(faces: Sequence[np.ndarray] | np.ndarray,
                  normalisation: Normalisation = Normalisation.NONE) -> np.ndarray:
    """Normalise face crops into a model batch: float32 (N, 48, 48, 1) in [0, 1].

    Each crop may be grayscale (H, W) or BGR (H, W, 3) of any size; crops of another size
    are resized. A uint8 array (N, 48, 48) — FER2013's own format — passes straight through.
    `normalisation` evens out each face's light (see Normalisation).
    """
    if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.shape[1:] == (FACE_SIZE, FACE_SIZE):
        batch = faces
    else:
        batch = np.stack([_to_gray48(face) for face in faces]) if len(faces) else np.zeros(
            (0, FACE_SIZE, FACE_SIZE), np.uint8
        )
    if normalisation == Normalisation.CLAHE:
        clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_TILES)
        batch = np.stack([clahe.apply(np.ascontiguousarray(face, np.uint8)) for face in batch]) if len(batch) else batch
    inputs = batch.astype(np.float32) / 255.0
    if normalisation == Normalisation.STANDARDISE:
        mean = inputs.mean(axis=(1, 2), keepdims=True)
        spread = np.maximum(inputs.std(axis=(1, 2), keepdims=True), 1.0 / 255.0)  # a flat face stays flat
        inputs = np.clip(STANDARD_MEAN + STANDARD_STD * (inputs - mean) / spread, 0.0, 1.0)
    return inputs[..., None]


def _to_gray48(face: np.ndarray) -> np.ndarray:
    if face.ndim == 3:
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if face.shape != (FACE_SIZE, FACE_SIZE):
        face = cv2.resize(face, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return face


def crop_face(
    frame: np.ndarray,
    box: tuple[float, float, float, float],
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
    margin: float = FACE_MARGIN,
    shift_up: float = FACE_SHIFT_UP,
) -> np.ndarray:
    """Cut an upright square grayscale 48×48 face out of a BGR frame.

    `box` is (x, y, w, h) in frame pixels; `eyes` are the two eye centres. When they are
    given the crop is rotated so that the line between the eyes is horizontal, as in FER2013.
    Parts of the crop outside the frame are filled by replicating the border.
    """
    x, y, w, h = box
    side = max(w, h) * margin
    angle = 0.0
    if eyes is not None:
        (lx, ly), (rx, ry) = eyes
        angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
        if abs(angle) > 90:  # eyes given right-to-left: same line, other direction
            angle -= 180.0 * np.sign(angle)
    # Move the centre "up" in the face's own frame: perpendicular to the eye line.
    theta = np.radians(angle)
    cx = x + w / 2.0 + shift_up * side * np.sin(theta)
    cy = y + h / 2.0 - shift_up * side * np.cos(theta)
    # Warp to an integer multiple of 48 with bilinear sampling, then area-average down:
    # warpAffine cannot area-average, and sampling a 300 px face straight to 48 px aliases.
    factor = int(np.clip(side // FACE_SIZE, 1, 8))
    out = FACE_SIZE * factor
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, out / max(side, 1e-6))
    matrix[0, 2] += out / 2.0 - cx
    matrix[1, 2] += out / 2.0 - cy
    if frame.ndim == 3:
        # Only the pixels the warp reads turn grey, not the whole frame (a pass over 2.7 MB at
        # 1280×720 for a face of a few kilobytes): the same grey values, the warp moved with them.
        frame, matrix = _under_warp(frame, matrix, out)
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    crop = cv2.warpAffine(frame, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if factor > 1:
        crop = cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return crop


def _under_warp(frame: np.ndarray, matrix: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of `frame` that an out×out warp by `matrix` (frame to crop) samples, with two
    pixels to spare on every side for the bilinear neighbours, clipped to the frame; and the matrix from
    that part to the crop. Where the part meets the frame's edge, the warp replicates the same
    border pixels as it would from the whole frame."""
    corners = np.array([[0, 0], [out, 0], [0, out], [out, out]], np.float64)
    source = cv2.invertAffineTransform(matrix)
    points = corners @ source[:, :2].T + source[:, 2]
    height, width = frame.shape[:2]
    x0 = int(min(max(np.floor(points[:, 0].min()) - 2, 0), width - 1))
    y0 = int(min(max(np.floor(points[:, 1].min()) - 2, 0), height - 1))
    x1 = int(max(min(np.ceil(points[:, 0].max()) + 3, width), x0 + 1))
    y1 = int(max(min(np.ceil(points[:, 1].max()) + 3, height), y0 + 1))
    moved = matrix.copy()
    moved[:, 2] += matrix[:, :2] @ (x0, y0)
    return frame[y0:y1, x0:x1], moved


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (N, 7) rescaled by temperature: softmax(log p / T). The same ranking, more
    confident for T < 1, less for T > 1. Training fits T (training/calibrate.py) and the app
    applies it (vcam/classify.py): both read the model's outputs through this one function."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    scaled = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(probabilities.dtype)


VIEW_COUNTS = tuple(ViewCount)
"""Test-time augmentation: 1 the face as it is; 2 also its mirror image; 10 also its four corner
crops of 44×44 pixels scaled back to 48×48 (a 9 % zoom with a shift, inside what training's
augmentation does), each of the five mirrored."""
VIEW_CROP = 44


def face_views(inputs: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` (a VIEW_COUNTS) batches (N, 48, 48, 1) of views of a model batch, the batch itself
    first, whose probabilities test-time augmentation averages."""
    if count not in VIEW_COUNTS:
        raise ValueError(f"{count} views per face: choose one of {', '.join(map(str, VIEW_COUNTS))}")
    views = [inputs]
    if count == 10:
        size, crop = inputs.shape[1], VIEW_CROP
        for top, left in ((0, 0), (0, size - crop), (size - crop, 0), (size - crop, size - crop)):
            views.append(np.stack([cv2.resize(face[top:top + crop, left:left + crop, 0], (size, size),
                                              interpolation=cv2.INTER_LINEAR) for face in inputs])[..., None])
    if count == 1:
        return views
    return [mirrored for view in views for mirrored in (view, np.ascontiguousarray(view[:, :, ::-1]))]
