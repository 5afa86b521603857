"""The recipe's parts that every trainer shares (training.train and training.fast): where the
data is by default, the two splits loaded and sampled, the cosine schedule, compiling a net for
training, early stopping, the run's log, and batch-norm statistics re-estimated on clean faces.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

DEFAULT_DATA_NAME = "data/fer2013.npz"
"""Where `python -m training.pack_data build` puts FER2013 in the checkout (git-ignored), and where
every training command looks for it unless given --data; docs/training.md says how to get it."""
DEFAULT_DATA = Path(__file__).resolve().parents[1] / DEFAULT_DATA_NAME


def add_recipe_flags(parser: argparse.ArgumentParser, model: str) -> None:
    """The flags of the recipe that every trainer takes (training.train and training.fast), with
    `model` as --model's default; check them with check_recipe_flags after parsing."""
    from training.models import MODELS, PRECISIONS
    from vcam.choices import Normalisation

    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="a .npz, a Kaggle fer2013.csv or a class-folder tree")
    parser.add_argument("--model", choices=sorted(MODELS), default=model)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the cosine schedule")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="decoupled weight decay (AdamW) with this coefficient; 0: plain Adam")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--erasing", type=float, default=0.0,
                        help="also erase a random rectangle (2-33 %% of the face); Keras draws each face's chance "
                             "from 0 to this factor, so about half of it is the share of faces erased")
    parser.add_argument("--webcam", type=float, default=0.0, metavar="RATE",
                        help="also degrade faces as a webcam does (dark, low contrast, blur, motion blur, far, "
                             "noise, JPEG: training/augment.py's WebcamConditions), each with this chance per face "
                             "(0: off; 0.1 made the shipped fine-tune)")
    parser.add_argument("--normalisation", type=Normalisation, choices=list(Normalisation),
                        default=Normalisation.NONE,
                        help="even out each face's light before it reaches the net (vcam.choices.Normalisation; "
                             "default none); record it with python -m training.calibrate --normalisation, so the app "
                             "normalises as the model was trained")
    parser.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                        help="mixup: blend each face and its target with another of the batch, with weights drawn "
                             "from Beta(ALPHA, ALPHA) (Keras' MixUp layer; 0: off, 0.2 is common)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="mixed_bfloat16 computes in bfloat16 with float32 weights: 1.46x faster per step for "
                             "vcam_net under TensorFlow on a CPU with AVX-512 BF16 (measured on an AMD EPYC)")
    parser.add_argument("--limit", type=int, help="train on a fixed sample of this many faces (smoke runs)")
    parser.add_argument("--val-limit", type=int, help="validate on a fixed sample of this many faces")
    parser.add_argument("--seed", type=int, default=1)


SHARES = ("erasing", "webcam", "mixup", "weight_decay", "label_smoothing")
"""The recipe's flags that are a share, from 0 to 1."""


