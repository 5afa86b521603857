"""training/: data formats, the three nets, a short real training run, export and evaluation."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPO
from training import evaluate, export, train
from training.data import DataError, load_faces
from vcam.preprocess import EMOTIONS
from vcam.preprocess import prepare_faces


@pytest.fixture(scope="module")
def small_faces(public_test_sample: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = public_test_sample
    return images[:70], labels[:70]


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, usage: str = "PublicTest") -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for image, label in zip(images, labels):
            writer.writerow([int(label), " ".join(str(v) for v in image.ravel()), usage])
    return path


def write_tree(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """`root/<emotion>/NNNN.png`, with the folder names capitalised as some copies have them."""
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / EMOTIONS[label].capitalize()
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{index:04d}.png"), image)
    return root


def test_npz_splits_have_the_canonical_counts(fer_npz: Path) -> None:
    train_set, public = load_faces(fer_npz, "Training"), load_faces(fer_npz, "PublicTest")
    assert (len(train_set), len(public)) == (28709, 3589)
    assert np.bincount(public.labels, minlength=7).tolist() == [467, 56, 496, 895, 653, 415, 607]
    assert len(load_faces(fer_npz)) == 28709 + 3589


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


def test_augmenter_changes_faces_but_keeps_shape_and_range(small_faces) -> None:
    from training.augment import build_augmenter

    inputs = prepare_faces(small_faces[0][:16])
    augmented = np.asarray(build_augmenter(seed=3)(inputs, training=True))
    assert augmented.shape == inputs.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert np.abs(augmented - inputs).mean() > 0.01


def test_erasing_blanks_part_of_each_face(small_faces) -> None:
    from training.augment import build_augmenter

    inputs = prepare_faces(small_faces[0][:16])
    plain = np.asarray(build_augmenter(seed=3)(inputs, training=True))
    erased = np.asarray(build_augmenter(seed=3, erasing=1.0)(inputs, training=True))
    assert erased.shape == inputs.shape and 0.0 <= erased.min() and erased.max() <= 1.0
    assert not np.allclose(plain, erased)


def test_face_batches_shuffle_each_epoch_and_mix_up(small_faces) -> None:
    from training.batches import FaceBatches, batch_transform

    inputs = prepare_faces(small_faces[0])
    targets = np.eye(7, dtype=np.float32)[small_faces[1]]
    plain = FaceBatches(inputs, targets, batch_size=32)
    assert len(plain) == 3  # 70 faces: 32 + 32 + 6
    np.testing.assert_array_equal(np.concatenate([plain[i][0] for i in range(3)]), inputs)  # in order, unchanged

    shuffled = FaceBatches(inputs, np.arange(70), batch_size=32, seed=5, shuffle=True)  # targets: each face's index
    orders = []
    for _ in range(2):
        orders.append(np.concatenate([shuffled[i][1] for i in range(3)]))
        shuffled.on_epoch_end()
    assert sorted(orders[0]) == list(range(70)) and sorted(orders[1]) == list(range(70))  # every face, once
    assert list(orders[0]) != list(orders[1]) != list(range(70))  # a new order each epoch

    mixed = FaceBatches(inputs, targets, batch_size=32, seed=5, shuffle=True,
                        transform=batch_transform(None, mixup=0.4, seed=5))
    faces, soft = mixed[0]
    assert faces.shape == (32, 48, 48, 1) and soft.shape == (32, 7)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.max(axis=1) < 0.999).any()  # blended targets are no longer one-hot
    assert batch_transform(None, mixup=0.0, seed=5) is None


@pytest.mark.parametrize("kind, amount, tolerance", [("mixup", 0.4, 1e-5), ("cutmix", 1.0, 0.05)])
def test_target_mixer_mixes_each_face_and_its_target_in_the_same_proportions(kind, amount, tolerance) -> None:
    from training.augment import TargetMixer

    labels = np.random.default_rng(0).integers(0, 7, 64)
    shade = np.arange(7, dtype=np.float32) / 6  # each face is one grey: its class's shade
    faces = np.broadcast_to(shade[labels][:, None, None, None], (64, 48, 48, 1)).copy()
    targets = np.eye(7, dtype=np.float32)[labels]
    mixer = TargetMixer(kind, amount, seed=3)
    mixed_faces, mixed_targets = (np.asarray(x) for x in mixer(faces, targets, training=True))
    assert mixed_faces.shape == faces.shape and mixed_targets.shape == targets.shape
    np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, atol=1e-5)
    assert (np.abs(mixed_faces.mean(axis=(1, 2, 3)) - shade[labels]) > 0.01).mean() > 0.3  # most faces mixed
    # A mixed face's mean grey is its target's mix of the shades (cutmix: up to the rectangle's
    # pixel edges, which Keras' CutMix counts as a continuous area).
    np.testing.assert_allclose(mixed_faces.mean(axis=(1, 2, 3)), mixed_targets @ shade, atol=tolerance)
    kept_faces, kept_targets = mixer(faces, targets, training=False)
    assert np.array_equal(np.asarray(kept_faces), faces) and np.array_equal(np.asarray(kept_targets), targets)


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


def test_cosine_schedule_warms_up_then_decays() -> None:
    rates = [train.cosine_lr(epoch, 10, 1e-3) for epoch in range(10)]
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
        assert scores["n"] == (3589 if split else 70)
        assert set(scores["per_class"]) == set(EMOTIONS)
        assert 0.0 <= scores["accuracy"] <= 1.0
        assert report.with_suffix(".png").stat().st_size > 0


@pytest.mark.parametrize(
    "model, data, split, message",
    [
        ("none.tflite", None, None, "is not a .keras or .tflite file"),
        (None, "none.npz", None, "no such file or folder"),
        (None, None, "Nope", "no faces in split 'Nope'"),
    ],
)
def test_evaluate_rejects_bad_inputs(tmp_path: Path, fer_npz: Path, capsys, model, data, split, message) -> None:
    args = ["--model", str(tmp_path / model if model else REPO / "weights" / "emotion.tflite"),
            "--data", str(tmp_path / data if data else fer_npz), *(["--split", split] if split else [])]
    assert evaluate.main(args) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]


def test_batchnorm_recalibration_sets_statistics_to_the_data(public_test_sample) -> None:
    import keras

    from training.models import vcam_net

    model = vcam_net()
    inputs = prepare_faces(public_test_sample[0])
    callback = train.batchnorm_recalibration(inputs, batch_size=14)  # 700 faces: all 50 batches
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


def test_quantized_export_of_the_shipped_model_agrees_and_is_smaller(tmp_path: Path, fer_npz: Path) -> None:
    out = tmp_path / "emotion.tflite"
    keras_model = REPO / "weights" / "emotion.keras"
    assert export.main(["--model", str(keras_model), "--out", str(out), "--data", str(fer_npz),
                        "--quantize", "dynamic"]) == 0
    inputs = load_faces(fer_npz, "PublicTest").sample(300).inputs()
    assert export.agreement(keras_model, out, inputs) >= export.AGREEMENT
    assert out.stat().st_size < 0.3 * (REPO / "weights" / "emotion.keras").stat().st_size


def test_tta_averages_each_face_with_its_mirror(public_test_sample) -> None:
    model = REPO / "weights" / "emotion.tflite"
    inputs = prepare_faces(public_test_sample[0][:20])
    mirrored = np.ascontiguousarray(inputs[:, :, ::-1])
    both = evaluate.predict_tta(model, inputs)
    np.testing.assert_allclose(both, (evaluate.predict(model, inputs) + evaluate.predict(model, mirrored)) / 2, atol=1e-6)
    np.testing.assert_allclose(both, evaluate.predict_tta(model, mirrored), atol=1e-6)  # a mirror's mirror


def test_tta_crops_average_ten_views_of_each_face(public_test_sample) -> None:
    model = REPO / "weights" / "emotion.tflite"
    inputs = prepare_faces(public_test_sample[0][:20])
    views = evaluate.tta_views(inputs, "crops")
    assert len(views) == 10 and all(view.shape == inputs.shape for view in views)
    np.testing.assert_array_equal(views[0], inputs)
    np.testing.assert_array_equal(views[3], views[2][:, :, ::-1])  # each crop is followed by its mirror
    # The corner crops are 44×44 pixels scaled up: top-left, top-right, bottom-left, bottom-right;
    # each keeps its corner's pixel.
    for view, (row, column) in zip(views[2::2], ((0, 0), (0, -1), (-1, 0), (-1, -1)), strict=True):
        np.testing.assert_allclose(view[:, row, column], inputs[:, row, column], atol=1e-6)
    assert not np.allclose(views[2], inputs)
    all_ten = evaluate.predict_tta(model, inputs, "crops")
    np.testing.assert_allclose(all_ten, sum(evaluate.predict(model, view) for view in views) / 10, atol=1e-5)
    np.testing.assert_allclose(all_ten.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        evaluate.tta_views(inputs, "rotate")


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


def write_log(path: Path, accuracies: list[float]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "accuracy", "val_accuracy"])
        writer.writerows([epoch, 0.5, accuracy] for epoch, accuracy in enumerate(accuracies))
    return path


def test_early_stopping_counts_epochs_since_the_best_across_resumes(tmp_path: Path, fer_npz: Path, capsys) -> None:
    import keras

    log = write_log(tmp_path / "log.csv", [0.40, 0.52, 0.51, 0.50])
    assert train.run_log(log) == (4, 0.52, 2)
    assert train.run_log(tmp_path / "none.csv") == (0, float("-inf"), 0)

    # A resumed run goes on counting: 2 epochs without a better one so far, patience 3.
    stopper = train.early_stopping(patience=3, since_best=2, best=0.52)
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


JAX_TRAINING = """
import sys


