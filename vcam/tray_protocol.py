"""Which tray this desktop offers vcam's icon: the one question that both the tray and `vcam doctor`
ask, so that what the doctor reports is what the tray will do."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from enum import StrEnum


class TrayProtocol(StrEnum):
    """How this desktop shows vcam's tray icon."""

    SNI = "StatusNotifierItem over D-Bus, with the full menu"
    APPINDICATOR = "AppIndicator/GTK through PyGObject, with the full menu"
    XEMBED = "X11 system tray (XEmbed): icon only, a click toggles the overlay, no menu"
    NATIVE = "the system's own tray, with the full menu"
    NONE = "none"


def tray_protocol(platform: str = sys.platform, env: Mapping[str, str] = os.environ) -> TrayProtocol:
    """The tray vcam will use here: a StatusNotifierWatcher on the session bus wins whatever
    DISPLAY and WAYLAND_DISPLAY say; else what pystray would pick."""
    if not platform.startswith("linux"):
        return TrayProtocol.NATIVE
    try:
        from vcam.tray_sni import watcher_present
    except ImportError:  # no D-Bus library: pystray as before
        watcher_present = lambda: False  # noqa: E731
    if watcher_present():
        return TrayProtocol.SNI
    if importlib.util.find_spec("gi") is not None:
        return TrayProtocol.APPINDICATOR
    return TrayProtocol.XEMBED if env.get("DISPLAY") else TrayProtocol.NONE
