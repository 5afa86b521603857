"""What the tray shows, whatever shows it: the menu's one description, the icon and the tooltip.

Two backends draw the tray — pystray (Windows, macOS, and Linux desktops without a
StatusNotifierWatcher) and the StatusNotifierItem/dbusmenu backend in vcam/tray_sni.py — and both
read the menu from `TrayControls.entries()`, so an item is added, renamed or rewired in one place.
An entry's label, check mark and submenu are functions, read afresh whenever a backend draws the
menu: the engine's state is the only source of truth, never a copy kept in a menu.

The actions only queue changes on the engine and return at once (on whichever thread the backend
calls them from); the engine tells every listener about the change through `Engine.subscribe`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance

from vcam.autostart import Autostart
from vcam.engine import Engine, EngineState
from vcam.errors import VcamError
from vcam.live_settings import LIVE, LiveSetting
from vcam.preview_launch import open_in_browser
from vcam.reaction import REACTION_LABELS
from vcam.shortcut import working_reaction_keys
from vcam.resources import emojis_dir
from vcam.sources import available_cameras, describe_camera

log = logging.getLogger("vcam")

ICON_SIZE = 64


@dataclass(frozen=True)
class MenuEntry:
    """One menu item. `key` names it for as long as it means the same thing (e.g. "placement/badge"),
    so that a backend which numbers items (dbusmenu) keeps its numbers across redraws."""

    key: str
    label: Callable[[], str]
    action: Callable[[], object] | None = None
    checked: Callable[[], bool] | None = None
    """None: an item without a check mark; else whether it is checked now."""
    radio: bool = False
    enabled: bool = True
    visible: bool = True
    default: bool = False
    """The item a plain click on the icon runs (pystray's default item; SNI's Activate)."""
    submenu: Callable[[], Sequence[MenuEntry]] | None = None

    @property
    def separator(self) -> bool:
        return self.key.startswith("-")


def separator(key: str) -> MenuEntry:
    return MenuEntry("-" + key, lambda: "")


def find_entry(entries: Sequence[MenuEntry], key: str) -> MenuEntry | None:
    """The entry named `key` in `entries` or their submenus (None: not in the menu now)."""
    for entry in entries:
        if entry.key == key:
            return entry
        if entry.submenu is not None and key.startswith(entry.key + "/"):
            found = find_entry(entry.submenu(), key)
            if found is not None:
                return found
    return None


class TrayControls:
    """The menu's actions on one engine, and the menu that offers them."""

    def __init__(self, engine: Engine, autostart: Autostart | None = None,
                 open_preview: Callable[[], str] | None = None, cameras: list[int | str] | None = None,
                 browse: Callable[[str], Any] = open_in_browser, quit: Callable[[], None] = lambda: None,
                 redraw: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.autostart = autostart or Autostart()
        self.cameras = cameras if cameras is not None else _probe_cameras()
        self._open_preview = open_preview
        self._browse = browse
        self._quit = quit
        self._redraw = redraw  # for what the engine does not know of: the start-at-login mark

    # --- the actions: each one queues a change on the engine and returns ------------------------

    def on_overlay(self) -> None:
        self.engine.toggle_overlay()

    def on_camera(self, camera: int | str) -> None:
        self.engine.set_camera(camera)

    def on_pause(self) -> None:
        self.engine.set_paused(not self.engine.state.paused)

    def on_preview(self) -> str | None:
        if self._open_preview is None:
            return None
        try:
            url = self._open_preview()
            self._browse(url)
        except VcamError as err:
            log.warning("cannot open the preview: %s", err)
            return None
        return url

    def on_autostart(self) -> None:
        try:
            if self.autostart.is_enabled():
                self.autostart.disable()
            else:
                self.autostart.enable()
        except VcamError as err:
            log.warning("%s", err)
        self._redraw()

    def on_quit(self) -> None:
        self._quit()

    # --- the one description of the menu --------------------------------------------------------

    def entries(self) -> list[MenuEntry]:
        state = lambda: self.engine.state  # noqa: E731 - read afresh whenever the menu is drawn
        fixed = lambda text: lambda: text  # noqa: E731
        return [
            MenuEntry("status", self.status_line, enabled=False),
            separator("status"),
            MenuEntry("overlay", fixed(LIVE["overlay"].label), self.on_overlay, checked=lambda: state().overlay,
                      default=True),
            MenuEntry("shortcut", self.shortcut_line, enabled=False),
            self._setting_entry(LIVE["placement"]),
            self._setting_entry(LIVE["faces"]),
            MenuEntry("react", fixed("React"), submenu=self._reaction_entries),
            MenuEntry("camera", fixed("Camera"), submenu=self._camera_entries),
            self._setting_entry(LIVE["detector"]),
            MenuEntry("preview", fixed("Open preview"), self.on_preview, visible=self._open_preview is not None),
            MenuEntry("pause", fixed("Pause"), self.on_pause, checked=lambda: state().paused),
            MenuEntry("autostart", fixed("Start at login"), self.on_autostart, checked=self.autostart.is_enabled),
            separator("quit"),
            MenuEntry("quit", fixed("Quit"), self.on_quit),
        ]

    def _setting_entry(self, setting: LiveSetting) -> MenuEntry:
        """A live setting that is a choice, as a submenu of radio items with the table's labels."""
        return MenuEntry(setting.name, lambda: setting.label, submenu=lambda: self._choices(
            setting.name, setting.choices, lambda: getattr(self.engine.state, setting.name),
            functools.partial(self.engine.change, setting.name)))

    def _choices(self, group: str, labels: dict[Any, str], current: Callable[[], Any],
                 action: Callable[[Any], None]) -> list[MenuEntry]:
        """Radio items, one per value: each calls `action(value)` and is checked while `current()` is it."""
        return [MenuEntry(f"{group}/{value}", lambda label=label: label, functools.partial(action, value),
                          checked=lambda value=value: current() == value, radio=True)
                for value, label in labels.items()]

    def _reaction_entries(self) -> list[MenuEntry]:
        """One item a reaction: its emoji on the user's face for a few seconds; with its key while the keys work."""
        keys = working_reaction_keys(self.engine.state.shortcut)
        labels = {emotion: f"{label}  {keys[emotion]}" if emotion in keys else label
                  for emotion, label in REACTION_LABELS.items()}
        return [MenuEntry(f"react/{emotion}", lambda label=label: label, functools.partial(self.engine.react, emotion))
                for emotion, label in labels.items()]

    def _camera_entries(self) -> list[MenuEntry]:
        cameras = list(self.cameras)
        if self.engine.state.camera not in cameras:
            cameras.append(self.engine.state.camera)
        labels = {camera: describe_camera(camera).capitalize() if isinstance(camera, int) else Path(camera).name
                  for camera in cameras}
        return self._choices("camera", labels, lambda: self.engine.state.camera, self.on_camera)

    def shortcut_line(self) -> str:
        state = self.engine.state
        if state.shortcut:
            return f"{state.shortcut} switches the overlay"
        return "No overlay key — run vcam doctor" if state.shortcut_error else "No overlay key (toggle_key)"

    def status_line(self) -> str:
        state = self.engine.state
        if state.virtual_camera:
            return f"Publishing as {state.virtual_camera}"
        return "No virtual camera — run vcam doctor" if state.virtual_camera_error else "Starting…"


def _probe_cameras() -> list[int | str]:
    try:
        return list(available_cameras())
    except Exception as err:  # noqa: BLE001 - a probe that fails leaves the configured camera
        log.warning("could not list the cameras: %s", err)
        return []


@functools.lru_cache(maxsize=8)
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
