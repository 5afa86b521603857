"""vcam.annotate: a photo and the real clip through the whole pipeline into files and JSON.

The clip is annotated once per module, through the command line in-process (`run_cli`); its
output is compared with the original frames written through the same video encoder, so that
re-encoding noise is not mistaken for drawing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import box_mask
from media_files import (clip_slice, damaged_copy, decoded_frames, empty_config, huge_png_header, probe,
                         read_all_frames, remuxed, run_cli, tiny_video, truncated_copy, with_pcm_sound, with_timecode)
from vcam.emotions import EMOTIONS
from vcam.annotate import annotate
from vcam.config import Config
from vcam.errors import MediaError
from vcam.video import video_writer
from vcam.pipeline import Pipeline

CLIP = "short_hamilton_clip.mp4"
SUMMARY = re.compile(r"^annotated .+ → .+: (\d+) frames?, (\d+) faces, (\d+\.\d) fps$")


@dataclass
class AnnotatedClip:
    status: int
    stdout: str
    frames: list[np.ndarray]
    records: list[dict]
    folder: Path


@pytest.fixture(scope="module")
def annotated_clip(tmp_path_factory, media: Path) -> AnnotatedClip:
    folder = tmp_path_factory.mktemp("clip")
    out, report = folder / "annotated.mp4", folder / "faces.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = run_cli(tmp_path_factory.mktemp("config"), "annotate", media / CLIP, out, "--json", report, "--quiet")
    return AnnotatedClip(status, stdout.getvalue(), read_all_frames(out),
                         json.loads(report.read_text())["frames"], folder)


@pytest.fixture(scope="module")
def reencoded_clip(tmp_path_factory, clip_frames) -> list[np.ndarray]:
    """The original frames written through the same encoder and read back."""
    path = tmp_path_factory.mktemp("reference") / "original.mp4"
    height, width = clip_frames[0].shape[:2]
    with video_writer(path, width, height, 29.97) as writer:
        for frame in clip_frames:
            writer.write(frame)
    return read_all_frames(path)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_config(Config())


def assert_face_record(face: dict) -> None:
    assert isinstance(face["id"], int)
    assert len(face["box"]) == 4 and face["box"][2] > 0 and face["box"][3] > 0
    assert list(face["probabilities"]) == list(EMOTIONS)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=2e-3)
    assert face["emotion"] in EMOTIONS


@pytest.mark.slow
def test_clip_summary_names_frames_faces_and_speed(annotated_clip) -> None:
    assert annotated_clip.status == 0
    lines = annotated_clip.stdout.splitlines()
    assert len(lines) == 1
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    frames, faces, fps = int(match[1]), int(match[2]), float(match[3])
    assert frames == 275
    assert faces == sum(len(record["faces"]) for record in annotated_clip.records)
    assert fps > 0


@pytest.mark.slow
def test_annotated_clip_plays_with_every_frame_at_the_same_size(annotated_clip, clip_frames) -> None:
    assert len(annotated_clip.frames) == len(clip_frames) == 275
    assert {frame.shape for frame in annotated_clip.frames} == {clip_frames[0].shape}
    assert sorted(path.name for path in annotated_clip.folder.iterdir()) == ["annotated.mp4", "faces.json"]


def test_clip_json_has_each_frames_faces(annotated_clip) -> None:
    records = annotated_clip.records
    assert [record["frame"] for record in records] == list(range(275))
    assert sum(bool(record["faces"]) for record in records) >= 0.95 * 275
    for record in records:
        for face in record["faces"]:
            assert_face_record(face)
        ids = [face["id"] for face in record["faces"]]
        assert len(ids) == len(set(ids))


def test_emojis_cover_the_faces_and_nothing_far_from_them(annotated_clip, reencoded_clip) -> None:
    for index, (record, annotated, original) in enumerate(
            zip(annotated_clip.records, annotated_clip.frames, reencoded_clip)):
        difference = np.abs(annotated.astype(np.int16) - original.astype(np.int16)).max(axis=2)
        far = ~np.logical_or.reduce([box_mask(difference.shape, face["box"], grow=1.0) for face in record["faces"]]
                                    + [np.zeros(difference.shape, bool)])
        assert difference[far].mean() < 4, f"frame {index} changed far from its faces"
        for face in record["faces"]:
            assert difference[box_mask(difference.shape, face["box"])].mean() > 30, f"frame {index}: no emoji on a face"


def test_photo_in_photo_and_json_out(tmp_path: Path, media: Path, pipeline) -> None:
    source = media / "two_people.jpg"
    summary = annotate(pipeline, source, tmp_path / "out.jpg", tmp_path / "faces.json", progress=False)
    assert (summary.frames, summary.faces) == (1, 2)
    assert str(summary).startswith("1 frame, 2 faces, ")
    original, annotated = cv2.imread(str(source)), cv2.imread(str(tmp_path / "out.jpg"))
    assert annotated.shape == original.shape
    [record] = json.loads((tmp_path / "faces.json").read_text())["frames"]
    assert record["frame"] == 0 and len(record["faces"]) == 2
    for face in record["faces"]:
        assert_face_record(face)
        inside = box_mask(original.shape, face["box"])
        assert np.abs(annotated[inside].astype(int) - original[inside].astype(int)).mean() > 30
    assert record["faces"][0]["id"] != record["faces"][1]["id"]


@pytest.mark.parametrize("output, json_name", [("out.mp4", None), ("out.jpg", "nowhere/faces.json")])
def test_bad_outputs_are_refused_before_anything_is_written(tmp_path: Path, media: Path, pipeline,
                                                            output: str, json_name: str | None) -> None:
    json_path = None if json_name is None else tmp_path / json_name
    with pytest.raises(MediaError):
        annotate(pipeline, media / "biden.jpg", tmp_path / output, json_path, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_undecodable_frames_do_not_end_the_video(tmp_path: Path, media: Path, capsys) -> None:
    damaged = damaged_copy(media / CLIP, tmp_path / "damaged.mp4")
    out, report = tmp_path / "out.mp4", tmp_path / "faces.json"
    assert run_cli(tmp_path, "annotate", damaged, out, "--json", report, "--quiet") == 0
    frames = json.loads(report.read_text())["frames"]
    broken = [frame["frame"] for frame in frames if frame.get("broken")]
    assert broken, "the damage should have broken some frames"
    # Reading stopped at the first broken frame before; now it goes on to the end of the clip.
    assert len(frames) > max(broken) + 100
    assert len(read_all_frames(out)) == len(frames)
    assert f"{len(broken)} undecodable frame" in capsys.readouterr().out


def test_a_video_shows_a_progress_bar(tmp_path: Path, clip_frames, capsys) -> None:
    short = tmp_path / "short.mp4"
    with video_writer(short, clip_frames[0].shape[1], clip_frames[0].shape[0], 30.0) as writer:
        for frame in clip_frames[:5]:
            writer.write(frame)
    assert run_cli(tmp_path, "annotate", short, tmp_path / "out.mp4") == 0
    err = capsys.readouterr().err
    assert "short.mp4" in err and "/5" in err and "frame" in err


def test_annotating_makes_no_network_connection(tmp_path: Path, media: Path, monkeypatch) -> None:
    """Privacy: faces never leave the machine. Every way out through the socket module is
    watched while models load and a photo is annotated."""
    import socket

    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network use in a test of vcam")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert run_cli(tmp_path, "annotate", media / "two_people.jpg", tmp_path / "out.jpg", "--quiet") == 0
    assert attempts == []


# --- Video kinds, sound and GIFs (PyAV), on the clip's first 2 seconds -----------------------

VIDEO_CODECS = {".mp4": "h264", ".mov": "h264", ".mkv": "h264", ".webm": "vp9"}


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, media: Path) -> Path:
    """The clip's first 2 seconds (60 frames), its H.264 and AAC copied unchanged."""
    return clip_slice(media / CLIP, tmp_path_factory.mktemp("slice") / "short.mp4", 2.0)


