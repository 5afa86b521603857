"""Shared test inputs (the real photos, clip and faces in ../shared, and the shipped models), and
which tests run where: the markers of the quick run, the tests that run only on request (--device,
--system), and the ones that need Linux."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VCAM_SHARED", REPO.parent / "shared"))
MEDIA = SHARED / "media"
FER_NPZ = SHARED / "data" / "fer2013-train-publictest.npz"


MARKERS_BY_FILE = {"test_tray": "gui", "test_training_": "training"}
"""Test files whose every test carries a marker, by the start of the file's name."""
MARKERS_BY_FIXTURE = {"browser": "browser", "fer_npz": "fer2013"}
"""Tests that use one of these fixtures (or a fixture built on it) carry its marker."""
SLOW_MARKERS = {"gui", "browser", "training", "device", "system"}
"""Tests with any of these markers are slow too."""
ON_REQUEST = {
    "device": "run the tests marked device: vcam publishes to this machine's real virtual camera (v4l2loopback, "
              "OBS) and reads it back; each fails when there is none",
    "system": "run the tests marked system: the installed vcam on this machine's own account (the real "
              "autostart entry and settings file are written and removed; the tray starts on the desktop)",
}
"""Markers whose tests run only when their option (--device, --system) is given, as the CI workflow
does; without it they are deselected, never skipped, so that a job that asks for them fails when
what they need is missing."""

collect_ignore_glob = [] if sys.platform.startswith("linux") else ["test_tray*.py"]
"""The tray tests drive Linux desktops (Xvfb, trayer, lxqt-panel, a D-Bus session bus through
dbus-fast, which only Linux installs) and cannot even be imported elsewhere; on Windows and macOS
the tray is started and stopped by test_system.py instead."""
SLOW_TESTS = {
    "test_a_30_second_soak_keeps_memory_threads_and_rates_steady",
    "test_bench_prints_the_table_and_writes_the_json",
    "test_the_live_measurement_runs_the_engine_at_camera_rate_and_reports_each_figure",
    "test_the_emoji_changes_when_the_face_does_and_only_then",
    "test_a_classification_schedule_that_skips_frames_is_smoothed_in_seconds_too",
    "test_annotate_stats_on_the_clip_reports_steady_tracks",
    "test_five_clients_do_not_slow_the_pipeline_and_share_one_encode",
    "test_a_source_that_stops_for_two_seconds_yields_placeholders_then_resumes",
    "test_calibrate_writes_the_temperature_that_the_app_then_applies",
    "test_the_frames_are_the_same_every_time_and_show_their_faces",
    "test_bench_frames_decode_like_a_webcam_jpeg",
    "test_a_new_picture_after_a_settled_one_goes_through_the_pipeline",
    "test_frames_reach_the_virtual_camera_at_the_configured_rate",
    "test_undecodable_frames_do_not_end_the_video",
    "test_calibrate_records_the_normalisation_and_keeps_it_when_not_told",
    "test_training_fast_trains_on_normalised_faces_and_records_how",
    "test_webcam_conditions_compile_into_the_training_step_under_jax",
    "test_a_signal_during_a_video_removes_the_partial_files",
    "test_clip_summary_names_frames_faces_and_speed",
    "test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving",
    "test_each_video_kind_keeps_frames_timing_and_sound_and_draws_only_on_faces",
    "test_the_shipped_model_still_reads_faces_after_each_step",
    "test_a_gif_is_a_video_input_too_and_keeps_every_frame",
    "test_annotated_clip_plays_with_every_frame_at_the_same_size",
    "test_the_read_back_checks_pass_on_what_the_recording_backend_received",
}
"""Other tests that take more than a few seconds, by function name."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vcam")
    for marker, help_text in ON_REQUEST.items():
        group.addoption(f"--{marker}", action="store_true", help=help_text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers from the tables above, so that `pytest -m "not slow"` is a quick run; the tests
    of ON_REQUEST markers whose option was not given are deselected; on Windows and macOS the
    tests marked linux are skipped, with the reason."""
    kept, deselected = [], []
    for item in items:
        own = {marker.name for marker in item.iter_markers()}
        names = {marker for start, marker in MARKERS_BY_FILE.items() if item.path.name.startswith(start)}
        names |= {marker for fixture, marker in MARKERS_BY_FIXTURE.items() if fixture in item.fixturenames}
        if (names | own) & SLOW_MARKERS or item.originalname in SLOW_TESTS:
            names.add("slow")
        for name in sorted(names - own):
            item.add_marker(name)
        names |= own
        linux = item.get_closest_marker("linux")
        if linux is not None and not sys.platform.startswith("linux"):
            item.add_marker(pytest.mark.skip(reason=f"Linux only: {linux.args[0] if linux.args else 'see the test'}"))
        wanted = all(config.getoption(marker) for marker in ON_REQUEST if marker in names)
        (kept if wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def box_mask(shape: tuple[int, ...], box, grow: float = 0.0) -> np.ndarray:
    """Mask of an (x, y, w, h) box grown by `grow` times its larger side on every side."""
    x, y, w, h = box
    margin = grow * max(w, h)
    mask = np.zeros(shape[:2], bool)
    mask[max(0, round(y - margin)):max(0, round(y + h + margin)),
         max(0, round(x - margin)):max(0, round(x + w + margin))] = True
    return mask


@pytest.fixture(scope="session")
def media() -> Path:
    assert MEDIA.is_dir(), f"test media missing: {MEDIA} (set VCAM_SHARED to the shared folder)"
    return MEDIA


@pytest.fixture(scope="session")
def fer_npz() -> Path:
    assert FER_NPZ.is_file(), f"FER2013 data missing: {FER_NPZ} (set VCAM_SHARED to the shared folder)"
    return FER_NPZ


@pytest.fixture(scope="session")
def public_test_sample(fer_npz: Path) -> tuple[np.ndarray, np.ndarray]:
    """A fixed sample of 700 PublicTest faces (uint8 48×48) and their FER2013 labels."""
    with np.load(fer_npz) as data:
        index = np.flatnonzero(data["usage"] == "PublicTest")
        chosen = np.sort(np.random.default_rng(2013).choice(index, 700, replace=False))
        return data["images"][chosen], data["labels"][chosen].astype(np.int64)


@pytest.fixture(scope="session")
def small_faces(public_test_sample: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The first 70 faces of the PublicTest sample, for quick training runs."""
    images, labels = public_test_sample
    return images[:70], labels[:70]


@pytest.fixture(scope="session")
def clip_frames(media: Path) -> list[np.ndarray]:
    from media_files import read_all_frames

    return read_all_frames(media / "short_hamilton_clip.mp4")
