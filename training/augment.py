"""Augmentation: Keras 3 preprocessing layers, applied per batch (training/batches.py)."""

from __future__ import annotations

import keras
from keras import layers


def build_augmenter(seed: int = 0, erasing: float = 0.0) -> keras.Sequential:
    """Flips, small shifts, rotations, zoom and brightness: what a webcam does to a face; with
    `erasing` > 0, also a random rectangle blanked out (a hand, a microphone, glasses' glare).

    Inputs are the model's inputs, floats in [0, 1] of shape (N, 48, 48, 1).
    """
    steps = [
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 1),
        layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed + 2),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
        layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 4),
    ]
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
