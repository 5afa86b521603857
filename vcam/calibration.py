"""The emotion model's calibration: the temperature that `python -m training.calibrate` fits and
writes beside the model as `<model>.calibration.json`, with the model's SHA-256 so that it never
applies to another model file."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

log = logging.getLogger("vcam")


def calibration_path(model: Path) -> Path:
    return model.with_name(model.stem + ".calibration.json")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_temperature(model: Path) -> float:
    """The calibrated temperature for `model`; 1.0 (its raw probabilities) without a calibration
    of its own, with a one-line warning when a file is there but cannot be used."""
    path = calibration_path(model)
    if not path.is_file():
        return 1.0
    fix = "the model's raw probabilities are used; rerun python -m training.calibrate"
    try:
        calibration = json.loads(path.read_text(encoding="utf-8"))
        temperature, digest = float(calibration["temperature"]), str(calibration["model_sha256"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s is unreadable (%s); %s", path, err, fix)
        return 1.0
    if not 0.05 <= temperature <= 20.0:
        log.warning("%s: temperature %s is out of range; %s", path, temperature, fix)
        return 1.0
    if digest != file_sha256(model):
        log.warning("%s belongs to another model file than %s; %s", path, model.name, fix)
        return 1.0
    return temperature
