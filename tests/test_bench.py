"""python -m benchmarks.bench: its frames, its figures and their JSON, the peer's protocol, and a 30-second soak
of the engine with the virtual camera and the web preview attached. Speed itself is measured by
`python -m benchmarks.bench`, not asserted here: a slow machine must not fail the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.bench import STAGES, BenchInputs, case_frames, main, side_by_side, verdict
from benchmarks.frames import face_layout
from benchmarks.peer import run_peer
from benchmarks.soak import soak
from vcam.choices import Effort
from vcam.config import Config
from vcam.faces import iou

from conftest import REPO


@pytest.mark.parametrize("width, height", [(640, 360), (1280, 720), (1920, 1080)])
@pytest.mark.parametrize("count", [1, 4, 8])
def test_faces_are_laid_out_inside_the_frame_without_overlapping(width: int, height: int, count: int) -> None:
    cells = face_layout(width, height, count)
    assert len(cells) == count
    for i, (x, y, side) in enumerate(cells):
        assert 0 <= x and x + side <= width and 0 <= y and y + side <= height
        for other in cells[i + 1:]:
            assert iou((x, y, side, side), (other[0], other[1], other[2], other[2])) == 0


@pytest.mark.slow
def test_the_frames_are_the_same_every_time_and_show_their_faces(media: Path, fer_npz: Path) -> None:
    inputs = BenchInputs(media, fer_npz)
    first, second = case_frames(inputs), case_frames(inputs)
    assert [faces for faces, _ in first] == [1, 4, 8] * 3
    assert [frame.shape[:2] for _, frame in first][::3] == [(360, 640), (720, 1280), (1080, 1920)]
    for (_, a), (_, b) in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # The pasted FER2013 faces are grey on a coloured, blurred photo.
    frame = first[4][1]  # 1280×720, 4 faces
    x, y, side = face_layout(1280, 720, 4)[0]
    face = frame[y:y + side, x:x + side].astype(int)
    assert (face[..., 0] == face[..., 2]).all() and face.std() > 20


@pytest.mark.slow
def test_bench_prints_the_table_and_writes_the_json(media: Path, fer_npz: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["--media", str(media), "--data", str(fer_npz), "--frames", "3", "--no-peer",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1280×720" in printed and "vcam annotate on short_hamilton_clip.mp4" in printed
    result = json.loads(out.read_text())
    assert [(c["width"], c["height"], c["faces"]) for c in result["cases"]] == [
        (w, h, n) for w, h in [(640, 360), (1280, 720), (1920, 1080)] for n in (1, 4, 8)]
    for case in result["cases"] + result["one_core"]:
        assert case["fps"] > 0 and case["p95_ms"] > 0 and case["cpu_ms"] > 0
        assert set(case["stages"]) == set(STAGES)
        assert all(stage["p95_ms"] >= stage["median_ms"] > 0 for stage in case["stages"].values())
        assert 1 <= case["faces_found"] <= case["faces"]
    assert {c["cores"] for c in result["one_core"]} == {1}
    assert result["clip"]["frames"] == 275 and result["clip"]["fps"] > 0
    every = {row["every"]: row for row in result["detect_every"]}
    assert every[1]["missed"] == 0 and every[1]["faces"] > 200
    assert every[2]["detect_ms_per_frame"] < every[1]["detect_ms_per_frame"]
    assert result["peer"] is None


def stand_in_fer(folder: Path, monkeypatch: pytest.MonkeyPatch, detect_emotions: str, imports: str = "") -> None:
    """A `fer` package in `folder`, on the path of the peer's process, whose FER.detect_emotions(self,
    frame) has the body `detect_emotions` (installing the real one takes minutes and the network)."""
    package = folder / "fer"
    package.mkdir()
    (package / "__init__.py").write_text("")
    body = "".join(f"        {line}\n" for line in detect_emotions.splitlines())
    (package / "fer.py").write_text(f"{imports}\nclass FER:\n    def detect_emotions(self, frame):\n{body}")
    monkeypatch.setenv("PYTHONPATH", str(folder))


def test_the_peer_script_times_fer_on_the_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The script the bench runs in fer's environment, against a stand-in that reports one face per frame."""
    stand_in_fer(tmp_path, monkeypatch, "assert frame.shape == (36, 64, 3)\nreturn [{'box': [0, 0, 9, 9]}]")
    frames = [np.full((36, 64, 3), value, np.uint8) for value in (0, 128)]
    result = run_peer(frames, repeats=3, python=Path(sys.executable))
    assert result["name"] == "fer" and result["frames"] == 6 and result["fps"] > 0
    assert result["faces_found"] == [1, 1]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="the system cannot pin a process to CPUs")