def annotate_to(folder: Path, source: Path, name: str, *flags: str) -> tuple[Path, str, list[dict]]:
    """`vcam annotate SOURCE folder/NAME --json ...`: the output, the summary line, the records."""
    out, report = folder / name, folder / f"{name}.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert run_cli(folder, "annotate", source, out, "--json", report, "--quiet", *flags) == 0
    return out, stdout.getvalue().strip(), json.loads(report.read_text())["frames"]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", list(VIDEO_CODECS))
def test_each_video_kind_keeps_frames_timing_and_sound_and_draws_only_on_faces(tmp_path: Path, short_clip: Path,
                                                                            suffix: str) -> None:
    out, summary, records = annotate_to(tmp_path, short_clip, f"out{suffix}")
    source, back = probe(short_clip), probe(out)
    assert (back.codec, back.pix_fmt) == (VIDEO_CODECS[suffix], "yuv420p")
    assert (back.width, back.height, back.frames) == (source.width, source.height, source.frames) == (640, 360, 60)
    assert back.seconds == pytest.approx(source.seconds, abs=0.002)
    assert len(back.sounds) == 1 and back.sounds[0][1] == pytest.approx(source.sounds[0][1], abs=0.1)
    assert back.sounds[0][0] == ("opus" if suffix == ".webm" else "aac")  # AAC copied; .webm cannot hold it
    assert ("sound converted from aac to libopus" in summary) == (suffix == ".webm")
    # The original frames through the same encoder, so that its noise is not taken for drawing.
    original = decoded_frames(short_clip)
    reference = tmp_path / f"reference{suffix}"
    with video_writer(reference, 640, 360, 29.97) as writer:
        for frame in original:
            writer.write(frame)
    assert_drawn_on_faces_only(records, decoded_frames(out), decoded_frames(reference))


