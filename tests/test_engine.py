"""vcam.engine: the running product behind the tray. A video file or photo stands where the webcam
would be, the recording backend where the v4l2loopback device would be; the capture thread, the
pipeline with the shipped models, the engine and the real `pyvirtualcam.Camera` all run for real."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from recording_backend import Recorder, new_recorder
from waiting import wait_until

from vcam.choices import PixelFormat
from vcam.retry import Backoff
from vcam.config import Config, load_config
from vcam.engine import Engine, EngineState
from vcam.media import read_image
from vcam.frames import FrameResult
from vcam.pipeline import Pipeline
from vcam.placeholder import BACKGROUND
from vcam.repeats import REFRESH_EVERY
from vcam.sources import CameraError, Pacer, VideoFileSource, WebcamSource, open_source
from vcam.virtual_camera import VirtualCameraSink, fit_frame, to_pixel_format

FAST_RETRY = Backoff(0.02, 0.1)


class Running:
    """An engine publishing to a recorded virtual camera, started and stopped by `with`."""

    def __init__(self, config: Config, opener=None, **engine_options) -> None:
        self.device, self.recorder = new_recorder()
        self.config = config.replace(virtual_camera=self.device)
        self.engine = Engine(self.config, opener=opener, backoff=FAST_RETRY, **engine_options)
        self.sink = VirtualCameraSink.from_config(self.config, backend="recording",
                                                  on_status=self.engine.report_virtual_camera)
        self.states: list[EngineState] = []
        self._changed = threading.Condition()
        self.engine.subscribe(self._note)

    def _note(self, state: EngineState) -> None:
        with self._changed:
            self.states.append(state)
            self._changed.notify_all()

    def wait_state(self, condition, timeout: float = 20.0) -> EngineState:
        with self._changed:
            assert self._changed.wait_for(lambda: condition(self.engine.state), timeout), self.engine.state
            return self.engine.state

    def __enter__(self) -> Running:
        self.sink.start()
        self.engine.add_sink(self.sink)
        self.engine.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.stop()
        self.sink.close()

    def sent(self) -> int:
        return len(self.recorder.frames)

    def wait_sent(self, count: int) -> None:
        self.recorder.wait_for(lambda r: len(r.frames) >= count)


def as_bgr(recorder: Recorder, index: int) -> np.ndarray:
    """The index-th frame sent, in the default pixel format: the pipeline's BGR as it is."""
    assert recorder.opened[-1]["format"] == "24BG"  # pyvirtualcam's FourCC for BGR
    return recorder.frames[index].data


def is_placeholder(frame: np.ndarray) -> bool:
    return (frame == BACKGROUND).all(axis=2).mean() > 0.8


@pytest.fixture
def clip(media: Path) -> Config:
    return Config(camera=str(media / "short_hamilton_clip.mp4"))


@pytest.mark.slow
@pytest.mark.parametrize("fps", [30, 15])
def test_frames_reach_the_virtual_camera_at_the_configured_rate(clip: Config, fps: int) -> None:
    with Running(clip.replace(fps=fps)) as run:
        run.wait_sent(10)  # past start-up
        first = run.sent() - 1
        run.recorder.wait_for(lambda r: r.frames[-1].time - r.frames[first].time >= 5.0)
        frames = run.recorder.frames
        rate = (len(frames) - 1 - first) / (frames[-1].time - frames[first].time)
        processed = run.engine.fps
    assert abs(rate - fps) <= 0.1 * fps, f"{rate:.1f} frames per second sent, configured {fps}"
    assert processed > 20  # the clip's 30 fps go through the pipeline, not the placeholder
    assert run.recorder.opened[0]["width"] == 1280 and run.recorder.opened[0]["height"] == 720