def check_recipe_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stop with parser.error at a recipe flag out of its range."""
    for name in ("batch_size", "limit", "val_limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a number above 0, not {args.lr}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, not {args.seed}")
    for name in SHARES:
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must be from 0 to 1, not {getattr(args, name)}")


def cosine_lr(epoch: int, epochs: int, peak: float, warmup: int = 1) -> float:
    """Linear warm-up for `warmup` epochs, then cosine decay to zero at the last epoch."""
    if epoch < warmup:
        return peak * (epoch + 1) / (warmup + 1)
    progress = (epoch - warmup) / max(1, epochs - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def run_log(log_csv: Path) -> tuple[int, float, int]:
    """Epochs already logged in a run folder, the best validation accuracy among them, and the
    epochs logged after the best one (0 when it is the last)."""
    if not log_csv.exists():
        return 0, -math.inf, 0
    with log_csv.open(newline="") as handle:
        accuracies = [float(row["val_accuracy"]) if row.get("val_accuracy") else -math.inf
                      for row in csv.DictReader(handle)]
    if not accuracies:
        return 0, -math.inf, 0
    best = int(np.argmax(accuracies))
    return len(accuracies), accuracies[best], len(accuracies) - 1 - best


def load_splits(train_data: Path, train_split: str, val_data: Path, val_split: str, limit: int | None,
                val_limit: int | None, seed: int):
    """The training and validation faces, each a fixed sample of `limit` / `val_limit` faces when
    given; DataError for a file that cannot be read."""
    from training.data import load_faces

    train, val = load_faces(train_data, train_split), load_faces(val_data, val_split)
    if limit:
        train = train.sample(limit, seed)
    if val_limit:
        val = val.sample(val_limit, seed)
    return train, val


def compile_for_training(model, lr: float, weight_decay: float, label_smoothing: float,
                         carries_targets: bool = False) -> None:
    """The recipe's optimiser and loss: Adam (AdamW with decoupled `weight_decay` above 0),
    categorical cross-entropy with `label_smoothing`, accuracy.

    `carries_targets`: the model outputs its probabilities followed by the targets to score them
    against (training.fast's mixup and cutmix, which mix the targets inside the model); loss and
    accuracy take both from the output and ignore the data's. Accuracy is then read against each
    mixed target's largest share: in training, the face that covers most of the mixed one; in
    validation, where nothing mixes, the label."""
    import keras

    from vcam.emotions import EMOTIONS

    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    loss, metrics = smoothed, ["accuracy"]
    if carries_targets:
        def loss(targets, output):  # noqa: ARG001 - the targets to score are in the output
            return smoothed(output[:, len(EMOTIONS):], output[:, :len(EMOTIONS)])

        def accuracy(targets, output):  # noqa: ARG001
            predicted = keras.ops.argmax(output[:, :len(EMOTIONS)], -1)
            return keras.ops.cast(predicted == keras.ops.argmax(output[:, len(EMOTIONS):], -1), "float32")

        metrics = [keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")]
    model.compile(
        optimizer=(keras.optimizers.AdamW(lr, weight_decay=weight_decay) if weight_decay
                   else keras.optimizers.Adam(lr)),
        loss=loss,
        metrics=metrics,
    )


def early_stopping(patience: int, since_best: int, best: float):
    """Keras' EarlyStopping on val_accuracy that carries on a resumed run's count and best."""
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None) -> None:
            super().on_train_begin(logs)
            if best > -math.inf:
                self.wait, self.best = since_best, best

    return ResumableEarlyStopping(monitor="val_accuracy", mode="max", patience=patience, verbose=1)


def recalibrate_batchnorm(model, sample: np.ndarray, batch_size: int) -> None:
    """Re-estimate `model`'s batch-norm moving statistics on `sample` (clean faces), in
    batches of `batch_size`; the layers' momentum is restored afterwards."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.9  # 50 batches: the old statistics keep a weight of 0.9**50 < 1 %
    try:
        for start in range(0, len(sample), batch_size):
            model(sample[start:start + batch_size], training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum


def recalibration_sample(inputs: np.ndarray, batch_size: int, batches: int = 50, seed: int = 0) -> np.ndarray:
    """A fixed sample of `batches` batches of `inputs`, in their order, to re-estimate batch norm on."""
    picks = np.random.default_rng(seed).choice(len(inputs), min(len(inputs), batches * batch_size), replace=False)
    return inputs[np.sort(picks)]


def batchnorm_recalibration(inputs, batch_size: int, batches: int = 50, seed: int = 0):
    """A callback that re-estimates batch-norm statistics on clean training faces before
    each validation, so that checkpoints and val_accuracy reflect the weights of this epoch.

    Measured: at epoch 10 (learning rate still high) the moving averages lagged the weights so
    far that PublicTest accuracy read 48.5 %; re-estimated on 6,400 faces it read 60.2 %.
    """
    import keras

    sample = recalibration_sample(inputs, batch_size, batches, seed)

    class RecalibrateBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None) -> None:
            recalibrate_batchnorm(self.model, sample, batch_size)

    return RecalibrateBatchNorm()
