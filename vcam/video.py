"""Reading and writing video files with PyAV (FFmpeg inside the `av` wheel: libx264 and libvpx
included, nothing to install on the system).

The reader decodes whatever FFmpeg reads and hands out upright BGR frames; the writer encodes
what plays everywhere (H.264 yuv420p in .mp4/.mov/.mkv, VP9 in .webm), keeps the input's frame
rate, time base, timestamps and rotation, and carries the sound across (see vcam.audio).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vcam.audio import AudioPassage
from vcam.choices import Quality
from vcam.errors import MediaError
from vcam.paths import atomic_output, require_file

GAP_FACTOR = 1.5
"""In a file where packets failed to decode, a timestamp further than this many frame periods
after the last one means frames were lost there: each becomes a repeat of the frame before."""


@dataclass(frozen=True)
class VideoFormat:
    """One kind of output video file: its muxer, its codec and what its sound may be."""

    muxer: str
    codec: str
    audio_codec: str
    """The encoder for sound the container cannot hold as it is."""
    holds_audio: frozenset[str] | None
    """Sound codecs the container takes unchanged (copied); None: any."""
    pix_fmt: str = "yuv420p"
    constant_rate: bool = False
    """The container stores no timestamps, only a frame rate (AVI): frames are numbered."""


VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": VideoFormat("mp4", "libx264", "aac", frozenset({"aac", "mp3", "alac", "opus", "flac", "ac3", "eac3"})),
    ".mov": VideoFormat("mov", "libx264", "aac", frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le",
                                                           "pcm_s24le", "pcm_f32le"})),
    ".mkv": VideoFormat("matroska", "libx264", "aac", None),
    ".webm": VideoFormat("webm", "libvpx-vp9", "libopus", frozenset({"opus", "vorbis"})),
    ".avi": VideoFormat("avi", "libx264", "libmp3lame", frozenset({"mp3", "ac3", "pcm_s16le"}), constant_rate=True),
}
"""The video files vcam writes, by file name suffix (.gif is vcam.gif's)."""

ENCODER_OPTIONS: dict[tuple[str, Quality], dict[str, str]] = {
    # x264's CRF 23 is its own default; 20 keeps drawn emoji edges clean at a modest size.
    # veryfast: half the size of OpenCV's mp4v file at a better picture; its sub-pixel search
    # cut to subme=1 costs a third less CPU (5.5 → 3.7 ms a 640×360 frame) for a 9 % larger
    # file (benchmarks/annotate_video.py). ultrafast: the quickest, and larger.
    ("libx264", Quality.DRAFT): {"crf": "26", "preset": "ultrafast"},
    ("libx264", Quality.GOOD): {"crf": "20", "preset": "veryfast", "x264-params": "subme=1"},
    ("libx264", Quality.BEST): {"crf": "16", "preset": "slow"},
    # VP9 needs a zero bit rate for CRF to rule; row-mt and cpu-used keep it near real time.
    ("libvpx-vp9", Quality.DRAFT): {"crf": "40", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    ("libvpx-vp9", Quality.GOOD): {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"},
    ("libvpx-vp9", Quality.BEST): {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "2", "row-mt": "1"},
}


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    """Upright, as the video is shown (after its rotation)."""
    fps: float
    frames: int
    """As the container declares it; 0 when it does not say."""
    time_base: Fraction = Fraction(1, 30)
    rotation: int = 0
    """Degrees counter-clockwise that players turn the stored picture (0, 90, 180 or 270)."""
    start: int | None = None
    """The first frame's timestamp, in time_base units."""

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps).limit_denominator(1001)

    @property
    def period(self) -> float:
        """One frame's duration in time_base units."""
        return float(1 / (self.rate * self.time_base))


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(frame, rotation // 90 % 4)) if rotation else frame


def as_stored(frame: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(frame, -(rotation // 90) % 4)) if rotation else frame


def even_side(side: int) -> int:
    """A side as 4:2:0 stores it: the colour planes are halved, so both sides must be even. An
    odd last column or row is cut; a side of one pixel is doubled instead (cut, nothing is left)."""
    return max(2, side - side % 2)


def to_even_size(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`frame` cut, or padded by repeating its edge, to `width`×`height` (what even_side gave)."""
    frame = frame[:height, :width]
    missing_rows, missing_columns = height - frame.shape[0], width - frame.shape[1]
    if missing_rows or missing_columns:
        frame = cv2.copyMakeBorder(frame, 0, missing_rows, 0, missing_columns, cv2.BORDER_REPLICATE)
    return frame


def measured_rate(stream: av.VideoStream) -> Fraction:
    """Frames per second over the whole stream where the container says both (a GIF's FFmpeg
    average rate is off: 50/3 for 30 frames in 2 s), else what FFmpeg estimates."""
    if stream.frames and stream.duration and stream.time_base:
        return Fraction(stream.frames) / (stream.duration * stream.time_base)
    return stream.average_rate or stream.guessed_rate or Fraction(30)


def close_quietly(container: av.container.OutputContainer) -> None:
    """Close an output that is being abandoned (an error or a signal is on its way up): a failure
    to finish it must not hide why it was abandoned, and the file is deleted anyway."""
    try:
        container.close()
    except (av.FFmpegError, OSError):
        pass


def open_input(path: Path) -> av.container.InputContainer:
    require_file(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        raise MediaError(f"{path}: cannot open the video (empty, corrupt, encrypted or not a video FFmpeg reads); "
                         "use another file or re-encode it as H.264 .mp4") from None


@dataclass
class ReadReport:
    """What reading found wrong, for the summary line."""

    repeated: int = 0
    """Frames lost mid-file (a gap in the timestamps, or a packet that failed to decode)."""
    missing: int = 0
    """Frames the container declares that never came: the file is cut short."""
    decode_errors: int = 0


class VideoReader:
    """Frames of a video file, as a context manager: `with VideoReader(p) as video: for f in video`.

    Frames come upright, as BGR uint8; None stands for a frame that failed to decode. The sound
    packets met on the way go to `on_audio` (for copying), in file order, so that a long video
    is never held in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._container = open_input(path)
        self.on_audio: Callable[[av.Packet], None] | None = None
        self.report = ReadReport()
        try:
            self._open_streams()
        except BaseException:
            self._container.close()
            raise

    def _open_streams(self) -> None:
        container, path = self._container, self.path
        if not container.streams:
            raise MediaError(f"{path}: the video has no frames (empty or unfinished file); use another file")
        if not container.streams.video:
            raise MediaError(f"{path}: has no video stream (sound only?); pass a video file")
        self._video = container.streams.video[0]
        self._video.thread_type = "AUTO"
        self.audio: list[av.AudioStream] = list(container.streams.audio)
        self.dropped: list[str] = [stream.type for stream in container.streams
                                   if stream is not self._video and stream not in self.audio]
        self._early: list[av.Packet] = []
        """Sound packets met before the first frame, kept for `on_audio`."""
        self._items = self._demux()
        self._first: av.VideoFrame | None = None
        for item in self._items:
            if isinstance(item, av.VideoFrame):
                self._first = item
                break
            self._early.append(item)
        if self._first is None:
            raise MediaError(f"{path}: the video has no frames that can be decoded (corrupt, encrypted or an "
                             "unsupported codec); use another file")
        stream, rotation = self._video, round(self._first.rotation) % 360
        rate = measured_rate(stream)
        width, height = self._first.width, self._first.height
        if rotation in (90, 270):
            width, height = height, width
        self.info = VideoInfo(width, height, float(rate) if 0 < rate < 1000 else 30.0, max(0, stream.frames or 0),
                              stream.time_base or Fraction(1, 90000), rotation, self._first.pts)

    def _demux(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded video frames and raw sound packets, in file order."""
        checked = False
        for packet in self._container.demux(self._video, *self.audio):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    yield packet
                continue
            if not checked and packet.size:  # encrypted files decode into noise, not errors: ask first
                checked = True
                if packet.has_sidedata("encryption_info"):
                    raise MediaError(f"{self.path}: the video is encrypted (DRM) and cannot be decoded; "
                                     "use an unencrypted copy")
            try:
                yield from packet.decode()
            except av.FFmpegError:  # a damaged packet: the timestamp gap it leaves is filled later
                self.report.decode_errors += 1

    def timed(self) -> Iterator[tuple[int | None, np.ndarray | None]]:
        """(timestamp in info.time_base units, upright frame or None), in presentation order."""
        info, report = self.info, self.report
        last: int | None = None
        seen = 0
        for item in self._with_first():
            if not isinstance(item, av.VideoFrame):
                if self.on_audio is not None:
                    self.on_audio(item)
                continue
            # In a file with damaged packets a gap is frames that failed to decode (a damaged
            # packet can take its neighbours with it); in a sound file it is the file's own
            # timing (a phone's variable frame rate) and stays as it is.
            if (last is not None and item.pts is not None and item.pts - last > GAP_FACTOR * info.period
                    and report.decode_errors):
                lost = round((item.pts - last) / info.period) - 1
                for _ in range(lost):
                    last = round(last + info.period)
                    report.repeated += 1
                    seen += 1
                    yield last, None
            pts = item.pts if item.pts is not None or last is None else round(last + info.period)
            last = pts if pts is not None else last
            seen += 1
            yield pts, upright(item.to_ndarray(format="bgr24"), info.rotation)
        report.missing = max(0, info.frames - seen)

    def _with_first(self) -> Iterator[av.VideoFrame | av.Packet]:
        early, self._early = self._early, []
        yield from early
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._items

    def __iter__(self) -> Iterator[np.ndarray | None]:
        for _, frame in self.timed():
            yield frame

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class VideoWriter:
    """Upright BGR frames into a video file of `path`'s kind, at the input's timing and rotation.

    `write(frame, pts)` takes the reader's timestamp (None: one period after the last);
    `mux_audio(packet)` passes sound through. Closing flushes the encoders."""

    path: Path
    info: VideoInfo
    quality: Quality = Quality.GOOD
    audio: Sequence[av.AudioStream] = ()
    kind: str = ""
    """The suffix whose format to write (default: path's own; a temporary file has the same)."""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        fmt = VIDEO_FORMATS[(self.kind or self.path.suffix).lower()]
        if fmt.constant_rate:
            self.info = replace(self.info, time_base=1 / self.info.rate, start=0)
        try:
            self._container = av.open(str(self.path), "w", format=fmt.muxer)
        except (av.FFmpegError, OSError) as err:
            raise MediaError(f"{self.path}: cannot create the video ({err}); check the disk and the file name") from None
        try:
            self._add_streams(fmt)
        except BaseException:
            self._container.close()
            raise
        self._last: int | None = None
        self._numbered = fmt.constant_rate

    def _add_streams(self, fmt: VideoFormat) -> None:
        info = self.info
        self._stream = self._container.add_stream(fmt.codec, rate=info.rate,
                                                  options=ENCODER_OPTIONS[fmt.codec, self.quality])
        sideways = info.rotation in (90, 270)
        width, height = (info.height, info.width) if sideways else (info.width, info.height)
        self._stream.width, self._stream.height = even_side(width), even_side(height)
        self._stream.pix_fmt = fmt.pix_fmt
        self._stream.codec_context.time_base = info.time_base
        if info.rotation:
            self._stream.set_display_rotation(info.rotation)
        self._passages = {stream.index: AudioPassage(self._container, stream, fmt.holds_audio, fmt.audio_codec,
                                                     (self.kind or self.path.suffix).lower())
                          for stream in self.audio}
        self.notes.extend(passage.note for passage in self._passages.values() if passage.note)

    def wants(self, index: int) -> bool:
        """Every frame goes into a video (a GIF keeps fewer)."""
        return True

    def write(self, frame: np.ndarray, pts: int | None = None) -> None:
        period = self.info.period
        if self._numbered or pts is None or (self._last is not None and pts <= self._last):
            pts = (self.info.start or 0) if self._last is None else round(self._last + period)
        self._last = pts
        stored = to_even_size(as_stored(frame, self.info.rotation), self._stream.width, self._stream.height)
        # OpenCV's BGR→I420 costs a third less CPU than FFmpeg's swscale, to the same limited-range BT.601.
        picture = av.VideoFrame.from_ndarray(cv2.cvtColor(stored, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        picture.pts, picture.time_base = pts, self.info.time_base
        self._container.mux(self._stream.encode(picture))

    def mux_audio(self, packet: av.Packet) -> None:
        passage = self._passages.get(packet.stream.index)
        if passage is not None:
            passage.carry(packet)

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        for passage in self._passages.values():
            passage.finish()
        self._container.close()

    def abandon(self) -> None:
        """Close without flushing: the file is about to be deleted."""
        close_quietly(self._container)


@contextmanager
def video_writer(path: Path, width: int, height: int, fps: float,
                 quality: Quality = Quality.GOOD) -> Iterator[VideoWriter]:
    """A VideoWriter of upright frames at a constant rate, whose file appears at `path` only if
    the block completes."""
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(path) as partial:
        writer = VideoWriter(partial, VideoInfo(width, height, fps, 0, 1 / rate), quality, kind=path.suffix)
        try:
            yield writer
        except BaseException:
            writer.abandon()
            raise
        writer.close()
