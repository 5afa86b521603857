"""The side-by-side of `python -m benchmarks.bench`: the `fer` package from PyPI (its FER class, with its own
default detector — OpenCV's Haar cascade — and its own model) on the same frames as vcam.

fer lives in a virtual environment of its own, made on first use in the user's cache folder: it
pulls TensorFlow and needs OpenCV 4 (OpenCV 5 dropped the Haar cascades it detects with), which
must not meet vcam's OpenCV 5. This is the one vcam command that uses the network, and only to
install the peer; `--no-peer` leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import cv2
import numpy as np
from platformdirs import user_cache_path

from vcam.errors import VcamError

FER_VERSION = "25.10.3"
# fer declares facenet-pytorch (for its optional MTCNN detector, several GB of PyTorch), moviepy
# and ffmpeg for video: its FER class with the default detector needs none of them.
PEER_REQUIREMENTS = ["tensorflow-cpu==2.21.*", "opencv-contrib-python-headless>=4.8,<5", "pandas", "requests",
                     "Pillow", "tqdm", "setuptools<81"]  # fer imports pkg_resources, gone from setuptools 81

# Run by the peer's own Python: it must not import vcam.
PEER_SCRIPT = r"""
import json, sys, time
from pathlib import Path
import cv2
from fer.fer import FER

folder, repeats = Path(sys.argv[1]), int(sys.argv[2])
frames = [cv2.imread(str(path)) for path in sorted(folder.glob("*.png"))]
detector = FER()
for frame in frames:  # warm-up: TensorFlow builds its graph on the first call
    detector.detect_emotions(frame)
faces, began = [], time.perf_counter()
for _ in range(repeats):
    faces = [len(detector.detect_emotions(frame)) for frame in frames]
seconds = time.perf_counter() - began
print(json.dumps({"frames": repeats * len(frames), "seconds": seconds, "faces": faces}))
"""


def peer_environment() -> Path:
    return user_cache_path("vcam") / f"bench-peer-fer-{FER_VERSION}"


def peer_python(folder: Path | None = None, say=print) -> Path:
    """The Python of fer's environment, made (with pip, from PyPI) if it is not there yet."""
    folder = folder or peer_environment()
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if python.exists() and (folder / ".complete").exists():
        return python
    say(f"installing the peer (fer {FER_VERSION}, TensorFlow, OpenCV 4) into {folder}; a few minutes, once")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    except (OSError, subprocess.CalledProcessError) as err:
        raise VcamError(f"could not make the peer's environment in {folder} ({err}); install python3-venv, "
                        "or run with --no-peer") from None
    for args in ([f"fer=={FER_VERSION}", "--no-deps"], PEER_REQUIREMENTS):
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *args], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise VcamError(f"could not install the peer into {folder} ({last}); check the network or run with --no-peer")
    (folder / ".complete").write_text("")
    return python


def first_cpus(cores: int) -> list[int]:
    """The first `cores` of the CPUs this process may run on: where a benchmark pins what it
    measures, so that vcam and fer get the same ones; none where the system cannot pin."""
    return sorted(os.sched_getaffinity(0))[:cores] if hasattr(os, "sched_getaffinity") else []


def pinning(cores: int | None):
    """What pins a child process onto `first_cpus(cores)`, as `preexec_fn`; None when there is nothing to pin."""
    chosen = first_cpus(cores) if cores is not None else []
    return (lambda: os.sched_setaffinity(0, chosen)) if chosen else None


def run_peer(frames: list[np.ndarray], repeats: int, python: Path, cores: int | None = None) -> dict:
    """fer's frames per second over `frames`, each seen `repeats` times, in its own process (on
    the first `cores` CPUs of this one where the system can pin; all of them without)."""
    with tempfile.TemporaryDirectory(prefix="vcam-bench-") as folder:
        for i, frame in enumerate(frames):
            cv2.imwrite(str(Path(folder) / f"{i:03d}.png"), frame)
        done = subprocess.run([str(python), "-c", PEER_SCRIPT, folder, str(repeats)], capture_output=True, text=True,
                              preexec_fn=pinning(cores))
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise VcamError(f"the peer failed: {last}")
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise VcamError(f"the peer printed no result ({done.stdout.strip()[-200:]!r}); "
                        f"delete {peer_environment()} to reinstall it, or run with --no-peer") from None
    return {"name": "fer", "version": FER_VERSION, "frames": result["frames"],
            "fps": result["frames"] / result["seconds"], "faces_found": result["faces"]}
