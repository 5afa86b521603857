"""vcam.media: file kinds, reading photos and videos, and outputs that appear only when complete."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_files import empty_video, garbage, read_all_frames
from vcam.errors import MediaError
from vcam.media import VideoReader, atomic_output, media_kind, read_image, video_writer, write_image


def only_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize(
    "name, kind",
    [("a.jpg", "image"), ("A.JPEG", "image"), ("shot.png", "image"),
     ("v.mp4", "video"), ("V.MOV", "video"), ("v.avi", "video"), ("v.mkv", "video"),
     ("p.webp", "image"), ("p.bmp", "image"), ("p.tif", "image"), ("P.TIFF", "image"),
     ("v.webm", "video"), ("anim.gif", "video"), ("v.ts", "video")],
)
def test_media_kind_from_the_suffix(name: str, kind: str) -> None:
    assert media_kind(Path(name)) == kind


@pytest.mark.parametrize("name", ["notes.txt", "noextension", "photo.jpg.bak"])
def test_unsupported_suffixes_are_media_errors(name: str) -> None:
    with pytest.raises(MediaError, match="unsupported file type"):
        media_kind(Path(name))


def test_read_image_reads_a_real_photo(media: Path) -> None:
    image = read_image(media / "two_people.jpg")
    assert image.shape == (661, 1126, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.jpg", "no such file"),
    (lambda tmp: tmp, "not a file"),
    (lambda tmp: garbage(tmp / "broken.jpg"), "cannot decode"),
], ids=["missing", "folder", "garbage"])
def test_unreadable_photos_are_media_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        read_image(make(tmp_path))


def test_write_image_round_trips_and_leaves_no_partial_file(tmp_path: Path, media: Path) -> None:
    image = read_image(media / "obama-720p.jpg")
    write_image(tmp_path / "copy.png", image)
    assert only_files(tmp_path) == ["copy.png"]
    np.testing.assert_array_equal(read_image(tmp_path / "copy.png"), image)


def test_atomic_output_leaves_nothing_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    with pytest.raises(RuntimeError), atomic_output(target) as partial:
        partial.write_bytes(b"half written")
        raise RuntimeError("disk full")
    assert only_files(tmp_path) == []


def test_atomic_output_into_a_missing_folder_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        write_image(tmp_path / "nowhere" / "out.jpg", np.zeros((4, 4, 3), np.uint8))


def test_video_reader_reads_the_clip(media: Path, clip_frames) -> None:
    with VideoReader(media / "short_hamilton_clip.mp4") as video:
        info = video.info
        frames = list(video)
    assert (info.width, info.height, info.frames) == (640, 360, 275)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert len(frames) == len(clip_frames) == 275
    np.testing.assert_array_equal(frames[0], clip_frames[0])
    np.testing.assert_array_equal(frames[-1], clip_frames[-1])


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.mp4", "no such file"),
    (lambda tmp: garbage(tmp / "broken.mp4"), "cannot open"),
    (lambda tmp: garbage(tmp / "zero.mp4", 0), "cannot open"),
    (lambda tmp: empty_video(tmp / "empty.mp4"), "cannot open|no frames"),
], ids=["missing", "garbage", "zero-bytes", "no-frames"])
def test_unreadable_videos_are_media_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        VideoReader(make(tmp_path))


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mov", ".mkv"])
def test_video_writer_writes_a_readable_video_of_every_supported_kind(tmp_path: Path, suffix: str, clip_frames) -> None:
    frames = clip_frames[:8]
    target = tmp_path / f"out{suffix}"
    with video_writer(target, 640, 360, 29.97) as writer:
        for frame in frames:
            writer.write(frame)
    assert only_files(tmp_path) == [target.name]
    back = read_all_frames(target)
    assert len(back) == len(frames) and back[0].shape == frames[0].shape
    assert np.abs(back[4].astype(int) - frames[4].astype(int)).mean() < 8


def test_video_writer_leaves_nothing_when_writing_fails(tmp_path: Path, clip_frames) -> None:
    with pytest.raises(RuntimeError), video_writer(tmp_path / "out.mp4", 640, 360, 30.0) as writer:
        writer.write(clip_frames[0])
        raise RuntimeError("pipeline failed")
    assert only_files(tmp_path) == []
