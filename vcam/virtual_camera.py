"""The virtual-camera sink: publishes the engine's frames through pyvirtualcam, at the rate and
size that call apps expect, whatever the webcam delivers.

It runs its own thread and sends each new frame as soon as it is given (never sooner than
MIN_GAP of a frame period after the last send, so a faster webcam does not exceed the virtual
camera's rate), and the same frame again when nothing newer came within a frame period, so a
paused engine or a lost camera still shows a steady stream. Sending on arrival rather than on a
clock of its own saves the call app up to a frame period of delay. A virtual camera that cannot
be opened, or that vanishes, is reported and tried again; it never stops the engine.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import pyvirtualcam

from vcam.choices import Fit, PixelFormat
from vcam.config import Config
from vcam.frames import FrameResult
from vcam.retry import Backoff

log = logging.getLogger("vcam")

MIN_GAP = 0.8
"""The least time between two sends, as a share of the frame period: a webcam's frames come a
little early or late, and one that comes early is sent then, not held back a whole period."""
_YUV = {PixelFormat.I420: cv2.COLOR_BGR2YUV_I420, PixelFormat.YUYV: cv2.COLOR_BGR2YUV_YUYV,
        PixelFormat.UYVY: cv2.COLOR_BGR2YUV_UYVY}
"""OpenCV's conversion from BGR for each planar or packed YUV format vcam sends."""


def fit_frame(frame: np.ndarray, width: int, height: int, fit: Fit = Fit.LETTERBOX) -> np.ndarray:
    """`frame` made width×height: "letterbox" scales it whole and adds black bars, "crop" fills
    the size and cuts what sticks out, "stretch" ignores the aspect ratio. A frame that already
    has the size is returned as it is (not a copy); any other result is a new array."""
    frame_height, frame_width = frame.shape[:2]
    if (frame_width, frame_height) == (width, height):
        return frame
    if fit is Fit.STRETCH:
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    choose = min if fit is Fit.LETTERBOX else max
    scale = choose(width / frame_width, height / frame_height)
    scaled_width, scaled_height = max(1, round(frame_width * scale)), max(1, round(frame_height * scale))
    # Bilinear down to half size: INTER_AREA takes 5.4 ms for 1920×1080 to 1280×720 here, bilinear 1.1 ms.
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    if fit is Fit.CROP:
        scaled = cv2.resize(frame, (scaled_width, scaled_height), interpolation=interpolation)
        x, y = (scaled_width - width) // 2, (scaled_height - height) // 2
        return scaled[y:y + height, x:x + width]
    # Scaled straight into the black canvas: no scaled copy to make and then copy again.
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - scaled_width) // 2, (height - scaled_height) // 2
    cv2.resize(frame, (scaled_width, scaled_height), dst=canvas[y:y + scaled_height, x:x + scaled_width],
               interpolation=interpolation)
    return canvas


def to_pixel_format(frame: np.ndarray, pixel_format: PixelFormat) -> np.ndarray:
    """A BGR frame in the layout pyvirtualcam expects for `pixel_format`."""
    if pixel_format is PixelFormat.BGR:
        return np.ascontiguousarray(frame)
    if pixel_format is PixelFormat.RGB:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    if pixel_format in _YUV:
        return cv2.cvtColor(frame, _YUV[pixel_format])
    if pixel_format is PixelFormat.NV12:
        # OpenCV writes planar I420 (Y, then U, then V); NV12 is Y, then U and V interleaved:
        # the luma stays where it is, only the chroma (a third of the bytes) is rearranged.
        height, width = frame.shape[:2]
        nv12 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).reshape(-1)
        luma, quarter = width * height, width * height // 4
        chroma = nv12[luma:].copy()
        nv12[luma::2] = chroma[:quarter]
        nv12[luma + 1::2] = chroma[quarter:]
        return nv12
    raise ValueError(f"unknown pixel format {pixel_format!r}")


def camera_frame(frame: np.ndarray, width: int, height: int, pixel_format: PixelFormat = Config.pixel_format,
                 fit: Fit = Fit.LETTERBOX) -> np.ndarray:
    """`frame` as the virtual camera sends it: fitted to width×height and in `pixel_format`'s
    layout, equal to `to_pixel_format(fit_frame(...))`. A scaled frame is a fresh array of our
    own, so RGB swaps its channels in place there instead of into a second full-size copy; the
    engine's frame itself (already the right size) is never written to."""
    fitted = fit_frame(frame, width, height, fit)
    if pixel_format is PixelFormat.RGB and fitted is not frame and fitted.flags.c_contiguous:
        return cv2.cvtColor(fitted, cv2.COLOR_BGR2RGB, dst=fitted)
    return to_pixel_format(fitted, pixel_format)


StatusListener = Callable[[str | None, str | None], None]


MODPROBE = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="vcam"'
"""The command that gives Linux a virtual camera that Chrome and Meet list (exclusive_caps=1)."""


