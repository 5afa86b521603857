"""Make vcam_net's model on a CPU with one command: train, average, choose, export, calibrate
and score. This was the shipped model (0.6754 on PublicTest) until vcam_deep, which a GPU
trained with training.fast (weights/README.md has its commands).

    python -m training.reproduce                  # writes RUN_DIR/emotion.tflite
    python -m training.reproduce --out weights/emotion.tflite   # ships it, replacing vcam_deep

Training resumes where a previous run of this command stopped (the run folder keeps a
checkpoint every epoch). Of the run's best epoch (`best.keras`) and the mean of its last
`--last` epochs (`averaged.keras`, training.average), the one more accurate on the validation
split is exported, int8-quantized, then calibrated and scored on that split. Both candidates'
scores go to `choice.json` in the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training import average, calibrate, evaluate, export, train
from training.command import one_line_errors
from training.data import DataError, load_faces
from training.recipe import DEFAULT_DATA
from vcam.paths import require_output_folder

RECIPE = ["--model", "vcam_net", "--epochs", "90", "--precision", "mixed_bfloat16", "--seed", "1"]
"""The training flags of the model this command makes; everything else is train.py's default."""
LAST = 10


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reproduce", description=__doc__, allow_abbrev=False,
                                     epilog="Any other flag goes to python -m training.train, after the recipe's "
                                            "(e.g. --epochs 2 --limit 300 for a quick try).",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the FER2013 .npz (default: data/fer2013.npz)")
    parser.add_argument("--run-dir", type=Path, default=Path.home() / ".cache" / "vcam-runs" / "vcam_net-90",
                        help="checkpoint folder (default: ~/.cache/vcam-runs/vcam_net-90)")
    parser.add_argument("--out", type=Path,
                        help="the model to write, with its .keras and .calibration.json beside it "
                             "(default: RUN_DIR/emotion.tflite; weights/emotion.tflite replaces the shipped model)")
    parser.add_argument("--last", type=int, default=LAST, help=f"epochs to average (default {LAST})")
    args, train_flags = parser.parse_known_args(argv)
    if args.last < 1:
        parser.error(f"--last must be 1 or more, not {args.last}")
    run = args.run_dir.expanduser()
    training = [*RECIPE, "--data", str(args.data), "--run-dir", str(run), "--keep-epochs", *train_flags]
    recipe = train.parse_args(training)  # stops a mistyped flag before any work
    if run.exists() and not run.is_dir():
        parser.error(f"--run-dir {run} is a file; pass a folder")
    if args.out is None:
        try:
            run.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"cannot make the run folder {run} ({err.strerror}); pass a writable --run-dir")
        args.out = run / "emotion.tflite"
    require_output_folder(args.out)

    train.run(recipe)
    print(average.average_run(run, args.last, average.run_norm_faces(run)))
    candidates = [run / "best.keras", run / "averaged.keras"]
    try:
        val = load_faces(args.data, "PublicTest")
        scores = {path.name: evaluate.score(path, val).accuracy for path in candidates}
    except (DataError, ValueError, OSError) as err:
        raise DataError(f"cannot score {run}'s models ({str(err).splitlines()[0]}); rerun with --fresh")
    chosen = max(candidates, key=lambda path: scores[path.name])
    (run / "choice.json").write_text(json.dumps({"scores": scores, "chosen": chosen.name}, indent=1))
    print("PublicTest accuracy: " + ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
          + f"; exporting {chosen.name}")

    try:
        print(export.export_checked(chosen, args.out, val, "dynamic"))
    except export.UnfaithfulExport as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(calibrate.calibrate_file(args.out, args.data, "PublicTest"))
    print(evaluate.evaluate_file(args.out, args.data, "PublicTest", json_path=run / "scores.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
