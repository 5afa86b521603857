"""training.fast: the compiled step, its budget and plan, mixing inside the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from training_files import publictest_accuracy

from training import recipe
from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

@pytest.mark.parametrize(
    "elapsed, epoch_seconds, done, expected",
    [
        (10.0, 2.0, 2, 32),  # (100 - 30 - 10) / 2 = 30 more
        (10.0, 2.5, 2, 26),  # 60 / 2.5 = 24 more
        (95.0, 2.0, 7, 7),  # past the reserve: stop at the epochs done
        (0.0, 0.01, 2, 50),  # at most `most`
    ],
)
def test_planned_epochs_fit_the_budget(elapsed, epoch_seconds, done, expected) -> None:
    from training.fast import planned_epochs

    assert planned_epochs(elapsed, epoch_seconds, budget=100.0, done=done, reserve=30.0, most=50) == expected


def test_the_plan_follows_the_speed_early_and_only_shrinks_late() -> None:
    from training.fast import replanned

    assert replanned(plan=100, fits=140, done=20) == 140  # early: faster, more epochs
    assert replanned(plan=100, fits=80, done=20) == 80
    assert replanned(plan=100, fits=140, done=60) == 100  # late: the schedule's end stays put
    assert replanned(plan=100, fits=90, done=60) == 90  # unless the budget would be overrun


def test_fast_training_ends_within_its_budget_and_saves_the_net_it_scored(tmp_path: Path, fer_npz: Path, capsys) -> None:
    from training import fast
    from training.models import load

    out = tmp_path / "fast"
    # Loading the faces and compiling outlast a budget of one second: training stops after the
    # second epoch, the first one the plan is made at.
    assert fast.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "128", "--val-limit", "200",
                      "--batch-size", "64", "--time-budget", "1", "--fallback-every", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "training 2 epochs" in printed and "trained vcam_net for 2 epochs" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["epochs"] == 2 and result["faces"] == 128 and result["plans"] == [[2, 2]]
    assert result["time_budget"] == 1 and result["warmup"] == 2
    assert (out / "curves.png").stat().st_size > 0
    with (out / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    # result.json's accuracy is that of model.keras (batch norm re-estimated) on the same sample.
    assert result["val_accuracy"] == publictest_accuracy(load(out / "model.keras"), fer_npz, 200)
    assert (out / "fallback.keras").is_file() and not list(out.glob(".*partial*"))


def test_fast_training_follows_the_cosine_schedule(tmp_path: Path, fer_npz: Path) -> None:
    from training import fast

    out = tmp_path / "fast"
    assert fast.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "64", "--val-limit", "64",
                      "--batch-size", "32", "--epochs", "4", "--warmup", "1", "--lr", "0.002", "--out", str(out)]) == 0
    with (out / "log.csv").open() as handle:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(handle)]
    np.testing.assert_allclose(rates, [recipe.cosine_lr(epoch, 4, 0.002, warmup=1) for epoch in range(4)], rtol=1e-5)
    assert rates[0] < rates[1] > rates[2] > rates[3]


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_the_mixing_trainer_outputs_the_probabilities_and_the_mixed_targets(small_faces, kind: str) -> None:
    from training.augment import build_augmenter
    from training.fast import build_trainer
    from training.models import build

    net = build("vcam_net")
    trainer = build_trainer(net, build_augmenter(seed=1), (kind, 1.0), seed=2)
    faces = prepare_faces(small_faces[0][:32])
    targets = np.eye(7, dtype=np.float32)[small_faces[1][:32]]
    mixed = np.asarray(trainer([faces, targets], training=True))
    assert mixed.shape == (32, 14)
    np.testing.assert_allclose(mixed[:, :7].sum(axis=1), 1.0, atol=1e-5)  # the net's probabilities
    np.testing.assert_allclose(mixed[:, 7:].sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(mixed[:, 7:] - targets).max() > 0.1  # the targets were mixed
    kept = np.asarray(trainer([faces, targets], training=False))
    np.testing.assert_array_equal(kept[:, 7:], targets)  # validation scores against the labels
    np.testing.assert_allclose(kept[:, :7], np.asarray(net(faces, training=False)), atol=1e-5)


@pytest.mark.parametrize("flag", ["--mixup", "--cutmix"])
def test_fast_training_mixes_inside_the_model_and_saves_the_net_alone(tmp_path: Path, fer_npz: Path, flag: str) -> None:
    from training import fast
    from training.models import load

    out = tmp_path / "fast"
    other = "--cutmix" if flag == "--mixup" else "--mixup"
    assert fast.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "128", "--val-limit", "100",
                      "--batch-size", "32", "--epochs", "2", flag, "0.5", other, "0", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result[flag[2:]] == 0.5 and result[other[2:]] == 0 and result["epochs"] == 2
    with (out / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # accuracy and loss read against the mixed targets, in validation the labels
        assert 0 <= float(row["accuracy"]) <= 1 and 0 <= float(row["val_accuracy"]) <= 1
        assert 0 < float(row["loss"]) < 10 and 0 < float(row["val_loss"]) < 10
    net = load(out / "model.keras")  # the net, without the mixer's second input and output
    assert tuple(net.input_shape) == (None, 48, 48, 1) and tuple(net.output_shape) == (None, 7)
    assert result["val_accuracy"] == publictest_accuracy(net, fer_npz, 100)


def test_fast_training_stops_at_a_loss_that_is_no_longer_finite(tmp_path: Path, fer_npz: Path, capsys) -> None:
    from training import fast

    out = tmp_path / "fast"
    for name in fast.OUTPUTS:  # as an earlier run into the same folder left them
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("an earlier run's")
    assert fast.main(["--data", str(fer_npz), "--model", "vcam_net", "--limit", "64", "--val-limit", "64",
                      "--batch-size", "32", "--epochs", "3", "--lr", "1e30", "--fallback-every", "1",
                      "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: the loss is no longer finite at epoch 1; lower --lr" in err and err.count("\n") == 1
    assert not any((out / name).exists() for name in ("model.keras", "result.json", "fallback.keras"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs must be 1 or more"),
        (["--epochs", "3", "--max-epochs", "5"], "--max-epochs goes with --time-budget"),
        (["--time-budget", "60", "--max-epochs", "0"], "--max-epochs must be 1 or more"),
        (["--epochs", "3", "--limit", "-5"], "--limit must be 1 or more"),
        (["--epochs", "3", "--batch-size", "0"], "--batch-size must be 1 or more"),
        (["--epochs", "3", "--warmup", "-1"], "--warmup must be 0 or more"),
        (["--epochs", "3", "--lr", "0"], "--lr must be a number above 0"),
        (["--epochs", "3", "--weight-decay", "2"], "--weight-decay must be from 0 to 1"),
        (["--time-budget", "inf"], "--time-budget must be a number of seconds above 0"),
        (["--time-budget", "nan"], "--time-budget must be a number of seconds above 0"),
        (["--epochs", "3", "--lr", "nan"], "--lr must be a number above 0"),
        (["--epochs", "3", "--seed", "-1"], "--seed must be 0 or more"),
        (["--time-budget", "-5"], "--time-budget must be a number of seconds above 0"),
        (["--epochs", "3", "--time-budget", "60"], "not allowed with argument"),
        (["--epochs", "3", "--erasing", "2"], "--erasing must be from 0 to 1"),
        (["--epochs", "3", "--mixup", "-0.2"], "--mixup must be from 0 to 1"),
        (["--epochs", "3", "--cutmix", "nan"], "--cutmix must be from 0 to 1"),
        (["--epochs", "3", "--mixup", "0.2", "--cutmix", "1"], "--mixup and --cutmix each mix the batch"),
    ],
)
def test_fast_training_refuses_bad_flags(tmp_path: Path, capsys, argv, message) -> None:
    from training import fast

    with pytest.raises(SystemExit) as stopped:
        fast.main([*argv, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_fast_training_explains_a_missing_data_file_and_an_out_that_is_a_file(tmp_path: Path, capsys) -> None:
    from training import fast

    assert fast.main(["--data", str(tmp_path / "none.npz"), "--epochs", "1", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "none.npz" in err
    assert not (tmp_path / "out").exists()
    taken = tmp_path / "taken"
    taken.write_text("a file")
    with pytest.raises(SystemExit) as stopped:
        fast.main(["--epochs", "1", "--out", str(taken)])
    assert stopped.value.code == 2 and "is a file; pass a folder" in capsys.readouterr().err
