"""How every training command ends on a problem the user can fix: one line on stderr, status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

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