def assert_drawn_on_faces_only(records: list[dict], annotated: list[np.ndarray], original: list[np.ndarray]) -> None:
    assert len(records) == len(annotated) == len(original)
    for index, (record, drawn, plain) in enumerate(zip(records, annotated, original)):
        difference = np.abs(drawn.astype(np.int16) - plain.astype(np.int16)).max(axis=2)
        near = [box_mask(difference.shape, face["box"], grow=1.0) for face in record["faces"]]
        far = ~np.logical_or.reduce([*near, np.zeros(difference.shape, bool)])
        assert difference[far].mean() < 4, f"frame {index} changed far from its faces"
        for face in record["faces"]:
            assert difference[box_mask(difference.shape, face["box"])].mean() > 30, f"frame {index}: no emoji"


@pytest.mark.parametrize("flags, width, frames", [((), 480, 30), (("--width", "320", "--fps", "10"), 320, 20)])
def test_a_gif_is_capped_in_width_and_rate_and_names_its_size(tmp_path: Path, short_clip: Path, flags, width: int,
                                                              frames: int) -> None:
    out, summary, records = annotate_to(tmp_path, short_clip, "reaction.gif", *flags)
    back = probe(out)
    assert (back.codec, back.width, back.height, back.frames) == ("gif", width, round(360 * width / 640), frames)
    assert back.seconds == pytest.approx(2.0, abs=0.05) and back.sounds == []
    assert len(records) == frames
    size = re.search(r"; (\d+\.\d) MB", summary)
    assert size and float(size[1]) == pytest.approx(out.stat().st_size / 1e6, abs=0.05)
    assert "sound dropped (a GIF has none)" in summary


def test_sound_the_container_cannot_hold_is_converted(tmp_path: Path, short_clip: Path) -> None:
    pcm = with_pcm_sound(short_clip, tmp_path / "pcm.mkv")
    out, summary, _ = annotate_to(tmp_path, pcm, "out.mp4")
    source, back = probe(pcm), probe(out)
    assert source.sounds[0][0] == "pcm_s16le" and back.sounds[0][0] == "aac"
    assert back.sounds[0][1] == pytest.approx(source.sounds[0][1], abs=0.1)
    assert summary.endswith("; sound converted from pcm_s16le to aac (.mp4 cannot hold pcm_s16le)")


