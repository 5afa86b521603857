"""The live app, assembled in one place for every entry point: the engine, the virtual camera and
the web preview.

    with LiveApp(config, settings_file) as app:        # the tray: virtual camera, preview on demand
        url = app.preview.ensure_started()
    with LiveApp(config, virtual_camera=False) as app:  # `vcam web`: the preview alone

The engine starts before any sink or request reaches it, so that every change comes to it as a
command; on the way out the preview's streams end first, then the engine, then the virtual camera.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from types import TracebackType

import cv2

from vcam.config import PREVIEW_HOST, PREVIEW_PORT, Config
from vcam.engine import Engine, SourceOpener
from vcam.errors import VcamError
from vcam.mjpeg import JpegBroadcaster
from vcam.reaction import REACTION_LABELS, REACTION_SECONDS
from vcam.shortcut import Binding, ShortcutListener, parse_shortcut, reaction_keys
from vcam.shortcut_listener import NoShortcut, start_shortcuts
from vcam.virtual_camera import VirtualCameraSink
from vcam.web import create_app
from vcam.web_access import PreviewAccess
from vcam.web_server import WebServer

log = logging.getLogger("vcam")

LIVE_OPENCV_THREADS = 0
"""OpenCV's own threads while the live app runs: none (`python -m benchmarks.live` measures it)."""


class PreviewServer:
    """The web preview of one engine: started on first use, its broadcaster fed by that engine.
    `url = preview.ensure_started(); open_in_browser(url)` (vcam.preview_launch). With `any_port`, a taken port gives way
    to any free one (the tray); without, it is an error (`vcam web`, whose user named the port)."""

    def __init__(self, engine: Engine, config: Config, settings_file: Path | None = None,
                 host: str = PREVIEW_HOST, port: int = PREVIEW_PORT, virtual_camera: bool = True,
                 any_port: bool = True) -> None:
        self.engine = engine
        self.config = config
        self.settings_file = settings_file
        self.host, self.port = host, port
        self.virtual_camera, self.any_port = virtual_camera, any_port
        self._lock = threading.Lock()
        self._broadcaster: JpegBroadcaster | None = None
        self._server: WebServer | None = None
        self._access = PreviewAccess.for_host(host)

    def ensure_started(self) -> str:
        """The preview's URL with its token, starting it the first time."""
        with self._lock:
            if self._server is None:
                broadcaster = JpegBroadcaster(mirror=self.config.mirror_preview).start()
                app = create_app(self.engine, broadcaster, self._access, self.settings_file,
                                 virtual_camera=self.virtual_camera)
                try:
                    try:
                        server = WebServer(app, self.host, self.port).start()
                    except VcamError as err:
                        if not self.any_port:
                            raise
                        log.info("%s; using a free port instead", err)
                        server = WebServer(app, self.host, 0).start()
                except BaseException:
                    broadcaster.close()
                    raise
                self.engine.add_sink(broadcaster)
                self._broadcaster, self._server = broadcaster, server
            return self._access.page_url(self._server.url)

    @property
    def url(self) -> str | None:
        return self._access.page_url(self._server.url) if self._server else None

    def stop(self) -> None:
        """End the open streams, then the server (which waits for their threads)."""
        with self._lock:
            if self._broadcaster is not None:
                self.engine.remove_sink(self._broadcaster)
                self._broadcaster.close()
            if self._server is not None:
                self._server.stop()
            self._broadcaster = self._server = None


class LiveApp:
    """The engine, the virtual camera (unless `virtual_camera` is False) and the preview, as one
    context manager. `backend` picks pyvirtualcam's backend (None: the OS's own; tests and
    benchmarks register their own); `opener` is the engine's frame-source seam."""

    def __init__(self, config: Config, settings_file: Path | None = None, *, virtual_camera: bool = True,
                 backend: str | None = None, preview_host: str = PREVIEW_HOST, preview_port: int = PREVIEW_PORT,
                 any_port: bool = True, opener: SourceOpener | None = None) -> None:
        # At the camera's rate what counts is the CPU a frame costs, not how soon it is done:
        # OpenCV's worker threads split each resize and colour conversion and then wait for
        # work, which cost 0.8 ms of CPU more a 1280×720 frame with four faces here (5.5 against
        # 4.7 ms), to finish a frame that is well within its 33 ms anyway.
        cv2.setNumThreads(LIVE_OPENCV_THREADS)
        self.engine = Engine(config, settings_file=settings_file, opener=opener)
        self.virtual_camera = (VirtualCameraSink.from_config(config, backend=backend,
                                                             on_status=self.engine.report_virtual_camera)
                               if virtual_camera else None)
        self.preview = PreviewServer(self.engine, config, settings_file, preview_host, preview_port,
                                     virtual_camera=virtual_camera, any_port=any_port)
        self.shortcut: ShortcutListener = NoShortcut()
        """The toggle_key's listener, from the start on (vcam/shortcut.py)."""

    def __enter__(self) -> LiveApp:
        if self.virtual_camera is not None:
            self.virtual_camera.start()
        try:
            self.engine.start()
        except BaseException:
            self._close_virtual_camera()
            raise
        if self.virtual_camera is not None:
            self.engine.add_sink(self.virtual_camera)
        self.shortcut = start_shortcuts(key_bindings(self.engine), self.engine.report_shortcut)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            try:
                self.shortcut.close()
            finally:
                self.preview.stop()
        finally:
            try:
                self.engine.stop()
            finally:
                self._close_virtual_camera()

    def _close_virtual_camera(self) -> None:
        if self.virtual_camera is not None:
            self.virtual_camera.close()


def key_bindings(engine: Engine) -> list[Binding]:
    """The overlay key (toggle_key) and the reaction keys, each wired to the engine; none without toggle_key."""
    toggle = parse_shortcut(engine.config.toggle_key)
    if toggle is None:
        return []
    return [Binding("toggle-overlay", toggle, "Switch the vcam overlay on and off", engine.toggle_overlay),
            *(Binding(f"react-{emotion}", key, f"vcam reaction {REACTION_LABELS[emotion]} for {REACTION_SECONDS:g} s",
                      functools.partial(engine.react, emotion)) for emotion, key in reaction_keys(toggle).items())]


def serve_web(config: Config, host: str = PREVIEW_HOST, port: int = PREVIEW_PORT, settings_file: Path | None = None,
              stop: threading.Event | None = None) -> int:
    """`vcam web`: the camera with emojis in the browser, until Ctrl-C, SIGTERM or SIGHUP (which the
    command line turns into a KeyboardInterrupt, vcam.stop_signals), or until `stop` is set. No virtual camera is opened.
    VcamError when the port is taken or a file source cannot play."""
    from vcam.sources import require_playable
    from vcam.web_server import check_port_free

    stop = stop or threading.Event()
    check_port_free(host, port)  # before the models load: a taken port fails at once
    require_playable(config.camera)  # a file that can never play fails at once too
    with LiveApp(config, settings_file, virtual_camera=False, preview_host=host, preview_port=port,
                 any_port=False) as app:
        url = app.preview.ensure_started()
        try:  # the print too: a signal may come the moment the URL is out
            print(f"vcam: preview at {url} — open it in a browser and press Start; Ctrl-C stops", flush=True)
            # In slices: a signal the kernel hands to another thread runs its handler only
            # when the main thread wakes, and a wait without a timeout might never wake.
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("vcam: preview stopped")
    return 0
