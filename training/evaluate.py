"""Score an emotion model (.keras or .tflite) on labelled faces.

    python -m training.evaluate --model weights/emotion.tflite \\
        --data data/fer2013.npz --split PublicTest

--data takes a FER2013 .npz, a Kaggle fer2013.csv or a class-folder tree; with no --split every
row is scored. Prints overall accuracy and per-class precision and recall, writes a
confusion-matrix PNG, and with --json PATH writes {"accuracy", "per_class", "n", ...}.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.command import model_on_data_parser, one_line_errors
from training.data import DataError, FaceSet, load_faces
from vcam.calibration import model_normalisation
from vcam.choices import Normalisation
from vcam.emotions import EMOTIONS
from vcam.preprocess import face_views


@dataclass(frozen=True)
class Scores:
    confusion: np.ndarray  # rows: true class, columns: predicted

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.n, 1))

    def per_class(self) -> dict[str, dict[str, float | int]]:
        predicted = self.confusion.sum(axis=0)
        actual = self.confusion.sum(axis=1)
        hits = np.diag(self.confusion)
        return {
            emotion: {
                "precision": float(hits[i] / predicted[i]) if predicted[i] else 0.0,
                "recall": float(hits[i] / actual[i]) if actual[i] else 0.0,
                "support": int(actual[i]),
            }
            for i, emotion in enumerate(EMOTIONS)
        }

    def to_json(self) -> dict[str, object]:
        return {"accuracy": self.accuracy, "per_class": self.per_class(), "n": self.n,
                "confusion": self.confusion.tolist(), "classes": list(EMOTIONS)}


def predict(model_path: Path, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities (N, 7) from a .keras model (Keras) or a .tflite model (LiteRT)."""
    if model_path.suffix == ".keras":
        from training.models import load

        return load(model_path).predict(inputs, batch_size=batch_size, verbose=0)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=2)
    index = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]
    chunks = []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start:start + batch_size]
        interpreter.resize_tensor_input(index, list(batch.shape), strict=False)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, batch)
        interpreter.invoke()
        chunks.append(interpreter.get_tensor(output).copy())
    return np.concatenate(chunks)


def require_model_file(model: Path) -> None:
    """DataError, with the fix, unless `model` is a .keras or .tflite file."""
    if not model.is_file() or model.suffix not in (".keras", ".tflite"):
        raise DataError(f"{model} is not a .keras or .tflite file; pass a model that training saved")


def model_and_faces(model: Path, data: Path, split: str | None,
                    normalisation: Normalisation | None = None) -> tuple[FaceSet, Normalisation]:
    """The faces to score `model` on, and the normalisation to give them (`normalisation`, else
    the one the model was trained with); DataError, with the fix, when any cannot be used."""
    require_model_file(model)
    try:
        return load_faces(data, split), normalisation or model_normalisation(model)
    except ValueError as err:  # a split not there, a calibration naming no normalisation
        raise DataError(str(err)) from None


TTA_MODES = {"flip": 2, "crops": 10}
"""Test-time augmentation modes and their views per face (vcam.preprocess.face_views): flip, each
face and its mirror image; crops, the face and its four corner crops of 44×44 pixels scaled back
to 48×48, each mirrored. The app's `classify_views` setting runs the same views."""


def view_count(mode: str) -> int:
    """The views per face of a test-time augmentation mode; ValueError for an unknown mode."""
    if mode not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {mode!r}; pick one of {', '.join(TTA_MODES)}")
    return TTA_MODES[mode]


def tta_views(inputs: np.ndarray, mode: str = "flip") -> list[np.ndarray]:
    """The batches (N, 48, 48, 1) whose probabilities test-time augmentation averages."""
    return face_views(inputs, view_count(mode))


