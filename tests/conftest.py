"""Shared test inputs, all in the repository (the real photos and clip of tests/media, the fixed
FER2013 sample of tests/data, and the shipped models), and which tests run where: the markers of
the quick run, the tests that run only on request (--device, --system), and the ones that need Linux."""

from __future__ import annotations

import sys

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "media"
FER_NPZ = REPO / "tests" / "data" / "fer2013-sample.npz"
"""700 Training faces (100 a class) and 702 PublicTest faces, with FER+ votes (tests/data/README.md)."""


MARKERS_BY_FIXTURE = {"browser": "browser"}
"""Tests that use one of these fixtures carry its marker."""
SLOW_MARKERS = {"gui", "browser", "training", "device", "system"}
"""Tests with any of these markers are slow too. The other slow tests (more than a few seconds)
carry @pytest.mark.slow themselves; the tray's and training's test files mark all their tests."""
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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vcam")
    for marker, help_text in ON_REQUEST.items():
        group.addoption(f"--{marker}", action="store_true", help=help_text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The markers that follow from others, so that `pytest -m "not slow"` is a quick run; the
    tests of ON_REQUEST markers whose option was not given are deselected; on Windows and macOS
    the tests marked linux are skipped, with the reason."""
    kept, deselected = [], []
    for item in items:
        for fixture, marker in MARKERS_BY_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        names = {marker.name for marker in item.iter_markers()}
        if names & SLOW_MARKERS and "slow" not in names:
            item.add_marker("slow")
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
    return MEDIA


@pytest.fixture(scope="session")
def fer_npz() -> Path:
    return FER_NPZ


@pytest.fixture(scope="session")
def public_test_sample(fer_npz: Path) -> tuple[np.ndarray, np.ndarray]:
    """The sample's 702 PublicTest faces (uint8 48×48) and their FER2013 labels."""
    with np.load(fer_npz) as data:
        chosen = data["usage"] == "PublicTest"
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


@pytest.fixture(scope="module")
def room_detector():
    """The "full" (room) detector: the whole frame, tiles in turn, the edges (vcam/tiles.py)."""
    from vcam.config import Config
    from vcam.pipeline import build_detector
    from vcam.tiles import TileRotation

    detector = build_detector(Config(detector="full"))
    assert isinstance(detector, TileRotation)
    return detector


def searched(detector, frame: np.ndarray) -> list:
    """`frame` as a photo or a camera's first frame: every tile and the edges searched."""
    detector.reset()
    return detector.detect(frame)


def correlations(faces: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each face's Pearson correlation with the face at the same place in `others`."""
    a, b = (np.asarray(x, np.float64).reshape(len(x), -1) for x in (faces, others))
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-9)
