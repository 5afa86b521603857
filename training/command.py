"""What the training commands share: how each ends on a problem the user can fix (one line on
stderr, status 2), and the flags of those that run a model on a split of the data."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from vcam.errors import VcamError


def one_line_errors(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """`main`, with a VcamError (DataError, MediaError, …) it raises printed as `error: …` and
    exit status 2 instead of a traceback."""

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except VcamError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return run


def model_on_data_parser(prog: str, description: str | None, split_default: str | None,
                         split_help: str) -> argparse.ArgumentParser:
    """A command's parser with --model (required), --data (default: the FER2013 file beside the
    checkout) and --split (`split_default`, None: every row)."""
    from training.recipe import DEFAULT_DATA

    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a .keras or .tflite emotion model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="a .npz, a Kaggle fer2013.csv or a class-folder tree (default: data/fer2013.npz, see docs/training.md)")
    parser.add_argument("--split", default=split_default, help=split_help)
    return parser
