"""A virtual X display (Xvfb) for the tray tests, and screenshots of it taken by another process."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from waiting import wait_until

SCREEN = (800, 600)


@contextmanager
def virtual_display() -> Iterator[str]:
    """Xvfb on a free display number; yields ":N"."""
    for tool in ("Xvfb", "xdotool"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install xvfb xdotool (.ci/run does)"
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as ready:
        # Xvfb writes its number once it accepts clients (and closes the pipe if it fails).
        assert select.select([ready], [], [], 60)[0], "Xvfb did not start within 60 s"
        number = ready.readline().strip()
    assert number, f"Xvfb failed to start (exit status {xvfb.wait(10)})"
    try:
        yield ":" + number
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def start_client(argv: list[str], env: dict[str, str], ready: Callable[[], bool], what: str, timeout: float = 20.0,
                 log: Path | None = None, attempts: int = 3) -> subprocess.Popen:
    """Start an X client of the tests' desktop (a tray host, a panel) and wait until `ready()`;
    start it again should it end first. A GTK client started as Xvfb comes up sometimes cannot
    open the display though other clients can (measured: trayer, 5 of 30 starts, each time
    started again at once without fault). Its output goes to `log` (kept for the failure's
    message), or nowhere."""
    for _ in range(attempts):
        with open(log, "a") if log else open(os.devnull, "w") as output:
            process = subprocess.Popen(argv, env=env, stdout=output, stderr=output)
        wait_until(lambda: process.poll() is not None or ready(), timeout=timeout, message=what)
        if process.poll() is None:
            return process
    said = log.read_text()[-2000:] if log else ""
    raise AssertionError(f"{argv[0]} ended with status {process.returncode}, {attempts} starts in a row: {said}")


def screenshot(display: str) -> np.ndarray:
    """The whole screen (RGB), taken by another process. Pillow's grab holds this process's GIL
    while it waits for the X server, and pystray's icon thread holds the server (XGrabServer)
    while it docks: taken in here, the two wait on each other for good."""
    grab = subprocess.run([sys.executable, "-c", "import sys; from PIL import ImageGrab; "
                           "sys.stdout.buffer.write(ImageGrab.grab(xdisplay=sys.argv[1]).convert('RGB').tobytes())",
                           display], capture_output=True, timeout=60, check=True)
    return np.frombuffer(grab.stdout, np.uint8).reshape(SCREEN[1], SCREEN[0], 3)


def yellow_pixels(picture: np.ndarray) -> int:
    """Pixels of the emoji's yellow (the grey overlay-off icon has none)."""
    r, g, b = (picture[..., i].astype(int) for i in range(3))
    return int(((r > 200) & (g > 150) & (b < 90)).sum())
