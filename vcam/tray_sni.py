"""The tray on Linux desktops that host StatusNotifierItems: the icon and its menu over the session
bus (org.kde.StatusNotifierItem with a com.canonical.dbusmenu menu), with no GTK and no X needed.

KDE Plasma, GNOME with the AppIndicator extension (Ubuntu ships it), XFCE, LXQt, Cinnamon and Budgie
host such items, on X11 and on Wayland. The menu is the one description in vcam/tray_menu.py.

Why dbus-fast and not jeepney (both pure Python on PyPI, no system library): the item is a
*service* — two exported interfaces with a dozen properties, signals and eight dbusmenu methods.
dbus-fast exports a `ServiceInterface` with its methods, properties (org.freedesktop.DBus.Properties)
and introspection data written for us, and its asyncio bus lets one loop serve the host's calls,
send our signals and watch NameOwnerChanged. jeepney builds and parses messages well but leaves
the serving to the caller: dispatching each call by path and interface, answering Properties.Get/
GetAll and Introspect by hand — code we would have to write and test for no gain here.

Faults never stop the engine or the virtual camera: the watcher going away (we register again when
it returns), the bus closing (the icon is gone, the camera goes on until Quit or a signal), a host
asking about a menu item or event that does not exist. Each is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method, signal

from vcam.autostart import Autostart
from vcam.engine import Engine, EngineState
from vcam.dbusmenu import DBusMenu
from vcam.preview_launch import open_in_browser
from vcam.tray_menu import MenuEntry, TrayControls, tray_image, tray_title

log = logging.getLogger("vcam")

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_INTERFACE = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU_PATH = "/MenuBar"
ICON_SIZES = (16, 22, 32, 48, 64)
BUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


def watcher_present(timeout: float = 3.0) -> bool:
    """Whether a StatusNotifierWatcher (a panel that hosts SNI icons) owns its name on the session bus."""
    async def ask() -> bool:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        try:
            reply = await bus.call(_bus_call("NameHasOwner", "s", [WATCHER]))
            return reply.message_type == MessageType.METHOD_RETURN and bool(reply.body[0])
        finally:
            bus.disconnect()

    try:
        return asyncio.run(asyncio.wait_for(ask(), timeout))
    except Exception as err:  # noqa: BLE001 - no bus, a refused connection, a timeout: no SNI here
        log.debug("no session bus to ask for a StatusNotifierWatcher: %s", err)
        return False


def _bus_call(member: str, signature: str, body: list[Any]) -> Message:
    destination, path, interface = BUS
    return Message(destination=destination, path=path, interface=interface, member=member, signature=signature,
                   body=body)


class FaultLog:
    """Logs each fault the first time only: a host that repeats a bad call must not fill the log."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            log.warning("%s", message)


def argb_pixmaps(state: EngineState) -> list[list[Any]]:
    """The icon at every size hosts ask for, as SNI wants it: (width, height, ARGB32 bytes in
    network byte order)."""
    return [[size, size, np.asarray(tray_image(state, size))[..., [3, 0, 1, 2]].tobytes()] for size in ICON_SIZES]


