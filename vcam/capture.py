"""The capture thread: reads a frame source as fast as it delivers and hands on only the newest
frame, so that a slow pipeline never makes the picture lag behind the camera.

It also owns the camera's health: a source that cannot be opened, or that stops delivering, is
closed and opened again with a growing pause between tries, until it comes back or the thread is
stopped. Nothing here ever raises into the engine; problems become a `CameraStatus`. A camera is
reported working at its first usable frame, not when it opens: one that opens and never sends a
picture would otherwise flip between "working" and "lost" at every retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.retry import Backoff
from vcam.sources import MIN_FRAME_SIDE, FrameSource

log = logging.getLogger("vcam")


@dataclass(frozen=True)
class CameraStatus:
    ok: bool
    message: str
    """The camera's name when it works; the problem and its fix when it does not."""


def as_bgr(frame: np.ndarray) -> np.ndarray | None:
    """A camera frame as 3-channel BGR uint8; None for something that is not a picture."""
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or min(frame.shape[:2]) < MIN_FRAME_SIDE:
        return None
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame if frame.shape[2] == 3 else None


class Capture:
    """Runs `open_source()` and its `read()` on a thread of its own; each good frame goes to
    `on_frame`, each change of health to `on_status`."""

    def __init__(self, open_source: Callable[[], FrameSource], on_frame: Callable[[np.ndarray], None],
                 on_status: Callable[[CameraStatus], None], lost_after: float = 1.0,
                 backoff: Backoff = Backoff()) -> None:
        self._open_source = open_source
        self._on_frame = on_frame
        self._on_status = on_status
        self._lost_after = lost_after
        self._backoff = backoff
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vcam-capture", daemon=True)
        self._status: CameraStatus | None = None

    def start(self) -> Capture:
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to close its source and end; wait for it up to `timeout` seconds (a
        driver that hangs inside a read cannot be interrupted, and is left to end on its own)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _report(self, status: CameraStatus) -> None:
        if self._stop.is_set():
            return  # a capture that was given up on (a hung driver) must not overwrite its successor's news
        if status != self._status:
            self._status = status
            (log.info if status.ok else log.warning)("camera: %s", status.message)
            self._on_status(status)

    def _run(self) -> None:
        delay = self._backoff.first
        while not self._stop.is_set():
            source = self._open()
            if source is None:
                self._stop.wait(delay)  # retry later; stop() ends the wait at once
                delay = self._backoff.after(delay)
                continue
            delay = self._backoff.first
            try:
                self._read_until_lost(source)
            finally:
                source.close()

    def _open(self) -> FrameSource | None:
        try:
            return self._open_source()
        except Exception as err:  # noqa: BLE001 - any failure to open is "camera unavailable"
            self._report(CameraStatus(False, f"{err}; retrying"))
            return None

    def _read_until_lost(self, source: FrameSource) -> None:
        last_good = time.monotonic()
        delivered = False
        while not self._stop.is_set():
            try:
                frame = source.read()
            except Exception as err:  # noqa: BLE001 - a driver error is a lost frame, not a crash
                log.debug("camera read failed: %s", err)
                frame = None
            frame = as_bgr(frame) if frame is not None else None
            if frame is not None:
                last_good = time.monotonic()
                if not delivered:
                    delivered = True
                    self._report(CameraStatus(True, source.name))
                if not self._stop.is_set():
                    self._on_frame(frame)
                continue
            if time.monotonic() - last_good > self._lost_after:
                self._report(CameraStatus(False, (
                    f"{source.name} stopped sending frames (unplugged or taken by another app); retrying" if delivered
                    else f"{source.name} opens but sends no picture (not a camera, or a broken driver); retrying")))
                return
            # A webcam that has just failed answers again at once; do not spin a core on it.
            self._stop.wait(0.01)