def test_the_published_frames_are_the_camera_frames_with_emojis_unmirrored(media: Path) -> None:
    photo = cv2.imread(str(media / "two_people.jpg"))
    with Running(Config(camera=str(media / "two_people.jpg"))) as run:
        run.wait_state(lambda s: s.camera_ok)
        run.recorder.wait_for(lambda r: len(r.frames) > 2 and not is_placeholder(as_bgr(r, -1)))
        sent = as_bgr(run.recorder, -1)
        faces = run.engine.latest.faces
    plain = fit_frame(photo, 1280, 720)
    assert len(faces) == 2
    changed = np.abs(sent.astype(int) - plain.astype(int)).max(axis=2) > 40
    assert 0.01 < changed.mean() < 0.5  # emojis on the faces, the rest of the picture as it was
    assert np.abs(sent.astype(int) - plain.astype(int)).mean() < np.abs(sent.astype(int) - plain[:, ::-1]).mean()


def test_toggling_the_overlay_changes_the_published_frames_within_two_frames(media: Path) -> None:
    photo = str(media / "two_people.jpg")
    plain = to_pixel_format(fit_frame(read_image(Path(photo)), 1280, 720), PixelFormat.BGR)  # decoded as the source does
    with Running(Config(camera=photo)) as run:
        run.recorder.wait_for(lambda r: len(r.frames) > 2 and not is_placeholder(as_bgr(r, -1)))
        assert not np.array_equal(run.recorder.frames[-1].data, plain)
        # The still photo's faces settled (published again without the pipeline): what is measured
        # is the switch's way to the published frame, not a first detection still running.
        repeated = run.engine.frames_repeated
        wait_until(lambda: run.engine.frames_repeated > repeated + 3, message="the still picture to settle")
        for overlay in (False, True):
            at_toggle = run.sent()
            run.engine.set_overlay(overlay)
            run.wait_sent(at_toggle + 2)
            second = run.recorder.frames[at_toggle + 1].data
            assert np.array_equal(second, plain) != overlay, f"overlay {overlay} not shown by the second frame"
    overlay_states = [state.overlay for state in run.states]
    assert [value for i, value in enumerate(overlay_states) if i == 0 or value != overlay_states[i - 1]] == \
        [True, False, True]


class StallingSource:
    """The clip, which stops delivering for `pause` seconds after `after` frames, as a webcam does
    when its driver hiccups; it stalls once."""

    def __init__(self, path: Path, after: int, pause: float) -> None:
        self._video = VideoFileSource(path)
        self.name = "stalling camera"
        self._after, self._pause = after, pause
        self._frames = 0
        self._closed = threading.Event()
        self.resumed = threading.Event()

    def read(self) -> np.ndarray | None:
        self._frames += 1
        if self._frames == self._after:
            self._closed.wait(self._pause)  # the stall being simulated, cut short by close()
            self.resumed.set()
        return self._video.read()

    def close(self) -> None:
        self._closed.set()
        self._video.close()


@pytest.mark.slow
def test_a_source_that_stops_for_two_seconds_yields_placeholders_then_resumes(clip: Config) -> None:
    source = StallingSource(Path(clip.camera), after=30, pause=2.0)
    with Running(clip, opener=lambda camera: source) as run:
        source.resumed.wait(20)
        resumed_at = run.sent()
        run.wait_sent(resumed_at + 20)
        kinds = [is_placeholder(as_bgr(run.recorder, i)) for i in range(run.sent())]
        times = [frame.time for frame in run.recorder.frames]
    first_placeholder = kinds.index(True, 5)
    after = kinds.index(False, first_placeholder)
    assert all(kinds[first_placeholder:after]), "the placeholder stays up until frames come back"
    assert not any(kinds[after:]), "camera frames again once the source resumes"
    gap_rate = (after - first_placeholder) / (times[after] - times[first_placeholder])
    assert abs(gap_rate - 30) <= 3, f"{gap_rate:.1f} frames per second while the camera was silent"
    assert 1.0 <= times[after] - times[first_placeholder] <= 2.0  # 2 s stall, less the 0.5 s before it shows


def test_a_camera_missing_at_start_is_retried_and_used_once_it_appears(clip: Config) -> None:
    tries = []

    def opener(camera):
        tries.append(camera)
        if len(tries) <= 3:
            raise CameraError("camera 0 cannot be opened: it is unplugged or another app is using it")
        return open_source(clip.camera)

    with Running(clip.replace(camera=0), opener=opener) as run:
        down = run.wait_state(lambda s: not s.camera_ok and "unplugged" in s.camera_message)
        run.wait_state(lambda s: s.camera_ok)
        run.recorder.wait_for(lambda r: any(not is_placeholder(f.data) for f in r.frames[-3:]))
    assert "retrying" in down.camera_message
    assert len(tries) == 4
    assert any(is_placeholder(as_bgr(run.recorder, i)) for i in range(run.sent()))


