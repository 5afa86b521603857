"""training.train: the recipe, its runs, resumes, precision, early stopping and distillation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from training_files import write_csv, write_log, write_tree

from training import evaluate, export, recipe, train
from training.data import load_faces
from vcam.emotions import EMOTIONS
from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

def test_cosine_schedule_warms_up_then_decays() -> None:
    rates = [recipe.cosine_lr(epoch, 10, 1e-3) for epoch in range(10)]
    assert rates[0] < rates[1] == pytest.approx(1e-3)
    assert all(later < earlier for earlier, later in zip(rates[1:], rates[2:]))


def test_smoke_run_resumes_exports_and_evaluates(tmp_path: Path, fer_npz: Path, small_faces, capsys) -> None:
    run = tmp_path / "run"
    common = ["--data", str(fer_npz), "--model", "vcam_net", "--limit", "300", "--val-limit", "100",
              "--batch-size", "64", "--run-dir", str(run), "--ferplus-weight", "0.5", "--erasing", "0.5",
              "--mixup", "0.2", "--weight-decay", "0.01"]
    assert train.main([*common, "--epochs", "1"]) == 0
    assert train.main([*common, "--epochs", "2"]) == 0  # resumes: one more epoch, not two
    with (run / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    # A resumed run keeps the recipe it started with.
    assert train.main([*common, "--epochs", "3", "--mixup", "0.4"]) == 2
    assert "was started with --mixup 0.2" in capsys.readouterr().err
    import keras

    optimizer = keras.models.load_model(run / "last.keras").optimizer
    assert type(optimizer).__name__ == "AdamW" and optimizer.weight_decay == pytest.approx(0.01)
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["mixup"] == 0.2 and recipe["weight_decay"] == 0.01
    assert (run / "curves.png").stat().st_size > 0

    out = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(fer_npz)]) == 0
    assert (tmp_path / "emotion.keras").is_file()
    inputs = prepare_faces(small_faces[0])
    assert export.max_difference(run / "best.keras", out, inputs) <= 1e-4

    images, labels = small_faces
    for data, split in ((fer_npz, "PublicTest"), (write_csv(tmp_path / "f.csv", images, labels), None),
                        (write_tree(tmp_path / "tree", images, labels), None)):
        report = tmp_path / f"scores-{Path(data).stem}.json"
        args = ["--model", str(out), "--data", str(data), "--json", str(report),
                *(["--split", split, "--tta", "crops"] if split else [])]
        assert evaluate.main(args) == 0
        scores = json.loads(report.read_text())
        assert scores["n"] == (702 if split else 70)
        assert set(scores["per_class"]) == set(EMOTIONS)
        assert 0.0 <= scores["accuracy"] <= 1.0
        assert report.with_suffix(".png").stat().st_size > 0


def test_batchnorm_recalibration_sets_statistics_to_the_data(public_test_sample) -> None:
    import keras

    from training.models import vcam_net

    model = vcam_net()
    inputs = prepare_faces(public_test_sample[0])
    callback = recipe.batchnorm_recalibration(inputs, batch_size=14)  # 700 faces: all 50 batches
    callback.set_model(model)
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    before = np.asarray(norm.moving_mean).copy()
    callback.on_test_begin()
    conv_out = np.asarray(keras.Model(model.input, norm.input)(inputs))
    assert not np.allclose(np.asarray(norm.moving_mean), before)
    # After 50 batches the moving mean is, within batch-to-batch noise, the faces' mean activation.
    target = conv_out.mean(axis=(0, 1, 2))
    assert np.abs(np.asarray(norm.moving_mean) - target).max() < 0.1 * np.abs(target).max()
    assert np.abs(before - target).max() > 0.5 * np.abs(target).max()
    assert norm.momentum == 0.99  # the training momentum is restored


@pytest.mark.parametrize("flag, value", [("--ferplus-weight", "1.5"), ("--erasing", "1.5"), ("--mixup", "-0.1"),
                                         ("--weight-decay", "-0.1")])
def test_train_refuses_shares_outside_0_to_1(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        train.parse_args([flag, value])
    assert exit_status.value.code == 2 and "must be from 0 to 1" in capsys.readouterr().err


def test_mixed_precision_run_trains_in_bfloat16_and_exports_in_float32(tmp_path: Path, fer_npz: Path,
                                                                       small_faces) -> None:
    import keras

    from training import models

    run = tmp_path / "run"
    assert train.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "200", "--val-limit", "100",
                       "--batch-size", "50", "--epochs", "1", "--run-dir", str(run),
                       "--precision", "mixed_bfloat16"]) == 0
    trained = keras.models.load_model(run / "best.keras", compile=False)
    assert trained.layers[1].dtype_policy.name == "mixed_bfloat16"
    assert trained.layers[-1].dtype_policy.name == "float32"  # the softmax and the loss stay float32
    assert keras.mixed_precision.global_policy().name == "float32"  # training put the global policy back

    loaded = models.load(run / "best.keras")
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    inputs = prepare_faces(small_faces[0])
    in_bfloat16, in_float32 = trained.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0)
    assert 0 < np.abs(in_bfloat16 - in_float32).max() < 0.05  # the same weights, computed in another precision

    out = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(fer_npz)]) == 0
    assert export.max_difference(run / "best.keras", out, inputs) <= 1e-4


def test_early_stopping_counts_epochs_since_the_best_across_resumes(tmp_path: Path, fer_npz: Path, capsys) -> None:
    import keras

    log = write_log(tmp_path / "log.csv", [0.40, 0.52, 0.51, 0.50])
    assert recipe.run_log(log) == (4, 0.52, 2)
    assert recipe.run_log(tmp_path / "none.csv") == (0, float("-inf"), 0)

    # A resumed run goes on counting: 2 epochs without a better one so far, patience 3.
    stopper = recipe.early_stopping(patience=3, since_best=2, best=0.52)
    stopper.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    stopper.on_train_begin()
    stopper.on_epoch_end(4, {"val_accuracy": 0.515})
    assert stopper.model.stop_training
    stopper.on_train_begin()
    stopper.model.stop_training = False
    stopper.on_epoch_end(4, {"val_accuracy": 0.53})  # better: the count starts again
    assert not stopper.model.stop_training and stopper.wait == 0

    # A run folder whose best epoch lies `patience` epochs back trains no further.
    run = tmp_path / "run"
    run.mkdir()
    write_log(run / "log.csv", [0.40, 0.52, 0.51, 0.50])
    (run / "last.keras").write_bytes(b"a checkpoint it need not open")
    assert train.main(["--data", str(fer_npz), "--run-dir", str(run), "--epochs", "10", "--patience", "2"]) == 0
    assert "stopped early already" in capsys.readouterr().out


@pytest.fixture
def fed_batches(monkeypatch: pytest.MonkeyPatch) -> list:
    """The (inputs, targets) that training.batches is given, call by call: training first, then validation."""
    from training import batches

    seen, real_batches = [], batches.batches

    def recording_batches(inputs, targets, *args, **kwargs):
        seen.append((inputs, targets))
        return real_batches(inputs, targets, *args, **kwargs)

    monkeypatch.setattr(batches, "batches", recording_batches)
    return seen


def test_distillation_run_starts_from_the_given_weights_and_resumes(tmp_path: Path, fer_npz: Path, capsys,
                                                                   fed_batches: list) -> None:
    from training import models

    run, shipped = tmp_path / "run", REPO / "weights" / "emotion.keras"
    common = ["--data", str(fer_npz), "--model", "vcam_deep", "--limit", "200", "--val-limit", "100", "--batch-size", "50",
              "--run-dir", str(run), "--init", str(shipped), "--teacher", str(REPO / "weights" / "emotion.tflite"),
              "--teacher-weight", "0.5", "--teacher-views", "2", "--lr", "1e-12", "--no-augment"]
    assert train.main([*common, "--epochs", "1"]) == 0
    assert "agrees with the labels on" in capsys.readouterr().out
    (train_inputs, targets), (val_inputs, val_targets) = fed_batches[:2]
    labels = load_faces(fer_npz, "Training").sample(200, 1).labels
    taught = evaluate.predict_views(REPO / "weights" / "emotion.tflite", train_inputs, 2)
    np.testing.assert_allclose(targets, 0.5 * np.eye(7)[labels] + 0.5 * taught, atol=1e-5)  # half label, half teacher
    np.testing.assert_array_equal(val_targets.sum(axis=1), 1.0)
    assert set(np.unique(val_targets)) == {0.0, 1.0}  # validation scores FER2013's labels alone
    started, trained = models.load(shipped).get_weights(), models.load(run / "last.keras").get_weights()
    kernels = [index for index, weights in enumerate(started) if weights.ndim == 4]
    assert len(kernels) == 9  # the shipped net is vcam_deep
    for index in kernels:  # at a learning rate of 1e-12 the convolutions keep the weights they started from
        np.testing.assert_allclose(trained[index], started[index], atol=1e-6)
    assert train.main([*common, "--epochs", "2"]) == 0  # the same --init and --teacher: it resumes
    assert "resuming" in capsys.readouterr().out
    with (run / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    assert train.main([*common, "--epochs", "3", "--teacher-weight", "0.7"]) == 2
    assert "was started with --teacher-weight 0.5" in capsys.readouterr().err


def test_several_teachers_teach_their_mean_and_are_kept_in_the_recipe(tmp_path: Path, fer_npz: Path,
                                                                       fed_batches: list) -> None:
    from training import models

    untrained = tmp_path / "untrained.keras"  # a second teacher that disagrees with the first
    models.build("seed_cnn").save(untrained)
    teachers = [REPO / "weights" / "emotion.tflite", untrained]
    run = tmp_path / "run"
    assert train.main(["--data", str(fer_npz), "--model", "seed_cnn", "--limit", "100", "--val-limit", "50",
                       "--batch-size", "50", "--run-dir", str(run), "--epochs", "1", "--no-augment",
                       "--teacher", *map(str, teachers), "--teacher-weight", "0.6", "--teacher-views", "2"]) == 0
    train_inputs, targets = fed_batches[0]
    labels = load_faces(fer_npz, "Training").sample(100, 1).labels
    each = [evaluate.predict_views(teacher, train_inputs, 2) for teacher in teachers]
    assert np.abs(each[0] - each[1]).max() > 0.1
    np.testing.assert_allclose(targets, 0.4 * np.eye(7)[labels] + 0.6 * (each[0] + each[1]) / 2, atol=1e-5)
    assert json.loads((run / "recipe.json").read_text())["teacher"] == [str(teacher) for teacher in teachers]
    assert train.recipe_value([teachers[0]]) == str(teachers[0])  # one teacher: kept as runs kept it before


def test_distillation_flags_say_what_is_wrong(tmp_path: Path, fer_npz: Path, capsys) -> None:
    for flags, message in ((["--teacher", str(REPO / "weights" / "emotion.tflite")], "go together"),
                           (["--teacher-weight", "0.5"], "go together"),
                           (["--init", str(tmp_path / "none.keras")], "is not a .keras file"),
                           (["--teacher", str(fer_npz), "--teacher-weight", "0.5"], "is not a .keras or .tflite"),
                           (["--teacher-views", "2"], "--teacher-views needs --teacher")):
        with pytest.raises(SystemExit) as exit_status:
            train.parse_args(flags)
        assert exit_status.value.code == 2 and message in capsys.readouterr().err
    run = tmp_path / "run"  # an earlier run's files, which a refused start must leave as they are
    (run / "epochs").mkdir(parents=True)
    earlier = [run / "last.keras", run / "best.keras", run / "log.csv", run / "epochs" / "epoch_001.keras"]
    for path in earlier:
        path.write_bytes(b"earlier run")
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a model" * 100)
    base = ["--data", str(fer_npz), "--limit", "100", "--epochs", "1", "--run-dir", str(run), "--fresh"]
    for flags, message in (
            (["--model", "seed_cnn", "--init", str(REPO / "weights" / "emotion.keras")],
             "is another network than --model seed_cnn"),
            (["--teacher", str(garbage), "--teacher-weight", "0.5"], f"error: cannot run the teacher {garbage}")):
        assert train.main([*base, *flags]) == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]
        assert all(path.read_bytes() == b"earlier run" for path in earlier)
