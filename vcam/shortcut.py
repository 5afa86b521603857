"""The shortcut key that switches the overlay while another window (the call app) has the focus.

`toggle_key` in the settings (default Ctrl+Alt+E; "" for none) is parsed here, once, into a
`Shortcut`; the reaction keys are its modifiers with 1, 2, … (`reaction_keys`).
vcam/shortcut_listener.py's `start_shortcuts` then listens for them the way the desktop allows: on Wayland through
the desktop's GlobalShortcuts portal (vcam/shortcut_portal.py: the desktop asks the user once and
lists the shortcut in its own settings), on X11 by grabbing the key on the root window
(vcam/shortcut_x11.py), on Windows and macOS through pynput. Each tells `on_status(working,
problem)` how it went — the key it listens for, or why it cannot — and the app runs on without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from vcam.errors import VcamError
from vcam.emotions import Emotion
from vcam.reaction import REACTION_LABELS

DEFAULT_TOGGLE_KEY = "Ctrl+Alt+E"


class Modifier(StrEnum):
    CTRL = "Ctrl"
    ALT = "Alt"
    SHIFT = "Shift"
    SUPER = "Super"


MODIFIER_NAMES = {"ctrl": Modifier.CTRL, "control": Modifier.CTRL, "alt": Modifier.ALT, "shift": Modifier.SHIFT,
                  "super": Modifier.SUPER, "meta": Modifier.SUPER, "win": Modifier.SUPER, "logo": Modifier.SUPER}
KEY = re.compile(r"[a-z0-9]|f([1-9]|1[0-2])", re.IGNORECASE)
"""The keys a shortcut may end in: a letter, a digit, F1–F12 (the same on every keyboard layout's
key caps that vcam's users are likely to have)."""


@dataclass(frozen=True)
class Shortcut:
    modifiers: tuple[Modifier, ...]
    """In Modifier's order."""
    key: str
    """"e", "5", "F5"."""

    def __str__(self) -> str:
        return "+".join([*self.modifiers, self.key.upper() if len(self.key) == 1 else self.key])

    @property
    def xdg_trigger(self) -> str:
        """As the XDG shortcuts specification writes it (the portal's preferred_trigger): CTRL+ALT+e."""
        names = {Modifier.CTRL: "CTRL", Modifier.ALT: "ALT", Modifier.SHIFT: "SHIFT", Modifier.SUPER: "LOGO"}
        return "+".join([*(names[m] for m in self.modifiers), self.key])

    @property
    def pynput_hotkey(self) -> str:
        names = {Modifier.CTRL: "<ctrl>", Modifier.ALT: "<alt>", Modifier.SHIFT: "<shift>", Modifier.SUPER: "<cmd>"}
        key = self.key if len(self.key) == 1 else f"<{self.key.lower()}>"
        return "+".join([*(names[m] for m in self.modifiers), key])


def parse_shortcut(text: object, name: str = "toggle_key") -> Shortcut | None:
    """`text` ("Ctrl+Alt+E"; "" for none) as a Shortcut; VcamError naming `name` and what it takes."""
    problem = (f'{name} must be modifiers and a key joined by +, such as "{DEFAULT_TOGGLE_KEY}" (Ctrl, Alt, '
               f'Shift, Super; a letter, a digit or F1–F12), or "" for none, not {text!r}')
    if not isinstance(text, str):
        raise VcamError(problem)
    if not text.strip():
        return None
    *modifiers, key = [part.strip() for part in text.split("+")]
    chosen = [MODIFIER_NAMES.get(modifier.lower()) for modifier in modifiers]
    if not KEY.fullmatch(key) or None in chosen or len(set(chosen)) != len(chosen):
        raise VcamError(problem)
    if not set(chosen) - {Modifier.SHIFT} and len(key) == 1:
        # A letter or digit with no modifier, or Shift alone, is typing: taken from every app, it would break it.
        raise VcamError(f"{name} {text!r} would take a key away from typing; add Ctrl, Alt or Super")
    return Shortcut(tuple(m for m in Modifier if m in chosen), key.lower() if len(key) == 1 else key.upper())


class ShortcutUnavailable(Exception):
    """The shortcut cannot be listened for here; the message says why and what would help."""


class ShortcutListener(Protocol):
    def close(self) -> None: ...


StatusReport = Callable[[str | None, str | None], None]
"""on_status(working, problem): "Ctrl+Alt+E" and None while it listens, None and why when it cannot."""


@dataclass(frozen=True)
class Binding:
    """One key and what it does."""

    name: str
    """Its id to the desktop ("toggle-overlay", "react-happy"): the portal lists it by this."""
    shortcut: Shortcut
    description: str
    action: Callable[[], None]


def reaction_keys(toggle: Shortcut | None) -> dict[Emotion, Shortcut]:
    """The reaction keys: the overlay key's modifiers with 1, 2, … in the React menu's order
    (Ctrl+Alt+1 😀, Ctrl+Alt+2 😮, …); none without an overlay key, or where it is one of them."""
    if toggle is None or not set(toggle.modifiers) - {Modifier.SHIFT}:
        return {}  # F9 alone, say: the digits alone (or with Shift) would be taken from typing
    keys = {emotion: Shortcut(toggle.modifiers, str(number)) for number, emotion in enumerate(REACTION_LABELS, 1)}
    return {emotion: key for emotion, key in keys.items() if key != toggle}


def working_reaction_keys(working: str | None) -> dict[Emotion, Shortcut]:
    """The reaction keys to show beside the reactions: those of the overlay key that works now
    (the engine state's `shortcut`), none while it does not."""
    return reaction_keys(parse_shortcut(working or ""))
