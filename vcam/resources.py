"""Where the shipped weights and emojis live, in a source checkout and in an installed wheel."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vcam.errors import ModelFileError
from vcam.paths import os_problem

_PACKAGE = Path(__file__).resolve().parent


def _shipped(folder: str) -> Path:
    # A source checkout (or an editable install) has the folder beside the `vcam` package;
    # a wheel installs it inside the package, as `vcam/<folder>` (see pyproject.toml).
    checkout = _PACKAGE.parent
    return checkout / folder if (checkout / "pyproject.toml").is_file() else _PACKAGE / folder


def weights_dir() -> Path:
    return _shipped("weights")


def emojis_dir() -> Path:
    return _shipped("emojis")


def require_model_file(path: Path) -> None:
    """`path` is a model file that can be opened, or one ModelFileError line saying what it is
    instead (missing, a folder, a symlink loop, a name too long) and what to do."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} is missing; reinstall vcam or pass the right path in the config") from None
    except OSError as err:
        raise ModelFileError(f"model file {os_problem(path, err)}") from None
    if stat.S_ISDIR(status.st_mode):
        raise ModelFileError(f"model file {path} is a folder; pass the path of the .tflite file itself")
    if not stat.S_ISREG(status.st_mode):
        raise ModelFileError(f"model file {path} is not a regular file; pass the path of a .tflite file")
