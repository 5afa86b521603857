"""The nets of training/models.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.training

def test_the_nets() -> None:
    from training.models import MODELS

    built = {name: make() for name, make in MODELS.items()}
    assert built["seed_cnn"].count_params() == 2_345_607
    # vcam_net's layers are those the earlier shipped weights were trained with; the larger two
    # are its stages widened and deepened.
    assert built["vcam_net"].count_params() == 1_167_015
    assert (built["vcam_wide"].count_params(), built["vcam_deep"].count_params()) == (4_693_575, 7_608_647)
    convolutions = {name: sum(layer.__class__.__name__ == "Conv2D" for layer in model.layers)
                    for name, model in built.items()}
    assert (convolutions["vcam_net"], convolutions["vcam_wide"], convolutions["vcam_deep"]) == (7, 8, 9)
    for model in built.values():
        assert tuple(model.input_shape) == (None, 48, 48, 1)
        assert tuple(model.output_shape) == (None, 7)
