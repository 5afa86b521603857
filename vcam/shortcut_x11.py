"""The shortcut on X11: the key grabbed on the root window with python-xlib, so that the X server
sends its presses to vcam whichever window has the focus. Num Lock and Caps Lock are modifiers to
X, so the key is grabbed with each of their four states. A key held down repeats as release-press
pairs with one timestamp: only the first press counts."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable, Sequence

from Xlib import X, XK, display, error

from vcam.shortcut import Binding, Modifier, ShortcutUnavailable

log = logging.getLogger("vcam")

MASKS = {Modifier.CTRL: X.ControlMask, Modifier.ALT: X.Mod1Mask, Modifier.SHIFT: X.ShiftMask,
         Modifier.SUPER: X.Mod4Mask}
HELD = sum(MASKS.values())
"""The modifiers a binding's key is told apart by (a press also reports locks and mouse buttons)."""
LOCKS = (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask)
"""Caps Lock, Num Lock (Mod2 on every common layout), both: the grab holds whatever their state."""


class X11Shortcut:
    """Grabs the bindings' keys on `display_name` and runs a binding's action on its own thread at
    each press of its key; ShortcutUnavailable when the display cannot be opened or another app
    holds the first key (a later one that is held is left out and logged)."""

    def __init__(self, bindings: Sequence[Binding], display_name: str) -> None:
        try:
            self._display = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as err:
            raise ShortcutUnavailable(f"cannot open the X display {display_name} ({err})") from None
        self._root = self._display.screen().root
        self._actions: dict[tuple[int, int], Callable[[], None]] = {}
        for index, binding in enumerate(bindings):
            try:
                self._grab(binding)
            except ShortcutUnavailable as err:
                if index == 0:
                    self._ungrab()
                    self._display.close()
                    raise
                log.warning("%s", err)
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._listen, name="vcam-shortcut", daemon=True)
        self._thread.start()

    def _grab(self, binding: Binding) -> None:
        shortcut = binding.shortcut
        keycode = self._display.keysym_to_keycode(XK.string_to_keysym(shortcut.key))
        if not keycode:
            raise ShortcutUnavailable(f"the keyboard has no {shortcut.key} key; set another toggle_key")
        mask = sum(MASKS[modifier] for modifier in shortcut.modifiers)
        taken = error.CatchError(error.BadAccess)
        for lock in LOCKS:
            self._root.grab_key(keycode, mask | lock, True, X.GrabModeAsync, X.GrabModeAsync, onerror=taken)
        self._display.sync()
        if taken.get_error():
            for lock in LOCKS:
                self._root.ungrab_key(keycode, mask | lock)
            self._display.sync()
            raise ShortcutUnavailable(f"{shortcut} is already taken by another app; set another toggle_key")
        self._actions[keycode, mask] = binding.action

    def _listen(self) -> None:
        released_at = None
        try:
            while True:
                ready, _, _ = select.select([self._display.fileno(), self._wake_read], [], [])
                if self._wake_read in ready:
                    return
                while self._display.pending_events():
                    event = self._display.next_event()
                    if event.type == X.KeyRelease:
                        released_at = event.detail, event.time
                    elif event.type == X.KeyPress and (event.detail, event.time) != released_at:  # not a repeat
                        action = self._actions.get((event.detail, event.state & HELD))
                        if action is not None:
                            action()
        except error.ConnectionClosedError:
            return  # the X server went away, and the grab with it
        finally:
            with contextlib.suppress(error.ConnectionClosedError, OSError):
                self._ungrab()
                self._display.close()

    def _ungrab(self) -> None:
        for keycode, mask in self._actions:
            for lock in LOCKS:
                self._root.ungrab_key(keycode, mask | lock)
        self._display.sync()

    def close(self) -> None:
        """Let go of the key and stop listening."""
        os.write(self._wake_write, b"x")
        self._thread.join(5)
        os.close(self._wake_read)
        os.close(self._wake_write)