class UnpluggedSource:
    """Frames from the clip until `after`, then nothing but failed reads, as a webcam pulled out."""

    def __init__(self, path: str, after: int, broken: list | None = None) -> None:
        self._video = open_source(path)
        self.name = "camera 0"
        self._after, self._count = after, 0
        self._broken = list(broken or [])

    def read(self) -> np.ndarray | None:
        self._count += 1
        if self._count > self._after:
            return None
        if self._broken and self._count % 5 == 0:
            return self._broken.pop()
        return self._video.read()

    def close(self) -> None:
        self._video.close()


def test_a_camera_unplugged_mid_stream_is_reopened_and_the_stream_never_stops(clip: Config) -> None:
    opened = []

    def opener(camera):
        opened.append(UnpluggedSource(clip.camera, after=20 if not opened else 10_000))
        return opened[-1]

    with Running(clip, opener=opener) as run:
        run.wait_state(lambda s: len(opened) >= 2 and s.camera_ok)
        count = run.sent()
        run.wait_sent(count + 10)
    lost = [s for s in run.states if not s.camera_ok and "stopped sending frames" in s.camera_message]
    assert lost, "the lost camera was reported"
    gaps = np.diff([frame.time for frame in run.recorder.frames])
    assert gaps.max() < 0.2, "the virtual camera kept publishing while the camera was gone"


def test_broken_frames_are_skipped_or_repaired_without_stopping_the_stream(clip: Config) -> None:
    broken = [np.zeros((0, 0, 3), np.uint8), np.zeros((720, 1280), np.float32), np.zeros((4, 4, 3), np.uint8),
              np.full((360, 640), 128, np.uint8), np.zeros((360, 640, 4), np.uint8)]
    source = UnpluggedSource(clip.camera, after=10_000, broken=broken)
    with Running(clip, opener=lambda camera: source) as run:
        run.wait_sent(60)
        processed = run.engine.frames_processed
    assert not source._broken, "every broken frame was read"
    assert processed >= 40 and run.engine.state.camera_ok


def test_pause_stops_the_pipeline_and_the_camera_and_keeps_publishing_a_still(clip: Config) -> None:
    closed = threading.Event()

    class Watched(VideoFileSource):
        def close(self) -> None:
            closed.set()
            super().close()

    with Running(clip, opener=lambda camera: Watched(Path(camera))) as run:
        run.recorder.wait_for(lambda r: len(r.frames) > 5 and not is_placeholder(as_bgr(r, -1)))
        run.engine.set_paused(True)
        run.wait_state(lambda s: s.paused)
        assert closed.wait(5), "the camera is let go while paused"
        processed, at_pause = run.engine.frames_processed, run.sent()
        run.wait_sent(at_pause + 30)
        still = [f.data for f in run.recorder.frames[at_pause + 1:]]
        assert run.engine.frames_processed == processed, "no detection or CNN while paused"
        assert all(np.array_equal(frame, still[0]) for frame in still)
        run.engine.set_paused(False)
        run.wait_state(lambda s: not s.paused and s.camera_ok)
        run.recorder.wait_for(lambda r: run.engine.frames_processed > processed + 5)


def test_settings_changes_reach_the_pipeline_and_survive_a_restart(clip: Config, tmp_path: Path,
                                                                   media: Path) -> None:
    settings = tmp_path / "config.toml"
    with Running(clip, settings_file=settings) as run:
        run.engine.set_placement("corner")
        run.engine.set_detector("short")
        run.engine.set_overlay(False)
        run.engine.set_camera(str(media / "two_people.jpg"))
        run.wait_state(lambda s: (s.placement, s.detector, s.overlay, s.camera_ok, s.camera)
                       == ("corner", "short", False, True, str(media / "two_people.jpg")))
        assert run.engine.pipeline.detector.kind == "short"
        assert run.engine.pipeline.overlay.placement == "corner"
        with pytest.raises(ValueError, match="choose one of"):
            run.engine.set_placement("hat")
    restarted = load_config(settings)
    assert (restarted.placement, restarted.detector, restarted.overlay, restarted.camera) == \
        ("corner", "short", False, str(media / "two_people.jpg"))
    assert Engine(restarted).state.placement == "corner"


