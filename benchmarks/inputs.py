"""What every benchmark reads by default, and the CPU its figures were measured on: the real
photos and clip in tests/media and the FER2013 sample in tests/data, both in the repository (pass
--media or --data for other inputs, e.g. the whole FER2013 that docs/training.md says how to get)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "media"
FER_SAMPLE = REPO / "tests" / "data" / "fer2013-sample.npz"


def cpu_name() -> str:
    """The CPU's model name as `lscpu` prints it, for every figure's caption."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or platform.machine() or "unknown CPU"
