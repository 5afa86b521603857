"""training/conditions.py: the conditions are fixed, seeded and change faces as named; the
transfer family's faces are found and cut by the app's own detector and crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import correlations
from training.conditions import FAMILY, Condition, Family, degrade, parse_conditions


def high_frequency(faces: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: what blur removes and noise adds."""
    faces = faces.astype(np.float32)
    return float(np.abs(np.diff(faces, axis=1)).mean() + np.abs(np.diff(faces, axis=2)).mean())


@pytest.fixture(scope="module")
def faces(public_test_sample) -> np.ndarray:
    return public_test_sample[0][:200]


@pytest.mark.parametrize("condition", list(Condition))
def test_each_condition_is_the_same_every_time_and_keeps_the_faces_shape(faces, condition) -> None:
    first = degrade(faces, condition, seed=5)
    assert first.dtype == np.uint8 and first.shape == faces.shape
    assert np.array_equal(first, degrade(faces, condition, seed=5))
    assert not np.array_equal(first, faces)
    # Each condition draws from its own generator: degrading other faces first changes nothing.
    degrade(faces[::-1], Condition.NOISE, seed=5)
    assert np.array_equal(first, degrade(faces, condition, seed=5))
    # A face is degraded alone: its result does not depend on the faces beside it, bar the noise drawn.
    if condition not in (Condition.DARK, Condition.NOISE):
        assert np.array_equal(degrade(faces[:10], condition, seed=5), first[:10])


def test_noisy_conditions_draw_other_noise_for_another_seed(faces) -> None:
    for condition in (Condition.DARK, Condition.NOISE):
        assert not np.array_equal(degrade(faces, condition, seed=1), degrade(faces, condition, seed=2))


def test_each_condition_damages_the_faces_as_its_name_says(faces) -> None:
    clean = faces.astype(np.float32)
    dark = degrade(faces, Condition.DARK).astype(np.float32)
    assert dark.mean() < 0.5 * clean.mean()
    flat = degrade(faces, Condition.LOW_CONTRAST).astype(np.float32)
    assert np.all(flat.std(axis=(1, 2)) < 0.4 * clean.std(axis=(1, 2)) + 1)
    for softer in (Condition.BLUR, Condition.FAR):
        assert high_frequency(degrade(faces, softer)) < 0.8 * high_frequency(faces)
    noisy = degrade(faces, Condition.NOISE).astype(np.float32)
    assert 9 < np.std(noisy - clean) < 12.5  # σ 12, less what clipping at 0 and 255 takes
    assert high_frequency(noisy) > 1.5 * high_frequency(faces)
    # JPEG: the error jumps at the 8×8 block edges, where neighbouring blocks were quantised apart.
    squeezed = degrade(faces, Condition.JPEG).astype(np.float32)
    steps = np.abs(np.diff(squeezed - clean, axis=2)).mean(axis=(0, 1))
    at_edges = steps[7::8].mean()
    inside = np.delete(steps, np.s_[7::8]).mean()
    assert at_edges > 1.15 * inside  # about 1.24 here; an error without blocks has no such step


def test_the_app_cuts_each_face_where_it_was_placed(faces) -> None:
    cut = degrade(faces, Condition.APP_CUT)
    own = np.median(correlations(cut, faces))
    another = np.median(correlations(cut, np.roll(faces, 1, axis=0)))
    assert own > 0.45 and own > another + 0.3  # about 0.62 against 0.1: the same face, a few pixels off


def test_a_rolled_head_is_cut_upright_again(faces) -> None:
    """The app straightens a rolled face along its eyes: the cut is closer to the upright cut than
    the rolled face itself is to the face."""
    rolled, upright = degrade(faces, Condition.ROLLED), degrade(faces, Condition.APP_CUT)
    turned = np.stack([cv2.warpAffine(face, cv2.getRotationMatrix2D((24, 24), 25, 1.0), (48, 48),
                                      borderMode=cv2.BORDER_REPLICATE) for face in faces])
    assert np.median(correlations(rolled, upright)) > np.median(correlations(turned, faces)) + 0.1


def test_side_light_darkens_one_side_of_the_face(faces) -> None:
    def left_over_right(batch: np.ndarray) -> float:
        return float(batch[:, :, :24].astype(np.float64).mean() / batch[:, :, 24:].astype(np.float64).mean())

    assert 0.95 < left_over_right(degrade(faces, Condition.APP_CUT)) < 1.05
    assert left_over_right(degrade(faces, Condition.SIDE_LIT)) < 0.75


def test_every_condition_has_a_family() -> None:
    assert set(FAMILY) == set(Condition)
    assert [c for c in Condition if FAMILY[c] == Family.TRANSFER] == [Condition.APP_CUT, Condition.ROLLED,
                                                                     Condition.SIDE_LIT]


def test_condition_names_are_parsed_and_unknown_ones_named() -> None:
    assert parse_conditions("dark, Blur,dark,low-contrast") == [Condition.DARK, Condition.BLUR, Condition.LOW_CONTRAST]
    with pytest.raises(ValueError, match="unknown condition fog; choose from dark, low_contrast"):
        parse_conditions("dark,fog")
    with pytest.raises(ValueError, match="unknown condition"):
        parse_conditions(" , ")
