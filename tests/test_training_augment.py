"""Augmentation and batching: what the nets see in training."""

from __future__ import annotations

import numpy as np
import pytest

from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

def test_augmenter_changes_faces_but_keeps_shape_and_range(small_faces) -> None:
    from training.augment import build_augmenter

    inputs = prepare_faces(small_faces[0][:16])
    augmented = np.asarray(build_augmenter(seed=3)(inputs, training=True))
    assert augmented.shape == inputs.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert np.abs(augmented - inputs).mean() > 0.01


def test_erasing_blanks_part_of_each_face(small_faces) -> None:
    from training.augment import build_augmenter

    inputs = prepare_faces(small_faces[0][:16])
    plain = np.asarray(build_augmenter(seed=3)(inputs, training=True))
    erased = np.asarray(build_augmenter(seed=3, erasing=1.0)(inputs, training=True))
    assert erased.shape == inputs.shape and 0.0 <= erased.min() and erased.max() <= 1.0
    assert not np.allclose(plain, erased)


def test_face_batches_shuffle_each_epoch_and_mix_up(small_faces) -> None:
    from training.batches import FaceBatches, batch_transform

    inputs = prepare_faces(small_faces[0])
    targets = np.eye(7, dtype=np.float32)[small_faces[1]]
    plain = FaceBatches(inputs, targets, batch_size=32)
    assert len(plain) == 3  # 70 faces: 32 + 32 + 6
    np.testing.assert_array_equal(np.concatenate([plain[i][0] for i in range(3)]), inputs)  # in order, unchanged

    shuffled = FaceBatches(inputs, np.arange(70), batch_size=32, seed=5, shuffle=True)  # targets: each face's index
    orders = []
    for _ in range(2):
        orders.append(np.concatenate([shuffled[i][1] for i in range(3)]))
        shuffled.on_epoch_end()
    assert sorted(orders[0]) == list(range(70)) and sorted(orders[1]) == list(range(70))  # every face, once
    assert list(orders[0]) != list(orders[1]) != list(range(70))  # a new order each epoch

    mixed = FaceBatches(inputs, targets, batch_size=32, seed=5, shuffle=True,
                        transform=batch_transform(None, mixup=0.4, seed=5))
    faces, soft = mixed[0]
    assert faces.shape == (32, 48, 48, 1) and soft.shape == (32, 7)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.max(axis=1) < 0.999).any()  # blended targets are no longer one-hot
    assert batch_transform(None, mixup=0.0, seed=5) is None


@pytest.mark.parametrize("kind, amount, tolerance", [("mixup", 0.4, 1e-5), ("cutmix", 1.0, 0.05)])
def test_target_mixer_mixes_each_face_and_its_target_in_the_same_proportions(kind, amount, tolerance) -> None:
    from training.augment import TargetMixer

    labels = np.random.default_rng(0).integers(0, 7, 64)
    shade = np.arange(7, dtype=np.float32) / 6  # each face is one grey: its class's shade
    faces = np.broadcast_to(shade[labels][:, None, None, None], (64, 48, 48, 1)).copy()
    targets = np.eye(7, dtype=np.float32)[labels]
    mixer = TargetMixer(kind, amount, seed=3)
    mixed_faces, mixed_targets = (np.asarray(x) for x in mixer(faces, targets, training=True))
    assert mixed_faces.shape == faces.shape and mixed_targets.shape == targets.shape
    np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, atol=1e-5)
    assert (np.abs(mixed_faces.mean(axis=(1, 2, 3)) - shade[labels]) > 0.01).mean() > 0.3  # most faces mixed
    # A mixed face's mean grey is its target's mix of the shades (cutmix: up to the rectangle's
    # pixel edges, which Keras' CutMix counts as a continuous area).
    np.testing.assert_allclose(mixed_faces.mean(axis=(1, 2, 3)), mixed_targets @ shade, atol=tolerance)
    kept_faces, kept_targets = mixer(faces, targets, training=False)
    assert np.array_equal(np.asarray(kept_faces), faces) and np.array_equal(np.asarray(kept_targets), targets)
