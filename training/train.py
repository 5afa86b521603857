"""Train an emotion network on FER2013, checkpointing every epoch; rerun the same command to resume.

    python -m training.train --model vcam_net --epochs 30
    python -m training.train --model seed_cnn --run-dir ~/.cache/vcam-runs/seed_cnn
    python -m training.train --model vcam_deep --init weights/emotion.keras --teacher weights/emotion.tflite \
        --teacher-weight 0.5 --lr 3e-4 --epochs 40 --run-dir ~/.cache/vcam-runs/distilled

The run folder keeps `last.keras` (model and optimizer, written every epoch), `best.keras`
(best validation accuracy so far), `log.csv` and `curves.png`; with --keep-epochs also
`epochs/epoch_NNN.keras` for every epoch, which `python -m training.average` averages.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.recipe import (
    add_recipe_flags,
    batchnorm_recalibration,
    check_recipe_flags,
    compile_for_training,
    cosine_lr,
    early_stopping,
    load_splits,
    run_log,
)
from vcam.calibration import model_normalisation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recipe_flags(parser, model="vcam_net")
    parser.add_argument("--train-split", default="Training", help="split to train on (default: Training)")
    parser.add_argument("--val-split", default="PublicTest", help="split to validate on (default: PublicTest)")
    parser.add_argument("--val-data", type=Path, help="validation data, when it is another file than --data")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--ferplus-weight", type=float, default=0.0,
                        help="mix the FER+ vote distribution into the targets with this weight (0: FER2013 labels "
                             "only, 1: FER+ votes only; needs the .npz with ferplus_votes)")
    parser.add_argument("--teacher", type=Path, nargs="+",
                        help="one or more trained models (.keras or .tflite) whose probabilities, averaged "
                             "over --teacher-views views of each training face and over the models, are mixed "
                             "into the targets with --teacher-weight (distillation; several models: an "
                             "ensemble as the teacher)")
    parser.add_argument("--teacher-weight", type=float, default=0.0,
                        help="the teacher's share of the targets (0: off, 1: the teacher's alone)")
    parser.add_argument("--teacher-views", type=int, choices=(1, 2, 10), default=10,
                        help="views per face the teacher averages, as evaluate --tta: 2 flip, 10 crops (default 10)")
    parser.add_argument("--init", type=Path,
                        help="start a new run from this .keras network's weights instead of at random "
                             "(fine-tuning; the same --model)")
    parser.add_argument("--patience", type=int, default=0,
                        help="stop early when validation accuracy has not improved for this many epochs (0: never);"
                             " the best epoch's checkpoint is best.keras either way")
    parser.add_argument("--no-augment", action="store_true", help="train on the faces as they are")
    parser.add_argument("--run-dir", type=Path, help="checkpoint folder (default: ~/.cache/vcam-runs/MODEL)")
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming the run folder")
    parser.add_argument("--keep-epochs", action="store_true",
                        help="also keep every epoch's checkpoint as epochs/epoch_NNN.keras (14 MB each for vcam_net),"
                             " for python -m training.average")
    args = parser.parse_args(argv)
    check_recipe_flags(parser, args)
    for name in ("ferplus_weight", "teacher_weight"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must be from 0 to 1, not {getattr(args, name)}")
    if args.teacher is None and args.teacher_views != 10:
        parser.error("--teacher-views needs --teacher: name the teacher model, or drop --teacher-views")
    if (args.teacher is None) != (args.teacher_weight == 0):
        parser.error("--teacher and --teacher-weight go together: name the teacher model and give it a weight above 0")
    for flag, path, suffixes in (*(("--teacher", teacher, (".keras", ".tflite")) for teacher in args.teacher or ()),
                                 ("--init", args.init, (".keras",))):
        if path is not None and (not path.is_file() or path.suffix not in suffixes):
            parser.error(f"{flag} {path} is not a {' or '.join(suffixes)} file; pass a model that training saved")
    if args.patience < 0:
        parser.error(f"--patience must be 0 (never stop early) or more, not {args.patience}")
    args.run_dir = (args.run_dir or Path.home() / ".cache" / "vcam-runs" / args.model).expanduser()
    return args


RECIPE_KEYS = ("model", "train_split", "precision", "lr", "label_smoothing", "weight_decay", "batch_size",
               "ferplus_weight", "teacher", "teacher_weight", "teacher_views", "init", "erasing", "webcam",
               "normalisation", "mixup",
               "no_augment", "limit", "seed")
"""The flags a run keeps from start to end: a resumed run must be given the same ones."""


def recipe_value(value: object) -> object:
    """A flag's value as recipe.json keeps it: paths as strings, one teacher as its path alone
    (as runs kept it before --teacher took several), several as a list."""
    if isinstance(value, list):
        return recipe_value(value[0]) if len(value) == 1 else [recipe_value(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def recipe_change(recipe_json: Path, args: argparse.Namespace) -> str | None:
    """The first flag in which `args` differs from the recipe a run folder started with, as
    '--flag VALUE' of the start, or None (no recipe saved: a run from before recipes were kept)."""
    try:
        saved = json.loads(recipe_json.read_text())
    except (OSError, ValueError):
        return None
    defaults = parse_args([])
    for key in RECIPE_KEYS:
        started = saved.get(key, getattr(defaults, key))
        if started != recipe_value(getattr(args, key)):
            return f"--{key.replace('_', '-')} {started}"
    return None


def initial_weights(init: Path, name: str) -> tuple[list[np.ndarray] | None, str | None]:
    """The weights of the network saved in `init`, checked against --model `name`'s layers; or
    None and the reason they do not fit."""
    from training.models import MODELS, load

    try:
        theirs = load(init).get_weights()
    except (OSError, ValueError) as err:
        return None, f"cannot read {init} ({str(err).splitlines()[0]}); pass a .keras file that training saved"
    if [w.shape for w in theirs] != [w.shape for w in MODELS[name]().get_weights()]:
        return None, f"{init} is another network than --model {name}; pass the --model it was trained as"
    return theirs, None


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


def run(args: argparse.Namespace) -> None:
    """Train as `args` (parse_args' flags) say; DataError for data or a run folder that cannot be used."""
    import keras

    from training.augment import build_augmenter
    from training.batches import batches
    from training.data import DataError
    from training.evaluate import predict_views
    from training.models import build
    from training.plots import plot_curves

    train, val = load_splits(args.data, args.train_split, args.val_data or args.data, args.val_split,
                             args.limit, args.val_limit, args.seed)
    train_inputs = train.inputs(args.normalisation)

    # Check the teacher and the initial weights before anything in the run folder is touched.
    init_weights = None
    if args.init:
        init_weights, problem = initial_weights(args.init, args.model)
        if problem:
            raise DataError(f"{problem}")
    taught = None
    if args.teacher:
        began = time.perf_counter()
        outputs = []
        for teacher in args.teacher:
            try:
                outputs.append(predict_views(teacher, train.inputs(model_normalisation(teacher)), args.teacher_views))
            except (OSError, ValueError, RuntimeError) as err:
                raise DataError(f"cannot run the teacher {teacher} ({str(err).splitlines()[0]}); pass a model "
                                "that training saved") from None
        taught = np.mean(outputs, axis=0)
        print(f"teacher {', '.join(map(str, args.teacher))} ({args.teacher_views} views) agrees with the labels on "
              f"{np.mean(taught.argmax(1) == train.labels):.4f} of the training faces "
              f"({time.perf_counter() - began:.0f} s)")

    keras.utils.set_random_seed(args.seed)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    last, best_path, log_csv = args.run_dir / "last.keras", args.run_dir / "best.keras", args.run_dir / "log.csv"
    if args.fresh:
        for path in (last, best_path, log_csv):
            path.unlink(missing_ok=True)
    start, best_so_far, since_best = run_log(log_csv)
    resuming = last.exists() and start > 0
    if resuming and (change := recipe_change(args.run_dir / "recipe.json", args)):
        raise DataError(f"{args.run_dir} was started with {change}; resume it with the same flags, or pass --fresh "
              "to start over")
    if resuming and start < args.epochs and args.patience and since_best >= args.patience:
        print(f"{args.run_dir}: no better validation accuracy in the {since_best} epochs after the best one; "
              "it stopped early already (pass --fresh to start over)")
        return
    if resuming:
        try:
            model = keras.models.load_model(last)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot resume from {last} ({str(err).splitlines()[0]}); rerun with --fresh to start over")
        print(f"resuming {last} at epoch {start + 1}/{args.epochs}")
    else:
        start, best_so_far = 0, -math.inf
        for path in (log_csv, *args.run_dir.glob("epochs/epoch_*.keras")):  # an earlier run's epochs
            path.unlink(missing_ok=True)
        if args.precision != "float32" and keras.backend.backend() == "jax":
            print("warning: under JAX on a CPU, XLA's jitted bfloat16 gave NaN here; on a GPU check val_loss, "
                  "or train in float32", file=sys.stderr)
        model = build(args.model, args.precision)
        if init_weights is not None:
            model.set_weights(init_weights)
        compile_for_training(model, args.lr, args.weight_decay, args.label_smoothing)
    if start >= args.epochs:
        print(f"{args.run_dir}: all {args.epochs} epochs done already (pass a larger --epochs or --fresh)")
        return

    # A resumed run draws other shuffles and augmentations than its first epochs did.
    stream_seed = args.seed + 1000 * start
    augmenter = None if args.no_augment else build_augmenter(stream_seed, erasing=args.erasing,
                                                                 webcam=args.webcam)
    train_targets = train.targets(args.ferplus_weight)
    if taught is not None:
        train_targets = (1 - args.teacher_weight) * train_targets + args.teacher_weight * taught
    if start == 0:
        (args.run_dir / "recipe.json").write_text(json.dumps(
            {key: recipe_value(value) for key, value in vars(args).items()}, indent=1))

    callbacks = [
        batchnorm_recalibration(train_inputs, args.batch_size, seed=args.seed),
        keras.callbacks.LearningRateScheduler(lambda epoch: cosine_lr(epoch, args.epochs, args.lr)),
        keras.callbacks.ModelCheckpoint(last),
        keras.callbacks.ModelCheckpoint(best_path, monitor="val_accuracy", mode="max", save_best_only=True,
                                        initial_value_threshold=best_so_far if best_so_far > -math.inf else None),
    ]
    if args.keep_epochs:
        (args.run_dir / "epochs").mkdir(exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(args.run_dir / "epochs" / "epoch_{epoch:03d}.keras"))
    callbacks.append(keras.callbacks.CSVLogger(log_csv, append=True))  # last: a logged epoch is a saved one
    if args.patience:
        callbacks.append(early_stopping(args.patience, since_best, best_so_far))
    began = time.perf_counter()
    model.fit(batches(train_inputs, train_targets, args.batch_size, stream_seed, training=True, augmenter=augmenter,
                      mixup=args.mixup),
              validation_data=batches(val.inputs(args.normalisation), val.targets(), args.batch_size),
              epochs=args.epochs, initial_epoch=start, callbacks=callbacks,
              shuffle=False, verbose=2)  # the batches shuffle themselves, seeded
    plot_curves(log_csv, args.run_dir / "curves.png")
    _, best, _ = run_log(log_csv)
    print(f"trained {args.model} epochs {start + 1}-{args.epochs} on {len(train)} faces in "
          f"{time.perf_counter() - began:.0f} s; best val accuracy {best:.4f}; saved {best_path}")


if __name__ == "__main__":
    sys.exit(main())
