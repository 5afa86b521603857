"""training/app_cuts.py: the Training faces again, as the app cuts them out of a frame, each cut
following its own face's label and votes; validation's faces untouched; bad input refused whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import correlations
from training import app_cuts
from training.data import load_faces


@pytest.fixture(scope="module")
def written(fer_npz: Path, tmp_path_factory) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The sample limited to 30 Training faces, and the file training.app_cuts writes from it."""
    out = tmp_path_factory.mktemp("cuts") / "cuts.npz"
    assert app_cuts.main(["--data", str(fer_npz), "--out", str(out), "--limit", "30"]) == 0
    with np.load(fer_npz) as data:
        source = dict(data)
    with np.load(out) as data:
        return source, dict(data)


def test_every_training_face_comes_again_as_the_app_cuts_it(written) -> None:
    source, out = written
    usage = out["usage"]
    training = np.flatnonzero(usage == "Training")
    assert len(training) == 60
    originals, cuts = training[:30], training[30:]
    assert np.array_equal(out["labels"][originals], out["labels"][cuts])
    assert np.array_equal(out["row_index"][originals], out["row_index"][cuts])
    assert np.array_equal(out["ferplus_votes"][originals], out["ferplus_votes"][cuts])
    # The originals are FER2013's faces as they were; each cut is a new picture of its own face.
    rows = {int(row): index for index, row in enumerate(source["row_index"])}
    for index in originals:
        assert np.array_equal(out["images"][index], source["images"][rows[int(out["row_index"][index])]])
    own = correlations(out["images"][originals], out["images"][cuts])
    other = correlations(out["images"][originals], out["images"][np.roll(cuts, 1)])
    assert not any(np.array_equal(out["images"][a], out["images"][b]) for a, b in zip(originals, cuts))
    assert np.median(own) > 0.4 and np.median(own) > np.median(other) + 0.3


def test_validation_faces_are_kept_as_they_are(written) -> None:
    source, out = written
    public = source["usage"] == "PublicTest"
    assert np.array_equal(out["images"][out["usage"] == "PublicTest"], source["images"][public])
    assert np.array_equal(out["ferplus_columns"], source["ferplus_columns"])


def test_training_reads_the_file_with_both_kinds_of_face(written, tmp_path: Path) -> None:
    _, out = written
    path = tmp_path / "again.npz"
    np.savez(path, **out)
    faces = load_faces(path, "Training")
    assert len(faces) == 60 and faces.votes is not None
    assert len(load_faces(path, "PublicTest")) == 702


def test_the_same_seed_cuts_the_same_faces_and_another_seed_rolls_them_otherwise(fer_npz: Path) -> None:
    with np.load(fer_npz) as data:
        faces = data["images"][data["usage"] == "Training"][:12]
    first = app_cuts.app_cuts(faces, np.random.default_rng(3))
    assert np.array_equal(first, app_cuts.app_cuts(faces, np.random.default_rng(3)))
    assert not np.array_equal(first, app_cuts.app_cuts(faces, np.random.default_rng(4)))
    # With no roll and no side light, a cut is the app's cut of the face, the transfer check's.
    from training.conditions import cut_by_the_app

    plain = app_cuts.app_cuts(faces, np.random.default_rng(3), max_roll=0.0, side_lit=0.0)
    assert all(np.array_equal(cut, cut_by_the_app(face)) for cut, face in zip(plain, faces))


def test_bad_input_is_one_line_and_writes_nothing(fer_npz: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cuts.npz"
    cases = [
        (["--data", str(tmp_path / "missing.npz"), "--out", str(out)], "no such file"),
        (["--data", str(fer_npz), "--out", str(tmp_path / "cuts.csv")], "must end in .npz"),
        (["--data", str(fer_npz), "--out", str(fer_npz)], "is the input file"),
        (["--data", str(fer_npz), "--out", str(tmp_path / "no" / "cuts.npz")], "does not exist"),
    ]
    for argv, message in cases:
        assert app_cuts.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    not_faces = tmp_path / "not-faces.npz"
    np.savez(not_faces, pixels=np.zeros(3))
    assert app_cuts.main(["--data", str(not_faces), "--out", str(out)]) == 2
    assert "'usage'" in capsys.readouterr().err
    for flag, value in (("--max-roll", "100"), ("--side-lit", "2"), ("--limit", "0")):
        with pytest.raises(SystemExit) as stopped:
            app_cuts.main(["--data", str(fer_npz), "--out", str(out), flag, value])
        assert stopped.value.code == 2 and flag in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [not_faces]
