"""Shared test inputs, all in the repository: the real photos and clip of tests/media, the fixed
FER2013 sample of tests/data, and the shipped models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "media"
FER_NPZ = REPO / "tests" / "data" / "fer2013-sample.npz"
"""700 Training faces (100 a class) and 702 PublicTest faces, with FER+ votes (tests/data/README.md)."""


MARKERS_BY_FIXTURE = {"browser": "browser"}
"""Tests that use one of these fixtures carry its marker."""
SLOW_MARKERS = {"gui", "browser", "training"}
"""Tests with any of these markers are slow too. The other slow tests (more than a few seconds)
carry @pytest.mark.slow themselves; the tray's and training's test files mark all their tests."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The markers that follow from others, so that `pytest -m "not slow"` is a quick run."""
    for item in items:
        for fixture, marker in MARKERS_BY_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        if any(item.get_closest_marker(marker) for marker in SLOW_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker("slow")


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
