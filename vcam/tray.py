"""The tray app: which tray it is shown in, and pystray's icon and menu.

On Linux desktops that host StatusNotifierItems (KDE Plasma, GNOME with the AppIndicator extension,
XFCE, LXQt, Cinnamon, Budgie; X11 or Wayland) the icon and its full menu go over the session bus
(vcam/tray_sni.py). Elsewhere pystray shows them: natively on Windows and macOS; on Linux through
AppIndicator/GTK when PyGObject is installed, else its plain X11 ("xorg") backend, which has no
menu, so a click on the icon toggles the overlay. Both read the one menu in vcam/tray_menu.py.

The menu's callbacks only queue changes on the engine (they return at once, on pystray's thread);
the engine tells the tray about every change through `Engine.subscribe`, and the tray redraws the
icon, the tooltip and the menu from that state — one source of truth.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from vcam.autostart import Autostart
from vcam.config import Config
from vcam.engine import Engine, EngineState
from vcam.errors import VcamError
from vcam.preview_launch import open_in_browser
from vcam.stop_signals import stopping
from vcam.tray_protocol import TrayProtocol, tray_protocol
from vcam.tray_menu import ICON_SIZE, MenuEntry, TrayControls, tray_image, tray_title
from vcam.x11_icon import is_x11_backend, single_thread_x11_icon

__all__ = ["ICON_SIZE", "TrayApp", "import_pystray", "run_tray_app", "tray_image", "tray_title"]

log = logging.getLogger("vcam")


def import_pystray() -> ModuleType:
    """pystray, or a VcamError that says why there is no tray (pystray connects to the desktop
    when it is imported, and fails with a bare Xlib error when there is none)."""
    try:
        import pystray
    except Exception as err:  # noqa: BLE001 - Xlib raises its own error types, not ImportError
        raise VcamError(f"no system tray: no StatusNotifierWatcher on the session bus and no X display "
                        f"({type(err).__name__}: {err}); `vcam doctor` says what to install, or use `vcam web` "
                        "for a browser preview") from None
    return pystray


def pystray_menu(pystray: ModuleType, entries: Sequence[MenuEntry]) -> Any:
    """pystray's menu for the one menu description (vcam/tray_menu.py): every label, check mark and
    submenu is a function that pystray calls when it draws the menu."""
    return pystray.Menu(*(_pystray_item(pystray, entry) for entry in entries))


def _pystray_item(pystray: ModuleType, entry: MenuEntry) -> Any:
    if entry.separator:
        return pystray.Menu.SEPARATOR
    if entry.submenu is not None:
        submenu = entry.submenu
        items = lambda: [_pystray_item(pystray, child) for child in submenu()]  # noqa: E731 - read when drawn
        return pystray.MenuItem(entry.label(), pystray.Menu(items), visible=entry.visible, enabled=entry.enabled)
    # pystray counts a callback's parameters: the label and check mark take the item, the action nothing.
    action = entry.action
    checked = entry.checked
    return pystray.MenuItem(lambda _: entry.label(), (lambda: action()) if action else None,
                            checked=(lambda _: checked()) if checked else None, radio=entry.radio,
                            enabled=entry.enabled, visible=entry.visible, default=entry.default)


class TrayApp:
    """The pystray icon and its menu for one engine."""

    def __init__(self, engine: Engine, pystray: ModuleType, autostart: Autostart | None = None,
                 open_preview: Callable[[], str] | None = None, cameras: list[int | str] | None = None,
                 browse: Callable[[str], Any] = open_in_browser) -> None:
        self.engine = engine
        self._pystray = pystray
        self.controls = TrayControls(engine, autostart, open_preview, cameras, browse, quit=self.on_quit,
                                     redraw=lambda: self._on_state(engine.state))
        icon_class = pystray.Icon
        if is_x11_backend(icon_class):
            icon_class = single_thread_x11_icon(icon_class)  # vcam/x11_icon.py says why
        self.icon = icon_class("vcam", tray_image(engine.state), tray_title(engine.state),
                               pystray_menu(pystray, self.controls.entries()))
        self.has_menu = bool(getattr(self.icon, "HAS_MENU", True))
        # Every change to the icon (show, picture, tooltip, stop) is made by one painter thread,
        # in the order the engine's state changed.
        self._painter = threading.Condition()
        self._pending = False
        self._ready = self._quitting = self._loop_ended = False
        engine.subscribe(self._on_state)

    @property
    def cameras(self) -> list[int | str]:
        return self.controls.cameras

    def on_quit(self) -> None:
        with self._painter:
            self._quitting = True
            self._painter.notify_all()

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
    from vcam.app import LiveApp

    protocol = tray_protocol()
    pystray = None if protocol is TrayProtocol.SNI else import_pystray()  # no desktop: fail before the camera opens
    live = LiveApp(config, settings_file, backend=virtual_camera_backend)
    app: TrayApp | Any
    if pystray is None:
        from vcam.tray_sni import SniTray

        log.info("showing the tray icon as a StatusNotifierItem")
        app = SniTray(live.engine, open_preview=live.preview.ensure_started)
    else:
        app = TrayApp(live.engine, pystray, open_preview=live.preview.ensure_started)
    live.engine.subscribe(_announce_virtual_camera())
    with stopping(lambda name: app.on_quit()), live:  # Ctrl-C, a logout, the terminal closed: as the menu's Quit
        app.run()
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