def test_a_failing_sink_does_not_stop_the_others(clip: Config) -> None:
    class Broken:
        def publish(self, result) -> None:
            raise OSError("disk full")

    with Running(clip) as run:
        run.engine.add_sink(Broken())
        count = run.sent()
        run.recorder.wait_for(lambda r: run.engine.frames_processed > 10 and len(r.frames) > count + 10)


def test_a_tiny_photo_is_refused_in_one_steady_message_not_flipping(tmp_path: Path) -> None:
    four = tmp_path / "four.png"
    cv2.imwrite(str(four), np.full((4, 4, 3), 128, np.uint8))
    opened = []

    def opener(camera):
        opened.append(camera)
        return open_source(camera)

    with Running(Config(camera=str(four)), opener=opener) as run:
        wait_until(lambda: len(opened) >= 4, message="four tries")  # FAST_RETRY: tried again and again
    assert not any(state.camera_ok for state in run.states)
    problems = {state.camera_message for state in run.states if state.camera_message != "starting"}
    assert problems == {"four.png is only 4×4 pixels; a photo played as the camera must be at least 8×8: "
                        "use a larger one; retrying"}


class PictureLessSource:
    """A device that opens and then sends only frames that are no picture (4×4)."""

    name = "camera 3"

    def read(self) -> np.ndarray:
        time.sleep(0.01)  # a device's frame clock
        return np.zeros((4, 4, 3), np.uint8)

    def close(self) -> None:
        pass


def test_a_camera_that_opens_but_sends_no_picture_is_never_reported_working(clip: Config) -> None:
    opened = []

    def opener(camera):
        opened.append(PictureLessSource())
        return opened[-1]

    with Running(clip.replace(camera=3), opener=opener) as run:
        wait_until(lambda: len(opened) >= 3, message="three tries")  # lost after 1 s each time, opened again
    assert not any(state.camera_ok for state in run.states), "it flipped to working and back"
    problems = {state.camera_message for state in run.states if state.camera_message != "starting"}
    assert problems == {"camera 3 opens but sends no picture (not a camera, or a broken driver); retrying"}


class Counted:
    """A real pipeline counting its runs and its detector's and classifier's calls."""

    def __init__(self, config: Config) -> None:
        self.pipeline = Pipeline.from_config(config)
        self.runs = self.detections = self.classifications = 0
        process, detect, classify = self.pipeline.process, self.pipeline.detector.detect, self.pipeline.model.classify

        def counting_process(frame, *args, **kwargs):
            self.runs += 1
            return process(frame, *args, **kwargs)

        def counting_detect(frame, *changed):
            self.detections += 1
            return detect(frame, *changed)

        def counting_classify(frame, faces):
            self.classifications += 1
            return classify(frame, faces)

        self.pipeline.process = counting_process
        self.pipeline.detector.detect = counting_detect
        self.pipeline.model.classify = counting_classify


class Published:
    """A sink that keeps every result the engine publishes."""

    def __init__(self) -> None:
        self.results: list[FrameResult] = []

    def publish(self, result: FrameResult) -> None:
        self.results.append(result)


def test_with_the_overlay_off_the_frames_go_to_the_sinks_without_detector_or_classifier(clip: Config) -> None:
    config = clip.replace(overlay=False)
    counted = Counted(config)
    published = Published()
    with Running(config, pipeline=counted.pipeline) as run:
        run.engine.add_sink(published)
        run.recorder.wait_for(lambda r: run.engine.frames_processed >= 30)
        assert (counted.detections, counted.classifications) == (0, 0)
        camera_frames = [result for result in published.results if not is_placeholder(result.frame)]
        assert len(camera_frames) >= 30 and all(result.faces == [] for result in camera_frames)
        run.engine.set_overlay(True)
        run.recorder.wait_for(lambda r: counted.classifications >= 5)  # the same counters see the pipeline run
    assert counted.runs >= 5 and counted.detections >= 1  # detections as the picture needs them (vcam/schedule.py)