@pytest.mark.parametrize("make, output, note", [
    (lambda tmp, clip: remuxed(clip, tmp / "two.mkv", repeat_video=2), "out.mkv", "1 video stream dropped"),
    (lambda tmp, clip: with_timecode(clip, tmp / "timecode.mov"), "out.mov", "1 data stream dropped"),
], ids=["second-picture", "timecode"])
def test_other_streams_are_dropped_with_a_note(tmp_path: Path, short_clip: Path, make, output: str, note: str) -> None:
    source = make(tmp_path, short_clip)
    out, summary, _ = annotate_to(tmp_path, source, output)
    assert summary.endswith(f"; {note}")
    back = probe(out)
    assert back.frames == 60 and [codec for codec, _ in back.sounds] == ["aac"]


def test_a_truncated_video_says_how_many_frames_were_missing(tmp_path: Path, short_clip: Path) -> None:
    cut = truncated_copy(short_clip, tmp_path / "cut.mp4")
    decodable = len(decoded_frames(cut))
    out, summary, records = annotate_to(tmp_path, cut, "out.mp4")
    assert 0 < decodable < 60 and len(records) == decodable
    assert f"{60 - decodable} frames missing: the file ends early (truncated?)" in summary
    assert probe(out).frames == decodable


# --- Bad input through the command line: one line, status 2, nothing left -------------------

def sound_only(tmp: Path, clip: Path, media: Path) -> list:
    return [remuxed(clip, tmp / "sound.mp4", kinds=("audio",)), tmp / "out" / "o.mp4"]


def encrypted(tmp: Path, clip: Path, media: Path) -> list:
    drm = remuxed(clip, tmp / "drm.mp4", encryption_scheme="cenc-aes-ctr", encryption_key="0" * 32,
                  encryption_kid="0" * 32)
    return [drm, tmp / "out" / "o.mp4"]


def symlink_loop(tmp: Path, clip: Path, media: Path) -> list:
    (tmp / "loop.jpg").symlink_to(tmp / "loop.jpg")
    return [tmp / "loop.jpg", tmp / "out" / "o.jpg"]


def model_folder(tmp: Path, clip: Path, media: Path) -> list:
    (tmp / "model.tflite").mkdir()
    (tmp / "c.toml").write_text(f'emotion_model = "{tmp / "model.tflite"}"\n')
    return ["--config", tmp / "c.toml", "annotate", media / "biden.jpg", tmp / "out" / "o.jpg"]


def json_blocked(tmp: Path, clip: Path, media: Path) -> list:
    """The JSON cannot be put in place at the very end (a folder sits where its temporary file goes)."""
    (tmp / "out" / ".faces.partial.json").mkdir()
    return [media / "two_people.jpg", tmp / "out" / "o.jpg", "--json", tmp / "out" / "faces.json"]


def json_disk_full(tmp: Path, clip: Path, media: Path) -> list:
    """The JSON's temporary file lands on a full disk (/dev/full answers every write with ENOSPC)."""
    (tmp / "j").mkdir()
    (tmp / "j" / ".faces.partial.json").symlink_to("/dev/full")
    return [media / "two_people.jpg", tmp / "out" / "o.jpg", "--json", tmp / "j" / "faces.json"]


def own_emojis(tmp: Path, media: Path, make: Callable[[Path], object]) -> list:
    """Annotating a photo with an emoji folder whose happy.png `make` puts there."""
    (tmp / "emojis").mkdir()
    make(tmp / "emojis" / "happy.png")
    return [media / "biden.jpg", tmp / "out" / "o.jpg", "--emojis", tmp / "emojis"]


