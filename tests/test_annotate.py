"""vcam.annotate: a photo and the real clip through the whole pipeline into files and JSON.

The clip is annotated once per module, through the command line in-process (`run_cli`); its
output is compared with the original frames written through the same video encoder, so that
re-encoding noise is not mistaken for drawing.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import box_mask
from media_files import damaged_copy, read_all_frames, run_cli
from vcam import EMOTIONS
from vcam.annotate import annotate
from vcam.config import Config
from vcam.errors import MediaError
from vcam.media import video_writer
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
