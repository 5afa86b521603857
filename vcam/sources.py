"""Frame sources: where the engine's frames come from — a webcam, a video file, a photo.

A source is the seam between vcam and the camera hardware: `read()` blocks until the next frame
and returns it (BGR uint8), or None when that frame could not be had (a frame that failed to
decode, a camera that stopped answering). Tests put a video file where the webcam would be.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vcam.errors import VcamError
from vcam.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image

log = logging.getLogger("vcam")


class CameraError(VcamError):
    """A camera that cannot be opened: unplugged, busy, or not a camera at all."""


MIN_FRAME_SIDE = 8
"""The smallest picture, on either side, taken as a camera frame: anything smaller (a 4×4 icon)
holds no face, and is refused where it enters."""


class FrameSource(Protocol):
    name: str

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def silence_opencv_log() -> None:
    """Stop OpenCV printing its own lines (`[ERROR:0@…] … Camera index out of range`, `[ WARN:0@…]
    … can't open camera by index`) on every try to open a camera: the capture thread retries a
    lost camera every few seconds, and vcam's own one-line message already says what is wrong
    and what to do."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def describe_camera(camera: int | str) -> str:
    return f"camera {camera}" if isinstance(camera, int) else str(camera)


class Pacer:
    """Hands out frame times at a fixed rate, as a webcam's clock does, for sources that have
    none of their own (a file can be read far faster than it plays)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._due = time.perf_counter()
        self._stop = threading.Event()

    def wait(self) -> None:
        self._due += self.period
        delay = self._due - time.perf_counter()
        if delay > 0:
            self._stop.wait(delay)  # pacing to the frame clock, interrupted at once by cancel()
        else:
            self._due = time.perf_counter()  # fell behind: do not burst to catch up

    def cancel(self) -> None:
        """End the current wait and every later one at once (the source is closing)."""
        self._stop.set()


class WebcamSource:
    """An OpenCV capture device: a webcam index or a device path (/dev/video2)."""

    def __init__(self, camera: int | str, width: int | None = None, height: int | None = None) -> None:
        self.name = describe_camera(camera)
        backend = cv2.CAP_DSHOW if sys.platform == "win32" and isinstance(camera, int) else cv2.CAP_ANY
        self._capture = cv2.VideoCapture(camera, backend)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"{self.name} cannot be opened: it is unplugged or another app is using it; "
                              "close that app, or pick another camera (--source, or the tray's Camera menu)")
        if width and height:
            # MJPG first, then the size (a driver may reset the size when the format changes):
            # over USB, webcams send 720p and above uncompressed at a few frames a second only,
            # and their own JPEGs at full rate, decoded by OpenCV at the size asked for. At the
            # virtual camera's size nothing is decoded larger than it is used, and nothing is
            # scaled. A camera without MJPG, or without that size, keeps what it has.
            self._capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.mode = self._granted_mode()
        """What the camera agreed to send, e.g. "1280×720 MJPG" (shown in the log)."""
        log.info("%s: %s", self.name, self.mode)

    def _granted_mode(self) -> str:
        width, height = (int(self._capture.get(prop)) for prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        code = int(self._capture.get(cv2.CAP_PROP_FOURCC))
        fourcc = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\0 ") if code > 0 else "unknown format"
        return f"{width}×{height} {fourcc}"

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        return frame if ok and frame is not None and frame.size else None

    def close(self) -> None:
        self._capture.release()


class VideoFileSource:
    """A video file played in a loop at its own frame rate, standing in for a webcam."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise CameraError(f"{path} does not exist; check the --source path")
        self.name = path.name
        # One decoding thread: played at its own rate, a file never falls behind, and FFmpeg's
        # frame threads cost more CPU in all (1.70 against 1.23 ms a 1280×720 H.264 frame here).
        self._capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"{path} cannot be opened as a video (corrupt or an unsupported codec); use another file")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self._pacer = Pacer(fps if 1 <= fps <= 240 else 30.0)
        self._failures = 0

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        ok, frame = self._capture.read()
        if ok and frame is not None:
            self._failures = 0
            return frame
        # The end of the file, or a frame that failed to decode: rewind once per failure run.
        self._failures += 1
        if self._failures == 1:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
            if ok and frame is not None:
                self._failures = 0
                return frame
        return None

    def close(self) -> None:
        self._pacer.cancel()
        self._capture.release()


class ImageSource:
    """A photo shown as a still camera at a fixed rate."""

    def __init__(self, path: Path, fps: float = 30.0) -> None:
        try:
            self._image = read_image(path)
        except VcamError as err:
            raise CameraError(str(err)) from None
        height, width = self._image.shape[:2]
        if min(width, height) < MIN_FRAME_SIDE:
            raise CameraError(f"{path.name} is only {width}×{height} pixels; a photo played as the camera must be at "
                              f"least {MIN_FRAME_SIDE}×{MIN_FRAME_SIDE}: use a larger one")
        self.name = path.name
        self._pacer = Pacer(fps)

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        return self._image.copy()  # the pipeline draws on its frame in place

    def close(self) -> None:
        self._pacer.cancel()


def open_source(camera: int | str, width: int | None = None, height: int | None = None) -> FrameSource:
    """The source for a --source value: an index or device path is a webcam, a photo or video
    file plays as one. CameraError, with the fix, when it cannot be opened."""
    if is_file_source(camera):
        path = Path(camera).expanduser()
        return VideoFileSource(path) if path.suffix.lower() in VIDEO_SUFFIXES else ImageSource(path)
    return WebcamSource(camera, width, height)


def is_file_source(camera: int | str) -> bool:
    """Whether a --source value names a video or photo file (played as the camera)."""
    return isinstance(camera, str) and Path(camera).suffix.lower() in (*VIDEO_SUFFIXES, *IMAGE_SUFFIXES)


def require_playable(camera: int | str) -> None:
    """CameraError, with the fix, for a file source that can never play (missing, corrupt, no
    picture in it): a file does not come back the way an unplugged webcam does, so it is an
    error at the start instead of a retry for ever. A webcam is not checked here."""
    if not is_file_source(camera):
        return
    source = open_source(camera)
    try:
        if source.read() is None:
            raise CameraError(f"{camera} has no picture that plays (sound only, or corrupt); "
                              "use a video or photo file")
    finally:
        source.close()


def available_cameras(limit: int = 6) -> list[int]:
    """The webcam indexes that open now (a probe: opening a camera takes a moment each)."""
    found = []
    for index in range(limit):
        if sys.platform.startswith("linux") and not _is_real_linux_camera(index):
            continue
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            found.append(index)
        capture.release()
    return found


def _is_real_linux_camera(index: int) -> bool:
    # v4l2loopback devices (vcam's own output among them) live under /sys/devices/virtual:
    # reading one back as the webcam would feed vcam its own picture.
    node = Path(f"/sys/class/video4linux/video{index}")
    return Path(f"/dev/video{index}").exists() and "/virtual/" not in str(node.resolve())
