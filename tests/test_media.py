"""vcam.media: file kinds, reading photos and videos, and outputs that appear only when complete."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from media_files import (clip_slice, empty_video, garbage, huge_png_header, probe, read_all_frames, remuxed,
                         truncated_copy)
from vcam.errors import MediaError
from vcam.media import MAX_PIXELS, media_kind, output_kind, read_image, write_image
from vcam.paths import atomic_output, atomic_outputs, partial_path
from vcam.video import VideoInfo, VideoReader, VideoWriter, video_writer

CLIP = "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, media: Path) -> Path:
    """The clip's first 2 seconds, its H.264 and AAC copied unchanged."""
    return clip_slice(media / CLIP, tmp_path_factory.mktemp("slice") / "short.mp4", 2.0)


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


@pytest.mark.parametrize("name, kind", [("o.jpg", "image"), ("o.webp", "image"), ("o.tiff", "image"), ("o.mp4", "video"),
                                        ("o.MOV", "video"), ("o.mkv", "video"), ("o.webm", "video"), ("o.gif", "gif")])
def test_output_kind_from_the_suffix(name: str, kind: str) -> None:
    assert output_kind(Path(name)) == kind


@pytest.mark.parametrize("name", ["o.ts", "o.txt", "o"])
def test_outputs_vcam_does_not_write_are_media_errors(name: str) -> None:
    with pytest.raises(MediaError, match="unsupported file type"):
        output_kind(Path(name))


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".tif", ".tiff", ".png"])
def test_every_photo_kind_round_trips(tmp_path: Path, media: Path, suffix: str) -> None:
    image = read_image(media / "two_people.jpg")
    write_image(tmp_path / f"copy{suffix}", image)
    assert only_files(tmp_path) == [f"copy{suffix}"]
    np.testing.assert_array_equal(read_image(tmp_path / f"copy{suffix}"), image)


