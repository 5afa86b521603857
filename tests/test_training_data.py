"""Loading FER2013 from its .npz, CSV and folder trees, and FER+ soft targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from training_files import write_csv, write_tree

from training.data import DataError, load_faces
from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

def test_the_sample_holds_what_its_readme_says(fer_npz: Path) -> None:
    train_set, public = load_faces(fer_npz, "Training"), load_faces(fer_npz, "PublicTest")
    assert np.bincount(train_set.labels, minlength=7).tolist() == [100] * 7
    assert np.bincount(public.labels, minlength=7).tolist() == [80, 8, 95, 192, 126, 84, 117]
    assert len(load_faces(fer_npz)) == 1402


def test_csv_and_folder_tree_load_the_same_faces(tmp_path: Path, small_faces) -> None:
    images, labels = small_faces
    from_csv = load_faces(write_csv(tmp_path / "fer2013.csv", images, labels), "PublicTest")
    assert np.array_equal(from_csv.images, images) and np.array_equal(from_csv.labels, labels)
    # Kaggle's icml_face_data.csv: the same rows under the headers "emotion, Usage, pixels".
    icml = tmp_path / "icml_face_data.csv"
    icml.write_text((tmp_path / "fer2013.csv").read_text().replace("emotion,pixels,Usage", "emotion, pixels, Usage", 1))
    assert np.array_equal(load_faces(icml, "PublicTest").images, images)
    tree = write_tree(tmp_path / "tree" / "test", images, labels)
    for faces in (load_faces(tree), load_faces(tree.parent, "PublicTest")):
        order = np.lexsort((faces.images.reshape(len(faces), -1).sum(1), faces.labels))
        expected = np.lexsort((images.reshape(len(images), -1).sum(1), labels))
        assert np.array_equal(faces.labels[order], labels[expected])
        assert np.array_equal(faces.images[order], images[expected])


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.npz", None, "no such file"),
        ("faces.txt", b"hello", "unsupported data file"),
        ("broken.npz", b"not a zip", "not a FER2013 .npz"),
        ("bad.csv", b"emotion,pixels,Usage\n3,1 2 3,PublicTest\n", "pixels, expected 2304"),
        ("nocols.csv", b"a,b\n1,2\n", "not a Kaggle fer2013.csv"),
    ],
)
def test_bad_data_files_raise_one_line_errors(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        load_faces(path)
    assert "\n" not in str(caught.value)


def test_training_uses_the_runtime_preprocessing(small_faces) -> None:
    images, labels = small_faces
    from training.data import FaceSet

    inputs = FaceSet(images, labels).inputs()
    assert inputs.shape == (70, 48, 48, 1) and inputs.dtype == np.float32
    assert np.array_equal(inputs, prepare_faces(list(images)))


def test_ferplus_votes_become_soft_targets(fer_npz: Path) -> None:
    faces = load_faces(fer_npz, "PublicTest")
    assert faces.votes.shape == (len(faces), 7)
    # FER+'s majority agrees with FER2013's label on about 63 % of faces (the data's README).
    voted = faces.votes.sum(axis=1) > 0
    assert 0.6 < (faces.votes[voted].argmax(axis=1) == faces.labels[voted]).mean() < 0.7
    hard, soft, votes_only = faces.targets(0.0), faces.targets(0.5), faces.targets(1.0)
    np.testing.assert_array_equal(hard.argmax(axis=1), faces.labels)
    for targets in (hard, soft, votes_only):
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(soft, (hard + votes_only) / 2, atol=1e-6)
    np.testing.assert_allclose(votes_only[voted], faces.votes[voted] / faces.votes[voted].sum(axis=1, keepdims=True),
                               atol=1e-6)
    assert faces.subset(np.arange(5)).votes.shape == (5, 7)


def test_soft_targets_need_votes(tmp_path: Path, small_faces) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, images=small_faces[0][:10], labels=small_faces[1][:10])
    with pytest.raises(DataError, match="FER\\+ votes"):
        load_faces(path).targets(0.5)