class StatusNotifierItem(ServiceInterface):
    """org.kde.StatusNotifierItem: the icon, its tooltip and status, and where its menu is.

    dbus-fast reads each D-Bus signature from the annotations; methods and signals that carry
    nothing back have no return annotation (dbus-fast would read `None` as a signature)."""

    def __init__(self, tray: SniTray) -> None:
        super().__init__(ITEM_INTERFACE)
        self._tray = tray

    @dbus_property(access=PropertyAccess.READ)
    def Category(self) -> "s":  # noqa: N802 - the protocol's names
        return "ApplicationStatus"

    @dbus_property(access=PropertyAccess.READ)
    def Id(self) -> "s":  # noqa: N802
        return "vcam"

    @dbus_property(access=PropertyAccess.READ)
    def Title(self) -> "s":  # noqa: N802
        return "vcam"

    @dbus_property(access=PropertyAccess.READ)
    def Status(self) -> "s":  # noqa: N802
        return self._tray.status()

    @dbus_property(access=PropertyAccess.READ)
    def WindowId(self) -> "i":  # noqa: N802
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def IconName(self) -> "s":  # noqa: N802
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def IconPixmap(self) -> "a(iiay)":  # noqa: N802
        return self._tray.pixmaps()

    @dbus_property(access=PropertyAccess.READ)
    def AttentionIconPixmap(self) -> "a(iiay)":  # noqa: N802 - NeedsAttention shows the same badged icon
        return self._tray.pixmaps()

    @dbus_property(access=PropertyAccess.READ)
    def OverlayIconName(self) -> "s":  # noqa: N802
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def OverlayIconPixmap(self) -> "a(iiay)":  # noqa: N802
        return []

    @dbus_property(access=PropertyAccess.READ)
    def AttentionIconName(self) -> "s":  # noqa: N802
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def AttentionMovieName(self) -> "s":  # noqa: N802
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def IconThemePath(self) -> "s":  # noqa: N802
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def ToolTip(self) -> "(sa(iiay)ss)":  # noqa: N802
        title, _, description = tray_title(self._tray.engine.state).partition("\n")
        return ["", [], title, description]

    @dbus_property(access=PropertyAccess.READ)
    def ItemIsMenu(self) -> "b":  # noqa: N802 - a click acts (toggles the overlay); the menu is on right-click
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Menu(self) -> "o":  # noqa: N802
        return MENU_PATH

    @method()
    def Activate(self, x: "i", y: "i"):  # noqa: N802
        self._tray.activate()

    @method()
    def SecondaryActivate(self, x: "i", y: "i"):  # noqa: N802
        pass

    @method()
    def ContextMenu(self, x: "i", y: "i"):  # noqa: N802 - hosts show the dbusmenu themselves
        pass

    @method()
    def Scroll(self, delta: "i", orientation: "s"):  # noqa: N802
        pass

    @signal()
    def NewIcon(self):  # noqa: N802
        pass

    @signal()
    def NewAttentionIcon(self):  # noqa: N802
        pass

    @signal()
    def NewToolTip(self):  # noqa: N802
        pass

    @signal()
    def NewStatus(self, status: str) -> "s":  # noqa: N802
        return status


def _icon_look(state: EngineState) -> tuple[bool, ...]:
    """What the icon's picture depends on (vcam.tray_menu.tray_image)."""
    return state.overlay, state.paused, state.camera_ok, state.running and state.virtual_camera is None


