"""The engine: camera → pipeline → sinks, on background threads, steerable from any thread.

    capture thread ──newest frame──▶ processing thread ──FrameResult──▶ sinks (virtual camera, web, …)

Every change the user makes (overlay, placement, detector, camera, pause) is queued as a command
and carried out by the processing thread between two frames, so no lock is held across the
pipeline and nothing is changed under its feet. When the camera has no picture to give, the
engine publishes a still "camera unavailable" frame, and the sinks keep sending it at their rate.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcam.capture import CameraStatus, Capture
from vcam.choices import Detector, Faces, Placement, parse_choice
from vcam.config import Config, save_settings
from vcam.emotions import Emotion
from vcam.faces import Face
from vcam.live_settings import LIVE
from vcam.frames import FrameResult, Sink
from vcam.overlay import Covered, uncover
from vcam.pipeline import Pipeline
from vcam.placeholder import placeholder_frame
from vcam.repeats import RepeatedPicture
from vcam.retry import Backoff
from vcam.sources import FrameSource, describe_camera, open_source

log = logging.getLogger("vcam")


@dataclass(frozen=True)
class EngineState:
    """What the user sees of the engine: the tray draws its icon and menu from this."""

    running: bool = False
    paused: bool = False
    overlay: bool = True
    placement: Placement = Placement.FACE
    faces: Faces = Faces.EVERYONE
    detector: Detector = Detector.FULL
    camera: int | str = 0
    camera_ok: bool = False
    camera_message: str = "starting"
    virtual_camera: str | None = None
    """The device the call app must pick, while the virtual camera is publishing."""
    virtual_camera_error: str | None = None
    shortcut: str | None = None
    """The key that switches the overlay from any window, while it works ("Ctrl+Alt+E")."""
    shortcut_error: str | None = None
    """Why the configured key does not work here."""


SourceOpener = Callable[[int | str], FrameSource]


class Engine:
    def __init__(self, config: Config, pipeline: Pipeline | None = None, opener: SourceOpener | None = None, stall_after: float = 0.5,
                 backoff: Backoff = Backoff(), settings_file: Path | None = None) -> None:
        """`opener` turns a camera setting into a frame source (default: `open_source`); tests
        pass their own here — it is the seam where a webcam would be. With `settings_file`, each
        change the user makes (overlay, placement, detector, camera) is saved there for next time."""
        self.config = config
        self.pipeline = pipeline or Pipeline.from_config(config)
        self.pipeline.set_overlay(config.overlay)
        self.pipeline.set_placement(config.placement)
        self.pipeline.set_faces(config.faces)
        self._sinks: list[Sink] = []
        self._opener = opener or (lambda camera: open_source(camera, config.width, config.height))
        self._stall_after = stall_after
        self._backoff = backoff
        self._settings_file = settings_file
        self._saver = ThreadPoolExecutor(1, "vcam-settings") if settings_file is not None else None
        """Writes the settings file off the processing thread (a write waits for the disk), one
        change after another in the order they were made."""
        self._state = EngineState(overlay=config.overlay, placement=config.placement, faces=config.faces,
                                  detector=config.detector, camera=config.camera)
        self._listeners: list[Callable[[EngineState], None]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._frame: np.ndarray | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: Capture | None = None
        self._last_camera: tuple[np.ndarray, list[Covered]] | None = None
        """The last camera frame as published, and the pixels its emojis cover: the camera's
        picture without a copy of every frame, for a redraw."""
        self._last_faces: list[Face] = []
        self._last_output: FrameResult | None = None
        self._repeats = RepeatedPicture()
        self._showing_placeholder = False
        self._frame_times: collections.deque[float] = collections.deque(maxlen=60)
        self.frames_processed = 0
        self.frames_repeated = 0  # of those, the ones that repeated the last picture: published without the pipeline

    # --- the outside: safe to call from any thread ---------------------------------------------

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def latest(self) -> FrameResult | None:
        """The newest published frame and its faces."""
        return self._last_output

    @property
    def fps(self) -> float:
        """Frames through the pipeline per second, over the last 60."""
        times = list(self._frame_times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def subscribe(self, listener: Callable[[EngineState], None]) -> None:
        """Call `listener(state)` after every change of state (from the thread that made it)."""
        self._listeners.append(listener)

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = [*self._sinks, sink]
        if self._last_output is not None:
            _deliver(sink, self._last_output)

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = [s for s in self._sinks if s is not sink]

    def start(self) -> Engine:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vcam-engine", daemon=True)
            self._set_state(running=True)
            self._publish_placeholder("starting")
            self._start_capture()  # before the thread: a queued camera change then replaces this capture
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        self._stop_capture()
        if self._saver is not None:
            self._saver.shutdown(wait=True)  # every change the user made is in the file when stop returns
        self._set_state(running=False)

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def change(self, name: str, value: object) -> None:
        """Change the live setting `name` (vcam/live_settings.py) to `value`, parsed here: an
        unknown choice raises UnknownChoice (a ValueError) at once, before anything is queued."""
        setting = LIVE[name]
        parsed = setting.parse(value)
        self._command(lambda: self._apply_setting(name, parsed))

    def set_overlay(self, enabled: bool) -> None:
        self.change("overlay", enabled)

    def toggle_overlay(self) -> None:
        self._command(lambda: self._apply_setting("overlay", not self._state.overlay))

    def set_placement(self, placement: Placement | str) -> None:
        self.change("placement", placement)

    def react(self, emotion: object) -> None:
        """Show `emotion` (a reaction's name) on the user's face for REACTION_SECONDS from the next
        frame, whatever the classifier reads; parsed here: an unknown one raises UnknownChoice at once."""
        parsed = parse_choice(Emotion, "reaction", emotion)
        self._command(lambda: self._react(parsed))

    def set_detector(self, kind: Detector | str) -> None:
        self.change("detector", kind)

    def set_camera(self, camera: int | str) -> None:
        self._command(lambda: self._apply_camera(camera))

    def set_paused(self, paused: bool) -> None:
        self._command(lambda: self._apply_paused(paused))

    def report_virtual_camera(self, device: str | None, error: str | None) -> None:
        """Sinks that publish to a virtual camera tell the engine how it went; the tray shows it."""
        self._set_state(virtual_camera=device, virtual_camera_error=error)

    def report_shortcut(self, working: str | None, problem: str | None) -> None:
        """The shortcut listener tells the engine whether its key works; the tray and the page show it."""
        self._set_state(shortcut=working, shortcut_error=problem)

    # --- the processing thread -----------------------------------------------------------------

    def _command(self, command: Callable[[], None]) -> None:
        with self._wake:
            self._commands.append(command)
            self._wake.notify_all()
        if self._thread is None:  # not started: carry it out here, nothing else is running
            self._run_commands()

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                command = self._commands.popleft()
            self._repeats.forget()  # a changed setting: the next frame goes through the pipeline
            try:
                command()
            except Exception as err:  # noqa: BLE001 - a failed change must not end the stream
                log.warning("could not change a setting: %s", err)

    def _on_frame(self, frame: np.ndarray) -> None:
        with self._wake:
            self._frame = frame
            self._wake.notify_all()

    def _on_camera_status(self, status: CameraStatus) -> None:
        self._set_state(camera_ok=status.ok, camera_message=status.message)

    def _next_frame(self) -> np.ndarray | None:
        """The newest frame not yet processed; None when none came within the stall time or a
        command is waiting."""
        deadline = time.monotonic() + self._stall_after
        with self._wake:
            while self._frame is None and not self._commands and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._wake.wait(remaining)
            frame, self._frame = self._frame, None
            return frame

    def _run(self) -> None:
        stalled_since = time.monotonic()
        while not self._stop.is_set():
            self._run_commands()
            if self._state.paused:
                with self._wake:
                    while not self._commands and not self._stop.is_set():
                        self._wake.wait()
                continue
            frame = self._next_frame()
            if frame is None:
                if self._commands:
                    continue
                if time.monotonic() - stalled_since >= self._stall_after:
                    self._publish_placeholder(*self._unavailable_message())
                continue
            stalled_since = time.monotonic()
            self._process(frame)

    def _unavailable_message(self) -> tuple[str, str]:
        state = self._state
        if state.camera_ok:
            return "camera unavailable", f"{describe_camera(state.camera)} is not sending frames; waiting for it"
        return "camera unavailable", state.camera_message

    def _process(self, frame: np.ndarray) -> None:
        # A reaction's time runs on the frames: a repeated picture goes through the pipeline then.
        if not self.pipeline.reacting and self._repeats.may_skip(frame):
            self._publish_again(frame)
            return
        underneath: list[Covered] = []
        if not self.pipeline.overlay_enabled:
            # No emojis to draw: no detector, no classifier; the camera's frame goes straight to the sinks.
            result = FrameResult(frame, [])
        else:
            try:
                result = self.pipeline.process(frame, underneath=underneath)
            except Exception as err:  # noqa: BLE001 - one bad frame must not stop the stream
                log.warning("a frame could not be processed (%s); showing it without emojis", err)
                result, underneath = FrameResult(uncover(frame, underneath), []), []
        self._repeats.ran(self._last_output.faces if self._last_output else [], result.faces)
        self._last_camera = result.frame, underneath
        if self.pipeline.overlay_enabled:  # with it off, the faces found last are kept for when it comes on
            self._last_faces = result.faces
        self._showing_placeholder = False
        self.frames_processed += 1
        self._frame_times.append(time.monotonic())
        self._publish(result)

    def _publish_again(self, frame: np.ndarray) -> None:
        """The last result published for a repeated camera frame, without running the pipeline.
        The picture is copied into the camera's new frame object, so that each published frame
        is still the one its capture handed over (sinks and measurements follow frames by it)."""
        last = self._last_output
        assert last is not None
        np.copyto(frame, last.frame)
        self.frames_processed += 1
        self.frames_repeated += 1
        self._frame_times.append(time.monotonic())
        self._publish(FrameResult(frame, last.faces))

    def _redraw(self) -> None:
        """Publish the last camera frame again with the current overlay settings."""
        if self._last_camera is None or self._showing_placeholder:
            return
        published, underneath = self._last_camera
        frame = uncover(published.copy(), underneath)
        self.pipeline.draw(frame, self._last_faces)
        self._publish(FrameResult(frame, self._last_faces))

    def _publish_placeholder(self, title: str, detail: str = "") -> None:
        self._repeats.forget()
        self._showing_placeholder = True
        self._publish(placeholder_frame(self.config.width, self.config.height, title, detail))

    def _publish(self, result: FrameResult) -> None:
        self._last_output = result
        for sink in self._sinks:
            _deliver(sink, result)

    # --- commands, carried out on the processing thread ----------------------------------------

    def _apply_setting(self, name: str, value: object) -> None:
        """A live setting's effect on the pipeline, then the setting into the state and the
        settings file. Each live setting of vcam/live_settings.py has its effect here."""
        effect = {"overlay": self._show_overlay, "placement": self._place_emojis, "faces": self.pipeline.set_faces,
                  "detector": self.pipeline.use_detector}[name]
        effect(value)
        self._user_change(**{name: value})

    def _show_overlay(self, enabled: bool) -> None:
        was_enabled = self.pipeline.overlay_enabled
        self.pipeline.set_overlay(enabled)
        if enabled and not was_enabled:
            # The pipeline did not run while the overlay was off: the redraw shows the faces found
            # before (at once, for one frame), and the next frame starts the tracks afresh.
            self.pipeline.reset()
        self._redraw()

    def _react(self, emotion: Emotion) -> None:
        if not self.pipeline.overlay_enabled:
            log.info("no %s reaction: the overlay is off", emotion)
            return
        self.pipeline.react(emotion)

    def _place_emojis(self, placement: Placement) -> None:
        self.pipeline.set_placement(placement)
        self._redraw()

    def _apply_camera(self, camera: int | str) -> None:
        self._stop_capture()
        self.pipeline.reset()
        self._set_state(camera=camera, camera_ok=False, camera_message=f"opening {describe_camera(camera)}")
        self._save(camera=camera)
        self._last_camera = None
        if self._state.running and not self._state.paused:
            self._start_capture()

    def _apply_paused(self, paused: bool) -> None:
        if paused == self._state.paused:
            return
        self._set_state(paused=paused)
        if paused:
            # Let go of the webcam (its light goes off) and keep publishing the last frame.
            self._stop_capture()
            if self._last_output is None:
                self._publish_placeholder("paused")
        elif self._state.running:
            self._start_capture()

    def _start_capture(self) -> None:
        camera = self._state.camera
        self._capture = Capture(lambda: self._opener(camera), self._on_frame, self._on_camera_status,
                                backoff=self._backoff).start()

    def _stop_capture(self) -> None:
        if self._capture is not None:
            self._capture.stop()
            self._capture = None
        with self._lock:
            self._frame = None

    def _user_change(self, **changes: object) -> None:
        """A setting the user changed: into the state, and into the settings file for next time."""
        self._set_state(**changes)
        self._save(**changes)

    def _save(self, **changes: object) -> None:
        if self._saver is None:
            return
        try:
            self._saver.submit(self._write_settings, changes)
        except RuntimeError:  # stopped: nothing is saved any more
            log.warning("vcam is stopping; the change to %s is not saved", ", ".join(changes))

    def _write_settings(self, changes: dict[str, object]) -> None:
        try:
            save_settings(changes, self._settings_file)
        except Exception as err:  # noqa: BLE001 - an unwritable file must not stop the stream
            log.warning("could not save the settings to %s (%s); the change lasts until vcam quits",
                        self._settings_file, err)

    def _set_state(self, **changes: object) -> None:
        with self._lock:
            old = self._state
            self._state = dataclasses.replace(old, **changes)
            new = self._state
        if new != old:
            for listener in list(self._listeners):
                try:
                    listener(new)
                except Exception as err:  # noqa: BLE001 - a broken listener must not stop the engine
                    log.warning("state listener failed: %s", err)


def _deliver(sink: Sink, result: FrameResult) -> None:
    try:
        sink.publish(result)
    except Exception as err:  # noqa: BLE001 - a broken sink must not stop the others
        log.warning("%s failed: %s", type(sink).__name__, err)
