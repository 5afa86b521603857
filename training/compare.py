"""Train several nets with one recipe and compare them on PublicTest: accuracy, per-class recall,
parameters, LiteRT latency (1 and 4 faces) and training time, as a Markdown table.

    python -m training.compare --epochs 60 --ferplus-weight 0.5 --out comparison.md

Each net trains in its own run folder (`~/.cache/vcam-runs/compare/MODEL`, resumable: rerun the
same command), is exported to float32 LiteRT beside its checkpoint, and is scored there. The
table goes to --out and to standard output; the figures also to OUT with a .json suffix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training import evaluate, export, train
from training.data import DataError, load_faces
from training.latency import measure
from vcam.preprocess import EMOTIONS

RECIPE_FLAGS = ("epochs", "batch_size", "lr", "label_smoothing", "ferplus_weight", "erasing", "mixup", "weight_decay",
                "patience", "limit", "val_limit", "seed", "precision")


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
    status = train.main(train_argv(args, model, run_dir))
    if status != 0:
        raise DataError(f"training {model} failed (status {status}); its run folder is {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    spent = float(spent_file.read_text()) if spent_file.exists() else 0.0
    spent += time.perf_counter() - began
    spent_file.write_text(f"{spent:.1f}\n")
    return spent


def parameters(keras_path: Path) -> int:
    from training.models import load

    return int(load(keras_path).count_params())


def compare_one(args: argparse.Namespace, model: str, faces) -> dict[str, object]:
    run_dir = args.runs / model
    seconds = train_once(args, model, run_dir)
    best, tflite = run_dir / "best.keras", run_dir / "model.tflite"
    if export.main(["--model", str(best), "--out", str(tflite), "--data", str(args.data)]) != 0:
        raise DataError(f"exporting {best} failed")
    scores = evaluate.score(tflite, faces)
    one = measure(tflite, 1, args.latency_repeats, 2)[0]
    four = measure(tflite, 4, args.latency_repeats, 2)[0]
    return {"model": model, "accuracy": scores.accuracy,
            "recall": {emotion: row["recall"] for emotion, row in scores.per_class().items()},
            "parameters": parameters(best), "ms_1_face": one, "ms_4_faces": four, "train_seconds": seconds}


def table(rows: list[dict], recipe: str) -> str:
    head = ("| net | PublicTest accuracy | " + " | ".join(f"{e} recall" for e in EMOTIONS)
            + " | parameters | 1 face | 4 faces | training |")
    lines = [f"Recipe: `{recipe}`", "", head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        lines.append(f"| {row['model']} | {row['accuracy']:.4f} | "
                     + " | ".join(f"{row['recall'][e]:.3f}" for e in EMOTIONS)
                     + f" | {row['parameters']:,} | {row['ms_1_face']:.2f} ms | {row['ms_4_faces']:.2f} ms"
                     f" | {row['train_seconds'] / 60:.0f} min |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from training.models import MODELS, PRECISIONS

    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=train.DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["seed_cnn", "seed_vgg16", "vcam_net"])
    parser.add_argument("--runs", type=Path, default=Path.home() / ".cache" / "vcam-runs" / "compare")
    parser.add_argument("--out", type=Path, default=Path("comparison.md"))
    parser.add_argument("--latency-repeats", type=int, default=300)
    parser.add_argument("--score-limit", type=int, help="score on a fixed sample of this many PublicTest faces")
    parser.add_argument("--epochs", type=int, default=30)
    for flag in RECIPE_FLAGS[1:-1]:
        parser.add_argument(f"--{flag.replace('_', '-')}", type=float if flag in ("lr", "label_smoothing",
                                                                                "ferplus_weight", "erasing", "mixup",
                                                                                "weight_decay") else int)
    parser.add_argument("--precision", choices=PRECISIONS)
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir():
        print(f"error: folder {args.out.parent} does not exist; pick another --out", file=sys.stderr)
        return 2
    try:
        faces = load_faces(args.data, "PublicTest")
        if args.score_limit:
            faces = faces.sample(args.score_limit)
        rows = [compare_one(args, model, faces) for model in args.models]
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    recipe = "python -m training.train " + " ".join(train_argv(args, "MODEL", args.runs / "MODEL")[2:])
    text = table(rows, recipe)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"recipe": recipe, "rows": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