class NoTensorFlow:  # as on the GPU machine, where TensorFlow is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError("No module named 'tensorflow'")


sys.meta_path.insert(0, NoTensorFlow())
import keras, numpy as np
from training import train
from training.data import load_faces
from training.models import load
assert keras.backend.backend() == "jax"
from training import compare
runs, data = sys.argv[1], sys.argv[2]
run_dir = runs + "/vcam_net"
recipe = ["--data", data, "--limit", "200", "--val-limit", "100", "--batch-size", "50", "--mixup", "0.2",
          "--erasing", "0.5"]
assert train.main([*recipe, "--model", "vcam_net", "--run-dir", run_dir, "--epochs", "1"]) == 0
# compare, as the GPU machine runs it: resumes the run for its second epoch, scores it with Keras.
assert compare.main([*recipe, "--runs", runs, "--models", "vcam_net", "--epochs", "2", "--no-latency",
                     "--score-limit", "100", "--out", runs + "/comparison.md"]) == 0
faces = load_faces(data, "PublicTest").sample(64)
np.save(run_dir + "/jax-probabilities.npy", load(run_dir + "/best.keras").predict(faces.inputs(), verbose=0))
from training import device_kit
assert device_kit.main(["slim", run_dir + "/best.keras", run_dir + "/slim.keras"]) == 0
from training import fast
assert fast.main(["--data", data, "--limit", "200", "--val-limit", "100", "--batch-size", "50", "--erasing", "0.5",
                  "--cutmix", "1.0", "--model", "vcam_net", "--epochs", "2", "--out", runs + "/fast"]) == 0
