"""The emotion model's calibration: what `python -m training.calibrate` writes beside the model as
`<model>.calibration.json` — the temperature it fitted and the normalisation the model was trained
with — with the model's SHA-256, so that a temperature never applies to another model file.

This module is the one reader of that file."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from vcam.choices import Normalisation

log = logging.getLogger("vcam")


def calibration_path(model: Path) -> Path:
    return model.with_name(model.stem + ".calibration.json")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    """Divides the model's logits; 1.0: its raw probabilities."""
    normalisation: Normalisation = Normalisation.NONE
    """How the model's faces were normalised in training, so the app normalises its crops so."""


def read_calibration(model: Path) -> Calibration:
    """`model`'s calibration. Without a file: the raw probabilities, no normalisation. A file that
    cannot be used for its temperature gives 1.0 with a one-line warning (the model still reads
    faces); a normalisation that is none of Normalisation is a ValueError naming the file, since
    the model would see faces unlike those it learned from."""
    path = calibration_path(model)
    if not path.is_file():
        return Calibration()
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        log.warning("%s is unreadable (%s); %s", path, err, _FIX)
        return Calibration()
    value = recorded.get("normalisation", Normalisation.NONE)
    try:
        normalisation = Normalisation(value)
    except ValueError:
        raise ValueError(f"{path}: normalisation {value!r} is none of {', '.join(Normalisation)}; "
                         "recalibrate the model with python -m training.calibrate") from None
    return Calibration(_temperature(path, recorded, model), normalisation)


_FIX = "the model's raw probabilities are used; rerun python -m training.calibrate"


def _temperature(path: Path, recorded: dict, model: Path) -> float:
    try:
        temperature, digest = float(recorded["temperature"]), str(recorded["model_sha256"])
    except (KeyError, TypeError, ValueError) as err:
        log.warning("%s is unreadable (%s); %s", path, err, _FIX)
        return 1.0
    if not 0.05 <= temperature <= 20.0:
        log.warning("%s: temperature %s is out of range; %s", path, temperature, _FIX)
        return 1.0
    if digest != file_sha256(model):
        log.warning("%s belongs to another model file than %s; %s", path, model.name, _FIX)
        return 1.0
    return temperature


def read_temperature(model: Path) -> float:
    """The calibrated temperature for `model` (see read_calibration)."""
    return read_calibration(model).temperature


def model_normalisation(model: Path) -> Normalisation:
    """The normalisation `model` was trained with (see read_calibration)."""
    return read_calibration(model).normalisation