def test_a_repeated_picture_is_published_again_without_running_the_pipeline(media: Path) -> None:
    # A photo as the camera: every frame is a fresh copy of the same picture.
    photo = str(media / "two_people.jpg")
    plain = cv2.imread(photo)
    config = Config(camera=photo)
    counted = Counted(config)
    published = Published()
    with Running(config, pipeline=counted.pipeline) as run:
        run.engine.add_sink(published)
        run.recorder.wait_for(lambda r: run.engine.frames_repeated > 0)  # the tracker has settled
        engine = run.engine
        settled = (engine.frames_processed, engine.frames_repeated, counted.runs, len(published.results))
        run.recorder.wait_for(lambda r: engine.frames_processed >= settled[0] + 60)
        processed, repeated = engine.frames_processed - settled[0], engine.frames_repeated - settled[1]
        runs, results = counted.runs - settled[2], published.results[settled[3]:]
    assert runs + repeated == processed, "each frame either ran the pipeline or repeated the last result"
    # Once settled, a still picture runs the pipeline every REFRESH_EVERY-th frame only.
    assert processed // REFRESH_EVERY <= runs <= processed // REFRESH_EVERY + 1
    assert len(results) >= processed, "every repeated frame is still published"
    assert all(len(result.faces) == 2 for result in results)
    first = results[0].frame
    for result in results:
        assert np.array_equal(result.frame, first), "the same emojis on the same picture"
    assert (np.abs(first.astype(int) - plain.astype(int)).max(axis=2) > 40).mean() > 0.01, "with emojis on it"
    assert len({id(result.frame) for result in results}) == len(results), "each in the frame its capture handed over"


class Slideshow:
    """Two photos as a camera at 30 fps, each for `hold` frames in turn, every frame a fresh copy;
    notes which photo each frame it handed over shows."""

    def __init__(self, pictures: list[np.ndarray], hold: int) -> None:
        self.name, self._pictures, self._hold = "slideshow", pictures, hold
        self._pacer = Pacer(30)
        self.shows: dict[int, int] = {}

    def read(self) -> np.ndarray:
        self._pacer.wait()
        index = (len(self.shows) // self._hold) % len(self._pictures)
        frame = self._pictures[index].copy()
        self.shows[id(frame)] = index
        return frame

    def close(self) -> None:
        self._pacer.cancel()


@pytest.mark.slow
def test_a_new_picture_after_a_settled_one_goes_through_the_pipeline(media: Path) -> None:
    pictures = [fit_frame(cv2.imread(str(media / name)), 1280, 720) for name in ("two_people.jpg", "obama-720p.jpg")]
    slideshow = Slideshow(pictures, hold=45)
    published = Published()
    with Running(Config(camera="slideshow"), opener=lambda camera: slideshow) as run:
        run.engine.add_sink(published)
        run.recorder.wait_for(lambda r: len(slideshow.shows) >= 4 * 45 + 10)
        repeated = run.engine.frames_repeated
    faces_by_picture: dict[int, set[int]] = {0: set(), 1: set()}
    for result in published.results:
        index = slideshow.shows.get(id(result.frame))
        if index is not None:
            # Faces found in this picture; a track lost at the cut is shown a moment as predicted.
            faces_by_picture[index].add(sum(not face.predicted for face in result.faces))
    assert repeated > 45, "each photo settled and was repeated"
    assert faces_by_picture == {0: {2}, 1: {1}}, "each photo's own faces, never the other's carried over"


def test_a_capture_that_cannot_switch_to_mjpg_or_the_size_keeps_its_own_and_says_so(media: Path) -> None:
    # A video file opened where a webcam would be: OpenCV's file reader takes no format or size,
    # as a camera without MJPG or without the virtual camera's size does.
    source = WebcamSource(str(media / "short_hamilton_clip.mp4"), 1280, 720)
    try:
        frame = source.read()
    finally:
        source.close()
    assert source.mode == "640×360 h264"
    assert frame is not None and frame.shape == (360, 640, 3)