def virtual_camera_advice(platform: str = sys.platform) -> str:
    """One line for the tray and the engine when no virtual camera opens."""
    if platform.startswith("linux"):
        return f"no virtual camera: load v4l2loopback ({MODPROBE}); `vcam doctor` explains"
    return ("no virtual camera: install OBS Studio 30 or newer and start its Virtual Camera once;"
            " `vcam doctor` explains")


def _no_virtual_camera_message(err: Exception) -> str:
    last_line = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    return f"{last_line.rstrip('.')}. {virtual_camera_advice()}"


class VirtualCameraSink:
    """`with VirtualCameraSink.from_config(config, on_status=...) as sink: engine.add_sink(sink)`"""

    def __init__(self, width: int = Config.width, height: int = Config.height, fps: int = Config.fps,
                 pixel_format: PixelFormat = Config.pixel_format, fit: Fit = Fit.LETTERBOX, device: str | None = None, backend: str | None = None,
                 on_status: StatusListener | None = None, retry: Backoff = Backoff(1.0, 10.0)) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.pixel_format, self.fit = pixel_format, fit
        self._device, self._backend = device, backend
        self._on_status = on_status or (lambda device, error: None)
        self._retry = retry
        self._newest: np.ndarray | None = None
        self._fresh = threading.Event()
        """Set when a frame newer than the one sent last is given."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vcam-virtual-camera", daemon=True)
        self.device: str | None = None
        self.error: str | None = None
        self.frames_sent = 0

    @classmethod
    def from_config(cls, config: Config, backend: str | None = None,
                    on_status: StatusListener | None = None) -> VirtualCameraSink:
        return cls(config.width, config.height, config.fps, config.pixel_format, config.fit,
                   config.virtual_camera, backend, on_status)

    def publish(self, result: FrameResult) -> None:
        self._newest = result.frame  # a plain reference swap: the sending thread picks it up
        self._fresh.set()

    def start(self) -> VirtualCameraSink:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._fresh.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def __enter__(self) -> VirtualCameraSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _report(self, device: str | None, error: str | None) -> None:
        if (device, error) != (self.device, self.error):
            self.device, self.error = device, error
            if device:
                log.info("virtual camera: publishing as %s", device)
            else:
                log.warning("virtual camera: %s", error)
            self._on_status(device, error)

    def _run(self) -> None:
        delay = self._retry.first
        while not self._stop.is_set():
            try:
                camera = pyvirtualcam.Camera(self.width, self.height, self.fps,
                                             fmt=pyvirtualcam.PixelFormat[self.pixel_format],
                                             device=self._device, backend=self._backend)
            except Exception as err:  # noqa: BLE001 - no driver, a busy device: report, try later
                self._report(None, _no_virtual_camera_message(err))
                self._stop.wait(delay)
                delay = self._retry.after(delay)
                continue
            delay = self._retry.first
            try:
                with camera:
                    self._report(camera.device, None)
                    self._send_until_stopped(camera)
            except Exception as err:  # noqa: BLE001 - the device vanished: report, reopen
                self._report(None, f"the virtual camera stopped taking frames ({err}); reopening it")
                self._stop.wait(delay)

    def _send_until_stopped(self, camera: pyvirtualcam.Camera) -> None:
        black = np.zeros((self.height, self.width, 3), np.uint8)
        source, converted = None, to_pixel_format(black, self.pixel_format)
        period = 1.0 / self.fps
        due = time.monotonic()
        while not self._stop.is_set():
            newest = self._newest
            if newest is not None and newest is not source:
                # Convert each new frame once; a still frame is sent again as it is.
                source, converted = newest, camera_frame(newest, self.width, self.height, self.pixel_format,
                                                         self.fit)
            camera.send(converted)
            self.frames_sent += 1
            sent_at = time.monotonic()
            # `due`: when the next send is owed (the same frame again if nothing newer came). It
            # advances a period a send, whenever the send came, so a new frame may go up to a
            # period early, on arrival, and a thread woken late under load catches up: the rate
            # averages out at fps. Held up for more than a period, it starts again from now.
            due += period
            if due < sent_at - period:
                due = sent_at + period
            self._wait_for_next(source, earliest=max(due - period, sent_at + MIN_GAP * period), due=due)

    def _wait_for_next(self, sent: np.ndarray | None, earliest: float, due: float) -> None:
        """Until a frame newer than `sent` is given, but not before `earliest`; until `due` at the
        latest. One wait when nothing new comes, so that a thread woken late under load is late
        once a send, not twice."""
        while not self._stop.is_set():
            self._fresh.clear()
            # Checked after clearing: a frame given, or a close, meanwhile is not missed.
            if self._newest is not sent or self._stop.is_set():
                break
            remaining = due - time.monotonic()
            if remaining <= 0:
                return
            self._fresh.wait(remaining)
        self._stop.wait(max(0.0, earliest - time.monotonic()))
