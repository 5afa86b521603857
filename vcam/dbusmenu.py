"""com.canonical.dbusmenu: the tray's one menu description (vcam/tray_menu.py) served over D-Bus,
as StatusNotifierItem hosts (panels) read it: numbered items with properties, a layout tree, the
host's clicks, and signals when check marks or the items themselves change.

A host may hold an old layout and ask about an item that has gone (a camera unplugged), send an
event nobody defined, or ask for a submenu that no longer exists: it gets an error reply, the
fault is logged once, and the menu goes on serving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dbus_fast import DBusError, ErrorType, Variant
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method, signal

from vcam.tray_menu import MenuEntry

MENU_INTERFACE = "com.canonical.dbusmenu"
PROPERTY_TYPES = {"type": "s", "label": "s", "enabled": "b", "visible": "b", "toggle-type": "s",
                  "toggle-state": "i", "children-display": "s"}
KNOWN_EVENTS = {"clicked", "hovered", "opened", "closed"}
Items = dict[int, tuple[MenuEntry | None, dict[str, Any], list[int]]]
"""Every item: number → (its entry (None for the root, 0), dbusmenu properties, children's numbers)."""


class NumberedMenu:
    """The menu description with dbusmenu's item numbers: 0 is the root, and every entry key keeps
    its number for the life of the process, so a host's numbers stay valid across redraws."""

    def __init__(self, entries: Callable[[], Sequence[MenuEntry]]) -> None:
        self._entries = entries
        self._numbers: dict[str, int] = {}

    def number(self, key: str) -> int:
        return self._numbers.setdefault(key, len(self._numbers) + 1)

    def snapshot(self) -> Items:
        items: Items = {}

        def add(entries: Sequence[MenuEntry]) -> list[int]:
            numbers = []
            for entry in entries:
                number = self.number(entry.key)
                children = add(entry.submenu()) if entry.submenu is not None else []
                items[number] = (entry, _properties(entry), children)
                numbers.append(number)
            return numbers

        items[0] = (None, {"children-display": "submenu"}, add(self._entries()))
        return items


def _properties(entry: MenuEntry) -> dict[str, Any]:
    if entry.separator:
        return {"type": "separator"}
    properties: dict[str, Any] = {"label": entry.label(), "enabled": entry.enabled, "visible": entry.visible}
    if entry.checked is not None:
        properties["toggle-type"] = "radio" if entry.radio else "checkmark"
        properties["toggle-state"] = int(entry.checked())
    if entry.submenu is not None:
        properties["children-display"] = "submenu"
    return properties


def _variants(properties: dict[str, Any], names: Sequence[str] = ()) -> dict[str, Variant]:
    return {name: Variant(PROPERTY_TYPES[name], value) for name, value in properties.items()
            if not names or name in names}


def _layout(items: Items, number: int, depth: int, names: Sequence[str]) -> list[Any]:
    _, properties, children = items[number]
    below = [] if depth == 0 else [Variant("(ia{sv}av)", _layout(items, child, depth - 1, names)) for child in children]
    return [number, _variants(properties, names), below]


class DBusMenu(ServiceInterface):
    """com.canonical.dbusmenu (version 3) for the entries `entries()` gives; a click runs
    `act(entry)`, a fault goes to `fault(message)`. dbus-fast reads each D-Bus signature from the
    annotations (methods that answer nothing have no return annotation: it would read `None`)."""

    def __init__(self, entries: Callable[[], Sequence[MenuEntry]], act: Callable[[MenuEntry], None],
                 fault: Callable[[str], None]) -> None:
        super().__init__(MENU_INTERFACE)
        self._menu = NumberedMenu(entries)
        self._act = act
        self._fault = fault
        self.revision = 1
        self._sent = self._menu.snapshot()  # the menu as the host last heard of it

    def publish_changes(self) -> None:
        """Tell the host what changed since it last heard: a new layout when items came or went
        (LayoutUpdated), else the properties that changed (ItemsPropertiesUpdated)."""
        now = self._menu.snapshot()
        if now.keys() != self._sent.keys() or any(now[number][2] != self._sent[number][2] for number in now):
            self.revision += 1
            self._sent = now
            self.LayoutUpdated(self.revision, 0)
            return
        before = {number: properties for number, (_, properties, _) in self._sent.items()}
        updated = [[number, _variants({name: value for name, value in properties.items()
                                       if before[number].get(name) != value})]
                   for number, (_, properties, _) in now.items() if properties != before[number]]
        removed = [[number, sorted(before[number].keys() - properties.keys())]
                   for number, (_, properties, _) in now.items() if before[number].keys() - properties.keys()]
        self._sent = now
        if updated or removed:
            self.ItemsPropertiesUpdated(updated, removed)

    def event(self, number: int, event: str) -> bool:
        """Runs a click on item `number`; False when there is no such item."""
        found = self._sent.get(number)
        if found is None:
            self._fault(f"a tray host sent {event!r} for menu item {number}, which does not exist")
            return False
        entry = found[0]
        if event not in KNOWN_EVENTS:
            self._fault(f"a tray host sent the unknown menu event {event!r} (for item {number}); ignored")
        elif event == "clicked" and entry is not None and entry.enabled and entry.action is not None:
            self._act(entry)
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> "u":  # noqa: N802 - the protocol's names
        return 3

    @dbus_property(access=PropertyAccess.READ)
    def TextDirection(self) -> "s":  # noqa: N802
        return "ltr"

    @dbus_property(access=PropertyAccess.READ)
    def Status(self) -> "s":  # noqa: N802
        return "normal"

    @dbus_property(access=PropertyAccess.READ)
    def IconThemePath(self) -> "as":  # noqa: N802
        return []

    @method()
    def GetLayout(self, parent: "i", depth: "i", names: "as") -> "u(ia{sv}av)":  # noqa: N802
        self.publish_changes()  # a host that asks for the layout gets it as it is now
        if parent not in self._sent:
            self._fault(f"a tray host asked for the layout of menu item {parent}, which no longer exists")
            raise DBusError(ErrorType.INVALID_ARGS, f"no menu item {parent}")
        return [self.revision, _layout(self._sent, parent, depth, names)]

    @method()
    def GetGroupProperties(self, ids: "ai", names: "as") -> "a(ia{sv})":  # noqa: N802
        return [[number, _variants(self._sent[number][1], names)] for number in (ids or list(self._sent))
                if number in self._sent]

    @method()
    def GetProperty(self, number: "i", name: "s") -> "v":  # noqa: N802
        properties = self._sent[number][1] if number in self._sent else {}
        if name not in properties:
            self._fault(f"a tray host asked for property {name!r} of menu item {number}, which has none")
            raise DBusError(ErrorType.INVALID_ARGS, f"menu item {number} has no property {name!r}")
        return Variant(PROPERTY_TYPES[name], properties[name])

    @method()
    def Event(self, number: "i", event: "s", data: "v", timestamp: "u"):  # noqa: N802
        if not self.event(number, event):
            raise DBusError(ErrorType.INVALID_ARGS, f"no menu item {number}")

    @method()
    def EventGroup(self, events: "a(isvu)") -> "ai":  # noqa: N802 - answers the numbers that do not exist
        return [number for number, event, _, _ in events if not self.event(number, event)]

    @method()
    def AboutToShow(self, number: "i") -> "b":  # noqa: N802 - the host always has the latest: no update needed
        return False

    @method()
    def AboutToShowGroup(self, ids: "ai") -> "aiai":  # noqa: N802
        return [[], [number for number in ids if number not in self._sent]]

    @signal()
    def ItemsPropertiesUpdated(self, updated: list, removed: list) -> "a(ia{sv})a(ias)":  # noqa: N802
        return [updated, removed]

    @signal()
    def LayoutUpdated(self, revision: int, parent: int) -> "ui":  # noqa: N802
        return [revision, parent]
