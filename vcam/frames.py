"""What the engine hands its sinks: a frame and its faces, and the contract a sink keeps.

Value types on the ground floor, so that the sinks (virtual camera, web preview, files) import
them without the pipeline, its models or OpenCV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vcam.faces import Face


@dataclass
class FrameResult:
    """One published frame (BGR uint8) and the faces drawn on it."""

    frame: np.ndarray
    faces: list[Face]


class PlaceholderFrame(FrameResult):
    """A frame vcam drew itself (a message), not a camera picture: a preview that mirrors the
    camera, as people expect of their own image, shows this one as it is, so its text reads."""


class Sink(Protocol):
    def publish(self, result: FrameResult) -> None:
        """Take the newest frame; must return at once (a sink that sends slowly keeps its own thread)."""
