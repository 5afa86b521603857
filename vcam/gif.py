"""Animated GIFs for sharing a reaction: palette-based, small, at most a few frames a second.

Each frame gets its own 256-colour palette from FFmpeg's palettegen/paletteuse filters (one fixed
palette bands skin and emoji colours badly), after scaling to a shareable width. Frames are
picked on the input's clock, so the GIF lasts as long as the video at its lower rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np

from vcam.encoding import GIF_FPS, GIF_WIDTH
from vcam.errors import MediaError
from vcam.video import VideoInfo, close_quietly

GIF_TIME_BASE = Fraction(1, 100)
"""GIF frame delays are in hundredths of a second."""


@dataclass(frozen=True)
class GifShape:
    width: int
    height: int
    fps: float

    @classmethod
    def of(cls, info: VideoInfo, max_width: int = GIF_WIDTH, max_fps: float = GIF_FPS) -> GifShape:
        width = min(max_width, info.width)
        height = max(1, round(info.height * width / info.width))
        # A rate within 1 % of the cap is the cap (a 15 fps GIF read back declares 15.08 fps from
        # its whole-centisecond delays): keep every frame rather than drop one in a hundred.
        return cls(width, height, info.fps if info.fps <= max_fps * 1.01 else max_fps)


@dataclass
class GifWriter:
    """Upright BGR frames of `info`'s size into an animated GIF at `path`."""

    path: Path
    info: VideoInfo
    shape: GifShape
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            self._container = av.open(str(self.path), "w", format="gif")
        except (av.FFmpegError, OSError) as err:
            raise MediaError(f"{self.path}: cannot create the GIF ({err}); check the disk and the file name") from None
        shape = self.shape
        self._stream = self._container.add_stream("gif", rate=Fraction(shape.fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = shape.width, shape.height, "pal8"
        self._stream.codec_context.time_base = GIF_TIME_BASE
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(width=self.info.width, height=self.info.height, format="bgr24",
                                        time_base=GIF_TIME_BASE)
        scale = self._graph.add("scale", f"{shape.width}:{shape.height}:flags=lanczos")
        split = self._graph.add("split")
        palette = self._graph.add("palettegen", "stats_mode=single")
        use = self._graph.add("paletteuse", "new=1")
        sink = self._graph.add("buffersink")
        source.link_to(scale)
        scale.link_to(split)
        split.link_to(palette, 0, 0)
        split.link_to(use, 1, 0)
        palette.link_to(use, 0, 1)
        use.link_to(sink)
        self._graph.configure()
        self._frames = 0

    def wants(self, index: int) -> bool:
        """Whether input frame `index` is the first of one of the GIF's frame periods; only
        those are annotated and written (every period has one, as the GIF's rate is the lower)."""
        return index == 0 or self._slot(index) != self._slot(index - 1)

    def _slot(self, index: int) -> int:
        return int(index * self.shape.fps / self.info.fps + 1e-9)

    def write(self, frame: np.ndarray, pts: int | None = None) -> None:
        """The next kept frame (see `wants`); its delay follows from the GIF's rate."""
        slot, self._frames = self._frames, self._frames + 1
        picture = av.VideoFrame.from_ndarray(frame, format="bgr24")
        picture.pts, picture.time_base = round(slot / self.shape.fps / GIF_TIME_BASE), GIF_TIME_BASE
        self._graph.vpush(picture)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                paletted = self._graph.vpull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._container.mux(self._stream.encode(paletted))

    def mux_audio(self, packet: av.Packet) -> None:
        """A GIF has no sound (the summary says so)."""

    def close(self) -> None:
        self._graph.vpush(None)
        self._drain()
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def abandon(self) -> None:
        """Close without flushing: the file is about to be deleted."""
        close_quietly(self._container)
