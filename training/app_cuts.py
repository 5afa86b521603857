"""`python -m training.app_cuts`: FER2013's Training faces as the app cuts them, to train on.

FER2013's faces are upright and were cropped before anyone trained on them; the app finds each
face itself and cuts it along its eyes (vcam.detect, vcam.preprocess.crop_face), and a user's head
leans and a window lights one side of it. This writes a copy of a FER2013 .npz in which every
Training face is there twice: as FER2013 has it, and as the app cuts it out of a frame
(training/conditions.py's scene), the head rolled by a random angle of up to --max-roll degrees
and, for a share --side-lit of the faces, lit from a random side. PublicTest and PrivateTest are
kept as they are, so that validation reads FER2013's faces; the transfer checks of
`python -m training.robustness` read the app's cuts of PublicTest's. Train on it with --data:

    python -m training.app_cuts --data data/fer2013.npz --out data/fer2013-app-cuts.npz
    python -m training.train --model vcam_deep --init weights/emotion.keras --data data/fer2013-app-cuts.npz ...

Every other array of the file (labels, FER+ votes, row numbers) follows its face. Seeded: the same
file and seed give the same faces.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from training.command import one_line_errors
from training.conditions import cut_by_the_app, lit_from_one_side
from training.data import DataError
from training.pack_data import require_suffix
from training.recipe import DEFAULT_DATA
from vcam.paths import atomic_output

MAX_ROLL = 25.0
"""The largest roll of a head, in degrees, either way (the transfer check's roll)."""
SIDE_LIT_SHARE = 0.3
"""The share of the cut faces lit from one side."""
SIDE_LIGHT_FLOORS = (0.05, 0.6)
"""The dark side's share of the light, drawn evenly between these two."""


def app_cuts(faces: np.ndarray, rng: np.random.Generator, max_roll: float = MAX_ROLL,
             side_lit: float = SIDE_LIT_SHARE) -> np.ndarray:
    """uint8 (N, 48, 48) faces cut by the app, each rolled by a random angle within ±max_roll and,
    with chance `side_lit`, lit from a random side first."""
    rolls = rng.uniform(-max_roll, max_roll, len(faces))
    lit = rng.random(len(faces)) < side_lit
    floors = rng.uniform(*SIDE_LIGHT_FLOORS, len(faces))
    left = rng.random(len(faces)) < 0.5
    cuts = np.empty_like(faces)
    for index, face in enumerate(faces):
        if lit[index]:
            face = lit_from_one_side(face[None], float(floors[index]), bool(left[index]))[0]
        cuts[index] = cut_by_the_app(face, float(rolls[index]))
    return cuts


def with_app_cuts(data: dict[str, np.ndarray], rng: np.random.Generator, max_roll: float = MAX_ROLL,
                  side_lit: float = SIDE_LIT_SHARE) -> dict[str, np.ndarray]:
    """The arrays of a FER2013 .npz with the app's cut of every Training face added after the
    file's rows, each per-row array following its face."""
    if "images" not in data or "usage" not in data:
        raise DataError("the file has no 'images' and 'usage' arrays; pass the FER2013 .npz that "
                        "python -m training.pack_data build writes")
    usage = data["usage"]
    training = np.flatnonzero(usage == "Training")
    if len(training) == 0:
        raise DataError("the file has no Training faces; pass the FER2013 .npz with its Training split")
    rows = len(usage)
    cuts = app_cuts(data["images"][training], rng, max_roll, side_lit)
    out = {}
    for name, array in data.items():
        if array.ndim and len(array) == rows:
            added = cuts if name == "images" else array[training]
            out[name] = np.concatenate([array, added])
        else:
            out[name] = array
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.app_cuts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the FER2013 .npz (default: data/fer2013.npz)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write, with the app's cuts added")
    parser.add_argument("--max-roll", type=float, default=MAX_ROLL,
                        help=f"the largest roll of a head in degrees, either way (default {MAX_ROLL:g})")
    parser.add_argument("--side-lit", type=float, default=SIDE_LIT_SHARE,
                        help=f"the share of cut faces lit from one side (default {SIDE_LIT_SHARE:g})")
    parser.add_argument("--limit", type=int, help="cut only this many Training faces, a fixed sample (smoke runs)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 0.0 <= args.max_roll <= 90.0:
        parser.error(f"--max-roll must be from 0 to 90 degrees, not {args.max_roll:g}")
    if not 0.0 <= args.side_lit <= 1.0:
        parser.error(f"--side-lit must be from 0 to 1, not {args.side_lit:g}")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, not {args.limit}")
    return args


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(data)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; pass the FER2013 .npz with --data (docs/training.md)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a FER2013 .npz ({err}); pass the file python -m training.pack_data build writes") from None


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_suffix(args.out, ".npz")
    if args.out.resolve() == args.data.resolve():
        raise DataError(f"{args.out} is the input file; write the app's cuts to another file")
    data = read_npz(args.data)
    if args.limit is not None and "usage" in data:
        keep = np.ones(len(data["usage"]), bool)
        training = np.flatnonzero(data["usage"] == "Training")
        dropped = np.random.default_rng(args.seed).permutation(training)[args.limit:]
        keep[dropped] = False
        data = {name: array[keep] if array.ndim and len(array) == len(keep) else array for name, array in data.items()}
    began = time.perf_counter()
    out = with_app_cuts(data, np.random.default_rng(args.seed), args.max_roll, args.side_lit)
    with atomic_output(args.out) as partial:
        np.savez_compressed(partial, **out)
    added = len(out["usage"]) - len(data["usage"])
    print(f"{args.out}: {added} Training faces cut by the app added to {len(data['usage'])} "
          f"({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
