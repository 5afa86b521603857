"""How an emotion model holds up in a webcam's conditions and on faces unlike FER2013's: its
accuracy on clean faces and on the same faces changed each way training/conditions.py changes
them, as one table with each family's mean (the webcam's "conditions' mean", the "transfer mean"
of the faces the app cuts out of a frame itself, rolled or lit from one side).

    python -m training.robustness --model weights/emotion.tflite
    python -m training.robustness --model weights/emotion.tflite --split PublicTest --conditions dark,blur --limit 500
    python -m training.robustness --model weights/emotion.tflite --ensemble other.tflite --tta flip

`--ensemble` scores the mean of several models' probabilities, as `training.train --teacher A B`
teaches it (an ensemble costs each model's time in the app; it measures a teacher, not a model
to ship).

The degradations are fixed and seeded (--seed), so that two models, or two normalisations
(--normalisation, default: the one the model was trained with), are compared on the same faces.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from training.command import model_on_data_parser, one_line_errors
from training.conditions import FAMILY, Condition, Family, degrade, parse_conditions
from training.data import DataError, FaceSet
from training.evaluate import TTA_MODES, model_and_faces, predict, predict_views, require_model_file
from training.models import INPUT_SHAPE
from vcam.choices import Normalisation

SPLIT_NAMES = {"training": "Training", "publictest": "PublicTest", "privatetest": "PrivateTest"}
"""FER2013's split names, looked up in any letter case."""
CLEAN = "clean"
MEAN: dict[Family, str] = {Family.WEBCAM: "conditions' mean", Family.TRANSFER: "transfer mean"}
"""Each family's mean's name in the report."""


def model_input_shape(model: Path) -> tuple[int, ...]:
    """The shape of one input of a .keras or .tflite model, without the batch."""
    if model.suffix == ".keras":
        from training.models import load

        return tuple(int(v) for v in load(model).input_shape[1:])
    from ai_edge_litert.interpreter import Interpreter

    return tuple(int(v) for v in Interpreter(model_path=str(model)).get_input_details()[0]["shape"][1:])


def check_model(model: Path) -> None:
    """DataError, with the fix, unless `model` takes 48×48×1 faces."""
    try:
        shape = model_input_shape(model)
    except (OSError, ValueError, RuntimeError) as err:
        raise DataError(f"{model} cannot be read ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                        "pass a model that training saved") from None
    if shape != INPUT_SHAPE:
        raise DataError(f"{model} takes inputs of shape {shape}, not 48×48×1 faces; pass an emotion model "
                        "that training saved")


def condition_accuracies(model: Path, faces: FaceSet, conditions: list[Condition], normalisation: Normalisation,
                         views: int = 1, seed: int = 0, ensemble: tuple[Path, ...] = ()) -> dict[str, float]:
    """Accuracy on the clean faces and under each condition, in that order, all in one pass of the
    model (of each model: with `ensemble`, of the mean of `model`'s and their probabilities)."""
    sets = [faces.images] + [degrade(faces.images, condition, seed) for condition in conditions]
    inputs = np.concatenate([FaceSet(images, faces.labels).inputs(normalisation) for images in sets])
    probabilities = np.mean([predict_views(member, inputs, views) if views > 1 else predict(member, inputs)
                             for member in (model, *ensemble)], axis=0)
    correct = (probabilities.argmax(axis=1).reshape(len(sets), len(faces)) == faces.labels).mean(axis=1)
    return dict(zip([CLEAN, *conditions], (float(value) for value in correct)))


def family_means(accuracies: dict[str, float]) -> dict[str, float]:
    """The mean accuracy of each family that has a condition in `accuracies`, by the mean's name."""
    means = {}
    for family, name in MEAN.items():
        members = [accuracy for condition, accuracy in accuracies.items()
                   if condition != CLEAN and FAMILY[Condition(condition)] == family]
        if members:
            means[name] = float(np.mean(members))
    return means


def table(accuracies: dict[str, float]) -> str:
    """The report: each row's accuracy and its change from clean in points, then each family's mean."""
    clean = accuracies[CLEAN]
    rows = [f"{'condition':<18}{'accuracy':>9}{'change':>8}"]
    for name, accuracy in accuracies.items():
        rows.append(f"{name:<18}{accuracy:>9.4f}{'' if name == CLEAN else f'{100 * (accuracy - clean):>+8.1f}'}")
    for name, mean in family_means(accuracies).items():
        rows.append(f"{name:<18}{mean:>9.4f}{100 * (mean - clean):>+8.1f}")
    return "\n".join(rows)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = model_on_data_parser("python -m training.robustness", __doc__, "PublicTest",
                                  "the split to score (default PublicTest; any letter case)")
    parser.add_argument("--conditions", default=",".join(Condition), metavar="NAMES",
                        help=f"comma-separated conditions (default all: {','.join(Condition)})")
    parser.add_argument("--limit", type=int, help="score a fixed random sample of this many faces")
    parser.add_argument("--normalisation", type=Normalisation, choices=list(Normalisation),
                        help="normalise faces this way (default: as the model was trained, from its calibration file)")
    parser.add_argument("--tta", choices=TTA_MODES, help="average each face's views, as evaluate --tta")
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' noise (default 0)")
    parser.add_argument("--ensemble", type=Path, nargs="+", default=[], metavar="MODEL",
                        help="score the mean of --model's and these models' probabilities (a teacher for "
                             "training.train --teacher)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the accuracies as JSON")
    args = parser.parse_args(argv)
    try:
        conditions = parse_conditions(args.conditions)
    except ValueError as err:
        raise DataError(f"--conditions: {err}")
    for flag, value, least in (("--limit", args.limit, 1), ("--seed", args.seed, 0)):
        if value is not None and value < least:
            raise DataError(f"{flag} must be {least} or more, not {value}")
    split = SPLIT_NAMES.get(args.split.lower(), args.split)
    faces, normalisation = model_and_faces(args.model, args.data, split, args.normalisation)
    for model in (args.model, *args.ensemble):
        require_model_file(model)
        try:
            check_model(model)
        except ValueError as err:  # a model of the wrong shape
            raise DataError(str(err)) from None
    if args.limit:
        faces = faces.sample(args.limit)
    began = time.perf_counter()
    accuracies = condition_accuracies(args.model, faces, conditions, normalisation,
                                      TTA_MODES[args.tta] if args.tta else 1, args.seed, tuple(args.ensemble))
    print(table(accuracies))
    means = "".join(f", {name} {mean:.4f}" for name, mean in family_means(accuracies).items())
    scored = " + ".join(map(str, (args.model, *args.ensemble))) if args.ensemble else args.model.name
    print(f"{scored} on {len(faces)} {split} faces ({normalisation} normalisation"
          f"{', tta ' + args.tta if args.tta else ''}): clean {accuracies[CLEAN]:.4f}{means} "
          f"({time.perf_counter() - began:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model.name, "ensemble": [str(model) for model in args.ensemble],
                                         "split": split, "faces": len(faces),
                                         "normalisation": normalisation.value, "tta": args.tta, "seed": args.seed,
                                         "accuracy": accuracies}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