def predict_views(model_path: Path, inputs: np.ndarray, views: int, chunk: int = 2048) -> np.ndarray:
    """The mean of the probabilities (N, 7) over `face_views(inputs, views)`, one model load for
    every `chunk` faces (ten views of all 28,709 training faces would take 2.6 GB at once).
    Costs one pass per view (in the app it would be a batch 2 or 10 times as large)."""
    parts = []
    for start in range(0, len(inputs), chunk):
        batch = face_views(inputs[start:start + chunk], views)
        probabilities = predict(model_path, np.concatenate(batch))
        parts.append(probabilities.reshape(views, len(batch[0]), -1).mean(axis=0))
    return np.concatenate(parts)


def predict_tta(model_path: Path, inputs: np.ndarray, mode: str = "flip") -> np.ndarray:
    """Test-time augmentation: the mean of the probabilities over `tta_views(inputs, mode)`."""
    return predict_views(model_path, inputs, view_count(mode))


def score(model_path: Path, faces: FaceSet, tta: str | None = None,
          normalisation: Normalisation | None = None) -> Scores:
    """`model_path`'s scores on `faces`, normalised as `normalisation` (default: as the model was
    trained, from its calibration file)."""
    inputs = faces.inputs(normalisation or model_normalisation(model_path))
    probabilities = predict_tta(model_path, inputs, tta) if tta else predict(model_path, inputs)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), np.int64)
    np.add.at(confusion, (faces.labels, predicted), 1)
    return Scores(confusion)


def report(scores: Scores) -> str:
    lines = [f"accuracy {scores.accuracy:.4f} on {scores.n} faces", f"{'class':<10}{'precision':>10}{'recall':>8}{'n':>6}"]
    for emotion, row in scores.per_class().items():
        lines.append(f"{emotion:<10}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['support']:>6}")
    return "\n".join(lines)


def evaluate_file(model: Path, data: Path, split: str | None = None, limit: int | None = None,
                  tta: str | None = None, json_path: Path | None = None, confusion: Path | None = None) -> str:
    """Score `model` on `split` of `data` (a fixed sample of `limit` faces when given), write the
    scores as JSON to `json_path` when given and the confusion matrix as a picture (`confusion`,
    default beside the JSON, else MODEL-DATA[-SPLIT]-confusion.png here); returns the report."""
    faces, normalisation = model_and_faces(model, data, split)
    if limit:
        faces = faces.sample(limit)
    try:
        scores = score(model, faces, tta, normalisation)
    except (ValueError, RuntimeError, OSError) as err:
        raise DataError(f"{model} could not be run ({str(err).splitlines()[0] if str(err) else type(err).__name__});"
                        " re-export it with python -m training.export") from None
    if json_path:
        json_path.write_text(json.dumps(scores.to_json(), indent=2))
    confusion = confusion or (json_path.with_suffix(".png") if json_path else
                              Path(f"{model.stem}-{data.stem}{'-' + split if split else ''}-confusion.png"))
    from training.plots import plot_confusion

    plot_confusion(scores.confusion, confusion, f"{model.name} on {data.name}"
                   f"{' ' + split if split else ''}: accuracy {scores.accuracy:.3f}")
    return report(scores)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = model_on_data_parser("python -m training.evaluate", __doc__, None,
                                  "Training, PublicTest or PrivateTest (default: every row)")
    parser.add_argument("--limit", type=int, help="score a fixed random sample of this many faces")
    parser.add_argument("--tta", nargs="?", const="flip", choices=TTA_MODES,
                        help="test-time augmentation: average each face with its mirror image (--tta or --tta flip),"
                             " or over 10 views, 4 corner crops and the face, each mirrored (--tta crops)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the scores as JSON")
    parser.add_argument("--confusion", type=Path, metavar="PNG", help="confusion-matrix image (default: beside --json, else MODEL-DATA-confusion.png here)")
    args = parser.parse_args(argv)
    print(evaluate_file(args.model, args.data, args.split, args.limit, args.tta, args.json, args.confusion))
    return 0


if __name__ == "__main__":
    sys.exit(main())
