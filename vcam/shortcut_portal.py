"""The shortcut on Wayland: the desktop's GlobalShortcuts portal (org.freedesktop.portal.GlobalShortcuts
on org.freedesktop.portal.Desktop; KDE Plasma, GNOME 48+ and Hyprland have it), over dbus-fast.

Wayland lets no app read another window's keys; the portal asks the desktop to. vcam opens a
session (CreateSession), binds the shortcuts, "toggle-overlay" and the reaction keys, with the
user's keys as their preferred triggers (BindShortcuts: the desktop asks the user once, and lists
them in its shortcut settings, where the user may give them other keys), and hears Activated for each press. Each call
answers through a Request object's Response signal, which is listened for before the call, as the
portal's documentation asks. All of it runs on an asyncio loop of its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from vcam.shortcut import Binding, StatusReport

PORTAL = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
ANSWER_SECONDS = 120.0
"""How long BindShortcuts may wait for the user to answer the desktop's question."""
NO_PORTAL = "no GlobalShortcuts portal on the session bus (KDE Plasma, GNOME 48+ and Hyprland have one)"


class PortalError(Exception):
    """The portal refused or is missing; the message says which."""


class PortalShortcut:
    """Binds the bindings' keys through the portal on the session bus at `address` (None: the
    default) and runs a binding's action at each press of its key; `on_status` hears once whether
    it worked."""

    def __init__(self, bindings: Sequence[Binding], on_status: StatusReport, address: str | None = None) -> None:
        self._bindings = {binding.name: binding for binding in bindings}
        self.shortcut, self._on_status, self._address = bindings[0].shortcut, on_status, address
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._tokens = itertools.count(1)
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        name="vcam-shortcut", daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        """Serve until close(), which may come while the desktop still asks the user."""
        serve, stop = asyncio.ensure_future(self._serve()), asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({serve, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (serve, stop):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self) -> None:
        try:
            bus = await (MessageBus(bus_address=self._address) if self._address
                         else MessageBus(bus_type=BusType.SESSION)).connect()
        except Exception as err:  # noqa: BLE001 - no bus: no shortcut, the camera goes on
            self._on_status(None, f"no session bus ({err})")
            return
        try:
            session = await self._bind(bus)
        except PortalError as err:
            self._on_status(None, str(err))
        except Exception as err:  # noqa: BLE001 - a desktop that answers oddly: no shortcut, the camera goes on
            self._on_status(None, f"{type(err).__name__}: {err}")
        else:
            self._on_status(str(self.shortcut), None)
            bus.add_message_handler(lambda message: self._activated(message, session))
            await asyncio.Future()  # until close() cancels it
        finally:
            bus.disconnect()

    async def _bind(self, bus: MessageBus) -> str:
        """A session with the shortcut bound; its object path."""
        await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                    [f"type='signal',interface='{GLOBAL_SHORTCUTS}',member='Activated'"])
        results = await self._request(bus, "CreateSession", "a{sv}", lambda token: [{
            "handle_token": Variant("s", token), "session_handle_token": Variant("s", f"vcam{os.getpid()}")}])
        session = results["session_handle"].value
        await self._request(bus, "BindShortcuts", "oa(sa{sv})sa{sv}", lambda token: [
            session,
            [[binding.name, {"description": Variant("s", binding.description),
                             "preferred_trigger": Variant("s", binding.shortcut.xdg_trigger)}]
             for binding in self._bindings.values()],
            "",
            {"handle_token": Variant("s", token)}])
        return session

    async def _request(self, bus: MessageBus, member: str, signature: str,
                       body: Callable[[str], list[Any]]) -> dict[str, Variant]:
        """Call the portal's `member` and wait for its Request's Response: its results, or PortalError."""
        token = f"vcam{os.getpid()}_{next(self._tokens)}"
        sender = bus.unique_name.lstrip(":").replace(".", "_")
        path = f"{PORTAL_PATH}/request/{sender}/{token}"
        answered: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        def on_response(message: Message) -> None:
            if (message.message_type == MessageType.SIGNAL and message.path == path
                    and message.member == "Response" and not answered.done()):
                answered.set_result(message.body)

        bus.add_message_handler(on_response)
        try:
            await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                        [f"type='signal',interface='{REQUEST}',member='Response',path='{path}'"])
            await _call(bus, PORTAL, PORTAL_PATH, GLOBAL_SHORTCUTS, member, signature, body(token))
            try:
                code, results = await asyncio.wait_for(answered, ANSWER_SECONDS)
            except TimeoutError:
                raise PortalError(f"the desktop did not answer {member} within {ANSWER_SECONDS:g} s") from None
        finally:
            bus.remove_message_handler(on_response)
        if code != 0:
            raise PortalError("the desktop's shortcut request was " + ("cancelled by the user" if code == 1
                                                                      else "refused"))
        return results

    def _activated(self, message: Message, session: str) -> None:
        if (message.message_type == MessageType.SIGNAL and message.interface == GLOBAL_SHORTCUTS
                and message.member == "Activated" and message.body[0] == session
                and message.body[1] in self._bindings):
            self._bindings[message.body[1]].action()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


async def _call(bus: MessageBus, destination: str, path: str, interface: str, member: str, signature: str,
                body: list[Any]) -> Message:
    reply = await bus.call(Message(destination=destination, path=path, interface=interface, member=member,
                                   signature=signature, body=body))
    if reply.message_type == MessageType.ERROR:
        if reply.error_name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.UnknownMethod",
                                "org.freedesktop.DBus.Error.UnknownInterface", "org.freedesktop.DBus.Error.UnknownObject"):
            raise PortalError(NO_PORTAL)
        raise PortalError(f"the portal refused {member}: {reply.body[0] if reply.body else reply.error_name}")
    return reply
