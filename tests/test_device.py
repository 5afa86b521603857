"""The virtual camera through a real device, read back as a call app reads it: the live app (the
engine with the clip as its webcam, and the real pyvirtualcam backend) publishes, and OpenCV's
VideoCapture reads the device — /dev/videoN through V4L2 on Linux (v4l2loopback), DirectShow on
Windows (the OBS Virtual Camera). The frames must carry the emojis, at the configured size and
rate, in the pixel format the device reports.

The device tests run only with --device, as the CI workflow's Linux and Windows jobs do; there a
missing virtual camera fails them with the doctor's advice. Without --device they are deselected.
The checks they make are tested here too, on what the recording backend receives (see the last test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, box_mask
from test_engine import Running

from vcam.app import LiveApp
from vcam.config import Config
from vcam.doctor import check_virtual_camera
from vcam.faces import Face
from vcam.frames import FrameResult
from vcam.virtual_camera import fit_frame

WIDTH, HEIGHT, FPS = 1280, 720, 15
"""Not the defaults (30 frames per second): a device that just repeats its defaults does not pass."""
WARM_UP, READ_SECONDS = 10, 5.0

DEVICE_FORMATS = {
    # pyvirtualcam's v4l2loopback backend converts RGB and BGR to I420, which V4L2 calls YU12, and
    # writes the YUV formats as they are.
    "linux": {"BGR": "YU12", "I420": "YU12", "YUYV": "YUYV", "UYVY": "UYVY"},
    # OBS's virtual camera takes NV12 only: pyvirtualcam converts every format to it.
    "win32": {"BGR": "NV12", "I420": "NV12", "YUYV": "NV12", "UYVY": "NV12"},
}
"""The FourCC each platform's device reports for the pixel format vcam sends."""
RAW_LAYOUTS = {
    "YU12": (lambda w, h: (h * 3 // 2, w), cv2.COLOR_YUV2BGR_I420),
    "NV12": (lambda w, h: (h * 3 // 2, w), cv2.COLOR_YUV2BGR_NV12),
    "YUYV": (lambda w, h: (h, w, 2), cv2.COLOR_YUV2BGR_YUYV),
    "UYVY": (lambda w, h: (h, w, 2), cv2.COLOR_YUV2BGR_UYVY),
}
"""How a raw buffer of each FourCC is laid out and turned into BGR."""


def platform_key() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def decode(raw: np.ndarray, fourcc: str, width: int, height: int) -> np.ndarray:
    """A raw frame as the device holds it, in the layout its FourCC names, as BGR; AssertionError
    when its size does not fit that layout."""
    shape, conversion = RAW_LAYOUTS[fourcc]
    layout = shape(width, height)
    assert raw.size == int(np.prod(layout)), f"{raw.size} bytes is not a {width}×{height} {fourcc} frame"
    return cv2.cvtColor(raw.reshape(layout), conversion)


@dataclass
class ReadBack:
    """What a reader got from the virtual camera: when each frame came, and a few of the frames."""

    times: list[float]
    samples: list[np.ndarray]
    """BGR frames from the end of the reading (sample_indices)."""


class Results:
    """A sink beside the virtual camera: the engine's recent results, to tell which one a frame
    read from the device shows (and so where its faces are)."""

    def __init__(self) -> None:
        self.recent: deque[FrameResult] = deque(maxlen=90)  # 3 s of the clip's 30 frames a second

    def publish(self, result: FrameResult) -> None:
        self.recent.append(FrameResult(result.frame.copy(), list(result.faces)))

    def with_faces(self) -> bool:
        return any(result.faces for result in list(self.recent))


def scaled_box(face: Face, frame_shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """The face's box, in camera pixels, in the virtual camera's frame (letterboxed)."""
    height, width = frame_shape[:2]
    scale = min(WIDTH / width, HEIGHT / height)
    left, top = (WIDTH - round(width * scale)) // 2, (HEIGHT - round(height * scale)) // 2
    x, y, w, h = face.box
    return left + x * scale, top + y * scale, w * scale, h * scale


def thumbnail(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (160, 90), interpolation=cv2.INTER_AREA).astype(np.int16)


def thumbnails(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame (any size) as the virtual camera sends it, made small to compare quickly."""
    return [thumbnail(fit_frame(frame, WIDTH, HEIGHT)) for frame in frames]


def closest(frame: np.ndarray, candidates: list[np.ndarray]) -> int:
    """The index of the thumbnail in `candidates` most like `frame`'s."""
    small = thumbnail(frame)
    return int(np.argmin([np.abs(candidate - small).mean() for candidate in candidates]))


def assert_read_back(read: ReadBack, results: list[FrameResult], clip: list[np.ndarray], fps: int) -> None:
    """The frames read back came at `fps`, are frames the engine made, and carry an emoji on
    every face and nothing elsewhere: each is compared with the clip's own frame."""
    times = read.times
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert abs(rate - fps) <= 0.1 * fps, f"{rate:.1f} frames per second read back, configured {fps}"
    with_faces = 0
    made_small, clip_small = thumbnails([result.frame for result in results]), thumbnails(clip)
    for index, seen in enumerate(read.samples):
        assert seen.shape == (HEIGHT, WIDTH, 3)
        made = results[closest(seen, made_small)]
        sent = fit_frame(made.frame, WIDTH, HEIGHT)
        error = np.abs(seen.astype(np.int16) - sent).mean()
        assert error < 4, f"sample {index} is no frame the engine made (off by {error:.1f} on average)"
        if not made.faces:
            continue
        with_faces += 1
        plain = fit_frame(clip[closest(seen, clip_small)], WIDTH, HEIGHT)
        difference = np.abs(seen.astype(np.int16) - plain).max(axis=2)
        boxes = [scaled_box(face, made.frame.shape) for face in made.faces]
        far = ~np.logical_or.reduce([box_mask(difference.shape, box, grow=1.0) for box in boxes])
        assert difference[far].mean() < 8, f"sample {index} changed far from its faces"
        for box in boxes:
            assert difference[box_mask(difference.shape, box)].mean() > 30, f"sample {index}: a face without emoji"
    assert with_faces >= len(read.samples) // 2, f"only {with_faces} of {len(read.samples)} samples showed faces"


def sample_indices(count: int, samples: int = 6, step: int = 4) -> set[int]:
    """Which of `count` frames read to look at closely: every `step`-th of the last ones, so that
    the engine's results they show are still among those Results keeps."""
    return {count - 1 - i * step for i in range(samples) if count - 1 - i * step >= 0}


def open_reader(device: str) -> tuple[cv2.VideoCapture, bool]:
    """The virtual camera opened as a call app opens it; whether its frames come raw (in the
    device's own format, V4L2) or already converted to BGR (DirectShow, AVFoundation)."""
    if sys.platform.startswith("linux"):
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        return capture, True
    # A hosted runner has no webcam: the virtual camera is the only capture device, index 0.
    index = int(os.environ.get("VCAM_CAPTURE_INDEX", "0"))
    backend = cv2.CAP_DSHOW if sys.platform == "win32" else cv2.CAP_AVFOUNDATION
    return cv2.VideoCapture(index, backend), False


def read_device(capture: cv2.VideoCapture, raw: bool, fourcc: str) -> ReadBack:
    """WARM_UP frames, then READ_SECONDS of frames, timed as they come. V4L2 gives each frame
    written to the device once; DirectShow may give the newest frame again, so there only a
    frame unlike the last one counts as one that came."""
    for _ in range(WARM_UP):
        ok, _frame = capture.read()
        assert ok, "the virtual camera opened but gave no frame"
    times, frames, previous = [], [], None
    end = time.perf_counter() + READ_SECONDS
    while time.perf_counter() < end:
        ok, frame = capture.read()
        assert ok, "the virtual camera stopped giving frames"
        if raw or previous is None or not np.array_equal(frame, previous):
            times.append(time.perf_counter())
            frames.append(frame)
        previous = frame
    keep = sample_indices(len(frames))
    samples = [decode(frame.reshape(-1), fourcc, WIDTH, HEIGHT) if raw else frame
               for index, frame in enumerate(frames) if index in keep]
    return ReadBack(times, samples)


@pytest.mark.device
@pytest.mark.parametrize("pixel_format", ["BGR", "YUYV"])
def test_the_virtual_camera_reads_back_with_emojis_at_the_configured_size_and_rate(
        media: Path, clip_frames: list[np.ndarray], pixel_format: str) -> None:
    doctor = check_virtual_camera()
    assert doctor.ok, f"no virtual camera on this machine: {doctor.message}\n{doctor.fix}"
    expected_fourcc = DEVICE_FORMATS.get(platform_key(), {}).get(pixel_format)
    assert expected_fourcc, f"no known device format for {pixel_format} on {sys.platform}"
    config = Config(camera=str(media / "short_hamilton_clip.mp4"), width=WIDTH, height=HEIGHT, fps=FPS,
                    pixel_format=pixel_format)
    results = Results()
    with LiveApp(config) as app:
        app.engine.add_sink(results)
        sink = app.virtual_camera
        deadline = time.monotonic() + 30
        while not (sink.device and sink.frames_sent >= 10 and results.with_faces()):
            assert time.monotonic() < deadline, \
                f"nothing published within 30 s: device {sink.device}, {sink.frames_sent} frames, {sink.error}"
            time.sleep(0.1)
        capture, raw = open_reader(sink.device)
        try:
            assert capture.isOpened(), f"{sink.device} does not open for reading"
            size = (round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            reported = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace")
            read = read_device(capture, raw, reported)
        finally:
            capture.release()
        made = list(results.recent)
    assert size == (WIDTH, HEIGHT), f"the device reports {size[0]}×{size[1]}"
    assert reported == expected_fourcc, f"the device reports {reported!r}, not {expected_fourcc!r}"
    assert_read_back(read, made, clip_frames, FPS)


@pytest.mark.slow
@pytest.mark.parametrize("pixel_format, fourcc", [("I420", "YU12"), ("YUYV", "YUYV")])
def test_the_read_back_checks_pass_on_what_the_recording_backend_received(
        media: Path, clip_frames: list[np.ndarray], pixel_format: str, fourcc: str) -> None:
    # The device test's checks, on frames caught one step before a device: the raw buffers that
    # the real pyvirtualcam.Camera hands its backend, in the layout v4l2loopback would hold them.
    config = Config(camera=str(media / "short_hamilton_clip.mp4"), width=WIDTH, height=HEIGHT, fps=FPS,
                    pixel_format=pixel_format)
    results = Results()
    with Running(config) as run:
        run.engine.add_sink(results)
        run.recorder.wait_for(lambda r: len(r.frames) >= WARM_UP and results.with_faces())
        first = len(run.recorder.frames)
        run.recorder.wait_for(lambda r: len(r.frames) > first and r.frames[-1].time - r.frames[first].time >= READ_SECONDS)
        sent = run.recorder.frames[first:]
        made = list(results.recent)
    keep = sample_indices(len(sent))
    read = ReadBack([frame.time for frame in sent],
                    [decode(frame.data.reshape(-1), fourcc, WIDTH, HEIGHT) for i, frame in enumerate(sent) if i in keep])
    assert_read_back(read, made, clip_frames, FPS)
    # And they fail where they should: a frame without its emojis, a frame of another size.
    plain = fit_frame(clip_frames[closest(read.samples[-1], thumbnails(clip_frames))], WIDTH, HEIGHT)
    with pytest.raises(AssertionError):
        assert_read_back(ReadBack(read.times, [plain] * len(read.samples)), made, clip_frames, FPS)
    with pytest.raises(AssertionError, match="is not a 1280×720"):
        decode(sent[0].data.reshape(-1)[:-2], fourcc, WIDTH, HEIGHT)
    with pytest.raises(AssertionError, match="frames per second"):
        assert_read_back(ReadBack([t * 2 for t in read.times], read.samples), made, clip_frames, FPS)


def test_the_device_test_is_deselected_unless_asked_for_and_then_fails_without_a_device() -> None:
    # What the CI jobs rely on: no flag, no device test (deselected, not skipped); with --device on
    # a machine without a virtual camera, a failure that says what to install.
    if check_virtual_camera().ok:
        pytest.skip("this machine has a virtual camera: the device test runs here with --device")

    def pytest_run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", *flags,
                               "tests/test_device.py::test_the_virtual_camera_reads_back_with_emojis_at_the_"
                               "configured_size_and_rate"],
                              cwd=REPO, capture_output=True, text=True, timeout=240)

    plain = pytest_run()
    assert plain.returncode == 5, plain.stdout + plain.stderr  # pytest's "no tests ran"
    assert "2 deselected" in plain.stdout and "skipped" not in plain.stdout
    asked = pytest_run("--device", "-m", "device")
    assert asked.returncode == 1, asked.stdout + asked.stderr
    assert "2 failed" in asked.stdout and "skipped" not in asked.stdout
    assert "no virtual camera on this machine" in asked.stdout
    advice = check_virtual_camera()
    assert advice.message in asked.stdout and advice.fix.splitlines()[-1] in asked.stdout
