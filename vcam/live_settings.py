"""The settings a user changes while vcam runs, declared once.

The engine applies them (each with its effect on the pipeline), the web API accepts the ones
marked `on_web`, and the tray menu shows each as a check mark or a radio submenu with these
labels. Adding a live setting is one line here, a field of the same name in `Config` and
`EngineState`, and its effect in the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from vcam.choices import Detector, Faces, Placement, parse_choice
from vcam.errors import VcamError


@dataclass(frozen=True)
class LiveSetting:
    name: str
    """The field of Config and EngineState, and the web API's key."""
    kind: type[bool] | type[StrEnum]
    label: str
    """What the tray menu calls it."""
    choices: Mapping[StrEnum, str] = field(default_factory=dict)
    """A choice's values, in menu order, each with its label."""
    on_web: bool = False
    """The web page may change it (POST /api/state)."""

    def parse(self, value: object) -> bool | StrEnum:
        """`value` as this setting's type, or VcamError naming the setting."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise VcamError(f"{self.name} must be true or false, not {json.dumps(value, default=str)}")
            return value
        if not isinstance(value, str):
            raise VcamError(f"{self.name} must be a string, one of {', '.join(map(str, self.kind))}, "
                            f"not {json.dumps(value, default=str)}")
        return parse_choice(self.kind, self.name, value)


LIVE_SETTINGS: tuple[LiveSetting, ...] = (
    LiveSetting("overlay", bool, "Overlay", on_web=True),
    LiveSetting("placement", Placement, "Placement", {Placement.FACE: "On the face",
                                                      Placement.BADGE: "Badge beside the head",
                                                      Placement.CORNER: "In the corner"}, on_web=True),
    LiveSetting("faces", Faces, "Faces", {Faces.EVERYONE: "Everyone", Faces.ONLY_ME: "Only me"}, on_web=True),
    LiveSetting("detector", Detector, "Detector", {Detector.SHORT: "Near — one person at the desk (faster)",
                                                   Detector.FULL: "Room — faces near and far"}),
)
LIVE = {setting.name: setting for setting in LIVE_SETTINGS}
