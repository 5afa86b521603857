"""Listening for the shortcut keys (vcam/shortcut.py) the way this desktop allows: the GlobalShortcuts
portal on Wayland, a key grab on X11, pynput on Windows and macOS; nothing, with the reason, where
none works."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vcam.shortcut import Binding, ShortcutListener, ShortcutUnavailable, StatusReport

log = logging.getLogger("vcam")


class NoShortcut:
    def close(self) -> None:
        pass


def start_shortcuts(bindings: Sequence[Binding], on_status: StatusReport, env: Mapping[str, str] = os.environ,
                    platform: str = sys.platform) -> ShortcutListener:
    """Listen for the bindings' keys the way this desktop allows, running a binding's action on the
    listener's thread at each press of its key. `on_status` hears whether the first (the overlay
    key) works; a later one that another app holds is left out and logged. Never raises: the app
    runs on without them."""
    if not bindings:
        on_status(None, None)
        return NoShortcut()
    first = bindings[0].shortcut
    try:
        if platform.startswith("linux"):
            if env.get("WAYLAND_DISPLAY"):
                from vcam.shortcut_portal import PortalShortcut

                return PortalShortcut(bindings, on_status, env.get("DBUS_SESSION_BUS_ADDRESS"))
            if env.get("DISPLAY"):
                from vcam.shortcut_x11 import X11Shortcut

                listener = X11Shortcut(bindings, env["DISPLAY"])
                on_status(str(first), None)
                return listener
            raise ShortcutUnavailable("no X display and no Wayland session to take a key from")
        if platform in ("win32", "darwin"):
            return _pynput_shortcuts(bindings, on_status)
        raise ShortcutUnavailable(f"no way to take a key from any window on {platform}")
    except ShortcutUnavailable as err:
        problem = str(err)
    except Exception as err:  # noqa: BLE001 - a desktop that misbehaves must not stop the camera
        problem = f"{type(err).__name__}: {err}"
    log.warning("the shortcut %s does not work: %s", first, problem)
    on_status(None, problem)
    return NoShortcut()


def _pynput_shortcuts(bindings: Sequence[Binding], on_status: StatusReport) -> ShortcutListener:
    """Windows and macOS: pynput's global hot keys (on macOS the terminal or app needs the
    Accessibility permission, which System Settings ▸ Privacy & Security grants)."""
    try:
        from pynput import keyboard
    except ImportError:
        raise ShortcutUnavailable("pynput is not installed: pip install pynput") from None
    hotkeys = keyboard.GlobalHotKeys({binding.shortcut.pynput_hotkey: binding.action for binding in bindings})
    hotkeys.start()
    on_status(str(bindings[0].shortcut), None)
    return _Stopping(hotkeys.stop)


@dataclass(frozen=True)
class _Stopping:
    stop: Callable[[], None]

    def close(self) -> None:
        self.stop()
