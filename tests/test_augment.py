"""training/augment.py's WebcamConditions: each step damages faces as a webcam does, keeps them
readable as their labels, and compiles into training.fast's step under JAX."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from training.augment import WEBCAM_STEPS, WebcamConditions, _dct_matrix, build_augmenter

REPO = Path(__file__).resolve().parents[1]


def high_frequency(faces: np.ndarray) -> np.ndarray:
    """Each face's mean absolute difference between neighbouring pixels."""
    return np.abs(np.diff(faces, axis=1)).mean(axis=(1, 2, 3)) + np.abs(np.diff(faces, axis=2)).mean(axis=(1, 2, 3))


def zero_dct_share(faces: np.ndarray) -> float:
    """The share of 8×8 block DCT coefficients (in grey levels) under 1: what JPEG's quantisation zeroes."""
    dct = _dct_matrix()
    blocks = (faces[..., 0] * 255.0).reshape(len(faces), 6, 8, 6, 8)
    return float((np.abs(np.einsum("ui,naibj,vj->naubv", dct, blocks, dct)) < 1.0).mean())


@pytest.fixture(scope="module")
def faces(public_test_sample) -> np.ndarray:
    return (public_test_sample[0][:64].astype(np.float32) / 255.0)[..., None]


def webcam(faces: np.ndarray, step: str, seed: int = 2) -> np.ndarray:
    """`faces` with `step` done to every one of them."""
    out = keras.ops.convert_to_numpy(WebcamConditions(1.0, seed=seed, steps=(step,))(faces, training=True))
    assert out.shape == faces.shape and 0.0 <= out.min() and out.max() <= 1.0
    return out.astype(np.float32)


def test_each_step_damages_every_face_as_its_name_says(faces) -> None:
    mean, spread, sharpness = faces.mean(axis=(1, 2, 3)), faces.std(axis=(1, 2, 3)), high_frequency(faces)
    dark = webcam(faces, "dark")
    assert np.all(dark.mean(axis=(1, 2, 3)) <= mean + 1e-6) and dark.mean() < 0.85 * faces.mean()
    assert np.all(webcam(faces, "low_contrast").std(axis=(1, 2, 3)) < 0.81 * spread)
    for softer in ("blur", "motion_blur", "far"):
        assert np.all(high_frequency(webcam(faces, softer)) < 0.95 * sharpness), softer
    noisy = webcam(faces, "noise")
    assert np.all(high_frequency(noisy) > sharpness) and np.abs(noisy.mean(axis=(1, 2, 3)) - mean).max() < 0.02
    squeezed = webcam(faces, "jpeg")
    assert zero_dct_share(squeezed) > zero_dct_share(faces) + 0.2
    assert np.abs(squeezed - faces).mean() < 0.1  # compressed, not destroyed


def test_faces_pass_unchanged_outside_training_and_each_seed_draws_the_same(faces) -> None:
    layer = WebcamConditions(0.5, seed=7)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)
    assert np.array_equal(keras.ops.convert_to_numpy(WebcamConditions(0.0)(faces, training=True)), faces)
    first = keras.ops.convert_to_numpy(WebcamConditions(0.5, seed=7)(faces, training=True))
    again = keras.ops.convert_to_numpy(WebcamConditions(0.5, seed=7)(faces, training=True))
    assert np.array_equal(first, again)
    # Each of the seven steps at 0.5: all but 1 in 128 faces changed, on average.
    assert np.mean(np.abs(first - faces).max(axis=(1, 2, 3)) > 1e-3) > 0.9
    rare = keras.ops.convert_to_numpy(WebcamConditions(0.05, seed=7)(faces, training=True))
    assert 0.05 < np.mean(np.abs(rare - faces).max(axis=(1, 2, 3)) > 1e-3) < 0.6  # 1 - 0.95**7 = 0.30


@pytest.mark.slow
def test_the_shipped_model_still_reads_faces_after_each_step(fer_npz) -> None:
    """Keeping the labels: after each step at full strength the shipped model still finds the
    labelled emotion on more than 40 % of faces (chance: 25 %, the share of the commonest class)."""
    from training.data import load_faces
    from training.evaluate import predict

    sample = load_faces(fer_npz, "PublicTest")  # the sample's 702 faces: fewer would read blur above clean by chance
    model = REPO / "weights" / "emotion.tflite"
    inputs = sample.inputs()
    clean = np.mean(predict(model, inputs).argmax(1) == sample.labels)
    for step in WEBCAM_STEPS:
        accuracy = np.mean(predict(model, webcam(inputs, step)).argmax(1) == sample.labels)
        assert 0.4 < accuracy <= clean + 0.02, step


def test_unknown_steps_are_refused_and_the_augmenter_takes_the_webcam_rate() -> None:
    with pytest.raises(ValueError, match="unknown webcam steps"):
        WebcamConditions(0.1, steps=("fog",))
    assert any(isinstance(layer, WebcamConditions) for layer in build_augmenter(webcam=0.1).layers)
    assert not any(isinstance(layer, WebcamConditions) for layer in build_augmenter().layers)


JAX_STEP = """
import keras, numpy as np
from training.augment import build_augmenter
from training.fast import build_trainer
from training.train import compile_for_training
assert keras.backend.backend() == "jax"
net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(7, activation="softmax")])
augmenter = build_augmenter(0, webcam=1.0)
for layer in augmenter.layers:
    layer.supports_jit = True  # as training.fast does under JAX
trainer = build_trainer(net, augmenter)
compile_for_training(trainer, 1e-3, 0.0, 0.1)
rng = np.random.default_rng(0)
history = trainer.fit(rng.random((64, 48, 48, 1), dtype=np.float32), np.eye(7, dtype=np.float32)[rng.integers(0, 7, 64)],
                      batch_size=32, epochs=1, verbose=0)
print("jit", trainer.jit_compile, "loss", history.history["loss"][-1])
"""


@pytest.mark.slow
def test_webcam_conditions_compile_into_the_training_step_under_jax() -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_STEP], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    words = done.stdout.split()
    assert words[words.index("jit") + 1] == "True" and np.isfinite(float(words[words.index("loss") + 1]))


def test_training_train_batches_darken_faces_afresh_each_epoch_and_keep_their_targets(faces, public_test_sample) -> None:
    """training.train's tf.data batches run the layer per batch, with new draws each epoch."""
    from training.batches import batches

    targets = np.eye(7, dtype=np.float32)[public_test_sample[1][:64]]
    data = batches(faces, targets, 64, seed=0, training=True,
                   augmenter=keras.Sequential([WebcamConditions(1.0, seed=1, steps=("dark",))]))
    (first, first_targets), = [(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y)) for x, y in data]
    (second, _), = [(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y)) for x, y in data]
    assert first.mean() < 0.85 * faces.mean() and not np.allclose(np.sort(first.ravel()), np.sort(second.ravel()))
    np.testing.assert_array_equal(first_targets.sum(axis=0), targets.sum(axis=0))  # shuffled, not changed
