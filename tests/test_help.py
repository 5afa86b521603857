"""A training command prints its --help and exits 0: a help text that argparse cannot format
(a bare % in it) was a traceback for the user who asked what the command does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_export_help_prints_and_exits_0() -> None:
    done = subprocess.run([sys.executable, "-m", "training.export", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: python -m training.export" in done.stdout and "97 % of the faces" in done.stdout
