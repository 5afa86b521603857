"""Calibration: temperature scaling fitted by training.calibrate, written beside the model, and
applied by the app's EmotionModel only to the model it was fitted for."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from training import calibrate
from vcam.calibration import calibration_path, read_temperature
from vcam.classify import EmotionModel
from vcam.preprocess import prepare_faces, with_temperature
from vcam.resources import weights_dir


def synthetic(temperature: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities softmax(z) whose labels were drawn from softmax(z / temperature): a model
    that needs exactly this temperature."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, 7))
    truth = with_temperature(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), temperature)
    labels = np.array([rng.choice(7, p=row / row.sum()) for row in truth])
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels


@pytest.mark.parametrize("temperature", [0.6, 1.0, 1.8])
def test_the_fitted_temperature_is_the_one_the_data_needs(temperature: float) -> None:
    probabilities, labels = synthetic(temperature)
    fitted = calibrate.fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(temperature, rel=0.08)
    before = calibrate.expected_calibration_error(probabilities, labels)
    after = calibrate.expected_calibration_error(with_temperature(probabilities, fitted), labels)
    assert after < 0.02 and (temperature == 1.0 or after < before)


def test_temperature_keeps_the_ranking() -> None:
    probabilities, _ = synthetic(1.0, n=100)
    for temperature in (0.5, 2.0):
        scaled = with_temperature(probabilities, temperature)
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_array_equal(scaled.argsort(axis=1), probabilities.argsort(axis=1))
    assert with_temperature(probabilities, 1.0) is probabilities


def test_a_temperature_that_calibrates_unseen_faces_no_better_is_not_applied(tmp_path: Path) -> None:
    """A model that needs no temperature: the one fitted on all its faces wins a little NLL, but
    fitted on one half it leaves the other half no better calibrated than the raw probabilities,
    so 1 is written; a model that needs one gets it."""
    model = tmp_path / "model.tflite"
    model.write_bytes(b"a model")
    probabilities, labels = synthetic(1.0, n=2000)
    kept = calibrate.calibrate(model, probabilities, labels, "PublicTest")
    assert kept["temperature_fitted"] != 1.0 and kept["temperature"] == 1.0
    assert kept["ece_after_cross_fitted"] >= kept["ece_before_halves"] and kept["ece_after"] == kept["ece_before"]
    probabilities, labels = synthetic(1.8, n=4000)
    needed = calibrate.calibrate(model, probabilities, labels, "PublicTest")
    assert needed["temperature"] == needed["temperature_fitted"] == pytest.approx(1.8, rel=0.08)
    assert needed["ece_after_cross_fitted"] < needed["ece_before_halves"]


def test_ece_of_an_overconfident_model() -> None:
    """Every face said to be 90 % sure, right half of the time: ECE 0.4."""
    probabilities = np.full((100, 7), 0.1 / 6)
    probabilities[:, 0] = 0.9
    labels = np.array([0, 1] * 50)
    assert calibrate.expected_calibration_error(probabilities, labels) == pytest.approx(0.4)


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    model = tmp_path / "emotion.tflite"
    shutil.copy(weights_dir() / "emotion.tflite", model)
    return model


@pytest.mark.slow
def test_calibrate_writes_the_temperature_that_the_app_then_applies(model_copy: Path, fer_npz: Path,
                                                                      public_test_sample) -> None:
    assert calibrate.main(["--model", str(model_copy), "--data", str(fer_npz)]) == 0
    written = json.loads(calibration_path(model_copy).read_text())
    assert 0.2 < written["temperature"] < 5 and written["faces"] == 702
    assert written["nll_after"] <= written["nll_before"]
    # The fitted temperature is applied only where it calibrates held-out halves better than none.
    applied = written["temperature"] == written["temperature_fitted"]
    assert applied == (written["ece_after_cross_fitted"] < written["ece_before_halves"])
    assert applied or written["temperature"] == 1.0
    assert 0 < written["unsure_share"] < 1 and written["unsure_accuracy"] < written["sure_accuracy"]

    faces = prepare_faces(public_test_sample[0][:8])
    calibrated = EmotionModel(model_copy)
    assert calibrated.temperature == pytest.approx(written["temperature"])
    calibration_path(model_copy).unlink()
    raw = EmotionModel(model_copy)
    assert raw.temperature == 1.0
    np.testing.assert_allclose(calibrated.predict(faces), with_temperature(raw.predict(faces), written["temperature"]),
                               atol=1e-6)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "unreadable"),
    ('{"temperature": 1.5}', "unreadable"),
    ('{"temperature": 1.5, "model_sha256": "0000"}', "another model file"),
    ('{"temperature": -1, "model_sha256": "0000"}', "out of range"),
])
def test_a_calibration_that_does_not_fit_is_ignored_with_a_warning(model_copy: Path, content: str, problem: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    calibration_path(model_copy).write_text(content)
    with caplog.at_level(logging.WARNING, logger="vcam"):
        assert read_temperature(model_copy) == 1.0
    assert problem in caplog.text and "rerun python -m training.calibrate" in caplog.text


def test_the_shipped_model_has_its_own_calibration() -> None:
    shipped = weights_dir() / "emotion.tflite"
    assert calibration_path(shipped).is_file()
    assert read_temperature(shipped) == pytest.approx(json.loads(calibration_path(shipped).read_text())["temperature"])