@pytest.mark.parametrize("orientation, stored", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                 (3, Image.Transpose.ROTATE_180)])
def test_a_photo_stored_sideways_is_read_upright_as_its_exif_says(tmp_path: Path, media: Path, orientation: int,
                                                                 stored: Image.Transpose) -> None:
    """A phone stores a portrait photo sideways with EXIF orientation 6 (or 8, or 3 upside down)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.open(media / "biden.jpg").transpose(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    original, upright = read_image(media / "biden.jpg"), read_image(tmp_path / "phone.jpg")
    assert upright.shape == original.shape
    assert np.abs(upright.astype(int) - original.astype(int)).mean() < 3


def test_a_photo_over_the_pixel_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    huge = huge_png_header(tmp_path / "huge.png")  # 40000×40000 declared, a few hundred bytes on disk
    assert huge.stat().st_size < 1000 and 40000 * 40000 > MAX_PIXELS
    with pytest.raises(MediaError, match="huge.png: the photo is .*over vcam's limit of 100 megapixels; scale it down"):
        read_image(huge)


def test_names_the_file_system_rejects_are_one_line_each(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(MediaError, match="symbolic link loop"):
        read_image(loop)
    with pytest.raises(MediaError, match="longer than 255 bytes"):
        read_image(tmp_path / ("b" * 300 + ".jpg"))
    with pytest.raises(MediaError, match="longer than 255 bytes"):
        write_image(tmp_path / ("b" * 300 + ".jpg"), np.zeros((4, 4, 3), np.uint8))
    assert only_files(tmp_path) == ["loop.jpg"]


@pytest.mark.parametrize("length", [247, 250, 255])
def test_the_longest_legal_output_names_are_written(tmp_path: Path, length: int) -> None:
    name = "n" * (length - 4) + ".png"
    assert len(partial_path(tmp_path / name).name.encode()) <= 255
    write_image(tmp_path / name, np.zeros((4, 4, 3), np.uint8))
    assert only_files(tmp_path) == [name]


def test_atomic_outputs_appear_together_or_not_at_all(tmp_path: Path) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.json"
    partial_path(second).mkdir()  # the second file cannot be put in place
    with pytest.raises(MediaError, match="b.json"), atomic_outputs(first, second) as (one, two):
        one.write_bytes(b"annotated")
        two.write_text("{}")
    assert only_files(tmp_path) == [partial_path(second).name]


def test_video_writer_writes_h264_yuv420p_at_the_given_rate(tmp_path: Path, clip_frames) -> None:
    with video_writer(tmp_path / "out.mp4", 640, 360, 29.97) as writer:
        for frame in clip_frames[:30]:
            writer.write(frame)
    back = probe(tmp_path / "out.mp4")
    assert (back.codec, back.pix_fmt, back.width, back.height, back.frames) == ("h264", "yuv420p", 640, 360, 30)
    assert back.seconds == pytest.approx(30 / 29.97, abs=1e-3)


def test_video_reader_passes_every_sound_packet_in_file_order(short_clip: Path) -> None:
    import av

    with av.open(str(short_clip)) as container:
        expected = [packet.pts for packet in container.demux(audio=0) if packet.dts is not None]
    seen: list[int] = []
    with VideoReader(short_clip) as video:
        video.on_audio = lambda packet: seen.append(packet.pts)
        frames = sum(1 for _ in video)
    assert frames == 60 and seen == expected


def test_a_truncated_video_reports_the_frames_it_lacks(tmp_path: Path, short_clip: Path) -> None:
    cut = truncated_copy(short_clip, tmp_path / "cut.mp4")
    with VideoReader(cut) as video:
        frames = [frame for frame in video if frame is not None]
        report, declared = video.report, video.info.frames
    assert declared == 60 and 0 < len(frames) < 60
    assert report.missing == 60 - len(frames) and report.repeated == 0


@pytest.mark.parametrize("make, message", [
    (lambda tmp, clip: remuxed(clip, tmp / "sound.mp4", kinds=("audio",)), "has no video stream"),
    (lambda tmp, clip: remuxed(clip, tmp / "drm.mp4", encryption_scheme="cenc-aes-ctr",
                               encryption_key="0" * 32, encryption_kid="0" * 32), "encrypted"),
], ids=["sound-only", "encrypted"])
def test_videos_that_cannot_be_annotated_are_media_errors(tmp_path: Path, short_clip: Path, make, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        VideoReader(make(tmp_path, short_clip))


def test_a_rotated_video_is_read_upright_and_written_with_its_rotation(tmp_path: Path, clip_frames) -> None:
    """A phone video is stored sideways with a display rotation; the pipeline must see it upright,
    and the output must be stored and rotated like the input."""
    sideways = tmp_path / "phone.mp4"
    info = VideoInfo(640, 360, 30.0, 0, time_base=Fraction(1, 30), rotation=90)
    writer = VideoWriter(sideways, info)
    for frame in clip_frames[:10]:
        writer.write(frame)
    writer.close()
    stored = probe(sideways)
    assert (stored.width, stored.height, stored.rotation) == (360, 640, 90)
    with VideoReader(sideways) as video:
        upright = list(video)
        assert (video.info.width, video.info.height, video.info.rotation) == (640, 360, 90)
    assert upright[5].shape == clip_frames[5].shape
    assert np.abs(upright[5].astype(int) - clip_frames[5].astype(int)).mean() < 8


def test_an_odd_sized_video_loses_its_last_column_and_row_to_4_2_0(tmp_path: Path, clip_frames) -> None:
    odd = [np.ascontiguousarray(np.pad(frame, ((0, 1), (0, 1), (0, 0)))) for frame in clip_frames[:5]]
    with video_writer(tmp_path / "odd.mp4", 641, 361, 30.0) as writer:
        for frame in odd:
            writer.write(frame)
    back = probe(tmp_path / "odd.mp4")
    assert (back.width, back.height, back.frames, back.pix_fmt) == (640, 360, 5, "yuv420p")


def test_a_16_bit_grey_photo_is_scaled_to_8_bits_not_clipped(tmp_path: Path, media: Path) -> None:
    grey = cv2.cvtColor(cv2.imread(str(media / "biden.jpg")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "deep.png"), grey.astype(np.uint16) * 257)
    image = read_image(tmp_path / "deep.png")
    assert image.shape == (*grey.shape, 3)
    assert np.abs(image[:, :, 1].astype(int) - grey).max() <= 1
