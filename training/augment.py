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
