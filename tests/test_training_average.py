"""training.average and training.reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from training import evaluate, export, recipe, train
from training.data import load_faces
from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

def test_average_means_the_last_epochs_and_re_estimates_batch_norm(tmp_path: Path, fer_npz: Path, small_faces,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    from training import average
    from training.models import load

    run = tmp_path / "run"
    common = ["--data", str(fer_npz), "--model", "vcam_net", "--limit", "200", "--val-limit", "100",
              "--batch-size", "50", "--run-dir", str(run), "--keep-epochs"]
    assert train.main([*common, "--epochs", "3"]) == 0
    assert sorted(path.name for path in (run / "epochs").iterdir()) == [
        "epoch_001.keras", "epoch_002.keras", "epoch_003.keras"]

    out = tmp_path / "averaged.keras"
    assert average.main(["--run-dir", str(run), "--last", "2", "--data", str(fer_npz), "--split", "PublicTest",
                         "--batch-size", "50", "--out", str(out)]) == 0
    assert "averaged 2 epochs (epoch_002.keras to epoch_003.keras)" in capsys.readouterr().out
    averaged = load(out)
    two, three = load(run / "epochs" / "epoch_002.keras"), load(run / "epochs" / "epoch_003.keras")
    conv = next(i for i, layer in enumerate(averaged.layers) if isinstance(layer, keras.layers.Conv2D))
    kernel = np.asarray(averaged.layers[conv].kernel)
    assert not np.allclose(np.asarray(two.layers[conv].kernel), np.asarray(three.layers[conv].kernel))
    np.testing.assert_allclose(kernel, (np.asarray(two.layers[conv].kernel) + np.asarray(three.layers[conv].kernel)) / 2,
                               rtol=1e-5, atol=1e-6)
    # Batch-norm statistics are measured again on faces, not averaged.
    norm = next(i for i, layer in enumerate(averaged.layers) if isinstance(layer, keras.layers.BatchNormalization))
    mean_of_two = (np.asarray(two.layers[norm].moving_mean) + np.asarray(three.layers[norm].moving_mean)) / 2
    measured = np.asarray(averaged.layers[norm].moving_mean).copy()
    assert not np.allclose(measured, mean_of_two, atol=1e-4)
    sample = recipe.recalibration_sample(load_faces(fer_npz, "PublicTest").inputs(), 50, seed=7)
    recipe.recalibrate_batchnorm(averaged, sample, 50)  # measured again on other faces: about the same
    again = np.asarray(averaged.layers[norm].moving_mean)
    assert np.abs(again - measured).max() < 0.1 * np.abs(again).max()
    # By default batch norm is measured on the faces the run trained on, as its recipe.json says.
    own = tmp_path / "own.keras"
    assert average.main(["--run-dir", str(run), "--last", "2", "--out", str(own)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"batch norm from Training of {fer_npz}")
    expected = average.average_weights([run / "epochs" / "epoch_002.keras", run / "epochs" / "epoch_003.keras"])
    recipe.recalibrate_batchnorm(expected, recipe.recalibration_sample(load_faces(fer_npz, "Training").inputs(), 50), 50)
    np.testing.assert_allclose(np.asarray(load(own).layers[norm].moving_mean),
                               np.asarray(expected.layers[norm].moving_mean), rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(load(own).layers[norm].moving_mean), measured, atol=1e-4)
    # The averaged model scores and exports like any checkpoint.
    assert evaluate.main(["--model", str(out), "--data", str(fer_npz), "--split", "PublicTest", "--limit", "100",
                          "--confusion", str(tmp_path / "c.png")]) == 0
    tflite = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(out), "--out", str(tflite), "--data", str(fer_npz)]) == 0
    assert export.max_difference(out, tflite, prepare_faces(small_faces[0])) <= 1e-4

    # Given checkpoints, a file named twice weighing twice: a model and its fine-tune.
    soup = tmp_path / "soup.keras"
    named = [str(run / "epochs" / "epoch_002.keras")] + [str(run / "epochs" / "epoch_003.keras")] * 2
    assert average.main(["--models", *named, "--data", str(fer_npz), "--split", "PublicTest", "--batch-size", "50",
                         "--out", str(soup)]) == 0
    assert "averaged 3 models" in capsys.readouterr().out
    np.testing.assert_allclose(np.asarray(load(soup).layers[conv].kernel),
                               (np.asarray(two.layers[conv].kernel) + 2 * np.asarray(three.layers[conv].kernel)) / 3,
                               rtol=1e-5, atol=1e-6)
    assert average.main(["--models", str(tmp_path / "missing.keras"), "--data", str(fer_npz),
                         "--out", str(tmp_path / "none.keras")]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err
    assert not (tmp_path / "none.keras").exists()

    # A run that starts over (here: its last checkpoint is gone) clears the earlier run's epochs.
    (run / "last.keras").unlink()
    assert train.main([*common, "--epochs", "1"]) == 0
    assert [path.name for path in (run / "epochs").iterdir()] == ["epoch_001.keras"]


def test_average_says_what_is_wrong_with_the_checkpoints(tmp_path: Path, fer_npz: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    from training import average
    from training.models import seed_cnn, vcam_net

    def run_average(run: Path, last: int, *more: str) -> str:
        assert average.main(["--run-dir", str(run), "--last", str(last), "--data", str(fer_npz),
                             "--split", "PublicTest", *more]) == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: ")
        return errors[0]

    run = tmp_path / "run"
    assert "train with --keep-epochs" in run_average(run, 2)
    (run / "epochs").mkdir(parents=True)
    vcam_net().save(run / "epochs" / "epoch_001.keras")
    assert "fewer than --last 2; pass --last 1 or less" in run_average(run, 2)
    seed_cnn().save(run / "epochs" / "epoch_002.keras")
    assert "is another net than" in run_average(run, 2)
    (run / "epochs" / "epoch_002.keras").write_bytes(b"not a zip")
    error = run_average(run, 2)
    assert "cannot read" in error and "epoch_002.keras" in error
    (run / "epochs" / "epoch_002.keras").unlink()
    assert "does not exist; create it" in run_average(run, 1, "--out", str(tmp_path / "none" / "a.keras"))
    assert not list((tmp_path / "none").parent.glob("*.partial*"))
    assert keras.mixed_precision.global_policy().name == "float32"


def test_reproduce_trains_averages_chooses_exports_calibrates_and_scores(tmp_path: Path, fer_npz: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from training import reproduce
    from vcam.calibration import file_sha256

    shipped = file_sha256(REPO / "weights" / "emotion.tflite")
    run = tmp_path / "run"
    out = run / "emotion.tflite"  # by default the model goes to the run folder, not over weights/
    small = ["--epochs", "2", "--limit", "200", "--val-limit", "100", "--batch-size", "50"]
    assert reproduce.main(["--data", str(fer_npz), "--run-dir", str(run), "--last", "2", *small]) == 0
    assert out.is_file() and file_sha256(REPO / "weights" / "emotion.tflite") == shipped
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["precision"] == "mixed_bfloat16" and recipe["epochs"] == 2 and recipe["keep_epochs"]
    choice = json.loads((run / "choice.json").read_text())
    assert set(choice["scores"]) == {"best.keras", "averaged.keras"}
    assert choice["scores"][choice["chosen"]] == max(choice["scores"].values())
    from training.models import load

    inputs = load_faces(fer_npz, "PublicTest").sample(64).inputs()
    np.testing.assert_allclose(load(out.with_suffix(".keras")).predict(inputs, verbose=0),
                               load(run / choice["chosen"]).predict(inputs, verbose=0), atol=1e-5)
    calibration = json.loads(out.with_name("emotion.calibration.json").read_text())
    assert calibration["model_sha256"] == file_sha256(out)
    scores = json.loads((run / "scores.json").read_text())
    assert scores["n"] == 702
    assert f"accuracy {scores['accuracy']:.4f} on 702 faces" in capsys.readouterr().out


def test_reproduce_stops_bad_flags_and_outputs_before_training(tmp_path: Path, fer_npz: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from training import reproduce

    base = ["--data", str(fer_npz), "--run-dir", str(tmp_path / "run"), "--limit", "50", "--epochs", "1"]
    with pytest.raises(SystemExit) as exit_status:
        reproduce.main([*base, "--epohcs", "2"])  # a mistyped training flag stops it before training
    assert exit_status.value.code == 2 and "unrecognized arguments: --epohcs" in capsys.readouterr().err
    assert reproduce.main([*base, "--out", str(tmp_path / "none" / "emotion.tflite")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    taken = tmp_path / "taken"
    taken.write_text("a file")
    with pytest.raises(SystemExit) as exit_status:
        reproduce.main(["--data", str(fer_npz), "--run-dir", str(taken)])
    assert exit_status.value.code == 2 and f"--run-dir {taken} is a file; pass a folder" in capsys.readouterr().err
