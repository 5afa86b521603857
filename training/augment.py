"""Augmentation: Keras 3 preprocessing layers, applied per batch inside the tf.data pipeline."""

from __future__ import annotations

import keras
from keras import layers


def build_augmenter(seed: int = 0) -> keras.Sequential:
    """Flips, small shifts, rotations, zoom and brightness: what a webcam does to a face.

    Inputs are the model's inputs, floats in [0, 1] of shape (N, 48, 48, 1).
    """
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 1),
            layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
            layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 4),
        ],
        name="augment",
    )
