"""The virtual-camera seam: a pyvirtualcam backend, registered with `pyvirtualcam.register_backend`,
that records what the real `pyvirtualcam.Camera` sends to it instead of writing to a v4l2loopback
device (which this machine's kernel cannot load). Everything in front of it runs for real."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import numpy as np
import pyvirtualcam
from pyvirtualcam.util import decode_fourcc


@dataclass
class SentFrame:
    time: float
    data: np.ndarray


class Recorder:
    """What one test's virtual camera received; `wait_for` blocks until enough has arrived."""

    def __init__(self) -> None:
        self.frames: list[SentFrame] = []
        self.opened: list[dict] = []
        self.fail_opens = 0
        """Opens to refuse, as a machine without the driver does."""
        self.vanish_after: int | None = None
        """Frames after which `send` raises, as when the device is removed."""
        self._changed = threading.Condition()

    def wait_for(self, condition, timeout: float = 20.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self), timeout):
                raise AssertionError(f"timed out after {timeout} s; {len(self.frames)} frames recorded")

    def record(self, frame: np.ndarray) -> None:
        with self._changed:
            self.frames.append(SentFrame(time.perf_counter(), frame.copy()))
            self._changed.notify_all()

    def note_open(self, settings: dict) -> None:
        with self._changed:
            self.opened.append(settings)
            self._changed.notify_all()


_recorders: dict[str, Recorder] = {}
_names = itertools.count()


class RecordingBackend:
    """A pyvirtualcam backend (see `pyvirtualcam.camera.Backend`): one Recorder per device name."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self._device = device or "/dev/video-test"
        self._recorder = _recorders[self._device]
        self._fourcc = fourcc
        if self._recorder.fail_opens > 0:
            self._recorder.fail_opens -= 1
            raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99]")
        self._recorder.note_open({"width": width, "height": height, "fps": fps, "format": decode_fourcc(fourcc)})
        self._sent = 0
        # pyvirtualcam hands backends a flat array; keep each frame in its picture's shape.
        self._shape = {"raw ": (height, width, 3), "24BG": (height, width, 3), "I420": (height * 3 // 2, width),
                       "NV12": (height * 3 // 2, width), "YUY2": (height, width, 2),
                       "UYVY": (height, width, 2)}[decode_fourcc(fourcc)]

    def send(self, frame: np.ndarray) -> None:
        recorder = self._recorder
        if recorder.vanish_after is not None and self._sent >= recorder.vanish_after:
            recorder.vanish_after = None
            raise RuntimeError("error writing frame: No such device")
        self._sent += 1
        recorder.record(frame.reshape(self._shape))

    def close(self) -> None:
        pass

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self._fourcc


pyvirtualcam.register_backend("recording", RecordingBackend)


def new_recorder() -> tuple[str, Recorder]:
    """A fresh device name and the Recorder that will receive what is sent to it."""
    device = f"/dev/video-test{next(_names)}"
    _recorders[device] = Recorder()
    return device, _recorders[device]
