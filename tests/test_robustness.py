"""training.robustness: the shipped model under the webcam conditions, as its model card says,
and one-line refusals of what cannot be scored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from training import robustness
from vcam.resources import weights_dir

REPO = Path(__file__).resolve().parents[1]
SHIPPED = weights_dir() / "emotion.tflite"


def card_figures() -> dict[str, float]:
    """The model card's figures for the tests' sample (rows '| dark on the test sample | 0.xxxx |')."""
    card = (REPO / "weights" / "README.md").read_text()
    return {name: float(value) for name, value in re.findall(r"^\| ([a-z_]+) on the test sample \| (0\.\d{4}) \|", card,
                                                              flags=re.MULTILINE)}


def test_the_shipped_model_holds_its_card_figures_under_three_conditions(fer_npz: Path, tmp_path: Path) -> None:
    """On the PublicTest faces of the tests' sample, no more than a point below the card: two of the
    webcam's conditions and a face the app found and cut itself, rolled."""
    figures = card_figures()
    assert set(figures) == {"clean", "dark", "blur", "rolled"}
    out = tmp_path / "sample.json"
    assert robustness.main(["--model", str(SHIPPED), "--data", str(fer_npz), "--conditions", "dark,blur,rolled",
                            "--json", str(out)]) == 0
    accuracies = json.loads(out.read_text())["accuracy"]
    assert list(accuracies) == ["clean", "dark", "blur", "rolled"]
    for name, accuracy in accuracies.items():
        assert accuracy >= figures[name] - 0.01, f"{name}: {accuracy:.4f} against the card's {figures[name]:.4f}"
    assert all(accuracies[name] < accuracies["clean"] for name in ("dark", "blur", "rolled"))


def test_the_report_prints_a_row_per_condition_and_their_mean(fer_npz: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "robustness.json"
    assert robustness.main(["--model", str(SHIPPED), "--data", str(fer_npz), "--split", "publictest",
                            "--conditions", "noise,far", "--limit", "150", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in printed.splitlines()[1:4]}
    assert list(rows) == ["clean", "noise", "far"]
    saved = json.loads(out.read_text())
    assert saved["split"] == "PublicTest" and saved["faces"] == 150 and saved["normalisation"] == "none"
    for name in ("noise", "far"):
        accuracy = saved["accuracy"][name]
        assert rows[name] == [f"{accuracy:.4f}", f"{100 * (accuracy - saved['accuracy']['clean']):+.1f}"]
    mean = np.mean([saved["accuracy"]["noise"], saved["accuracy"]["far"]])
    assert f"conditions' mean {mean:.4f}" in printed and "transfer mean" not in printed
    # The same faces and seed read the same again.
    assert robustness.main(["--model", str(SHIPPED), "--data", str(fer_npz), "--conditions", "noise,far",
                            "--limit", "150", "--json", str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text())["accuracy"] == saved["accuracy"]


def test_each_family_has_its_own_mean(fer_npz: Path, tmp_path: Path, capsys) -> None:
    """The webcam's conditions and the transfer checks are averaged apart, so that the webcam's
    mean reads as it always has."""
    out = tmp_path / "families.json"
    assert robustness.main(["--model", str(SHIPPED), "--data", str(fer_npz), "--conditions", "blur,app_cut,side_lit",
                            "--limit", "100", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    accuracy = json.loads(out.read_text())["accuracy"]
    means = {line.rsplit(maxsplit=2)[0]: float(line.split()[-2]) for line in printed.splitlines() if "mean" in line
             and not line.startswith("emotion")}
    assert means == pytest.approx({"conditions' mean": accuracy["blur"],
                                   "transfer mean": (accuracy["app_cut"] + accuracy["side_lit"]) / 2}, abs=1e-4)
    assert f"conditions' mean {accuracy['blur']:.4f}, transfer mean " in printed


def assert_refused(argv: list[str], capsys, *words: str) -> None:
    assert robustness.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err
    for word in words:
        assert word in captured.err


def test_an_unknown_condition_is_refused_in_one_line(fer_npz: Path, capsys) -> None:
    assert_refused(["--model", str(SHIPPED), "--data", str(fer_npz), "--conditions", "dark,fog"], capsys,
                   "fog", "choose from dark, low_contrast, blur, jpeg, noise, far")


@pytest.mark.parametrize("flag, value", [("--limit", "0"), ("--seed", "-1")])
def test_a_limit_below_one_or_a_negative_seed_is_refused_in_one_line(fer_npz: Path, capsys, flag: str,
                                                                     value: str) -> None:
    assert_refused(["--model", str(SHIPPED), "--data", str(fer_npz), flag, value], capsys, flag, value)


def test_data_without_the_split_is_refused_in_one_line(fer_npz: Path, capsys) -> None:
    assert_refused(["--model", str(SHIPPED), "--data", str(fer_npz), "--split", "PrivateTest"], capsys,
                   "PrivateTest", "--split")


def test_a_model_that_does_not_take_48_px_gray_faces_is_refused_in_one_line(fer_npz: Path, tmp_path: Path,
                                                                           capsys) -> None:
    other = tmp_path / "colour.keras"
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")]).save(other)
    assert_refused(["--model", str(other), "--data", str(fer_npz), "--limit", "10"], capsys,
                   "(32, 32, 3)", "48×48×1")
    detector = weights_dir() / "face_detection_short_range.tflite"
    assert_refused(["--model", str(detector), "--data", str(fer_npz), "--limit", "10"], capsys, "(128, 128, 3)")
    not_a_model = tmp_path / "emotion.tflite"
    not_a_model.write_bytes(b"not a flatbuffer")
    assert_refused(["--model", str(not_a_model), "--data", str(fer_npz), "--limit", "10"], capsys, "cannot be read")


def test_an_ensemble_scores_the_mean_of_its_models(fer_npz: Path, tmp_path: Path, capsys) -> None:
    from training.data import load_faces
    from vcam.emotions import EMOTIONS

    happy = EMOTIONS.index("happy")
    always_happy = tmp_path / "always_happy.keras"  # softmax of a fixed logit 20 for happy: 1.0 there
    dense = keras.layers.Dense(7, activation="softmax", kernel_initializer="zeros",
                               bias_initializer=keras.initializers.Constant(20.0 * np.eye(7)[happy]))
    keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), dense]).save(always_happy)
    out = tmp_path / "ensemble.json"
    assert robustness.main(["--model", str(SHIPPED), "--ensemble", str(always_happy), "--data", str(fer_npz),
                            "--conditions", "blur", "--json", str(out)]) == 0
    assert f"{SHIPPED} + {always_happy} on" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    # Half of a sure "happy" outweighs anything the shipped model's half can say: every face reads happy.
    share = float(np.mean(load_faces(fer_npz, "PublicTest").labels == happy))
    assert saved["accuracy"] == pytest.approx({"clean": share, "blur": share})
    assert saved["ensemble"] == [str(always_happy)]
    assert_refused(["--model", str(SHIPPED), "--ensemble", str(tmp_path / "missing.tflite"), "--data", str(fer_npz),
                    "--limit", "10"], capsys, "missing.tflite")
