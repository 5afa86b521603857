"""The tray app: a pystray icon whose menu steers the engine, and whose picture shows its state.

The menu's callbacks only queue changes on the engine (they return at once, on pystray's thread);
the engine tells the tray about every change through `Engine.subscribe`, and the tray redraws the
icon, the tooltip and the menu from that state — one source of truth.

On Linux pystray picks the AppIndicator or GTK backend when PyGObject is installed, and its plain
X11 ("xorg") backend otherwise; that one has no menu, so a click on the icon toggles the overlay.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance

from vcam.autostart import Autostart
from vcam.config import Config
from vcam.engine import Engine, EngineState
from vcam.errors import VcamError
from vcam.resources import emojis_dir
from vcam.sources import available_cameras, describe_camera
from vcam.x11_icon import is_x11_backend, single_thread_x11_icon

log = logging.getLogger("vcam")

ICON_SIZE = 64
DETECTOR_LABELS = {"short": "Near — one person at the desk (faster)", "full": "Room — faces near and far"}
PLACEMENT_LABELS = {"face": "On the face", "badge": "Badge beside the head", "corner": "In the corner"}


def import_pystray() -> ModuleType:
    """pystray, or a VcamError that says why there is no tray (pystray connects to the desktop
    when it is imported, and fails with a bare Xlib error when there is none)."""
    try:
        import pystray
    except Exception as err:  # noqa: BLE001 - Xlib raises its own error types, not ImportError
        raise VcamError(f"no system tray: cannot reach the desktop ({type(err).__name__}: {err}); run vcam from "
                        "a desktop session (DISPLAY set), or use `vcam web` for a browser preview") from None
    return pystray


@functools.lru_cache(maxsize=4)
def _happy_emoji(size: int) -> Image.Image:
    # Read once: the icon is redrawn at every change of state.
    return Image.open(emojis_dir() / "happy.png").convert("RGBA").resize((size, size), Image.LANCZOS)


def tray_image(state: EngineState, size: int = ICON_SIZE) -> Image.Image:
    """The icon for `state`: the happy emoji; grey when the overlay is off; a red "!" badge when
    the camera is lost, a pause badge when paused, an orange dot while no virtual camera works."""
    emoji = _happy_emoji(size).copy()
    if not state.overlay:
        grey = ImageEnhance.Color(emoji).enhance(0.0)
        emoji = Image.composite(grey, Image.new("RGBA", grey.size), grey.getchannel("A").point(lambda a: a * 0.6))
    draw = ImageDraw.Draw(emoji)
    badge = size * 0.42
    box = (size - badge, size - badge, size - 1, size - 1)
    if state.paused:
        draw.ellipse(box, fill=(40, 40, 40, 255))
        bar = badge / 6
        for left in (size - badge * 0.68, size - badge * 0.68 + 2 * bar):
            draw.rectangle((left, size - badge * 0.72, left + bar, size - badge * 0.28), fill=(255, 255, 255, 255))
    elif not state.camera_ok:
        draw.ellipse(box, fill=(220, 30, 30, 255))
        middle = size - badge / 2
        draw.rectangle((middle - badge / 12, size - badge * 0.8, middle + badge / 12, size - badge * 0.4),
                       fill=(255, 255, 255, 255))
        draw.ellipse((middle - badge / 10, size - badge * 0.32, middle + badge / 10, size - badge * 0.14),
                     fill=(255, 255, 255, 255))
    if state.running and state.virtual_camera is None:
        dot = size * 0.26
        draw.ellipse((size - dot, 0, size - 1, dot), fill=(255, 140, 0, 255))
    return emoji


def tray_title(state: EngineState) -> str:
    """The tooltip: what to pick in the call app, or what is wrong. Plain ASCII and short: X11
    window names are Latin-1, and Windows cuts tooltips at 128 characters."""
    lines = ["vcam - " + ("paused" if state.paused else "overlay on" if state.overlay else "overlay off")]
    if state.virtual_camera:
        lines.append(f"pick {state.virtual_camera} in Zoom, Meet or Teams")
    elif state.virtual_camera_error:
        lines.append("no virtual camera: run `vcam doctor` for the fix")
    if not state.camera_ok and not state.paused:
        message = state.camera_message
        if isinstance(state.camera, str):  # the file's name says enough; its folder would crowd out the rest
            message = message.replace(state.camera, Path(state.camera).name)
        lines.insert(1, f"camera: {message}")
    return "\n".join(lines).encode("ascii", "replace").decode()[:127]


class TrayApp:
    """The icon and its menu for one engine."""

    def __init__(self, engine: Engine, pystray: ModuleType, autostart: Autostart | None = None,
                 open_preview: Callable[[], str] | None = None, cameras: list[int | str] | None = None,
                 browse: Callable[[str], Any] = webbrowser.open) -> None:
        self.engine = engine
        self._browse = browse
        self._pystray = pystray
        self.autostart = autostart or Autostart()
        self._open_preview = open_preview
        self.cameras = cameras if cameras is not None else self._probe_cameras()
        icon_class = pystray.Icon
        if is_x11_backend(icon_class):
            icon_class = single_thread_x11_icon(icon_class)  # vcam/x11_icon.py says why
        self.icon = icon_class("vcam", tray_image(engine.state), tray_title(engine.state), self._menu())
        self.has_menu = bool(getattr(self.icon, "HAS_MENU", True))
        # Every change to the icon (show, picture, tooltip, stop) is made by one painter thread,
        # in the order the engine's state changed.
        self._painter = threading.Condition()
        self._pending = False
        self._ready = self._quitting = self._loop_ended = False
        engine.subscribe(self._on_state)

    # --- menu callbacks: each one queues a change on the engine and returns ----------------------

    def on_overlay(self) -> None:
        self.engine.toggle_overlay()

    def on_placement(self, placement: str) -> None:
        self.engine.set_placement(placement)

    def on_camera(self, camera: int | str) -> None:
        self.engine.set_camera(camera)

    def on_detector(self, kind: str) -> None:
        self.engine.set_detector(kind)

    def on_pause(self) -> None:
        self.engine.set_paused(not self.engine.state.paused)

    def on_preview(self) -> str | None:
        if self._open_preview is None:
            return None
        try:
            url = self._open_preview()
        except VcamError as err:
            log.warning("cannot open the preview: %s", err)
            return None
        self._browse(url)
        return url

    def on_autostart(self) -> None:
        try:
            if self.autostart.is_enabled():
                self.autostart.disable()
            else:
                self.autostart.enable()
        except VcamError as err:
            log.warning("%s", err)
        self._on_state(self.engine.state)  # redraw the menu's check mark

    def on_quit(self) -> None:
        with self._painter:
            self._quitting = True
            self._painter.notify_all()

    # --- the menu, built from the engine's state each time it is shown --------------------------

    def _menu(self) -> Any:
        pystray = self._pystray
        item, menu = pystray.MenuItem, pystray.Menu
        state = lambda: self.engine.state  # noqa: E731 - read afresh whenever the menu is drawn

        choice = self._choice
        return menu(
            item(lambda _: self._status_line(), None, enabled=False),
            menu.SEPARATOR,
            item("Overlay", lambda: self.on_overlay(), checked=lambda _: state().overlay, default=True),
            item("Placement", menu(*(choice(label, value, lambda: state().placement, self.on_placement)
                                     for value, label in PLACEMENT_LABELS.items()))),
            item("Camera", menu(lambda: self._camera_items())),
            item("Detector", menu(*(choice(label, value, lambda: state().detector, self.on_detector)
                                    for value, label in DETECTOR_LABELS.items()))),
            item("Open preview", lambda: self.on_preview(), visible=self._open_preview is not None),
            item("Pause", lambda: self.on_pause(), checked=lambda _: state().paused),
            item("Start at login", lambda: self.on_autostart(), checked=lambda _: self.autostart.is_enabled()),
            menu.SEPARATOR,
            item("Quit", lambda: self.on_quit()),
        )

    def _choice(self, label: str, value: Any, current: Callable[[], Any], action: Callable[[Any], None]) -> Any:
        """A radio item that calls `action(value)` and is checked while `current()` is `value`."""
        # pystray counts a callback's parameters, so each item gets a closure, not a default argument.
        return self._pystray.MenuItem(label, lambda: action(value), checked=lambda _: current() == value, radio=True)

    def _camera_items(self) -> list[Any]:
        cameras = list(self.cameras)
        if self.engine.state.camera not in cameras:
            cameras.append(self.engine.state.camera)
        return [self._choice(describe_camera(camera).capitalize() if isinstance(camera, int) else Path(camera).name,
                             camera, lambda: self.engine.state.camera, self.on_camera)
                for camera in cameras]

    def _status_line(self) -> str:
        state = self.engine.state
        if state.virtual_camera:
            return f"Publishing as {state.virtual_camera}"
        return "No virtual camera — run vcam doctor" if state.virtual_camera_error else "Starting…"

    def _probe_cameras(self) -> list[int | str]:
        try:
            return list(available_cameras())
        except Exception as err:  # noqa: BLE001 - a probe that fails leaves the configured camera
            log.warning("could not list the cameras: %s", err)
            return []

    def _on_state(self, state: EngineState) -> None:
        # Listeners are called from several threads and may hear of changes out of order; the
        # painter draws the engine's state as it is when it gets there, never a stale copy.
        with self._painter:
            self._pending = True
            self._painter.notify_all()

    def run(self) -> None:
        """Show the icon and serve its events until Quit (or Ctrl-C, or SIGTERM)."""
        if not self.has_menu:
            log.info("this desktop's tray has no menus: click the icon to switch the overlay on and off "
                     "(the README says how to get the full menu)")
        # Daemon threads: should pystray's loop die without answering, they must not keep vcam alive.
        painter = threading.Thread(target=self._paint, name="vcam-tray-painter", daemon=True)
        painter.start()
        try:
            self.icon.run(setup=self._setup)
        finally:
            with self._painter:
                self._loop_ended = self._quitting = True
                self._painter.notify_all()
            painter.join(3)

    def _setup(self, icon: Any) -> None:
        with self._painter:
            self._ready = True
            self._painter.notify_all()

    def _paint(self) -> None:
        with self._painter:
            # A quit that comes before the event loop runs (an early Ctrl-C) still has to stop it.
            self._painter.wait_for(lambda: self._ready or self._loop_ended)
            if self._loop_ended:
                return
            self._pending = False
            state = self.engine.state
        if not self._quitting:
            self._change(lambda: self._show_first(state))
            self._dock_again_if_ignored()
        while True:
            with self._painter:
                self._painter.wait_for(lambda: self._pending or self._quitting)
                if self._quitting:
                    break
                self._pending = False
            state = self.engine.state
            self._change(lambda: self._show_state(state))
        if not self._loop_ended:
            self._change(self.icon.stop)

    def _change(self, change: Callable[[], None]) -> None:
        """Make one change to the icon (on the X11 backend it is queued for the icon's loop)."""
        try:
            change()
        except Exception as err:  # noqa: BLE001 - the desktop went away: the tray ends, the stream goes on
            log.warning("the tray icon could not be updated: %s", err)

    def _show_first(self, state: EngineState) -> None:
        self._show_state(state)  # not visible yet: pystray only keeps the picture and the tooltip
        self.icon.visible = True

    def _dock_again_if_ignored(self) -> None:
        """A tray host that is still starting (vcam started at login before the panel) can miss
        the X11 icon's request to dock; ask again, a few times, until it is taken in."""
        if self.has_menu:
            return
        for _ in range(5):
            with self._painter:
                if self._painter.wait_for(lambda: self._quitting, timeout=1.0):
                    return
            if _x11_icon_docked(self.icon) is not False:
                return
            log.info("the tray has not taken the icon in yet; asking again")
            self._change(self._dock_again)

    def _dock_again(self) -> None:
        self.icon.visible = False
        self.icon.visible = True

    def _show_state(self, state: EngineState) -> None:
        self.icon.icon = tray_image(state)
        self.icon.title = tray_title(state)
        try:
            self.icon.update_menu()
        except Exception as err:  # noqa: BLE001 - a backend without menus
            log.debug("menu update: %s", err)


def _x11_icon_docked(icon: Any) -> bool | None:
    """Whether the X11 icon's window sits inside a tray (None: cannot tell). Asked over a second
    connection: the icon's own belongs to its event loop."""
    window = getattr(icon, "_window", None)
    if window is None:
        return None
    try:
        from Xlib.display import Display

        connection = Display()
        try:
            tree = connection.create_resource_object("window", window.id).query_tree()
            return tree.parent.id != tree.root.id
        finally:
            connection.close()
    except Exception as err:  # noqa: BLE001 - no answer means no opinion
        log.debug("asking X where the icon is: %s", err)
        return None


def run_tray_app(config: Config, settings_file: Path, virtual_camera_backend: str | None = None) -> int:
    """`vcam tray`: the engine, the virtual camera and the icon, until the user quits."""
    from vcam.virtual_camera import VirtualCameraSink

    pystray = import_pystray()
    engine = Engine(config, settings_file=settings_file)
    sink = VirtualCameraSink.from_config(config, backend=virtual_camera_backend, on_status=engine.report_virtual_camera)
    preview = _preview_opener(engine, config, settings_file)
    app = TrayApp(engine, pystray, open_preview=preview.ensure_started if preview else None)
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, logout: quit as the menu's Quit does
        signal.signal(signum, lambda *_: app.on_quit())
    engine.subscribe(_announce_virtual_camera())
    try:
        with sink, engine:
            engine.add_sink(sink)
            app.run()
    finally:
        if preview is not None:
            preview.stop()
    print("vcam: stopped", file=sys.stderr)
    return 0


def _announce_virtual_camera() -> Callable[[EngineState], None]:
    """Print the device to pick in the call app, once each time it changes."""
    shown: list[str | None] = [None]

    def announce(state: EngineState) -> None:
        if state.virtual_camera and state.virtual_camera != shown[0]:
            print(f"vcam: publishing as {state.virtual_camera} — pick it as the camera in Zoom, Meet or Teams",
                  file=sys.stderr)
        shown[0] = state.virtual_camera

    return announce


def _preview_opener(engine: Engine, config: Config, settings_file: Path) -> Any:
    try:
        from vcam.web import PreviewServer
    except ImportError:
        return None
    return PreviewServer(engine, config, settings_file)
