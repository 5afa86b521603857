"""training.evaluate, training.export and training.latency: scoring, test-time views, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from training import evaluate, export
from training.data import load_faces
from vcam.preprocess import prepare_faces

pytestmark = pytest.mark.training

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


def test_quantized_export_of_the_shipped_model_agrees_and_is_smaller(tmp_path: Path, fer_npz: Path) -> None:
    out = tmp_path / "emotion.tflite"
    keras_model = REPO / "weights" / "emotion.keras"
    assert export.main(["--model", str(keras_model), "--out", str(out), "--data", str(fer_npz),
                        "--quantize", "dynamic"]) == 0
    inputs = load_faces(fer_npz, "PublicTest").sample(300).inputs()
    assert export.agreement(keras_model, out, inputs) >= export.AGREEMENT
    assert out.stat().st_size < 0.3 * (REPO / "weights" / "emotion.keras").stat().st_size


def test_agreement_counts_the_faces_keras_is_decided_about() -> None:
    reference = np.array([[0.90, 0.05, 0.05], [0.34, 0.33, 0.33], [0.10, 0.80, 0.10], [0.335, 0.33, 0.335]])
    near_ties_flipped = np.array([[0.90, 0.05, 0.05], [0.33, 0.34, 0.33], [0.10, 0.80, 0.10], [0.33, 0.34, 0.33]])
    assert export.same_picks(reference, near_ties_flipped) == 1.0
    decided_flipped = np.array([[0.05, 0.90, 0.05], [0.34, 0.33, 0.33], [0.10, 0.80, 0.10], [0.33, 0.34, 0.33]])
    assert export.same_picks(reference, decided_flipped) == 0.5
    assert export.same_picks(reference[[1, 3]], decided_flipped[[1, 3]]) == 1.0  # no face decided: nothing to judge


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


def test_predict_views_averages_the_views_chunk_by_chunk(public_test_sample) -> None:
    model, inputs = REPO / "weights" / "emotion.tflite", prepare_faces(public_test_sample[0][:40])
    taught = evaluate.predict_views(model, inputs, 10, chunk=16)  # three chunks, the last one short
    np.testing.assert_allclose(taught, evaluate.predict_tta(model, inputs, "crops"), atol=1e-5)
    views = evaluate.tta_views(inputs, "crops")
    np.testing.assert_allclose(taught, sum(evaluate.predict(model, view) for view in views) / 10, atol=1e-5)
    np.testing.assert_allclose(evaluate.predict_views(model, inputs, 2), evaluate.predict_tta(model, inputs, "flip"),
                               atol=1e-5)
    np.testing.assert_allclose(evaluate.predict_views(model, inputs, 1), evaluate.predict(model, inputs), atol=1e-5)


def test_latency_times_the_batches_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    from training import latency

    assert latency.main(["--model", str(REPO / "weights" / "emotion.tflite"), "--repeats", "3",
                         "--batches", "2", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["2 faces", "10 faces"]
    assert latency.main(["--model", str(REPO / "weights" / "emotion.tflite"), "--batches", "0"]) == 2
    assert "batch sizes must be 1 or more" in capsys.readouterr().err


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
