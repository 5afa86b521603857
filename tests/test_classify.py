"""vcam.classify: the shipped emotion model on real FER2013 faces and on the faces of a photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.choices import Detector
from vcam.classify import EmotionModel
from vcam.detect import FaceDetector
from vcam.emotions import EMOTIONS
from vcam.errors import ModelFileError
from vcam.preprocess import prepare_faces
from vcam.resources import weights_dir


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel()


@pytest.fixture(scope="module")
def two_people(media: Path):
    frame = cv2.imread(str(media / "two_people.jpg"))
    return frame, FaceDetector(Detector.FULL).detect(frame)


def assert_probability_rows(probabilities: np.ndarray, count: int) -> None:
    assert probabilities.shape == (count, len(EMOTIONS))
    assert probabilities.min() >= 0.0 and probabilities.max() <= 1.0
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_probabilities_are_one_distribution_per_face(model, public_test_sample) -> None:
    images, _ = public_test_sample
    assert_probability_rows(model.predict(prepare_faces(images[:16])), 16)


def test_a_batch_equals_the_faces_one_by_one(model, public_test_sample) -> None:
    inputs = prepare_faces(public_test_sample[0][20:24])
    batched = model.predict(inputs)
    singles = np.concatenate([model.predict(inputs[i:i + 1]) for i in range(len(inputs))])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    assert not np.allclose(batched[0], batched[1:], atol=1e-5)  # really four different faces
    np.testing.assert_allclose(model.predict(inputs), batched, atol=1e-5)  # and again after resizing back


def test_no_faces_in_gives_no_probabilities_out(model) -> None:
    assert model.predict(prepare_faces([])).shape == (0, len(EMOTIONS))
    assert model.classify(np.zeros((100, 100, 3), np.uint8), []) == []


def test_classify_adds_probabilities_to_the_faces_of_a_photo(model, two_people) -> None:
    frame, faces = two_people
    assert len(faces) == 2
    classified = model.classify(frame, faces)
    assert len(classified) == 2
    for before, after in zip(faces, classified):
        assert (after.box, after.keypoints, after.score) == (before.box, before.keypoints, before.score)
        assert before.probabilities is None and len(after.probabilities) == len(EMOTIONS)
        assert after.top_emotion in EMOTIONS
    assert_probability_rows(np.array([face.probabilities for face in classified]), 2)


def test_a_grayscale_frame_classifies_like_its_colour_original(model, two_people) -> None:
    frame, faces = two_people
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    colour = [face.probabilities for face in model.classify(frame, faces)]
    np.testing.assert_allclose([face.probabilities for face in model.classify(gray, faces)], colour, atol=1e-6)


def test_the_detector_file_is_not_an_emotion_model() -> None:
    with pytest.raises(ModelFileError, match="48"):
        EmotionModel(weights_dir() / "face_detection_short_range.tflite")


def test_wrong_model_message_shows_plain_shapes() -> None:
    """The message is read by a user: shapes as (1, 128, 128, 3), not numpy reprs."""
    with pytest.raises(ModelFileError) as caught:
        EmotionModel(weights_dir() / "face_detection_short_range.tflite")
    assert "(1, 128, 128, 3)" in str(caught.value)
    assert "np." not in str(caught.value)


@pytest.mark.parametrize("content", [None, b"", b"random"], ids=["missing", "empty", "random-bytes"])
def test_missing_or_corrupt_model_file_is_a_model_file_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "emotion.tflite"
    if content == b"random":
        content = np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match="emotion.tflite") as caught:
        EmotionModel(path)
    assert "\n" not in str(caught.value)


def test_shipped_model_accuracy_on_public_test_sample(public_test_sample) -> None:
    """The shipped weights/emotion.tflite must reach 60 % on 702 FER2013 PublicTest faces.

    PublicTest chose the shipped checkpoint (the best epoch), so it is validation, not a held-out
    test: this guards against a broken or mismatched model, not for the true accuracy."""
    images, labels = public_test_sample
    predicted = EmotionModel().predict(prepare_faces(images)).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    assert accuracy >= 0.60, f"accuracy {accuracy:.3f} on {len(labels)} PublicTest faces"


@pytest.mark.parametrize("views, tta", [(2, "flip"), (10, "crops")])
def test_classifying_views_averages_what_evaluate_tta_scores(public_test_sample, media: Path, views: int,
                                                             tta: str) -> None:
    from training.evaluate import predict_tta
    from vcam.config import Config
    from vcam.pipeline import Pipeline

    inputs = prepare_faces(public_test_sample[0][:12])
    plain, averaged = EmotionModel(), EmotionModel(views=views)
    assert_probability_rows(averaged.predict(inputs), 12)
    # A face and its mirror image get the same probabilities (within the corner crops' resampling),
    # which a single view does not.
    flipped = np.ascontiguousarray(inputs[:, :, ::-1])
    np.testing.assert_allclose(averaged.predict(flipped), averaged.predict(inputs), atol=1e-3)
    assert np.abs(plain.predict(flipped) - plain.predict(inputs)).max() > 0.05
    # Before calibration they are what training.evaluate --tta scores.
    averaged.temperature = 1.0
    np.testing.assert_allclose(averaged.predict(inputs), predict_tta(averaged.path, inputs, tta), atol=1e-5)
    averaged.temperature = plain.temperature
    np.testing.assert_allclose(averaged.predict(inputs[:1]), averaged.predict(inputs)[:1], atol=1e-5)

    pipeline = Pipeline.from_config(Config(classify_views=views))
    assert pipeline.model.views == views and Pipeline.from_config(Config()).model.views == 1
    faces = pipeline.process(cv2.imread(str(media / "two_people.jpg"))).faces
    assert len(faces) == 2 and all(face.emotion in EMOTIONS for face in faces)