BAD_ANNOTATIONS = {
    "sound-only": (sound_only, "sound.mp4: has no video stream"),
    "encrypted": (encrypted, "drm.mp4: the video is encrypted"),
    "unknown-output": (lambda tmp, clip, media: [clip, tmp / "out" / "o.xyz"], "o.xyz: unsupported file type .xyz"),
    "gif-from-photo": (lambda tmp, clip, media: [media / "biden.jpg", tmp / "out" / "o.gif"],
                       "o.gif: a GIF is made from a video"),
    "name-too-long": (lambda tmp, clip, media: [tmp / ("b" * 300 + ".jpg"), tmp / "out" / "o.jpg"],
                      "longer than 255 bytes"),
    "output-name-too-long": (lambda tmp, clip, media: [media / "biden.jpg", tmp / "out" / ("b" * 300 + ".jpg")],
                             "longer than 255 bytes"),
    "symlink-loop": (symlink_loop, "loop.jpg: the path is a symbolic link loop"),
    "output-symlink-loop": (lambda tmp, clip, media: [media / "biden.jpg", symlink_loop(tmp / "out", clip, media)[0]],
                            "out/loop.jpg: the path is a symbolic link loop"),
    "model-is-a-folder": (model_folder, "model.tflite is a folder"),
    "huge-photo": (lambda tmp, clip, media: [huge_png_header(tmp / "huge.png"), tmp / "out" / "o.png"],
                   "over vcam's limit of 100 megapixels"),
    "json-not-writable": (json_blocked, "faces.json: is a folder"),
    "emoji-folder-name-too-long": (lambda tmp, clip, media: [media / "biden.jpg", tmp / "out" / "o.jpg", "--emojis",
                                                             tmp / ("e" * 300)], "emoji folder"),
    "json-disk-full": (json_disk_full, "faces.json: no space left on the disk"),
    "emoji-20000-pixels": (lambda tmp, clip, media: own_emojis(tmp, media, lambda p: huge_png_header(p, 20000)),
                           "happy.png is over vcam's limit of 4096 pixels a side"),
    "emoji-5000-pixels": (lambda tmp, clip, media: own_emojis(tmp, media, lambda p: huge_png_header(p, 5000)),
                          "happy.png is 5000×5000 pixels, over vcam's limit"),
    "emoji-is-a-folder": (lambda tmp, clip, media: own_emojis(tmp, media, Path.mkdir), "happy.png is a folder"),
    "emoji-is-a-fifo": (lambda tmp, clip, media: own_emojis(tmp, media, os.mkfifo), "happy.png is not a regular file"),
    "emoji-broken-link": (lambda tmp, clip, media: own_emojis(tmp, media, lambda p: p.symlink_to(tmp / "gone.png")),
                          "happy.png is a symbolic link to nothing"),
    "gif-flags-on-a-video": (lambda tmp, clip, media: [clip, tmp / "out" / "o.mp4", "--fps", "10"],
                             "--fps shape a .gif output only"),
}


@pytest.mark.parametrize("case", BAD_ANNOTATIONS)
def test_bad_annotations_are_one_line_status_2_and_leave_no_output(tmp_path: Path, short_clip: Path, media: Path,
                                                                   capsys, case: str) -> None:
    from vcam.cli import main

    (tmp_path / "out").mkdir()
    make, message = BAD_ANNOTATIONS[case]
    args = [str(arg) for arg in make(tmp_path, short_clip, media)]
    before = sorted(path.name for path in (tmp_path / "out").iterdir())
    if args[0] != "--config":
        args = ["--config", str(empty_config(tmp_path)), "annotate", *args]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("vcam: error: ") and message in err, err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == before  # no photo without its JSON


@pytest.mark.parametrize("size", [(1, 1), (1, 2), (2, 1), (1, 100)], ids=lambda size: "{}x{}".format(*size))
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_a_video_one_pixel_wide_or_high_is_written_at_the_even_size(tmp_path: Path, size: tuple[int, int],
                                                                    suffix: str) -> None:
    width, height = size
    source = tiny_video(tmp_path / "tiny.avi", width, height)
    assert run_cli(tmp_path, "annotate", source, tmp_path / f"o{suffix}", "--quiet") == 0
    written = probe(tmp_path / f"o{suffix}")
    # 4:2:0 needs even sides: a side of one pixel is repeated to two, an odd side over one is cut.
    assert (written.width, written.height, written.frames) == (2, 2 if height < 3 else 100, 5)


