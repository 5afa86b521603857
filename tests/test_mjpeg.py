"""The MJPEG broadcaster on its own: encoding once per frame, mirroring, newest-frame-only clients,
and streams that end and unregister. Frames are real clip frames; no server, no engine."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from waiting import wait_until

from vcam.mjpeg import BOUNDARY, JpegBroadcaster, multipart_chunk
from vcam.frames import FrameResult


def decode_part(chunk: bytes) -> np.ndarray:
    header, _, rest = chunk.partition(b"\r\n\r\n")
    lines = header.decode("ascii").split("\r\n")
    assert lines[0] == f"--{BOUNDARY}"
    assert "Content-Type: image/jpeg" in lines
    length = int(next(line for line in lines if line.startswith("Content-Length:")).split(":")[1])
    assert rest.endswith(b"\r\n") and len(rest) == length + 2
    picture = cv2.imdecode(np.frombuffer(rest[:length], np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    return picture


def grey(level: int, shape=(120, 160)) -> FrameResult:
    return FrameResult(np.full((*shape, 3), level, np.uint8), [])


@pytest.fixture
def broadcaster():
    with JpegBroadcaster(mirror=False) as broadcaster:
        yield broadcaster


def test_multipart_chunk_has_boundary_type_and_length():
    assert multipart_chunk(b"abc") == b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n\r\nabc\r\n"


def test_stream_sends_the_published_frame_as_jpeg(broadcaster, clip_frames):
    frame = clip_frames[40]
    broadcaster.publish(FrameResult(frame, []))
    stream = broadcaster.stream()
    picture = decode_part(next(stream))
    assert picture.shape == frame.shape
    assert np.abs(picture.astype(int) - frame).mean() < 6  # JPEG at quality 80: close, not equal
    stream.close()


def test_mirror_flips_the_preview_but_not_the_published_frame(clip_frames):
    frame = clip_frames[40]
    original = frame.copy()
    with JpegBroadcaster(mirror=True) as broadcaster:
        broadcaster.publish(FrameResult(frame, []))
        stream = broadcaster.stream()
        picture = decode_part(next(stream)).astype(int)
        stream.close()
    assert np.abs(picture - cv2.flip(frame, 1)).mean() < 6
    assert np.abs(picture - frame).mean() > 20  # the clip is not symmetric: flipping shows
    assert np.array_equal(frame, original)  # the engine's frame is never touched


def test_each_frame_is_encoded_once_for_all_clients(broadcaster):
    streams = [broadcaster.stream() for _ in range(5)]
    broadcaster.publish(grey(50))
    first = [next(stream) for stream in streams]
    assert len(set(first)) == 1 and broadcaster.clients == 5
    broadcaster.publish(grey(150))
    second = [next(stream) for stream in streams]
    assert len(set(second)) == 1 and second[0] != first[0]
    assert broadcaster.encodes == 2
    for stream in streams:
        stream.close()
    assert broadcaster.clients == 0


def test_nothing_is_encoded_while_nobody_watches_and_a_new_client_gets_the_newest(broadcaster):
    for level in (10, 20, 30):
        broadcaster.publish(grey(level))
    assert broadcaster.frames_published == 3
    stream = broadcaster.stream()
    assert decode_part(next(stream)).mean() == pytest.approx(30, abs=2)
    assert broadcaster.encodes == 1
    stream.close()


def test_a_slow_client_skips_to_the_newest_frame(broadcaster):
    fast, slow = broadcaster.stream(), broadcaster.stream()
    broadcaster.publish(grey(40))
    next(fast), next(slow)
    for level in (80, 120, 200):  # the fast client takes each frame; the slow one reads none
        broadcaster.publish(grey(level))
        assert decode_part(next(fast)).mean() == pytest.approx(level, abs=2)
    assert decode_part(next(slow)).mean() == pytest.approx(200, abs=2)  # not 80: no queue
    fast.close(), slow.close()


def test_the_newest_frame_is_sent_again_while_nothing_new_comes():
    with JpegBroadcaster(mirror=False, resend_after=0.05) as broadcaster:
        broadcaster.publish(grey(90))
        stream = broadcaster.stream()
        assert next(stream) == next(stream)  # the same picture, sent again, without a new publish
        assert broadcaster.encodes == 1
        stream.close()


def test_closing_the_broadcaster_ends_every_stream_and_the_encoder():
    broadcaster = JpegBroadcaster(mirror=False).start()
    broadcaster.publish(grey(60))
    received: list[int] = []

    def watch() -> None:
        for chunk in broadcaster.stream():  # returns when the stream ends
            received.append(len(chunk))

    watchers = [threading.Thread(target=watch) for _ in range(3)]
    for watcher in watchers:
        watcher.start()
    assert broadcaster.wait_for_clients(3)
    wait_until(lambda: len(received) >= 3, message="each stream's first frame")
    broadcaster.close()
    for watcher in watchers:
        watcher.join(5)
        assert not watcher.is_alive()
    assert broadcaster.clients == 0 and len(received) >= 3
    assert not any(thread.name == "vcam-mjpeg-encoder" and thread.is_alive() for thread in threading.enumerate())


def test_a_client_that_goes_away_is_unregistered(broadcaster):
    stream = broadcaster.stream()
    broadcaster.publish(grey(70))
    next(stream)
    assert broadcaster.clients == 1
    stream.close()  # what the server does when the connection drops
    assert broadcaster.clients == 0


def test_publish_returns_at_once_even_when_no_client_reads(broadcaster, clip_frames):
    stream = broadcaster.stream()
    broadcaster.publish(FrameResult(clip_frames[0], []))
    next(stream)  # registered, then never read again
    started = time.perf_counter()
    for frame in clip_frames[:200]:
        broadcaster.publish(FrameResult(frame, []))
    assert (time.perf_counter() - started) / 200 < 0.002  # far below one JPEG encode per call
    wait_until(lambda: broadcaster.encodes >= 2, message="the encoder to catch up")
    assert broadcaster.encodes < 200  # it skipped to the newest instead of encoding every frame
    stream.close()


def test_the_placeholder_is_never_mirrored_the_camera_picture_is(clip_frames):
    from vcam.placeholder import BACKGROUND, placeholder_frame

    message = placeholder_frame(640, 360, "camera unavailable", "camera 0 cannot be opened")
    with JpegBroadcaster(mirror=True) as broadcaster:
        stream = broadcaster.stream()
        broadcaster.publish(message)
        shown = decode_part(next(stream))
        broadcaster.publish(FrameResult(clip_frames[40], []))
        camera = decode_part(next(stream))
        stream.close()
    drawn = message.frame
    text = (drawn != BACKGROUND).any(axis=2) | (cv2.flip(drawn, 1) != BACKGROUND).any(axis=2)
    as_drawn, mirrored = (np.abs(shown.astype(int) - picture)[text].mean() for picture in (drawn, cv2.flip(drawn, 1)))
    assert text.mean() > 0.001 and as_drawn < 15 < mirrored, (as_drawn, mirrored)  # the text reads left to right
    assert np.abs(camera.astype(int) - cv2.flip(clip_frames[40], 1)).mean() < 6  # the camera: mirrored
