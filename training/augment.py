"""Augmentation: Keras 3 preprocessing layers, applied per batch (training/batches.py)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build_augmenter(seed: int = 0, erasing: float = 0.0, webcam: float = 0.0) -> keras.Sequential:
    """Flips, small shifts, rotations, zoom and brightness: what a webcam does to a face; with
    `erasing` > 0, also a random rectangle blanked out (a hand, a microphone, glasses' glare); with
    `webcam` > 0, also a webcam's light, blur, distance, noise and compression (WebcamConditions),
    each step with that chance per face.

    Inputs are the model's inputs, floats in [0, 1] of shape (N, 48, 48, 1).
    """
    steps = [
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 1),
        layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed + 2),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
        layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 4),
    ]
    if webcam > 0:
        steps.append(WebcamConditions(rate=webcam, seed=seed + 7))
    if erasing > 0:
        steps.append(layers.RandomErasing(factor=erasing, value_range=(0.0, 1.0), seed=seed + 5))
    return keras.Sequential(steps, name="augment")


MIXERS = ("mixup", "cutmix")
"""The ways `TargetMixer` mixes a batch."""


class TargetMixer(keras.layers.Layer):
    """Mixes each training batch's faces with a shuffled copy of the batch and their targets in
    the same proportions: `mixup` blends whole faces with weights from Beta(amount, amount) (Keras'
    MixUp), `cutmix` pastes a rectangle of another face, its share of the area drawn with
    `amount` as Keras' CutMix factor. Outside training, faces and targets pass unchanged.

    A layer of the model rather than of the input pipeline, so that it compiles into the training
    step with the augmentation (training.fast): called on (faces, targets), it returns both."""

    def __init__(self, kind: str, amount: float, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in MIXERS:
            raise ValueError(f"kind must be one of {', '.join(MIXERS)}, not {kind!r}")
        self.kind, self.amount, self.seed = kind, amount, seed
        self.mixer = (layers.MixUp(alpha=amount, seed=seed) if kind == "mixup"
                      else layers.CutMix(factor=amount, seed=seed))

    def build(self, faces_shape, targets_shape=None) -> None:
        self.built = True  # no weights: the mixers draw from their seed generators

    def call(self, faces, targets, training=None):
        if not training:
            return faces, targets
        mixed = self.mixer({"images": faces, "labels": targets}, training=True)
        return mixed["images"], keras.ops.cast(mixed["labels"], targets.dtype)

    def compute_output_spec(self, faces, targets, training=None):
        return (keras.KerasTensor(faces.shape, faces.dtype), keras.KerasTensor(targets.shape, targets.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "amount": self.amount, "seed": self.seed}


WEBCAM_STEPS = ("dark", "low_contrast", "blur", "motion_blur", "far", "noise", "jpeg")
"""What WebcamConditions does to a face, in the order a webcam does it: the room's light, the
lens and the distance, the sensor, the encoder."""
FAR_SIDES = (14, 20, 28)
"""The sides, in pixels, that a far face is shrunk to before being scaled back up to 48."""
JPEG_LUMINANCE = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56), (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99),
)
"""JPEG's standard luminance quantisation table (ITU T.81, Annex K), scaled by quality as libjpeg does."""


def _dct_matrix(size: int = 8) -> np.ndarray:
    """The orthonormal DCT-II matrix D (D @ block @ D.T is a block's 2-D DCT)."""
    k, n = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


class WebcamConditions(keras.layers.Layer):
    """What a webcam in a real room does to a face, drawn anew for every face in training: each of
    `steps` (default all WEBCAM_STEPS) happens to a face with chance `rate`, independently.

    - dark: linear light from gamma 1-2.4 at 0.4-1.0 of the exposure;
    - low_contrast: 30-80 % of the face's contrast around a grey of 0.35-0.65;
    - blur: a Gaussian of σ 0.6-1.8 px (drawn once a batch: one kernel per batch keeps it a convolution);
    - motion_blur: a horizontal or vertical line of 3-7 px;
    - far: shrunk to 14, 20 or 28 px (area-averaged) and scaled back up bilinearly;
    - noise: Gaussian sensor noise of σ 0.01-0.06 (3-15 grey levels);
    - jpeg: 8×8 DCT blocks quantised with JPEG's luminance table at quality 8-50 (a batch's quality),
      which makes JPEG's blocking and ringing inside the compiled step (a real encoder cannot run there).

    Written with keras.ops only, so that it compiles into the training step under JAX
    (training.fast) and runs in tf.data under TensorFlow (training.train); faces stay in [0, 1].
    The targets never pass through it: every condition keeps the face's label.
    """

    def __init__(self, rate: float = 0.1, seed: int = 0, steps: tuple[str, ...] = WEBCAM_STEPS, **kwargs) -> None:
        super().__init__(**kwargs)
        unknown = set(steps) - set(WEBCAM_STEPS)
        if unknown:
            raise ValueError(f"unknown webcam steps {sorted(unknown)}; choose from {', '.join(WEBCAM_STEPS)}")
        self.rate, self.seed = rate, seed
        self.steps = tuple(step for step in WEBCAM_STEPS if step in steps)  # always in the webcam's order
        self.generator = keras.random.SeedGenerator(seed)
        self._dct = _dct_matrix()
        self._jpeg_table = np.array(JPEG_LUMINANCE, np.float32)

    def call(self, faces, training=None):
        if not training or self.rate <= 0:
            return faces
        ops = keras.ops
        faces = ops.cast(faces, "float32")
        count = ops.shape(faces)[0]
        for step in self.steps:
            chosen = ops.cast(keras.random.uniform((count, 1, 1, 1), seed=self.generator) < self.rate, "float32")
            changed = getattr(self, f"_{step}")(faces, count)
            faces = ops.clip(faces + chosen * (changed - faces), 0.0, 1.0)
        return faces

    def _uniform(self, count, low: float, high: float):
        return keras.random.uniform((count, 1, 1, 1), low, high, seed=self.generator)

    def _dark(self, faces, count):
        return self._uniform(count, 0.4, 1.0) * keras.ops.power(faces, self._uniform(count, 1.0, 2.4))

    def _low_contrast(self, faces, count):
        mean = keras.ops.mean(faces, axis=(1, 2, 3), keepdims=True)
        return self._uniform(count, 0.35, 0.65) + self._uniform(count, 0.3, 0.8) * (faces - mean)

    def _blur(self, faces, count):
        sigma = keras.random.uniform((), 0.6, 1.8, seed=self.generator)
        taps = keras.ops.exp(-0.5 * keras.ops.square(keras.ops.arange(-4, 5, dtype="float32") / sigma))
        return _separable(faces, taps / keras.ops.sum(taps))

    def _motion_blur(self, faces, count):
        half = keras.random.uniform((), 1.0, 3.5, seed=self.generator)
        taps = keras.ops.cast(keras.ops.abs(keras.ops.arange(-3, 4, dtype="float32")) <= half, "float32")
        taps = taps / keras.ops.sum(taps)
        horizontal = keras.ops.cast(keras.random.uniform((count, 1, 1, 1), seed=self.generator) < 0.5, "float32")
        along_rows, along_columns = _line(faces, taps, axis=2), _line(faces, taps, axis=1)
        return along_columns + horizontal * (along_rows - along_columns)

    def _far(self, faces, count):
        side = faces.shape[1]
        pick = keras.random.randint((count,), 0, len(FAR_SIDES), seed=self.generator)
        out = keras.ops.zeros_like(faces)
        for i, small in enumerate(FAR_SIDES):
            shrunk = keras.ops.image.resize(faces, (small, small), interpolation="bilinear", antialias=True)
            grown = keras.ops.image.resize(shrunk, (side, side), interpolation="bilinear")
            out = out + keras.ops.reshape(keras.ops.cast(pick == i, "float32"), (-1, 1, 1, 1)) * grown
        return out

    def _noise(self, faces, count):
        return faces + self._uniform(count, 0.01, 0.06) * keras.random.normal(keras.ops.shape(faces), seed=self.generator)

    def _jpeg(self, faces, count):
        ops = keras.ops
        quality = keras.random.uniform((), 8.0, 50.0, seed=self.generator)
        scale = ops.where(quality < 50, 5000.0 / quality, 200.0 - 2.0 * quality)
        table = ops.maximum(ops.floor((scale * self._jpeg_table + 50.0) / 100.0), 1.0)
        side, dct = faces.shape[1], ops.convert_to_tensor(self._dct)
        blocks = ops.reshape(faces * 255.0 - 128.0, (-1, side // 8, 8, side // 8, 8))
        coefficients = ops.einsum("ui,naibj,vj->naubv", dct, blocks, dct)
        kept = ops.round(coefficients / table[None, None, :, None, :]) * table[None, None, :, None, :]
        restored = ops.einsum("ui,naubv,vj->naibj", dct, kept, dct)
        return ops.reshape((restored + 128.0) / 255.0, ops.shape(faces))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "steps": list(self.steps)}


def _line(faces, taps, axis: int):
    """`faces` convolved with the 1-D `taps` along image axis 1 (columns) or 2 (rows), the border reflected."""
    radius = (taps.shape[0] - 1) // 2
    pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
    pad[axis] = [radius, radius]
    kernel_shape = (-1, 1, 1, 1) if axis == 1 else (1, -1, 1, 1)
    padded = keras.ops.pad(faces, pad, mode="reflect")
    return keras.ops.conv(padded, keras.ops.reshape(taps, kernel_shape), padding="valid")


def _separable(faces, taps):
    return _line(_line(faces, taps, axis=1), taps, axis=2)
