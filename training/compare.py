"""Train several nets with one recipe and compare them on PublicTest: accuracy, per-class recall,
parameters, LiteRT latency (1 and 4 faces) and training time, as a Markdown table.

    python -m training.compare --epochs 60 --precision mixed_bfloat16 --out comparison.md

On a GPU machine without TensorFlow (KERAS_BACKEND=jax), add --no-latency, and here run
`python -m training.compare --rows OUT.json --out comparison.md` to time each net with LiteRT.

Each net trains in its own run folder (`~/.cache/vcam-runs/compare/MODEL`, resumable: rerun the
same command), is exported to float32 LiteRT beside its checkpoint, and is scored and timed
there (with --no-latency: scored as Keras runs it, nothing exported or timed). The table goes
to --out and to standard output; the figures also to OUT with a .json suffix.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from training import evaluate, export, train
from training.command import one_line_errors
from training.data import DataError, load_faces
from training.latency import measure
from training.recipe import DEFAULT_DATA
from vcam.emotions import EMOTIONS
from vcam.paths import require_output_folder

RECIPE_FLAGS: dict[str, type] = {
    "epochs": int, "batch_size": int, "lr": float, "label_smoothing": float, "ferplus_weight": float,
    "erasing": float, "mixup": float, "weight_decay": float, "patience": int, "limit": int, "val_limit": int,
    "seed": int, "precision": str,
}
"""training.train's flags that compare passes on to each net's run, with their types."""
ROW_KEYS = ("model", "accuracy", "recall", "parameters", "train_seconds")


def train_argv(args: argparse.Namespace, model: str, run_dir: Path) -> list[str]:
    argv = ["--data", str(args.data), "--model", model, "--run-dir", str(run_dir)]
    for flag in RECIPE_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    return argv


def train_once(args: argparse.Namespace, model: str, run_dir: Path) -> float:
    """Train (or resume) `model`; returns the seconds all its runs took, kept in the run folder."""
    spent_file = run_dir / "seconds.txt"
    began = time.perf_counter()
    train.run(train.parse_args(train_argv(args, model, run_dir)))
    run_dir.mkdir(parents=True, exist_ok=True)
    spent = float(spent_file.read_text()) if spent_file.exists() else 0.0
    spent += time.perf_counter() - began
    spent_file.write_text(f"{spent:.1f}\n")
    return spent


def parameters(keras_path: Path) -> int:
    from training.models import load

    return int(load(keras_path).count_params())


def architecture_latency(model: str, repeats: int) -> tuple[float, float]:
    """LiteRT milliseconds for 1 and 4 faces of the float32 export of a fresh `model` net (the
    time depends on the layers, not on the weights): for nets trained elsewhere."""
    from training.models import MODELS

    with tempfile.TemporaryDirectory() as folder:
        tflite = Path(folder) / f"{model}.tflite"
        MODELS[model]().export(str(tflite), format="litert", verbose=False)
        return latencies(tflite, repeats)


def latencies(tflite: Path, repeats: int) -> tuple[float, float]:
    """Median LiteRT milliseconds per call for 1 and for 4 faces, on 2 threads as the app runs."""
    return measure(tflite, 1, repeats, 2)[0], measure(tflite, 4, repeats, 2)[0]


def compare_one(args: argparse.Namespace, model: str, faces) -> dict[str, object]:
    run_dir = args.runs / model
    seconds = train_once(args, model, run_dir)
    best, tflite = run_dir / "best.keras", run_dir / "model.tflite"
    if args.no_latency:  # a machine without TensorFlow and LiteRT (the GPU one): Keras scores
        scores, one, four = evaluate.score(best, faces), None, None
    else:
        try:
            print(export.export_checked(best, tflite, faces))
        except export.UnfaithfulExport as err:
            raise DataError(f"exporting {best} failed: {err}") from None
        scores = evaluate.score(tflite, faces)
        one, four = latencies(tflite, args.latency_repeats)
    return {"model": model, "accuracy": scores.accuracy,
            "recall": {emotion: row["recall"] for emotion, row in scores.per_class().items()},
            "parameters": parameters(best), "ms_1_face": one, "ms_4_faces": four, "train_seconds": seconds}


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def table(rows: list[dict], recipe: str) -> str:
    head = ("| net | PublicTest accuracy | " + " | ".join(f"{e} recall" for e in EMOTIONS)
            + " | parameters | 1 face | 4 faces | training |")
    lines = [f"Recipe: `{recipe}`", "", head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        lines.append(f"| {row['model']} | {row['accuracy']:.4f} | "
                     + " | ".join(f"{row['recall'][e]:.3f}" for e in EMOTIONS)
                     + f" | {row['parameters']:,} | {milliseconds(row['ms_1_face'])} | {milliseconds(row['ms_4_faces'])}"
                     f" | {row['train_seconds'] / 60:.0f} min |")
    return "\n".join(lines)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from training.models import MODELS, PRECISIONS

    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["seed_cnn", "seed_vgg16", "vcam_net"])
    parser.add_argument("--runs", type=Path, default=Path.home() / ".cache" / "vcam-runs" / "compare")
    parser.add_argument("--out", type=Path, default=Path("comparison.md"))
    parser.add_argument("--latency-repeats", type=int, default=300)
    parser.add_argument("--score-limit", type=int, help="score on a fixed sample of this many PublicTest faces")
    parser.add_argument("--no-latency", action="store_true",
                        help="score the Keras models and time nothing: for a machine without TensorFlow and LiteRT")
    parser.add_argument("--rows", type=Path, metavar="JSON",
                        help="train nothing: take the rows of a --no-latency run's OUT.json, time each net's "
                             "architecture with LiteRT here, and write the table")
    parser.add_argument("--epochs", type=int, default=30)
    for flag, kind in RECIPE_FLAGS.items():
        if flag != "epochs":
            parser.add_argument(f"--{flag.replace('_', '-')}", type=kind,
                                **({"choices": PRECISIONS} if flag == "precision" else {}))
    args = parser.parse_args(argv)
    require_output_folder(args.out)
    if args.rows:
        return fill_latency(args)
    faces = load_faces(args.data, "PublicTest")
    if args.score_limit:
        faces = faces.sample(args.score_limit)
    rows = [compare_one(args, model, faces) for model in args.models]
    recipe = "python -m training.train " + " ".join(train_argv(args, "MODEL", args.runs / "MODEL")[2:])
    write_table(args.out, rows, recipe)
    return 0


def write_table(out: Path, rows: list[dict], recipe: str) -> None:
    text = table(rows, recipe)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps({"recipe": recipe, "rows": rows}, indent=1))
    print(text)


def fill_latency(args: argparse.Namespace) -> int:
    from training.models import MODELS

    try:
        results = json.loads(args.rows.read_text())
        rows, recipe = results["rows"], results["recipe"]
        missing = sorted({key for row in rows for key in ROW_KEYS if key not in row})
        if missing:
            raise KeyError(f"rows without {', '.join(missing)}")
        unknown = [row["model"] for row in rows if row["model"] not in MODELS]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{args.rows} is not a comparison's JSON ({err}); pass the OUT.json a --no-latency run wrote")
    if unknown:
        raise DataError(f"{args.rows} has nets this checkout does not define: {', '.join(unknown)}")
    for row in rows:
        row["ms_1_face"], row["ms_4_faces"] = architecture_latency(row["model"], args.latency_repeats)
    write_table(args.out, rows, recipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
