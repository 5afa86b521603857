"""Face normalisation (vcam.preprocess.Normalisation): one function for training and the app, the
app applying what the model's calibration file records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.data import FaceSet
from training.evaluate import predict, score
from vcam.calibration import calibration_path, file_sha256, model_normalisation
from vcam.choices import Detector, Normalisation
from vcam.classify import EmotionModel
from vcam.detect import FaceDetector
from vcam.errors import ModelFileError
from vcam.preprocess import STANDARD_MEAN, STANDARD_STD, crop_face, prepare_faces, with_temperature
from vcam.resources import weights_dir


def model_recording(folder: Path, normalisation: str | None) -> Path:
    """A copy of the shipped model whose calibration file records `normalisation` (none: no key)."""
    model = folder / "emotion.tflite"
    shutil.copy(weights_dir() / "emotion.tflite", model)
    calibration = json.loads(calibration_path(weights_dir() / "emotion.tflite").read_text())
    calibration["model_sha256"] = file_sha256(model)
    calibration.pop("normalisation", None)
    if normalisation is not None:
        calibration["normalisation"] = normalisation
    calibration_path(model).write_text(json.dumps(calibration))
    return model


@pytest.fixture(scope="module")
def two_people(media: Path):
    frame = cv2.imread(str(media / "two_people.jpg"))
    return frame, FaceDetector(Detector.FULL).detect(frame)


@pytest.mark.parametrize("normalisation", list(Normalisation))
def test_the_app_and_training_normalise_a_crop_through_the_same_function(tmp_path: Path, two_people,
                                                                          normalisation: Normalisation) -> None:
    frame, faces = two_people
    model = model_recording(tmp_path, normalisation.value)
    app = EmotionModel(model)
    assert app.normalisation == normalisation == model_normalisation(model)
    in_the_app = np.array([face.probabilities for face in app.classify(frame, faces)])
    # Training's path: the crops as FER2013 stores faces, then FaceSet.inputs and evaluate.predict.
    crops = np.stack([crop_face(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), face.box, face.eyes) for face in faces])
    in_training = with_temperature(predict(model, FaceSet(crops, np.zeros(len(crops), np.int64)).inputs(normalisation)),
                                   app.temperature)
    np.testing.assert_allclose(in_the_app, in_training, atol=1e-6)
    if normalisation != Normalisation.NONE:
        plain = with_temperature(predict(model, FaceSet(crops, np.zeros(len(crops), np.int64)).inputs()), app.temperature)
        assert np.abs(plain - in_the_app).max() > 1e-3  # the normalisation did something


def test_the_shipped_model_records_no_normalisation_and_a_missing_key_means_none(tmp_path: Path) -> None:
    assert model_normalisation(weights_dir() / "emotion.tflite") == Normalisation.NONE
    assert EmotionModel(model_recording(tmp_path, None)).normalisation == Normalisation.NONE
    lone = tmp_path / "lone" / "emotion.tflite"
    lone.parent.mkdir()
    shutil.copy(weights_dir() / "emotion.tflite", lone)
    assert model_normalisation(lone) == Normalisation.NONE  # no calibration file at all


def test_an_unknown_recorded_normalisation_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="normalisation 'sepia' is none of none, standardise, clahe"):
        EmotionModel(model_recording(tmp_path, "sepia"))


def test_standardised_faces_share_fer2013s_brightness_and_contrast(public_test_sample) -> None:
    faces = public_test_sample[0][:50]
    dark = (faces * 0.3).astype(np.uint8)
    for batch in (faces, dark):
        inputs = prepare_faces(batch, Normalisation.STANDARDISE)
        assert inputs.shape == (50, 48, 48, 1) and inputs.min() >= 0.0 and inputs.max() <= 1.0
        np.testing.assert_allclose(np.median(inputs.mean(axis=(1, 2, 3))), STANDARD_MEAN, atol=0.02)
        np.testing.assert_allclose(np.median(inputs.std(axis=(1, 2, 3))), STANDARD_STD, atol=0.02)
    # The dark copy comes out as its original did, but for the rounding of its fewer grey levels.
    assert np.abs(prepare_faces(dark, Normalisation.STANDARDISE) - prepare_faces(faces, Normalisation.STANDARDISE)).mean() < 0.02
    flat = np.full((1, 48, 48), 90, np.uint8)
    assert np.allclose(prepare_faces(flat, Normalisation.STANDARDISE), STANDARD_MEAN)  # no division by zero
    clahe = prepare_faces(dark, Normalisation.CLAHE)
    assert clahe.std(axis=(1, 2, 3)).mean() > 1.5 * prepare_faces(dark).std(axis=(1, 2, 3)).mean()


def test_evaluate_scores_a_model_with_the_normalisation_it_records(tmp_path: Path, public_test_sample) -> None:
    images, labels = public_test_sample
    faces = FaceSet(images[:100], labels[:100])
    model = model_recording(tmp_path, "clahe")
    recorded = score(model, faces)
    assert np.array_equal(recorded.confusion, score(model, faces, normalisation=Normalisation.CLAHE).confusion)
    assert not np.array_equal(recorded.confusion, score(model, faces, normalisation=Normalisation.NONE).confusion)


@pytest.mark.slow
def test_calibrate_records_the_normalisation_and_keeps_it_when_not_told(tmp_path: Path, fer_npz: Path) -> None:
    from training import calibrate

    model = model_recording(tmp_path, None)
    common = ["--model", str(model), "--data", str(fer_npz), "--split", "PublicTest"]
    assert calibrate.main([*common, "--normalisation", "standardise"]) == 0
    assert model_normalisation(model) == Normalisation.STANDARDISE
    assert calibrate.main(common) == 0  # recalibrating keeps what the model was trained with
    assert json.loads(calibration_path(model).read_text())["normalisation"] == "standardise"


@pytest.mark.slow
def test_training_fast_trains_on_normalised_faces_and_records_how(tmp_path: Path, fer_npz: Path) -> None:
    from training import fast
    from training.data import load_faces
    from training.models import load

    out = tmp_path / "run"
    assert fast.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "128", "--val-limit", "64",
                      "--batch-size", "64", "--epochs", "1", "--webcam", "0.2", "--normalisation", "standardise",
                      "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["normalisation"] == "standardise" and result["webcam"] == 0.2
    # The accuracy it reports is read on standardised faces, as the app would give them.
    val = load_faces(fer_npz, "PublicTest").sample(64, 1)
    net = load(out / "model.keras")
    read = np.mean(net.predict(val.inputs(Normalisation.STANDARDISE), verbose=0).argmax(1) == val.labels)
    assert read == pytest.approx(result["val_accuracy"], abs=1e-4)
