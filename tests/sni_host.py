"""A session bus of its own (Debian's dbus-run-session) and a StatusNotifierWatcher and host written
here with dbus-fast, as a panel would be: it takes the item's registration, reads its properties and
menu layout, clicks menu items and hears the item's signals."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method, signal

T = TypeVar("T")
WATCHER = "org.kde.StatusNotifierWatcher"


@contextmanager
def session_bus() -> Iterator[str]:
    """A new session bus from `dbus-run-session`; yields its address, and ends it afterwards."""
    assert shutil.which("dbus-run-session"), "dbus-run-session is missing: apt-get install dbus (.ci/run does)"
    holder = subprocess.Popen(
        ["dbus-run-session", "--", sys.executable, "-c",
         "import os, sys; print(os.environ['DBUS_SESSION_BUS_ADDRESS'], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert select.select([holder.stdout], [], [], 30)[0], "dbus-run-session did not start within 30 s"
    address = holder.stdout.readline().strip()
    assert address.startswith("unix:"), address
    try:
        yield address
    finally:
        holder.stdin.close()  # its command ends, and dbus-run-session ends the bus with it
        holder.wait(20)
        holder.stdout.close()


class LoopThread:
    """An asyncio loop on its own thread, for the host's connections; `run` waits for a coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class WatcherInterface(ServiceInterface):
    def __init__(self, registered: list[str], changed: threading.Condition) -> None:
        super().__init__(WATCHER)
        self.registered, self._changed = registered, changed

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: N802
        with self._changed:
            self.registered.append(service)
            self._changed.notify_all()
        self.StatusNotifierItemRegistered(service)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: N802
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: N802
        return list(self.registered)

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: N802
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: N802
        return 0

    @signal()
    def StatusNotifierItemRegistered(self, service: str) -> "s":  # noqa: N802
        return service


class Host:
    """The watcher (started and stopped at will, as a panel restarts) and the host's view of the item."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.threads = LoopThread()
        self.registered: list[str] = []
        self.signals: list[tuple[str, list[Any]]] = []
        self.changed = threading.Condition()
        self._watcher_bus: MessageBus | None = None
        self.bus: MessageBus = self.threads.run(self._connect_host())

    async def _connect_host(self) -> MessageBus:
        bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
        bus.add_message_handler(self._hear)
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=["type='signal',path='/StatusNotifierItem'"]))
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=["type='signal',path='/MenuBar'"]))
        return bus

    def _hear(self, message: Message) -> None:
        if message.message_type == MessageType.SIGNAL and message.path in ("/StatusNotifierItem", "/MenuBar"):
            with self.changed:
                self.signals.append((message.member, list(message.body)))
                self.changed.notify_all()

    def start_watcher(self) -> None:
        async def start() -> MessageBus:
            bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
            bus.export("/StatusNotifierWatcher", WatcherInterface(self.registered, self.changed))
            await bus.request_name(WATCHER)
            return bus
        self._watcher_bus = self.threads.run(start())

    def stop_watcher(self) -> None:
        """The watcher leaves the bus as a panel that quits does: its connection closes."""
        bus, self._watcher_bus = self._watcher_bus, None
        assert bus is not None

        async def stop() -> None:
            bus.disconnect()
            await bus.wait_for_disconnect()
        self.threads.run(stop())

    def wait(self, condition, timeout: float = 20.0, message: str = "the item") -> Any:
        """Wait for what the host has heard (registrations, signals); `condition` must not call the bus."""
        with self.changed:
            assert self.changed.wait_for(condition, timeout), f"timed out waiting for {message}"
            return condition()

    def wait_registered(self, count: int = 1) -> str:
        return self.wait(lambda: len(self.registered) >= count and self.registered[count - 1],
                         message=f"registration {count}")

    def signal_count(self, member: str) -> int:
        with self.changed:
            return sum(name == member for name, _ in self.signals)

    def call(self, service: str, path: str, interface: str, member: str, signature: str = "",
             body: list[Any] | None = None) -> Message:
        async def send() -> Message:
            return await self.bus.call(Message(destination=service, path=path, interface=interface, member=member,
                                               signature=signature, body=body or []))
        return self.threads.run(send())

    def properties(self, service: str) -> dict[str, Any]:
        reply = self.call(service, "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "GetAll", "s",
                          ["org.kde.StatusNotifierItem"])
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body
        return {name: variant.value for name, variant in reply.body[0].items()}

    def layout(self, service: str, parent: int = 0) -> Message:
        return self.call(service, "/MenuBar", "com.canonical.dbusmenu", "GetLayout", "iias", [parent, -1, []])

    def menu(self, service: str) -> dict[str, Any]:
        """The whole menu as a tree of {label: (id, properties, children)} — separators left out."""
        reply = self.layout(service)
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body

        def tree(node: list[Any]) -> dict[str, Any]:
            return {child.value[1]["label"].value: (child.value[0], {k: v.value for k, v in child.value[1].items()},
                                                    tree(child.value))
                    for child in node[2] if child.value[1].get("type", Variant("s", "")).value != "separator"}
        return tree(reply.body[1])

    def click(self, service: str, number: int, event: str = "clicked") -> Message:
        return self.call(service, "/MenuBar", "com.canonical.dbusmenu", "Event", "isvu",
                         [number, event, Variant("i", 0), 0])

    def close(self) -> None:
        async def close() -> None:
            for bus in (self.bus, self._watcher_bus):
                if bus is not None:
                    bus.disconnect()
        self.threads.run(close())
        self.threads.close()


def bus_environment(address: str) -> dict[str, str]:
    return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
