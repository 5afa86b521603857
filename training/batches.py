"""Training and validation batches: shuffled, augmented and mixed up once per epoch.

Under the TensorFlow backend they come from a tf.data pipeline, which augments the next batches
on the spare cores while the current one trains. Under any other backend they come from a Keras
PyDataset over NumPy arrays, so that training also runs where TensorFlow is not installed —
`KERAS_BACKEND=jax` on a GPU machine — with the same augmentation layers in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np

Batch = tuple[object, object]


def batch_transform(augmenter: keras.Layer | None, mixup: float, seed: int) -> Callable[[object, object], Batch] | None:
    """The per-batch step of training: augment the faces, then mix faces and targets up."""
    mix = keras.layers.MixUp(alpha=mixup, seed=seed + 6) if mixup > 0 else None
    if augmenter is None and mix is None:
        return None

    def transform(x, y) -> Batch:
        if augmenter is not None:
            x = augmenter(x, training=True)
        if mix is not None:
            out = mix({"images": x, "labels": y}, training=True)
            x, y = out["images"], out["labels"]
        return x, y

    return transform


class FaceBatches(keras.utils.PyDataset):
    """Batches of (faces, targets) from NumPy arrays, in a new seeded order each epoch when
    `shuffle`, each passed through `transform` when one is given."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, batch_size: int, seed: int = 0,
                 shuffle: bool = False, transform: Callable[[object, object], Batch] | None = None) -> None:
        super().__init__()
        self.inputs, self.targets, self.batch_size = inputs, targets, batch_size
        self.transform, self.shuffle = transform, shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(inputs)) if shuffle else np.arange(len(inputs))

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    def __getitem__(self, index: int) -> Batch:
        picks = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.inputs[picks], self.targets[picks]
        if self.transform is not None:
            x, y = self.transform(x, y)
            x, y = keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y)
        return x, y

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(len(self.inputs))


def batches(inputs: np.ndarray, targets: np.ndarray, batch_size: int, seed: int = 0, training: bool = False,
            augmenter: keras.Layer | None = None, mixup: float = 0.0):
    """What `model.fit` takes as training (`training=True`: shuffled, augmented, mixed up) or
    validation data, for the backend Keras runs on."""
    transform = batch_transform(augmenter, mixup, seed) if training else None
    if keras.backend.backend() != "tensorflow":
        return FaceBatches(inputs, targets, batch_size, seed, shuffle=training, transform=transform)
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if training:
        data = data.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if transform is not None:
        data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