assert "tensorflow" not in sys.modules
"""


def test_training_runs_under_jax_without_tensorflow_and_the_model_loads_here(tmp_path: Path, fer_npz: Path) -> None:
    """The GPU machine has JAX and no TensorFlow: train there, load and export here."""
    from training import models

    runs = tmp_path / "runs"
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", JAX_TRAINING, str(runs), str(fer_npz)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    # training.fast compiles its augmentation into the training step there, which Keras' "auto"
    # would not: op by op, the GPU ran 0.5 s a step instead of 4 ms.
    assert "vcam_net: training step compiled with XLA" in done.stdout
    fast_result = json.loads((runs / "fast" / "result.json").read_text())
    assert fast_result["epochs"] == 2 and fast_result["cutmix"] == 1.0  # cutmix compiled in the step too
    run = runs / "vcam_net"
    with (run / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]  # compare resumed the run
    row = json.loads((runs / "comparison.json").read_text())["rows"][0]
    assert row["model"] == "vcam_net" and row["ms_1_face"] is None and 0 <= row["accuracy"] <= 1

    faces = load_faces(fer_npz, "PublicTest").sample(64)
    jax_probabilities = np.load(run / "jax-probabilities.npy")
    assert np.isfinite(jax_probabilities).all()
    for saved in ("best.keras", "slim.keras"):
        here = models.load(run / saved).predict(faces.inputs(), verbose=0)
        assert np.abs(here - jax_probabilities).max() < 1e-4
    assert (run / "slim.keras").stat().st_size < 0.5 * (run / "best.keras").stat().st_size
    out = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(fer_npz)]) == 0


def test_compare_trains_each_net_with_one_recipe_and_tabulates_them(tmp_path: Path, fer_npz: Path) -> None:
    from training import compare

    out = tmp_path / "comparison.md"
    argv = ["--data", str(fer_npz), "--models", "seed_cnn", "vcam_net", "--runs", str(tmp_path / "runs"),
            "--out", str(out), "--epochs", "1", "--limit", "200", "--val-limit", "100", "--batch-size", "50",
            "--ferplus-weight", "0.5", "--precision", "mixed_bfloat16", "--latency-repeats", "5",
            "--score-limit", "300"]
    assert compare.main(argv) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [row["model"] for row in rows] == ["seed_cnn", "vcam_net"]
    assert rows[0]["parameters"] == 2_345_607 and rows[1]["parameters"] == 1_167_015
    for row in rows:
        assert 0 <= row["accuracy"] <= 1 and set(row["recall"]) == set(EMOTIONS)
        assert row["ms_4_faces"] > 0 and row["train_seconds"] > 0
    text = out.read_text()
    assert "| seed_cnn |" in text and "--ferplus-weight 0.5" in text and "--precision mixed_bfloat16" in text
    first = rows[1]["train_seconds"]
    assert compare.main(argv) == 0  # a rerun resumes: nothing left to train, the time is kept
    assert json.loads(out.with_suffix(".json").read_text())["rows"][1]["train_seconds"] >= first

    # As on the GPU machine: score the Keras models, time nothing; then time the nets here.
    device_out, here_out = tmp_path / "device.md", tmp_path / "here.md"
    assert compare.main([*argv[:argv.index("--out")], "--out", str(device_out), *argv[argv.index("--out") + 2:],
                         "--no-latency"]) == 0
    device_rows = json.loads(device_out.with_suffix(".json").read_text())["rows"]
    assert all(row["ms_1_face"] is None for row in device_rows) and "| — |" in device_out.read_text()
    assert [row["accuracy"] for row in device_rows] == pytest.approx([row["accuracy"] for row in rows], abs=0.01)
    assert compare.main(["--rows", str(device_out.with_suffix(".json")), "--out", str(here_out),
                         "--latency-repeats", "5"]) == 0
    here_rows = json.loads(here_out.with_suffix(".json").read_text())["rows"]
    assert all(row["ms_1_face"] > 0 and row["ms_4_faces"] > 0 for row in here_rows)
    assert [row["accuracy"] for row in here_rows] == [row["accuracy"] for row in device_rows]
    for name, content in (("none.json", None), ("rows.json", {"recipe": "r", "rows": [{"model": "vcam_net"}]}),
                          ("nets.json", {"recipe": "r", "rows": [{**here_rows[0], "model": "resnet9"}]})):
        if content is not None:
            (tmp_path / name).write_text(json.dumps(content))
        assert compare.main(["--rows", str(tmp_path / name), "--out", str(here_out)]) == 2


def test_device_kit_packs_the_faces_small_and_unpacks_them_exactly(tmp_path: Path, fer_npz: Path) -> None:
    from training import device_kit

    with np.load(fer_npz) as data:
        arrays = {key: data[key][:1234] for key in data.files if key != "ferplus_columns"}
        arrays["ferplus_columns"] = data["ferplus_columns"]
    source = tmp_path / "small.npz"
    np.savez(source, **arrays)
    kit = tmp_path / "kit"
    assert device_kit.main(["pack", "--data", str(source), "--out", str(kit), "--no-wheels"]) == 0
    packed = kit / device_kit.FACES
    assert packed.stat().st_size < 0.85 * arrays["images"].nbytes  # lossless WebP: about 70 %
    rebuilt = tmp_path / "rebuilt.npz"
    assert device_kit.main(["unpack", str(packed), str(rebuilt)]) == 0
    with np.load(rebuilt) as data:
        assert sorted(data.files) == sorted(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(data[key], value)
            assert data[key].dtype == value.dtype
    assert len(load_faces(rebuilt, "Training")) == int((arrays["usage"] == "Training").sum()) > 0


def test_device_kit_packs_lossy_faces_smaller_when_asked(tmp_path: Path, fer_npz: Path, capsys) -> None:
    """With the shipped model the repository is 40 MiB, and lossless faces no longer fit beside it."""
    from training import device_kit

    with np.load(fer_npz) as data:
        # 1,000 Training faces around 600 of PublicTest, so that each group fills more than one mosaic
        rows = np.concatenate([np.arange(500), np.flatnonzero(data["usage"] == "PublicTest")[:600], np.arange(500, 1000)])
        arrays = {key: data[key][rows] for key in data.files if key != "ferplus_columns"}
        arrays["ferplus_columns"] = data["ferplus_columns"]
    source = tmp_path / "small.npz"
    np.savez(source, **arrays)
    sizes = {}
    for quality in (None, 85):
        kit = tmp_path / f"kit-{quality}"
        assert device_kit.main(["pack", "--data", str(source), "--out", str(kit), "--no-wheels",
                                *([] if quality is None else ["--quality", str(quality)])]) == 0
        assert "of the device tool's 64 MiB" in capsys.readouterr().out
        sizes[quality] = (kit / device_kit.FACES).stat().st_size
    assert sizes[85] < 0.75 * sizes[None]
    rebuilt = tmp_path / "rebuilt.npz"
    assert device_kit.main(["unpack", str(tmp_path / "kit-85" / device_kit.FACES), str(rebuilt)]) == 0
    assert "(Training faces lossy, WebP quality 85, the rest lossless)" in capsys.readouterr().out
    with np.load(rebuilt) as data:
        assert sorted(data.files) == sorted(arrays)
        for key, value in arrays.items():
            if key != "images":
                np.testing.assert_array_equal(data[key], value)
        difference = np.abs(data["images"].astype(int) - arrays["images"])
    training = arrays["usage"] == "Training"
    assert 0.5 < difference[training].mean() < 4  # measured on 10,000 faces: 2.1 grey levels
    assert not difference[~training].any()  # PublicTest's faces, the ones scored there, stay exact
    # A kit packed lossy before PublicTest stayed exact says so; one with no Training faces is lossless.
    old_kit = tmp_path / "old.npz"
    with np.load(tmp_path / "kit-85" / device_kit.FACES) as packed:
        np.savez(old_kit, **{key: packed[key] for key in packed.files if key not in ("webp_order", "webp_groups")})
    assert device_kit.packed_description(old_kit).startswith("all faces lossy, WebP quality 85")
    no_training = tmp_path / "public-test.npz"
    np.savez(no_training, **{key: value[~training] if len(value) == len(training) else value
                              for key, value in arrays.items()})
    assert device_kit.main(["pack", "--data", str(no_training), "--out", str(tmp_path / "kit-pt"), "--no-wheels",
                            "--quality", "85"]) == 0
    assert "MiB, lossless)" in capsys.readouterr().out
    assert device_kit.main(["pack", "--data", str(source), "--out", str(tmp_path / "kit-0"), "--quality", "0"]) == 2
    err = capsys.readouterr().err
    assert "--quality must be from 1 to 100" in err and err.count("\n") == 1


def test_device_kit_and_script_say_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training import device_kit

    assert device_kit.main(["unpack", str(tmp_path / "none.npz"), str(tmp_path / "out.npz")]) == 2
    assert "run python -m training.device_kit pack" in capsys.readouterr().err
    assert device_kit.main(["pack", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "kit")]) == 2
    assert "does not exist" in capsys.readouterr().err
    no_images = tmp_path / "no-images.npz"
    np.savez(no_images, labels=np.zeros(3, np.uint8))
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    cases = [
        (["pack", "--data", str(no_images), "--out", str(tmp_path / "kit")], "has no images array"),
        (["pack", "--data", str(no_images), "--out", str(garbage)], "is a file; pass a folder"),
        (["unpack", str(garbage), str(tmp_path / "out.npz")], "is not a packed faces file"),
        (["unpack", str(no_images), str(tmp_path / "out")], "must end in .npz"),
        (["slim", str(garbage), str(tmp_path / "out.keras")], "cannot read"),
        (["slim", str(garbage), str(tmp_path / "none" / "out.keras")], "does not exist; create it"),
    ]
    for argv, message in cases:
        assert device_kit.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    assert not list(tmp_path.glob(".*.partial*"))  # nothing half-written is left

    for kit_files, message in (({}, "faces.kit.npz is missing"), ({"faces.kit.npz": b"x"}, "has no wheels")):
        folder = tmp_path / f"checkout-{len(kit_files)}"
        (folder / ".device" / "wheels").mkdir(parents=True)
        for name, content in kit_files.items():
            (folder / ".device" / name).write_bytes(content)
        done = subprocess.run(["sh", str(REPO / "training" / "device.sh"), "true"], cwd=folder, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_latency_times_the_batches_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    from training import latency

    assert latency.main(["--model", str(REPO / "weights" / "emotion.tflite"), "--repeats", "3",
                         "--batches", "2", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["2 faces", "10 faces"]
    assert latency.main(["--model", str(REPO / "weights" / "emotion.tflite"), "--batches", "0"]) == 2
    assert "batch sizes must be 1 or more" in capsys.readouterr().err


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
    sample = train.recalibration_sample(load_faces(fer_npz, "PublicTest").inputs(), 50, seed=7)
    train.recalibrate_batchnorm(averaged, sample, 50)  # measured again on other faces: about the same
    again = np.asarray(averaged.layers[norm].moving_mean)
    assert np.abs(again - measured).max() < 0.1 * np.abs(again).max()
    # The averaged model scores and exports like any checkpoint.
    assert evaluate.main(["--model", str(out), "--data", str(fer_npz), "--split", "PublicTest", "--limit", "100",
                          "--confusion", str(tmp_path / "c.png")]) == 0
    tflite = tmp_path / "emotion.tflite"
    assert export.main(["--model", str(out), "--out", str(tflite), "--data", str(fer_npz)]) == 0
    assert export.max_difference(out, tflite, prepare_faces(small_faces[0])) <= 1e-4

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
    assert scores["n"] == 3589
    assert f"accuracy {scores['accuracy']:.4f} on 3589 faces" in capsys.readouterr().out


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


def test_predict_views_averages_the_views_chunk_by_chunk(public_test_sample) -> None:
    model, inputs = REPO / "weights" / "emotion.tflite", prepare_faces(public_test_sample[0][:40])
    taught = evaluate.predict_views(model, inputs, 10, chunk=16)  # three chunks, the last one short
    np.testing.assert_allclose(taught, evaluate.predict_tta(model, inputs, "crops"), atol=1e-5)
    views = evaluate.tta_views(inputs, "crops")
    np.testing.assert_allclose(taught, sum(evaluate.predict(model, view) for view in views) / 10, atol=1e-5)
    np.testing.assert_allclose(evaluate.predict_views(model, inputs, 2), evaluate.predict_tta(model, inputs, "flip"),
                               atol=1e-5)
    np.testing.assert_allclose(evaluate.predict_views(model, inputs, 1), evaluate.predict(model, inputs), atol=1e-5)


def test_distillation_run_starts_from_the_given_weights_and_resumes(tmp_path: Path, fer_npz: Path, capsys,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from training import batches, models

    seen, real_batches = [], batches.batches

    def recording_batches(inputs, targets, *args, **kwargs):
        seen.append((inputs, targets))
        return real_batches(inputs, targets, *args, **kwargs)

    monkeypatch.setattr(batches, "batches", recording_batches)

    run, shipped = tmp_path / "run", REPO / "weights" / "emotion.keras"
    common = ["--data", str(fer_npz), "--model", "vcam_deep", "--limit", "200", "--val-limit", "100", "--batch-size", "50",
              "--run-dir", str(run), "--init", str(shipped), "--teacher", str(REPO / "weights" / "emotion.tflite"),
              "--teacher-weight", "0.5", "--teacher-views", "2", "--lr", "1e-12", "--no-augment"]
    assert train.main([*common, "--epochs", "1"]) == 0
    assert "agrees with the labels on" in capsys.readouterr().out
    (train_inputs, targets), (val_inputs, val_targets) = seen[:2]
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


@pytest.mark.parametrize("command", ["export", "compare"])
def test_export_and_compare_check_their_output_path_first(tmp_path: Path, fer_npz: Path, command: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from training import compare

    main = {"export": export.main, "compare": compare.main}[command]
    model = ["--model", str(REPO / "weights" / "emotion.keras")] if command == "export" else []
    for out, message in ((tmp_path / "none" / "out.tflite", "does not exist; create it"), (tmp_path, "is a folder")):
        assert main([*model, "--data", str(fer_npz), "--out", str(out)]) == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]
    assert list(tmp_path.iterdir()) == []


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


def publictest_accuracy(net, fer_npz: Path, faces: int) -> float:
    """`net`'s accuracy on the sample of PublicTest that training.fast --val-limit FACES (seed 1)
    scores, rounded as result.json keeps it."""
    val = load_faces(fer_npz, "PublicTest").sample(faces, 1)
    return round(float(np.mean(net.predict(val.inputs(), verbose=0).argmax(1) == val.labels)), 4)


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
    np.testing.assert_allclose(rates, [train.cosine_lr(epoch, 4, 0.002, warmup=1) for epoch in range(4)], rtol=1e-5)
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


def test_gpu_runs_script_trains_both_nets_and_sends_them_back_in_pieces(tmp_path: Path, fer_npz: Path) -> None:
    """training/gpu_runs.sh as the device tool runs it, on a few faces, here under TensorFlow."""
    import tarfile

    from training.models import load

    out, runs = tmp_path / "out", tmp_path / "runs"
    env = {**os.environ, "OUT": str(out), "RUNS": str(runs), "DATA": str(fer_npz), "BUDGET": "1",
           "FAST_ARGS": "--limit 64 --val-limit 64 --batch-size 32 --fallback-every 0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    done = subprocess.run(["sh", "training/gpu_runs.sh"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = (out / "summary.txt").read_text()
    assert "deep (exit 0)" in summary and "wide (exit 0)" in summary
    for name, convolutions in (("deep", 9), ("wide", 8)):
        pieces = sorted(out.glob(f"{name}.model.keras.part-*"))
        assert pieces and all(piece.stat().st_size <= 15 * 2**20 for piece in pieces)
        rejoined = tmp_path / f"{name}.keras"
        rejoined.write_bytes(b"".join(piece.read_bytes() for piece in pieces))
        model = load(rejoined)
        assert sum(layer.__class__.__name__ == "Conv2D" for layer in model.layers) == convolutions
    with tarfile.open(out / "logs.tar.gz") as logs:
        assert {"deep.log", "wide.log", "deep/result.json", "wide/log.csv"} <= set(logs.getnames())

    # Runs named on the command line replace the two, each with its own flags.
    out = tmp_path / "out-mix"
    done = subprocess.run(["sh", "training/gpu_runs.sh", "mix --model vcam_net --mixup 0.2"],
                          env={**env, "OUT": str(out)}, cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mix (exit 0)" in (out / "summary.txt").read_text() and "deep" not in (out / "summary.txt").read_text()
    assert json.loads((runs / "mix" / "result.json").read_text())["mixup"] == 0.2

    for budget in ("1.5", "08", "0"):
        env["BUDGET"] = budget
        refused = subprocess.run(["sh", "training/gpu_runs.sh"], env=env, cwd=REPO, capture_output=True, text=True,
                                 timeout=60, check=False)
        assert refused.returncode == 2 and "BUDGET must be whole seconds above 0" in refused.stderr, budget
    env["BUDGET"] = "1"
    for specs, message in ((["a/b --model vcam_net"], "a run is its name"), ([""], "a run is its name"),
                           (["-h --model vcam_net"], "a run is its name"),
                           (["x --model vcam_net", "x --model vcam_deep"], "two runs are named 'x'")):
        refused = subprocess.run(["sh", "training/gpu_runs.sh", *specs], env=env, cwd=REPO, capture_output=True,
                                 text=True, timeout=60, check=False)
        assert refused.returncode == 2 and message in refused.stderr and refused.stderr.count("\n") == 1, specs
    assert not (runs / "x").exists()  # refused before any run started


def test_device_kit_sends_the_runs_best_first_and_a_failed_runs_fallback(tmp_path: Path, capsys) -> None:
    from training import device_kit

    runs, out = tmp_path / "runs", tmp_path / "out"
    big = bytes(range(256)) * (device_kit.PIECE // 256 + 4096)  # just over one piece
    for name, rc, accuracy, files in (
            ("good", "0", 0.70, {"model.keras": big, "fallback.keras": b"older"}),
            ("better", "0", 0.72, {"model.keras": b"small net"}),
            ("killed", "124", None, {"model.keras": b"half written", "fallback.keras": b"fallback net"}),
            ("broken", "2", None, {})):
        (runs / name).mkdir(parents=True)
        (runs / f"{name}.log").write_text(f"{name}'s output")
        (runs / f"{name}.rc").write_text(rc + "\n")
        for file, content in files.items():
            (runs / name / file).write_bytes(content)
        if accuracy is not None:
            (runs / name / "result.json").write_text(json.dumps({"val_accuracy": accuracy}))
    (runs / "stale").mkdir()  # an earlier run's folder that was not asked for
    (runs / "stale" / "model.keras").write_bytes(b"not this time")
    assert device_kit.main(["send", str(runs), str(out), "good", "better", "killed", "broken"]) == 0
    summary = (out / "summary.txt").read_text().splitlines()
    assert [line.split(" ")[0] for line in summary if not line.startswith(" ")] == ["better", "good", "killed", "broken"]
    assert "killed (exit 124): no result; see its log" in summary
    assert (out / "better.model.keras.part-aa").read_bytes() == b"small net"
    assert (out / "good.model.keras.part-aa").read_bytes() + (out / "good.model.keras.part-ab").read_bytes() == big
    assert (out / "killed.fallback.keras.part-aa").read_bytes() == b"fallback net"  # never the half-written net
    assert not list(out.glob("stale*")) and not list(out.glob("broken*"))
    import tarfile

    with tarfile.open(out / "logs.tar.gz") as logs:
        assert {"good.log", "broken.log", "better/result.json"} <= set(logs.getnames())
    lines = device_kit.send_runs(runs, ["good", "better"], tmp_path / "tight", room=2**20)
    assert any("left behind: no room" in line for line in lines)
    capsys.readouterr()
    assert device_kit.main(["send", str(tmp_path / "none"), str(out), "good"]) == 2
    assert "is not a folder" in capsys.readouterr().err
