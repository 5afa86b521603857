"""Train a net with its augmentation inside the compiled training step, for a GPU.

training.train augments each batch outside the model (tf.data here, a PyDataset under JAX),
which on a GPU machine leaves the GPU waiting on eager per-batch augmentation. Here the same
augmentation layers (training/augment.py) sit in front of the net in one Keras model, so under
KERAS_BACKEND=jax they compile into the training step with it; faces and targets go to `fit` as
arrays. The optimiser and loss are training.train's; the schedule too (linear warm-up, then
cosine decay to zero at the last epoch), with two warm-up epochs by default.

    python -m training.fast --model vcam_deep --epochs 98 --out /tmp/deep
    python -m training.fast --model vcam_deep --time-budget 240 --out /tmp/deep

--webcam RATE adds a webcam's conditions (dark, low contrast, blur, motion blur, far, noise,
JPEG-like blocking: training/augment.py's WebcamConditions, written in keras.ops) to the same
compiled step, each with that chance per face.

--mixup ALPHA and --cutmix FACTOR mix each batch's faces and targets (training/augment.py's
TargetMixer) inside the compiled step as well: the trainer then takes the targets as a second
input and outputs the mixed ones beside the probabilities, which the loss reads
(recipe.compile_for_training); training accuracy is then read against each mixed target's largest
share, validation accuracy against the labels, and the net saves alone.

With --time-budget the number of epochs is planned after each epoch from the second on, from the
last three epochs' durations, so that training ends inside the budget (seconds from the start of
the run) with 30 s to spare. Until half the planned epochs are done the plan follows the speed
either way; after that it only shrinks, when the run would otherwise overrun, so that the
learning rate never climbs again late in the schedule. Each new plan is printed and kept in
result.json; --epochs with the last one repeats the schedule closely.

No checkpoint is picked on PublicTest: the last epoch's net, its batch-norm statistics
re-estimated on clean training faces, is saved as OUT/model.keras (float32, no optimizer state),
with OUT/log.csv, OUT/curves.png and OUT/result.json. Every --fallback-every epochs the net is
also saved as OUT/fallback.keras, in case the run is killed. A loss that stops being finite ends
the run with an error and saves nothing more.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from training.command import one_line_errors

OUTPUTS = ("model.keras", "result.json", "fallback.keras", "log.csv", "curves.png")
"""What a run writes in --out."""
RESERVE_S = 30.0
"""Seconds of --time-budget kept for re-estimating batch norm, scoring and saving."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from training.recipe import add_recipe_flags, check_recipe_flags

    parser = argparse.ArgumentParser(prog="python -m training.fast", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recipe_flags(parser, model="vcam_deep")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for model.keras, log.csv, curves.png and result.json")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--epochs", type=int, help="epochs to train")
    length.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="plan the epochs as training goes so that the run ends within SECONDS")
    parser.add_argument("--max-epochs", type=int, help="the most epochs --time-budget may plan (default 300)")
    parser.add_argument("--warmup", type=int, default=2, help="epochs of linear warm-up (default 2)")
    parser.add_argument("--cutmix", type=float, default=0.0, metavar="FACTOR",
                        help="cutmix: paste a rectangle of another face of the batch and mix the targets by its "
                             "area; Keras' CutMix draws one a from 0 to FACTOR a batch, then each face's share "
                             "from Beta(a, a), mostly near 0 or 1 (0: off, 1 is Keras' default)")
    parser.add_argument("--fallback-every", type=int, default=10, metavar="N",
                        help="save the net as fallback.keras every N epochs (0: never)")
    args = parser.parse_args(argv)
    if args.max_epochs is not None and args.time_budget is None:
        parser.error("--max-epochs goes with --time-budget; with --epochs, give the number alone")
    args.max_epochs = 300 if args.max_epochs is None else args.max_epochs
    check_recipe_flags(parser, args)
    for name in ("epochs", "max_epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    for name in ("warmup", "fallback_every"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more, not {getattr(args, name)}")
    if args.time_budget is not None and not (math.isfinite(args.time_budget) and args.time_budget > 0):
        parser.error(f"--time-budget must be a number of seconds above 0, not {args.time_budget}")
    if not 0.0 <= args.cutmix <= 1.0:
        parser.error(f"--cutmix must be from 0 to 1, not {args.cutmix}")
    if args.mixup and args.cutmix:
        parser.error("--mixup and --cutmix each mix the batch; give one of them")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; pass a folder")
    return args