def test_the_peer_runs_on_the_cores_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fer is compared on as many cores as vcam gets: a stand-in reports the CPUs it may run on."""
    stand_in_fer(tmp_path, monkeypatch, "return [{}] * len(os.sched_getaffinity(0))", imports="import os")
    frames = [np.zeros((36, 64, 3), np.uint8)]
    assert run_peer(frames, repeats=1, python=Path(sys.executable), cores=1)["faces_found"] == [1]
    everything = len(os.sched_getaffinity(0))
    assert run_peer(frames, repeats=1, python=Path(sys.executable))["faces_found"] == [everything]


def test_the_side_by_side_takes_the_median_of_rounds_in_turn(media: Path, fer_npz: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """fer (a stand-in that takes its time) and the real vcam pipeline, in a pinned child, in turn."""
    stand_in_fer(tmp_path, monkeypatch, "time.sleep(0.01)\nreturn [{}]", imports="import time")
    frames = [frame for _, frame in case_frames(BenchInputs(media, fer_npz))[:2]]
    result = side_by_side(frames, Config(effort=Effort.HIGH), 1, Path(sys.executable), cores=1, rounds=3)
    rounds = result["rounds"]
    assert len(rounds) == 3 and result["faces_found"] == [1, 1] and result["cores"] == 1
    for round_ in rounds:
        assert 0 < round_["fps"] < 100 and round_["ours_fps"] > 0
        assert round_["ratio"] == pytest.approx(round_["ours_fps"] / round_["fps"])
    assert result["ratio"] == sorted(round_["ratio"] for round_ in rounds)[1]
    assert "the median of 3 rounds" in verdict([], result)[0]


def test_bench_without_its_media_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--media", str(tmp_path), "--no-peer"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "short_hamilton_clip.mp4 is missing; pass --media" in done.stderr


@pytest.mark.slow
def test_a_30_second_soak_keeps_memory_threads_and_rates_steady(media: Path) -> None:
    config = Config(camera=str(media / "short_hamilton_clip.mp4"))
    report = soak(config, 30, interval=10, say=lambda line: None)
    assert len(report.samples) == 3
    assert report.thread_growth == 0, report.samples
    assert report.rss_growth < 0.05, report.samples
    for sample in report.samples:  # frames keep flowing to both sinks in every window
        assert sample.processed_fps > 0 and sample.sent_fps > 0 and sample.received_fps > 0, sample
    assert report.samples[-1].processed_fps > 0.5 * report.samples[0].processed_fps  # no collapse
    assert json.loads(json.dumps(report.to_json()))["samples"][0]["threads"] == report.samples[0].threads


@pytest.mark.slow
def test_bench_frames_decode_like_a_webcam_jpeg(media: Path, fer_npz: Path) -> None:
    """The decode stage reads the frame back from a JPEG, as a webcam's MJPEG arrives."""
    _, frame = case_frames(BenchInputs(media, fer_npz))[0]
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert ok and decoded.shape == frame.shape and np.abs(decoded.astype(int) - frame).mean() < 3


@pytest.mark.parametrize("args, problem", [
    (["--soak", "0"], "--soak and --interval must be more than 0"),
    (["--soak", "5", "--interval", "-1"], "--soak and --interval must be more than 0"),
    (["--json", "no/such/folder/bench.json"], "folder no/such/folder does not exist"),
    (["--frames", "0"], "--frames must be at least 1"),
])
def test_bench_refuses_bad_arguments_in_one_line(media: Path, args: list[str], problem: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--media", str(media), "--no-peer", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err


@pytest.mark.slow
def test_the_live_measurement_runs_the_engine_at_camera_rate_and_reports_each_figure(media: Path, fer_npz: Path,
                                                                                    tmp_path: Path) -> None:
    from benchmarks import live

    out = tmp_path / "live.json"
    assert live.main(["--seconds", "2", "--faces", "1", "--media", str(media), "--data", str(fer_npz),
                      "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [(r["clip"], r["faces"]) for r in results] == [("faces-1.mp4", 1), ("expression-change.mp4", 1)]
    for result in results:
        assert result["fps_published"] > 0 and result["cores"] > 0 and result["p95_latency_ms"] > 0, result
        assert result["reference_ms"] > 0, result
    assert results[0]["emoji_lag_s"] is None
    assert all(0 <= lag < live.CHANGE_EVERY for lag in results[1]["emoji_lag_s"])  # each cut counted once per loop


def test_the_detection_schedule_benchmark_prints_a_row_per_scene_and_effort(media: Path, fer_npz: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    from benchmarks import detect_schedule

    assert detect_schedule.main(["--media", str(media), "--data", str(fer_npz), "--frames", "30"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split(" | ")[1] for row in rows] == ["high", "balanced", "low"] * 3
    high = rows[0].split(" | ")
    assert high[2] == "100%", "high effort detects every frame"
    for row in rows[1:3] + rows[4:]:
        share = int(row.split(" | ")[2].rstrip("%"))
        assert 0 < share <= 100


def test_the_detection_schedule_benchmark_refuses_no_frames(capsys: pytest.CaptureFixture) -> None:
    from benchmarks import detect_schedule

    assert detect_schedule.main(["--frames", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
