"""A GlobalShortcuts portal written here with dbus-fast, as a desktop's xdg-desktop-portal would
serve it on the session bus: it opens sessions, binds shortcuts (answering each call through a
Request object's Response signal), records what it was asked, and presses a bound shortcut
(Activated) when the test says so."""

from __future__ import annotations

import threading
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from sni_host import LoopThread

PORTAL = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
INTERFACE = "org.freedesktop.portal.GlobalShortcuts"


class ShortcutsPortal:
    def __init__(self, address: str, answer: int = 0) -> None:
        """`answer`: the Response code BindShortcuts gets (0 granted, 1 cancelled by the user)."""
        self.answer = answer
        self.bound: list[tuple[str, dict[str, Any]]] = []
        self.sessions: list[str] = []
        self._changed = threading.Condition()
        self._loop = LoopThread()
        self._bus: MessageBus = self._loop.run(self._start(address))

    async def _start(self, address: str) -> MessageBus:
        bus = await MessageBus(bus_address=address).connect()
        bus.add_message_handler(self._handle)
        await bus.request_name(PORTAL)
        return bus

    def _handle(self, message: Message) -> Message | None:
        if message.message_type != MessageType.METHOD_CALL or message.interface != INTERFACE:
            return None
        sender = message.sender.lstrip(":").replace(".", "_")
        if message.member == "CreateSession":
            options = message.body[0]
            session = f"{PATH}/session/{sender}/{options['session_handle_token'].value}"
            request, results, code = options["handle_token"].value, {"session_handle": Variant("o", session)}, 0
            with self._changed:
                self.sessions.append(session)
        elif message.member == "BindShortcuts":
            session, shortcuts, _, options = message.body
            request, code = options["handle_token"].value, self.answer
            results = {"shortcuts": Variant("a(sa{sv})", shortcuts if code == 0 else [])}
            with self._changed:
                self.bound += [(name, {key: value.value for key, value in properties.items()})
                               for name, properties in shortcuts]
                self._changed.notify_all()
        else:
            return Message.new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", message.member)
        path = f"{PATH}/request/{sender}/{request}"
        self._bus.send(Message.new_method_return(message, "o", [path]))
        self._bus.send(Message.new_signal(path, "org.freedesktop.portal.Request", "Response", "ua{sv}",
                                          [code, results]))
        return None

    def wait_bound(self, timeout: float = 20.0) -> list[tuple[str, dict[str, Any]]]:
        with self._changed:
            assert self._changed.wait_for(lambda: self.bound, timeout), "nothing was bound"
            return list(self.bound)

    def press(self, shortcut_id: str = "toggle-overlay") -> None:
        """The user presses the bound key: Activated on the session."""
        signal = Message.new_signal(PATH, INTERFACE, "Activated", "osta{sv}", [self.sessions[-1], shortcut_id, 0, {}])

        async def send() -> None:
            await self._bus.send(signal)

        self._loop.run(send())

    def close(self) -> None:
        self._bus.disconnect()
        self._loop.close()
