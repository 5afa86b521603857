"""Reading and writing the photos and videos that `vcam annotate` works on.

Outputs are written to a temporary file beside the target and renamed into place only when
complete, so a failure never leaves a half-written file under the user's chosen name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.errors import MediaError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
MAX_BROKEN_IN_A_ROW = 30
"""Failed reads in a row after which a video is taken to have ended."""
# Codecs that opencv-python's bundled FFmpeg writes on every platform.
FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def media_kind(path: Path) -> str:
    """"image" or "video", from the file name; MediaError for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise MediaError(
        f"{path}: unsupported file type {suffix or '(none)'}; use a photo ({', '.join(IMAGE_SUFFIXES)})"
        f" or a video ({', '.join(VIDEO_SUFFIXES)})"
    )


def read_image(path: Path) -> np.ndarray:
    require_file(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: cannot decode the image (corrupt or not really {path.suffix}); use another file")
    return image


def write_image(path: Path, image: np.ndarray) -> None:
    with atomic_output(path) as partial:
        if not cv2.imwrite(str(partial), image):
            raise MediaError(f"{path}: could not write the image; check the disk and the file name")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    """As the container declares it; may be 0 or approximate for some files."""


class VideoReader:
    """Frames of a video file, as a context manager: `with VideoReader(p) as video: for f in video`."""

    def __init__(self, path: Path) -> None:
        require_file(path)
        self.path = path
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            self._capture.release()
            raise MediaError(f"{path}: cannot open the video (empty, corrupt or an unsupported codec); use another file"
                             " or re-encode it as H.264 .mp4")
        ok, self._first = self._capture.read()
        if not ok or self._first is None:
            self._capture.release()
            raise MediaError(f"{path}: the video has no frames that can be decoded; use another file")
        height, width = self._first.shape[:2]
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(width, height, fps if 0 < fps < 1000 else 30.0,
                              max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))))

    def __iter__(self) -> Iterator[np.ndarray | None]:
        """The frames in order; None for a frame that failed to decode.

        A damaged stretch in the middle of a file makes single reads fail while later frames
        still decode, so reading goes on until MAX_BROKEN_IN_A_ROW reads fail in a row, or the
        declared end is reached."""
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        failed_in_a_row = 0  # reported only when a good frame follows: failures at the end are the end
        while failed_in_a_row < MAX_BROKEN_IN_A_ROW:
            ok, frame = self._capture.read()
            if ok:
                yield from [None] * failed_in_a_row
                failed_in_a_row = 0
                yield frame
            elif self.info.frames and self._capture.get(cv2.CAP_PROP_POS_FRAMES) >= self.info.frames:
                return
            else:
                failed_in_a_row += 1

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def video_writer(path: Path, width: int, height: int, fps: float) -> Iterator[cv2.VideoWriter]:
    """A VideoWriter whose file appears at `path` only if the block completes."""
    with atomic_output(path) as partial:
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*FOURCC[path.suffix.lower()]), fps, (width, height))
        if not writer.isOpened():
            raise MediaError(f"{path}: cannot create the video; check the disk and the file name")
        try:
            yield writer
        finally:
            writer.release()


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path to write to; it becomes `path` when the block completes, and vanishes
    if the block fails. OS errors (no space, no permission) become one-line MediaErrors."""
    require_output_folder(path)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    except OSError as err:
        raise MediaError(f"{path}: cannot write it ({err.strerror or err}); check the path, permissions and free space") from None
    finally:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass  # e.g. the folder is not writable: then no partial file was made either


def require_output_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise MediaError(f"{path}: folder {path.parent} does not exist; create it or choose another output path")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder; give a file name for the output")


def require_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise MediaError(f"{path}: not a file; pass a photo or a video")