class SniTray:
    """The StatusNotifierItem and its dbusmenu for one engine, served until Quit."""

    def __init__(self, engine: Engine, autostart: Autostart | None = None,
                 open_preview: Callable[[], str] | None = None, cameras: list[int | str] | None = None,
                 browse: Callable[[str], Any] = open_in_browser) -> None:
        self.engine = engine
        self.controls = TrayControls(engine, autostart, open_preview, cameras, browse, quit=self.on_quit,
                                     redraw=self._changed)
        self.faults = FaultLog()
        self.bus_name = f"org.kde.StatusNotifierItem-{os.getpid()}-1"
        self._item = StatusNotifierItem(self)
        self._dbusmenu = DBusMenu(self.controls.entries, self._act, self.faults)
        self._shown: tuple[Any, ...] = self._look()
        self._pixmaps: tuple[tuple[Any, ...], list[list[Any]]] | None = None
        self._quit = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._bus: MessageBus | None = None
        engine.subscribe(lambda state: self._changed())

    # --- what the item shows ------------------------------------------------------------------

    def status(self) -> str:
        state = self.engine.state
        return "NeedsAttention" if not state.camera_ok and not state.paused else "Active"

    def pixmaps(self) -> list[list[Any]]:
        state = self.engine.state
        if self._pixmaps is None or self._pixmaps[0] != _icon_look(state):
            self._pixmaps = (_icon_look(state), argb_pixmaps(state))  # drawn once per look, not per request
        return self._pixmaps[1]

    def _look(self) -> tuple[tuple[bool, ...], str, str]:
        state = self.engine.state
        return _icon_look(state), tray_title(state), self.status()

    # --- the host's calls ---------------------------------------------------------------------

    def activate(self) -> None:
        default = next(entry for entry in self.controls.entries() if entry.default)
        self._act(default)

    def _act(self, entry: MenuEntry) -> None:
        if entry.action is None:
            return
        action = entry.action
        # Off the bus's loop: an action may take a moment (starting the preview server).
        future = asyncio.get_running_loop().run_in_executor(None, action)
        future.add_done_callback(lambda done: done.exception() and log.warning(
            "the menu item %r failed: %s", entry.key, done.exception()))

    def on_quit(self) -> None:
        self._quit.set()
        self._call_soon(lambda: self._stopping.set() if self._stopping else None)

    # --- telling the host about changes -------------------------------------------------------

    def _changed(self) -> None:
        self._call_soon(self._refresh)

    def _call_soon(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop has ended: nobody to tell
            pass

    def _refresh(self) -> None:
        (icon, tooltip, status), (shown_icon, shown_tooltip, shown_status) = self._look(), self._shown
        self._shown = (icon, tooltip, status)
        if self._bus is None or not self._bus.connected:
            return  # no host to tell; it reads everything afresh when it comes
        try:
            if icon != shown_icon:
                self._item.NewIcon()
                self._item.NewAttentionIcon()
            if tooltip != shown_tooltip:
                self._item.NewToolTip()
            if status != shown_status:
                self._item.NewStatus(status)
            self._dbusmenu.publish_changes()
        except Exception as err:  # noqa: BLE001 - the bus failing under us: the camera goes on
            self.faults(f"the tray icon could not be updated: {err}")

    # --- the bus --------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve the item until Quit (or Ctrl-C, or SIGTERM). The engine goes on whatever the bus does."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._quit.is_set():  # a quit before the loop ran
            return
        try:
            bus = self._bus = await self._connect()
        except Exception as err:  # noqa: BLE001 - no bus: no icon, but the camera goes on
            self.faults(f"cannot show the tray icon on the session bus ({err}); the virtual camera goes on, "
                        "Ctrl-C stops vcam")
            await self._stopping.wait()
            return
        stopping = asyncio.ensure_future(self._stopping.wait())
        disconnected = asyncio.ensure_future(bus.wait_for_disconnect())
        await asyncio.wait({stopping, disconnected}, return_when=asyncio.FIRST_COMPLETED)
        if not stopping.done():
            self.faults("the session bus closed: the tray icon is gone; the virtual camera goes on, Ctrl-C stops vcam")
            await stopping
        else:
            bus.disconnect()
        await asyncio.gather(disconnected, return_exceptions=True)
        self._loop = None

    async def _connect(self) -> MessageBus:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        bus.export(ITEM_PATH, self._item)
        bus.export(MENU_PATH, self._dbusmenu)
        await bus.request_name(self.bus_name)
        bus.add_message_handler(lambda message: self._on_bus_message(bus, message))
        await bus.call(_bus_call("AddMatch", "s", [
            f"type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{WATCHER}'"]))
        await self._register(bus)
        return bus

    async def _register(self, bus: MessageBus) -> None:
        try:
            reply = await bus.call(Message(destination=WATCHER, path=WATCHER_PATH, interface=WATCHER,
                                           member="RegisterStatusNotifierItem", signature="s", body=[self.bus_name]))
        except Exception as err:  # noqa: BLE001 - the bus went away meanwhile: the camera goes on
            self.faults(f"could not register the tray icon: {err}")
            return
        if reply.message_type == MessageType.ERROR:
            reason = reply.body[0] if reply.body else reply.error_name
            self.faults(f"the tray's StatusNotifierWatcher refused the icon ({reason}); it shows when a panel takes it")
        else:
            log.debug("registered %s with the StatusNotifierWatcher", self.bus_name)

    def _on_bus_message(self, bus: MessageBus, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL or message.member != "NameOwnerChanged" \
                or not message.body or message.body[0] != WATCHER:
            return
        if message.body[2]:
            log.info("the tray's StatusNotifierWatcher is back: showing the icon again")
            asyncio.ensure_future(self._register(bus))
        else:
            self.faults("the tray's StatusNotifierWatcher left the session bus (a panel restarting?); "
                        "the icon comes back when it returns")
