"""Files that tests make and read back (garbage bytes, a video without frames, a video's frames,
an empty config), and `run_cli`, which runs the command line with that empty config."""

from __future__ import annotations

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
        audio_end = None
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
