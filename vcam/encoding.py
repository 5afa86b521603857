"""How `vcam annotate` encodes a video or GIF output: the choices a user makes on the command
line, kept apart from PyAV so that every other command starts without loading FFmpeg."""

from __future__ import annotations

from dataclasses import dataclass

from vcam.choices import Quality

GIF_WIDTH = 480
"""Default `--width`: shareable in chat apps, about 1 MB a second at 15 fps."""
GIF_FPS = 15.0
"""Default and usual `--fps` cap: smooth enough for a face, half the frames of a 30 fps clip."""


@dataclass(frozen=True)
class VideoOptions:
    """How a video or GIF output is encoded (`--quality`, and `--width`/`--fps` for a GIF)."""

    quality: Quality = Quality.GOOD
    gif_width: int = GIF_WIDTH
    gif_fps: float = GIF_FPS