def planned_epochs(elapsed: float, epoch_seconds: float, budget: float, done: int, reserve: float,
                   most: int) -> int:
    """Epochs in all, `done` of them trained, when each further one takes `epoch_seconds` and
    `reserve` seconds must be left of `budget` after `elapsed`: at least `done`, at most `most`."""
    further = math.floor(max(0.0, budget - reserve - elapsed) / max(epoch_seconds, 1e-9))
    return max(done, min(most, done + further))


def replanned(plan: int, fits: int, done: int) -> int:
    """The epochs to train now that `done` are trained of `plan`, when `fits` would fit the
    budget: `fits` until half the plan is done, afterwards the plan unless it no longer fits."""
    return fits if done < plan / 2 else min(plan, fits)


def build_trainer(net, augmenter, mixing: tuple[str, float] | None = None, seed: int = 0):
    """The model `fit` trains: `augmenter` in front of `net`. With `mixing` (("mixup" or "cutmix",
    amount)) a TargetMixer mixes the augmented faces and their targets too: the trainer then takes
    (faces, targets) and outputs the net's probabilities followed by the mixed targets, for
    recipe.compile_for_training(..., carries_targets=True)."""
    import keras

    from training.augment import TargetMixer
    from training.models import INPUT_SHAPE
    from vcam.emotions import EMOTIONS

    faces = keras.Input(INPUT_SHAPE)
    if mixing is None:
        return keras.Model(faces, net(augmenter(faces)), name="augmented")
    targets = keras.Input((len(EMOTIONS),))
    mixed_faces, mixed_targets = TargetMixer(*mixing, seed=seed)(augmenter(faces), targets)
    return keras.Model([faces, targets], keras.ops.concatenate([net(mixed_faces), mixed_targets], axis=-1),
                       name="augmented")


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    args = parse_args(argv)
    import keras
    import numpy as np

    from training.augment import build_augmenter
    from training.models import build, float32_copy
    from training.plots import plot_curves
    from training.recipe import (
        compile_for_training,
        cosine_lr,
        load_splits,
        recalibrate_batchnorm,
        recalibration_sample,
    )

    train, val = load_splits(args.data, "Training", args.data, "PublicTest", args.limit, args.val_limit, args.seed)
    train_inputs, val_inputs = train.inputs(args.normalisation), val.inputs(args.normalisation)
    train_targets, val_targets = train.targets(), val.targets()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:  # an earlier run's files are never taken for this one's
        (args.out / name).unlink(missing_ok=True)
    keras.utils.set_random_seed(args.seed)

    if args.precision != "float32" and keras.backend.backend() == "jax":
        print("warning: under JAX on a CPU, XLA's jitted bfloat16 gave NaN here; on a GPU the run stops at a "
              "loss that is no longer finite, or train in float32", file=sys.stderr)
    net = build(args.model, args.precision)
    augmenter = build_augmenter(args.seed, erasing=args.erasing, webcam=args.webcam)
    if keras.backend.backend() == "jax":
        # Keras' geometric augmentation layers say they cannot be compiled, which makes the whole
        # model run op by op: 0.5 s a step on the GPU. Under JAX they compile (the affine transform
        # is map_coordinates); TensorFlow's kernel for them has no XLA form, so there they stay out.
        for layer in augmenter.layers:
            layer.supports_jit = True
    mixing = ("mixup", args.mixup) if args.mixup else ("cutmix", args.cutmix) if args.cutmix else None
    trainer = build_trainer(net, augmenter, mixing, seed=args.seed + 6)
    train_x, val_x = train_inputs, val_inputs
    if mixing:  # the targets go in with the faces
        train_x, val_x = [train_inputs, train_targets], [val_inputs, val_targets]
    compile_for_training(trainer, args.lr, args.weight_decay, args.label_smoothing, carries_targets=bool(mixing))
    plan = {"epochs": args.epochs or args.max_epochs}
    plans: list[list[int]] = []
    durations: list[float] = []
    failure: list[str] = []
    out = args.out

    class Plan(keras.callbacks.Callback):
        """Plans the epochs (--time-budget), stops there, saves fallbacks, stops at a non-finite loss."""

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.began = time.monotonic()

        def on_epoch_end(self, epoch, logs=None) -> None:
            done, now = epoch + 1, time.monotonic()
            durations.append(now - self.began)
            if logs and not all(math.isfinite(value) for value in logs.values()):
                fix = "lower --lr" if args.precision == "float32" else "train in float32 (--precision float32)"
                failure.append(f"the loss is no longer finite at epoch {done}; {fix}")
                self.model.stop_training = True
                return
            if args.time_budget is not None and done >= 2:  # the first epoch compiles
                # Runs sharing the GPU speed up or slow each other down as they start, compile and end.
                recent = durations[1:][-3:]
                fits = planned_epochs(now - began, sum(recent) / len(recent), args.time_budget, done,
                                      reserve=RESERVE_S, most=args.max_epochs)
                epochs = replanned(plan["epochs"], fits, done) if plans else fits
                if epochs != plan["epochs"] or not plans:
                    print(f"epoch {done} took {durations[-1]:.1f} s: training {epochs} epochs", flush=True)
                    plan["epochs"] = epochs
                    plans.append([done, epochs])
            if args.fallback_every and done % args.fallback_every == 0:
                partial = out / ".fallback.partial.keras"  # a run killed while saving keeps the last whole one
                float32_copy(net).save(partial)
                os.replace(partial, out / "fallback.keras")
            if done >= plan["epochs"]:
                self.model.stop_training = True

    print(f"{args.model}: training step {'compiled with XLA' if trainer.jit_compile else 'not compiled with XLA'}",
          flush=True)
    fit_began = time.monotonic()
    history = trainer.fit(
        train_x, train_targets, batch_size=args.batch_size, epochs=plan["epochs"], shuffle=True,
        validation_data=(val_x, val_targets), verbose=2,
        callbacks=[keras.callbacks.LearningRateScheduler(
                       lambda epoch: cosine_lr(epoch, plan["epochs"], args.lr, warmup=args.warmup)),
                   Plan(), keras.callbacks.CSVLogger(out / "log.csv")])
    seconds = time.monotonic() - fit_began
    if failure:
        print(f"error: {failure[0]}; nothing saved from this run", file=sys.stderr)
        return 1
    plot_curves(out / "log.csv", out / "curves.png")
    epochs = len(history.history["loss"])
    final = float32_copy(net)
    recalibrate_batchnorm(final, recalibration_sample(train_inputs, args.batch_size, seed=args.seed), args.batch_size)
    probabilities = final.predict(val_inputs, batch_size=512, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(1) == val.labels))
    final.save(out / "model.keras")
    result = {"model": args.model, "epochs": epochs, "train_seconds": round(seconds, 1),
              "val_accuracy": round(accuracy, 4), "faces": len(train), "val_faces": len(val),
              "backend": keras.backend.backend(), "plans": plans,
              **{key: getattr(args, key) for key in ("precision", "lr", "warmup", "batch_size", "erasing", "webcam",
                                                    "normalisation",
                                                    "mixup", "cutmix", "weight_decay", "label_smoothing", "seed", "time_budget",
                                                    "max_epochs")}}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"trained {args.model} for {epochs} epochs in {seconds:.0f} s; PublicTest accuracy {accuracy:.4f}; "
          f"saved {out / 'model.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
