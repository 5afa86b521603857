"""Average the weights of a run's last epochs into one model (stochastic weight averaging).

    python -m training.train --model vcam_net --epochs 90 --keep-epochs
    python -m training.average --run-dir ~/.cache/vcam-runs/vcam_net --last 10

The epochs of one run late in its schedule lie around one wide minimum; their mean lies nearer
its middle and often generalises better than any one of them (Izmailov et al. 2018). Every
weight is averaged; batch-norm statistics do not average meaningfully, so they are then
re-estimated on clean training faces, as training does before every validation: by default on
the faces the run trained on, as its recipe.json records them (`--data`, `--split` and
`--batch-size` choose others). With a
schedule that decays to zero the last epochs move little and the gain is small; training.reproduce
therefore ships whichever of the average and the best epoch scores higher.
Writes `averaged.keras` (float32, no optimizer state) into the run folder, or --out; score it
with training.evaluate and ship it with training.export like any checkpoint.

`--models A.keras B.keras ...` averages the given checkpoints instead, a file named twice counting
twice: a model and its fine-tunes (`training.train --init`) lie in one basin too, and their mean
(Wortsman et al. 2022, "WiSE-FT") often keeps what each gained. Pass `--data` the faces they
trained on (default data/fer2013.npz):

    python -m training.average --models weights/emotion.keras ~/.cache/vcam-runs/cuts/epochs/epoch_003.keras \
        --data data/fer2013-app-cuts.npz --out soup.keras

Batch-norm statistics measured on other faces than the training faces cost accuracy where it
matters most: three epochs of a fine-tune on the app's cuts, averaged with statistics from
FER2013's faces alone, read 0.6320 under the webcam conditions; from the run's own faces, 0.6369.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.data import DataError, load_faces
from training.recipe import DEFAULT_DATA, recalibrate_batchnorm, recalibration_sample
from vcam.paths import atomic_output, require_output_folder

EPOCH_FILE = re.compile(r"epoch_(\d+)\.keras")


class AverageError(DataError):
    """Checkpoints that cannot be averaged; the message says which and what to do."""


def epoch_checkpoints(run_dir: Path, last: int) -> list[Path]:
    """The `last` highest-numbered `epochs/epoch_NNN.keras` of a run folder, oldest first."""
    found = sorted((int(match.group(1)), path) for path in (run_dir / "epochs").glob("epoch_*.keras")
                   if (match := EPOCH_FILE.fullmatch(path.name)))
    if not found:
        raise AverageError(f"{run_dir / 'epochs'} holds no epoch_NNN.keras checkpoints; train with --keep-epochs")
    if len(found) < last:
        raise AverageError(f"{run_dir / 'epochs'} holds {len(found)} epoch checkpoints, fewer than --last {last}; "
                           f"pass --last {len(found)} or less")
    return [path for _, path in found[-last:]]


def average_weights(paths: list[Path]):
    """The model of `paths[0]`, computing in float32, with each weight the mean of that weight
    over all `paths` (batch-norm statistics included; re-estimate them before use)."""
    from training.models import load

    def opened(path: Path):
        try:
            return load(path)
        except (OSError, ValueError) as err:
            raise AverageError(f"cannot read {path} ({str(err).splitlines()[0]}); "
                               "leave it out with a smaller --last or retrain that epoch") from None

    model = opened(paths[0])
    sums = [np.asarray(weight, np.float64) for weight in model.get_weights()]
    for path in paths[1:]:
        weights = opened(path).get_weights()
        if [w.shape for w in weights] != [s.shape for s in sums]:
            raise AverageError(f"{path} is another net than {paths[0]}; average checkpoints of one run only")
        for total, weight in zip(sums, weights):
            total += weight
    model.set_weights([(total / len(paths)).astype(weight.dtype) for total, weight in zip(sums, model.get_weights())])
    return model


@dataclass(frozen=True)
class NormFaces:
    """The faces to re-estimate batch norm on: `split` of `data`, in batches of `batch_size`."""

    data: Path = DEFAULT_DATA
    split: str = "Training"
    batch_size: int = 128

    def __str__(self) -> str:
        return f"{self.split} of {self.data}"


def run_norm_faces(run_dir: Path) -> NormFaces:
    """The faces `run_dir` trained on, as its recipe.json records them; the defaults for a run
    folder without one."""
    try:
        recipe = json.loads((run_dir / "recipe.json").read_text())
    except (OSError, ValueError):
        return NormFaces()
    return NormFaces(Path(recipe.get("data", DEFAULT_DATA)), recipe.get("train_split", NormFaces.split),
                     recipe.get("batch_size", NormFaces.batch_size))


def average_run(run_dir: Path, last: int, norm: NormFaces, out: Path | None = None) -> str:
    """Average the `last` epochs of `run_dir` into `out` (default RUN_DIR/averaged.keras), batch
    norm re-estimated on `norm`; returns the summary line."""
    out = out or run_dir / "averaged.keras"
    paths = epoch_checkpoints(run_dir, last)
    average_into(paths, out, norm)
    return f"averaged {len(paths)} epochs ({paths[0].name} to {paths[-1].name}) into {out}, batch norm from {norm}"


def average_models(paths: list[Path], out: Path, norm: NormFaces) -> str:
    """Average the checkpoints `paths` (one net) into `out`; returns the summary line."""
    for path in paths:
        if not path.is_file():
            raise AverageError(f"{path} does not exist; pass .keras files that training saved")
    average_into(paths, out, norm)
    return f"averaged {len(paths)} models ({', '.join(path.name for path in paths)}) into {out}, batch norm from {norm}"


def average_into(paths: list[Path], out: Path, norm: NormFaces) -> None:
    """The mean of `paths`, batch norm re-estimated on `norm`, written to `out`."""
    require_output_folder(out)
    faces = load_faces(norm.data, norm.split)
    model = average_weights(paths)
    recalibrate_batchnorm(model, recalibration_sample(faces.inputs(), norm.batch_size), norm.batch_size)
    with atomic_output(out) as partial:  # keeps the .keras suffix, which Keras requires
        model.save(partial)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.average", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path, help="a run folder trained with --keep-epochs")
    source.add_argument("--models", type=Path, nargs="+", help="checkpoints of one net to average (with --out)")
    parser.add_argument("--last", type=int, default=10, help="average this many of the latest epochs (default 10)")
    parser.add_argument("--data", type=Path, help="faces to re-estimate batch norm on (default: the run's, "
                        f"from its recipe.json; with --models, {DEFAULT_DATA})")
    parser.add_argument("--split", help="split of --data for batch norm (default: the run's, or Training)")
    parser.add_argument("--batch-size", type=int, help="the batch size the run trained with (default: the run's, or 128)")
    parser.add_argument("--out", type=Path, help="where to write the model (default: RUN_DIR/averaged.keras)")
    args = parser.parse_args(argv)
    if args.last < 1:
        parser.error(f"--last must be 1 or more, not {args.last}")
    if args.models and args.out is None:
        parser.error("--models needs --out: where to write the averaged model")
    run_dir = args.run_dir.expanduser() if args.run_dir else None
    recorded = run_norm_faces(run_dir) if run_dir else NormFaces()
    norm = NormFaces(args.data or recorded.data, args.split or recorded.split, args.batch_size or recorded.batch_size)
    if args.models:
        print(average_models([path.expanduser() for path in args.models], args.out, norm))
        return 0
    print(average_run(run_dir, args.last, norm, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
