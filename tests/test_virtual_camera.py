"""vcam.virtual_camera: frame fitting, pixel formats, and the sink that drives the real
`pyvirtualcam.Camera` (through the recording backend, where a v4l2loopback device would be)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from recording_backend import Recorder, new_recorder

from benchmarks.camera_frame import two_pass
from vcam.choices import Fit, PixelFormat
from vcam.retry import Backoff
from vcam.config import Config
from vcam.frames import FrameResult
from vcam.virtual_camera import VirtualCameraSink, camera_frame, fit_frame, to_pixel_format


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    return cv2.imread(str(media / "two_people.jpg"))


def test_letterbox_keeps_the_whole_picture_between_black_bars() -> None:
    frame = np.full((480, 640, 3), 200, np.uint8)
    fitted = fit_frame(frame, 1280, 720, Fit.LETTERBOX)
    assert fitted.shape == (720, 1280, 3)
    assert (fitted[:, :160] == 0).all() and (fitted[:, -160:] == 0).all()  # 4:3 in 16:9: bars of 160
    assert (fitted[:, 160:1120] == 200).all()


def test_crop_fills_the_frame_and_stretch_ignores_the_shape() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 320:] = 255  # right half white
    cropped = fit_frame(frame, 1280, 720, Fit.CROP)
    assert cropped.shape == (720, 1280, 3)
    assert (cropped[:, :600] == 0).all() and (cropped[:, 680:] == 255).all()  # no bars, the middle kept
    stretched = fit_frame(frame, 1280, 720, Fit.STRETCH)
    assert (stretched[:, :630] == 0).all() and (stretched[:, 650:] == 255).all()


def test_a_frame_of_the_right_size_is_passed_on_untouched(photo: np.ndarray) -> None:
    height, width = photo.shape[:2]
    assert fit_frame(photo, width, height) is photo


def test_by_default_the_pipelines_frame_is_sent_without_a_conversion_of_ours(photo: np.ndarray) -> None:
    # The virtual camera converts BGR to its device's format itself, as it would RGB: a BGR->RGB
    # pass of ours first would be a whole frame read and written for nothing.
    height, width = photo.shape[:2]
    frame = np.ascontiguousarray(photo)
    assert camera_frame(frame, width, height, Config().pixel_format) is frame


@pytest.mark.parametrize("pixel_format,back,size", [
    (PixelFormat.RGB, cv2.COLOR_RGB2BGR, (720, 1280, 3)),
    (PixelFormat.I420, cv2.COLOR_YUV2BGR_I420, (1080, 1280)),
    (PixelFormat.NV12, cv2.COLOR_YUV2BGR_NV12, None),
    (PixelFormat.YUYV, cv2.COLOR_YUV2BGR_YUYV, (720, 1280, 2)),
    (PixelFormat.UYVY, cv2.COLOR_YUV2BGR_UYVY, (720, 1280, 2)),
])
def test_each_pixel_format_decodes_back_to_the_picture(photo: np.ndarray, pixel_format: PixelFormat, back: int,
                                                       size: tuple | None) -> None:
    frame = fit_frame(photo, 1280, 720)
    converted = to_pixel_format(frame, pixel_format)
    if size is not None:
        assert converted.shape == size
    if pixel_format == "NV12":
        assert converted.size == 1280 * 720 * 3 // 2
        converted = converted.reshape(1080, 1280)
    decoded = cv2.cvtColor(converted, back)
    error = np.abs(decoded.astype(int) - frame.astype(int)).mean()
    assert error < (0.5 if pixel_format == "RGB" else 6.0)  # YUV 4:2:0 / 4:2:2 subsample the colour


@pytest.fixture(scope="module")
def clip_frames(media: Path) -> list[np.ndarray]:
    """Three frames of the 640×360 clip, a second apart."""
    capture = cv2.VideoCapture(str(media / "short_hamilton_clip.mp4"))
    frames = []
    for index in range(90):
        ok, frame = capture.read()
        assert ok
        if index % 30 == 0:
            frames.append(frame)
    capture.release()
    return frames


@pytest.mark.parametrize("pixel_format", list(PixelFormat))
@pytest.mark.parametrize("fit", list(Fit))
@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (256, 144), (640, 360)])
def test_the_one_pass_frame_equals_fitting_then_converting(clip_frames: list[np.ndarray], pixel_format: str,
                                                           fit: str, size: tuple[int, int]) -> None:
    # Up and down in scale, another aspect ratio (bars or cuts), below half size (area
    # averaging), and the camera's own size (no scaling at all).
    for frame in clip_frames:
        before = frame.copy()
        sent = camera_frame(frame, *size, pixel_format, fit)
        assert np.array_equal(sent, two_pass(before, *size, pixel_format, fit)), (pixel_format, fit, size)
        assert np.array_equal(frame, before), "the engine's frame is never written to"
        assert np.array_equal(sent, to_pixel_format(fit_frame(frame, *size, fit), pixel_format))


def publishing(sink: VirtualCameraSink, frame: np.ndarray) -> VirtualCameraSink:
    sink.publish(FrameResult(frame, []))
    return sink


def test_the_sink_opens_the_camera_with_the_configured_size_rate_and_format(photo: np.ndarray) -> None:
    device, recorder = new_recorder()
    statuses = []
    sink = VirtualCameraSink(640, 360, 15, PixelFormat.I420, device=device, backend="recording",
                             on_status=lambda *status: statuses.append(status))
    with publishing(sink, photo):
        recorder.wait_for(lambda r: len(r.frames) >= 3)
    assert recorder.opened == [{"width": 640, "height": 360, "fps": 15, "format": "I420"}]
    assert statuses[0] == (device, None) and sink.device == device
    decoded = cv2.cvtColor(recorder.frames[-1].data.reshape(540, 640), cv2.COLOR_YUV2BGR_I420)
    assert np.abs(decoded.astype(int) - fit_frame(photo, 640, 360).astype(int)).mean() < 6


@pytest.mark.linux("pyvirtualcam's v4l2loopback backend")
def test_no_virtual_camera_driver_is_reported_with_the_fix_and_nothing_raises(photo: np.ndarray) -> None:
    # The real v4l2loopback backend, on a machine whose kernel has no v4l2loopback module.
    statuses = []
    sink = VirtualCameraSink(backend="v4l2loopback", on_status=lambda *status: statuses.append(status))
    with publishing(sink, photo):
        pass
    assert sink.frames_sent == 0
    [(device, error)] = statuses
    assert device is None
    assert "No v4l2 loopback device found" in error and "modprobe v4l2loopback" in error
    assert "\n" not in error


def flaky_virtual_camera(photo: np.ndarray, frames: int, **faults: int) -> tuple[str, Recorder, list]:
    """Publish `photo` until `frames` reach a recorded virtual camera that has `faults` (see
    Recorder), retrying fast; the device, its recorder and the statuses the sink reported."""
    device, recorder = new_recorder()
    for fault, value in faults.items():
        setattr(recorder, fault, value)
    statuses: list = []
    sink = VirtualCameraSink(device=device, backend="recording", retry=Backoff(0.01, 0.02),
                             on_status=lambda *status: statuses.append(status))
    with publishing(sink, photo):
        recorder.wait_for(lambda r: len(r.frames) >= frames)
    return device, recorder, statuses


def test_the_sink_keeps_trying_until_the_virtual_camera_appears(photo: np.ndarray) -> None:
    device, recorder, statuses = flaky_virtual_camera(photo, 2, fail_opens=2)
    assert statuses[0][0] is None and "No v4l2 loopback device" in statuses[0][1]
    assert statuses[-1] == (device, None)


def test_a_vanished_virtual_camera_is_reopened_and_the_stream_goes_on(photo: np.ndarray) -> None:
    device, recorder, statuses = flaky_virtual_camera(photo, 10, vanish_after=5)
    assert len(recorder.opened) == 2
    assert [status[0] for status in statuses] == [device, None, device]
    assert "stopped taking frames" in statuses[1][1]


def test_every_pixel_format_a_user_can_choose_is_one_pyvirtualcam_sends() -> None:
    # The settings name the formats without loading pyvirtualcam (vcam.choices stays light); each
    # name is the member of pyvirtualcam's own table that the sink opens the camera with.
    import pyvirtualcam

    assert {member.value for member in PixelFormat} <= set(pyvirtualcam.PixelFormat.__members__)
