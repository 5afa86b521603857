"""Where the shipped weights and emojis live, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

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
