"""Train a net with its augmentation inside the compiled training step, for a GPU.

training.train augments each batch outside the model (tf.data here, a PyDataset under JAX),
which on a GPU machine leaves the GPU waiting on eager per-batch augmentation. Here the same
augmentation layers (training/augment.py) sit in front of the net in one Keras model, so under
KERAS_BACKEND=jax they compile into the training step with it; faces and targets go to `fit` as
arrays. The schedule is training.train's: warm-up, then cosine decay to zero at the last epoch.

    python -m training.fast --model vcam_wide --epochs 120 --out /tmp/wide
    python -m training.fast --model vcam_wide --time-budget 420 --out /tmp/wide

With --time-budget the number of epochs is chosen after each epoch from the second on, from the
last three epochs' durations, so that training ends inside the budget (seconds from the start of
this program) with 30 s to spare; the run prints each new number, and --epochs with the last
one repeats the schedule (when it changed late, only closely). No checkpoint is picked on PublicTest: the
last epoch's net, its batch-norm statistics re-estimated on clean training faces, is saved as
OUT/model.keras (float32, no optimizer state), with OUT/log.csv and OUT/result.json. Every
--fallback-every epochs the net is also saved as OUT/fallback.keras, in case the run is killed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

BEGAN = time.monotonic()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from training.models import MODELS, PRECISIONS
    from training.train import DEFAULT_DATA

    parser = argparse.ArgumentParser(prog="python -m training.fast", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a .npz, a Kaggle fer2013.csv or a class-folder tree")
    parser.add_argument("--model", choices=sorted(MODELS), default="vcam_wide")
    parser.add_argument("--out", type=Path, required=True, help="folder for model.keras, log.csv and result.json")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--epochs", type=int, help="epochs to train")
    length.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="choose the epochs as training goes so that it ends within SECONDS of the start")
    parser.add_argument("--max-epochs", type=int, default=300, help="the most epochs --time-budget may choose")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the cosine schedule")
    parser.add_argument("--warmup", type=int, default=2, help="epochs of linear warm-up")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay; 0: Adam")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--erasing", type=float, default=0.0, help="random erasing factor, as training.train's")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--limit", type=int, help="train on a fixed sample of this many faces (smoke runs)")
    parser.add_argument("--val-limit", type=int, help="validate on a fixed sample of this many faces")
    parser.add_argument("--fallback-every", type=int, default=10, metavar="N",
                        help="save the net as fallback.keras every N epochs (0: never)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be 1 or more, not {args.epochs}")
    if args.time_budget is not None and args.time_budget <= 0:
        parser.error(f"--time-budget must be a number of seconds above 0, not {args.time_budget}")
    if not 0.0 <= args.erasing <= 1.0:
        parser.error(f"--erasing must be from 0 to 1, not {args.erasing}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; pass a folder")
    return args


def planned_epochs(elapsed: float, epoch_seconds: float, budget: float, done: int, reserve: float,
                   most: int) -> int:
    """Epochs in all, `done` of them trained, when each further one takes `epoch_seconds` and
    `reserve` seconds must be left of `budget` after `elapsed`: at least `done`, at most `most`."""
    further = math.floor(max(0.0, budget - reserve - elapsed) / max(epoch_seconds, 1e-9))
    return max(done, min(most, done + further))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import keras
    import numpy as np

    from training.augment import build_augmenter
    from training.data import DataError, load_faces
    from training.models import INPUT_SHAPE, MODELS, float32_copy
    from training.train import cosine_lr, recalibrate_batchnorm, recalibration_sample

    try:
        train = load_faces(args.data, "Training")
        val = load_faces(args.data, "PublicTest")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.limit:
        train = train.sample(args.limit, args.seed)
    if args.val_limit:
        val = val.sample(args.val_limit, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(args.precision)
    try:
        net = MODELS[args.model]()
    finally:
        keras.mixed_precision.set_global_policy(before)
    augmenter = build_augmenter(args.seed, erasing=args.erasing)
    if keras.backend.backend() == "jax":
        # Keras' geometric augmentation layers say they cannot be compiled, which makes the whole
        # model run op by op: 0.5 s a step on the GPU. Under JAX they compile (the affine transform
        # is map_coordinates); TensorFlow's kernel for them has no XLA form, so there they stay out.
        for layer in augmenter.layers:
            layer.supports_jit = True
    faces = keras.Input(INPUT_SHAPE)
    trainer = keras.Model(faces, net(augmenter(faces)), name="augmented")
    trainer.compile(
        optimizer=(keras.optimizers.AdamW(args.lr, weight_decay=args.weight_decay) if args.weight_decay
                   else keras.optimizers.Adam(args.lr)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    plan = {"epochs": args.epochs or args.max_epochs}
    durations: list[float] = []
    out = args.out

    class Plan(keras.callbacks.Callback):
        """Plans the epochs (--time-budget), stops there, saves fallbacks."""

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.began = time.monotonic()

        def on_epoch_end(self, epoch, logs=None) -> None:
            done, now = epoch + 1, time.monotonic()
            durations.append(now - self.began)
            if args.time_budget is not None and done >= 2:  # the first epoch compiles
                # Planned again every epoch from the last three: runs sharing the GPU speed up or
                # slow each other down as they start, compile and end.
                recent = durations[1:][-3:]
                epochs = planned_epochs(now - BEGAN, sum(recent) / len(recent), args.time_budget, done,
                                        reserve=30.0, most=args.max_epochs)
                if epochs != plan["epochs"]:
                    print(f"epoch {done} took {durations[-1]:.1f} s: training {epochs} epochs", flush=True)
                    plan["epochs"] = epochs
            if logs and not all(math.isfinite(value) for value in logs.values()):
                print(f"error: the loss is no longer finite at epoch {done}; train in float32", file=sys.stderr)
                self.model.stop_training = True
            if args.fallback_every and done % args.fallback_every == 0:
                float32_copy(net).save(out / "fallback.keras")
            if done >= plan["epochs"]:
                self.model.stop_training = True

    print(f"{args.model}: {trainer.jit_compile and 'compiled' or 'op by op'} training step", flush=True)
    began = time.monotonic()
    history = trainer.fit(
        train.inputs(), train.targets(), batch_size=args.batch_size, epochs=plan["epochs"], shuffle=True,
        validation_data=(val.inputs(), val.targets()), verbose=2,
        callbacks=[keras.callbacks.LearningRateScheduler(
                       lambda epoch: cosine_lr(epoch, plan["epochs"], args.lr, warmup=args.warmup)),
                   Plan(), keras.callbacks.CSVLogger(out / "log.csv")])
    seconds = time.monotonic() - began
    epochs = len(history.history["loss"])
    final = float32_copy(net)
    recalibrate_batchnorm(final, recalibration_sample(train.inputs(), args.batch_size, seed=args.seed), args.batch_size)
    probabilities = final.predict(val.inputs(), batch_size=512, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(1) == val.labels))
    final.save(out / "model.keras")
    result = {"model": args.model, "epochs": epochs, "train_seconds": round(seconds, 1),
              "val_accuracy": round(accuracy, 4), "precision": args.precision, "lr": args.lr,
              "batch_size": args.batch_size, "erasing": args.erasing, "weight_decay": args.weight_decay,
              "label_smoothing": args.label_smoothing, "seed": args.seed, "faces": len(train)}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"trained {args.model} for {epochs} epochs in {seconds:.0f} s; PublicTest accuracy {accuracy:.4f}; "
          f"saved {out / 'model.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