def test_a_legal_250_byte_output_name_is_written(tmp_path: Path, media: Path) -> None:
    name = "n" * 246 + ".jpg"
    assert run_cli(tmp_path, "annotate", media / "biden.jpg", tmp_path / name, "--quiet") == 0
    assert (tmp_path / name).is_file()


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_during_a_video_removes_the_partial_files(tmp_path: Path, media: Path, signal_name: str) -> None:
    """A real `python -m vcam annotate` stopped by SIGTERM or SIGINT (Ctrl-C) once its partial
    output exists: neither the video nor its JSON, finished or partial, is left."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import REPO
    from waiting import wait_until, with_default_signals

    folder = tmp_path / "out"
    folder.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcam", "--config", str(empty_config(tmp_path)), "annotate", str(media / CLIP),
         str(folder / "clip.mp4"), "--json", str(folder / "faces.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=with_default_signals)
    try:
        wait_until(lambda: (folder / ".clip.partial.mp4").is_file() and (folder / ".clip.partial.mp4").stat().st_size,
                   timeout=120, message="the partial video")
        process.send_signal(getattr(signal, signal_name))
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + getattr(signal, signal_name)
    assert err.splitlines()[-1] == f"vcam: interrupted ({signal_name})" and "Traceback" not in err
    assert list(folder.iterdir()) == []


def test_a_rotated_phone_video_is_annotated_upright_and_keeps_its_rotation(tmp_path: Path, clip_frames) -> None:
    """Stored sideways with a display rotation, as phones record: the faces are found (the
    pipeline sees the picture upright) and the output is stored and rotated like the input."""
    from fractions import Fraction

    from vcam.video import VideoInfo, VideoWriter

    phone = tmp_path / "phone.mp4"
    writer = VideoWriter(phone, VideoInfo(640, 360, 30.0, 0, time_base=Fraction(1, 30), rotation=270))
    for frame in clip_frames[:10]:
        writer.write(frame)
    writer.close()
    out, _, records = annotate_to(tmp_path, phone, "out.mp4")
    back = probe(out)
    assert (back.width, back.height, back.rotation, back.frames) == (360, 640, 270, 10)
    assert sum(bool(record["faces"]) for record in records) >= 9
    for record in records:
        for x, y, w, h in (face["box"] for face in record["faces"]):
            assert x + w <= 640 * 1.1 and y + h <= 360 * 1.1  # boxes in the upright picture


@pytest.mark.slow
def test_a_gif_is_a_video_input_too_and_keeps_every_frame(tmp_path: Path, short_clip: Path) -> None:
    """A 15 fps GIF (whole-centisecond delays) in: every frame out again, at its timing."""
    gif, _, _ = annotate_to(tmp_path, short_clip, "reaction.gif")
    for name, codec in [("again.gif", "gif"), ("again.mp4", "h264")]:
        out, summary, records = annotate_to(tmp_path, gif, name)
        back = probe(out)
        assert (back.codec, back.frames, len(records)) == (codec, 30, 30), summary
        assert back.seconds == pytest.approx(2.0, abs=0.05)


def test_a_variable_frame_rate_video_keeps_its_frames_and_their_times(tmp_path: Path, clip_frames) -> None:
    """A phone slows its frame rate in dim light: uneven gaps between frames are the file's own
    timing, not lost frames, and the output keeps each frame at its time."""
    from fractions import Fraction

    import av

    from vcam.video import VideoInfo, VideoWriter

    times = [0, 1, 2, 4, 5, 8, 9, 10]  # in 30ths of a second
    uneven = tmp_path / "uneven.mp4"
    writer = VideoWriter(uneven, VideoInfo(640, 360, 30.0, 0, time_base=Fraction(1, 30)))
    for pts, frame in zip(times, clip_frames):
        writer.write(frame, pts)
    writer.close()
    out, summary, records = annotate_to(tmp_path, uneven, "out.mp4")
    assert "undecodable" not in summary and len(records) == len(times)
    with av.open(str(out)) as container:
        shown = [round(float(frame.time) * 30) for frame in container.decode(video=0)]
    assert shown == times
