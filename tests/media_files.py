"""Files that tests make and read back (garbage bytes, a video without frames, a video's frames,
an empty config), and `run_cli`, which runs the command line with that empty config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


def garbage(path: Path, size: int = 5000) -> Path:
    """`size` random bytes (the same every run) at `path`."""
    path.write_bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def empty_video(path: Path) -> Path:
    """A video file that a VideoWriter opened and closed without writing a frame (an .mp4 of
    this kind has no index and cannot even be opened; an .avi opens and has no frames)."""
    fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, (64, 48))
    assert writer.isOpened()
    writer.release()
    return path


def read_all_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video, decoded with OpenCV as a player would."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} does not play"
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def empty_config(folder: Path) -> Path:
    """An empty settings file, so that the user's own config never leaks into a test."""
    path = folder / "empty-config.toml"
    path.write_text("")
    return path


def run_cli(folder: Path, *args: object) -> int:
    """`vcam ARGS` in-process, with an empty config file in `folder`, so that the user's own
    settings never leak into a test."""
    from vcam.cli import main

    return main(["--config", str(empty_config(folder)), *map(str, args)])


def damaged_copy(source: Path, path: Path, patches: int = 200) -> Path:
    """`source` with `patches` runs of 50 random bytes written over its middle third: the
    container stays readable, and some frames in the middle no longer decode."""
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(1)
    for start in rng.integers(len(data) // 3, 2 * len(data) // 3, patches):
        data[start:start + 50] = rng.integers(0, 256, 50, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def clip_slice(source: Path, path: Path, seconds: float) -> Path:
    """The first `seconds` of `source`, every stream copied packet for packet (no re-encoding):
    a short video with the clip's own codecs, sound and timing, so tests annotate fewer frames."""
    import av

    with av.open(str(source)) as reader, av.open(str(path), "w") as writer:
        streams = {stream.index: writer.add_stream_from_template(stream) for stream in reader.streams
                   if stream.type in ("video", "audio")}
        video = reader.streams.video[0]
        end = (video.start_time or 0) + seconds / video.time_base
        for packet in reader.demux(*(reader.streams[index] for index in streams)):
            if packet.dts is None:
                continue
            if packet.stream.type == "video" and packet.pts is not None and packet.pts >= end:
                continue
            seconds_at = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            if packet.stream.type == "audio" and seconds_at >= float(end * video.time_base):
                continue
            packet.stream = streams[packet.stream.index]
            writer.mux(packet)
    return path


def remuxed(source: Path, path: Path, kinds: tuple[str, ...] = ("video", "audio"), repeat_video: int = 1,
            **options: str) -> Path:
    """`source`'s streams of `kinds` copied packet for packet into `path` (format from its suffix),
    with muxer `options` (e.g. movflags=faststart, or encryption); `repeat_video` > 1 adds copies
    of the video stream (a second picture stream that annotate drops)."""
    import av

    with av.open(str(source)) as reader, av.open(str(path), "w", options=options) as writer:
        chosen = [stream for stream in reader.streams if stream.type in kinds]
        outputs = {stream.index: [writer.add_stream_from_template(stream)
                                  for _ in range(repeat_video if stream.type == "video" else 1)]
                   for stream in chosen}
        for packet in reader.demux(*chosen):
            if packet.dts is None:
                continue
            for stream in outputs[packet.stream.index]:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
                copy.duration, copy.stream = packet.duration, stream
                if packet.is_keyframe:
                    copy.is_keyframe = True
                writer.mux(copy)
    return path


def with_timecode(source: Path, path: Path) -> Path:
    """`source` copied into a .mov with a timecode track, as cameras and editors write them: a
    data stream beside the picture and the sound."""
    import av

    with av.open(str(source)) as reader, av.open(str(path), "w") as writer:
        outputs = {stream.index: writer.add_stream_from_template(stream) for stream in reader.streams}
        outputs[reader.streams.video[0].index].metadata["timecode"] = "01:00:00:00"
        for packet in reader.demux():
            if packet.dts is not None:
                packet.stream = outputs[packet.stream.index]
                writer.mux(packet)
    return path


def truncated_copy(source: Path, path: Path, keep: float = 0.4) -> Path:
    """`source` with its index moved to the front and only the first `keep` of its bytes: it
    opens, declares all its frames, and ends early."""
    whole = remuxed(source, path.with_name(f"whole-{path.name}"), movflags="faststart")
    data = whole.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    whole.unlink()
    return path


def with_pcm_sound(source: Path, path: Path) -> Path:
    """`source`'s pictures (copied) with its sound decoded to 16-bit PCM, in a .mkv or .mov: a
    sound codec that .mp4 and .webm cannot hold, so annotate must convert it."""
    import av

    with av.open(str(source)) as reader, av.open(str(path), "w") as writer:
        video_in, audio_in = reader.streams.video[0], reader.streams.audio[0]
        video_out = writer.add_stream_from_template(video_in)
        audio_out = writer.add_stream("pcm_s16le", rate=audio_in.codec_context.sample_rate)
        audio_out.layout = audio_in.codec_context.layout.name
        resampler = av.AudioResampler(format="s16", layout=audio_out.layout, rate=audio_out.rate)
        for packet in reader.demux(video_in, audio_in):
            if packet.dts is None:
                continue
            if packet.stream is video_in:
                packet.stream = video_out
                writer.mux(packet)
                continue
            for frame in packet.decode():
                for pcm in resampler.resample(frame):
                    writer.mux(audio_out.encode(pcm))
        writer.mux(audio_out.encode(None))
    return path


def tiny_video(path: Path, width: int, height: int, frames: int = 5) -> Path:
    """An uncompressed .avi of `frames` grey frames of width×height (any size, 1×1 included)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("rawvideo", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "bgr24"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), index * 40, np.uint8), format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def huge_png_header(path: Path, side: int = 40000) -> Path:
    """A PNG whose header declares side×side pixels, with one tiny row of data: a few hundred
    bytes that a decoder would try to turn into side² pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@dataclass(frozen=True)
class Probe:
    """A video file as PyAV reads it back: its picture codec and every decoded frame's timing,
    and each sound stream's codec and duration."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    rotation: int
    frames: int
    seconds: float
    """From the first frame's start to the last frame's end."""
    sounds: list[tuple[str, float]]


def probe(path: Path) -> Probe:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        times, rotation, pix_fmt = [], 0, video.codec_context.pix_fmt
        for frame in container.decode(video):
            times.append(float(frame.pts * frame.time_base))
            rotation = round(frame.rotation) % 360
        period = float(1 / video.average_rate) if video.average_rate else (times[1] - times[0])
        sounds = []
        for index in range(len(container.streams.audio)):  # decoded, so that encoder priming is not counted
            with av.open(str(path)) as again:
                stream = again.streams.audio[index]
                samples = sum(frame.samples for frame in again.decode(stream))
                sounds.append((stream.codec_context.name, samples / stream.codec_context.sample_rate))
        return Probe(video.codec_context.name, pix_fmt, video.width, video.height, rotation, len(times),
                     max(times) - min(times) + period, sounds)


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as upright BGR, decoded by PyAV."""
    from vcam.video import VideoReader

    with VideoReader(path) as video:
        return [frame for frame in video if frame is not None]
