"""vcam's settings: one dataclass with defaults, read from a TOML file, overridden by flags."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from vcam.errors import VcamError

CONFIG_FILE = Path(user_config_dir("vcam")) / "config.toml"


@dataclass(frozen=True)
class Config:
    detector: str = "full"
    """BlazeFace model: "full" (faces near and far, turned and half out of frame: the default, it
    finds the face in 98 % of the test clip's frames) or "short" (faster, for one person facing
    the camera from under 2 m: 80 % of the same frames)."""
    score_threshold: float | None = None
    """Least detector score for a face; None takes the model's own default (0.5 short, 0.6 full)."""
    placement: str = "face"
    """Where the emoji goes: "face", "badge" or "corner"."""
    emoji_dir: Path | None = None
    """A folder of the user's own <emotion>.png files; None uses the shipped emojis."""
    emotion_model: Path | None = None
    detector_model: Path | None = None
    smoothing: float = 0.4
    switch_margin: float = 0.15
    threads: int = 2

    def __post_init__(self) -> None:
        # Imported here: config is read before the heavier modules are needed.
        from vcam.detect import DETECTORS
        from vcam.overlay import PLACEMENTS

        for name, value, allowed in (("detector", self.detector, DETECTORS), ("placement", self.placement, PLACEMENTS)):
            if value not in allowed:
                raise VcamError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        numbers = (("score_threshold", self.score_threshold, 0.0, 1.0), ("smoothing", self.smoothing, 0.0, 1.0),
                   ("switch_margin", self.switch_margin, 0.0, 1.0))
        for name, value, low, high in numbers:
            if value is not None and not (isinstance(value, int | float) and low <= value <= high):
                raise VcamError(f"{name} must be a number from {low} to {high}, not {value!r}")
        if not isinstance(self.threads, int) or isinstance(self.threads, bool) or self.threads < 1:
            raise VcamError(f"threads must be a whole number of at least 1, not {self.threads!r}")

    def replace(self, **changes: Any) -> Config:
        """A copy with the given fields changed; None values (flags not given) change nothing."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})


_PATH_FIELDS = {"emoji_dir", "emotion_model", "detector_model"}


def load_config(path: Path | None = None) -> Config:
    """The settings in `path` (default: the user's CONFIG_FILE), defaults for what it leaves out.

    A missing default file means defaults; a file the user named must exist."""
    if path is None:
        path = CONFIG_FILE
        if not path.exists():
            return Config()
    if not path.is_file():
        raise VcamError(f"config file {path} does not exist; check the --config path")
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise VcamError(f"config file {path} is not valid TOML ({err}); fix or delete it") from None
    known = {field.name for field in dataclasses.fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise VcamError(f"config file {path} has unknown settings {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return Config(**{key: Path(value).expanduser() if key in _PATH_FIELDS else value for key, value in values.items()})
    except VcamError as err:
        raise VcamError(f"config file {path}: {err}") from None
    except TypeError as err:
        raise VcamError(f"config file {path} has a value of the wrong type ({err}); fix it") from None
