"""vcam.pipeline: one real frame through detect → classify → track → overlay."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam import EMOTIONS
from vcam.config import Config
from vcam.pipeline import Pipeline


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    return cv2.imread(str(media / "two_people.jpg"))


def test_every_stage_adds_to_the_faces_and_the_frame_is_drawn_in_place(photo) -> None:
    frame = photo.copy()
    result = Pipeline.from_config(Config()).process(frame)
    assert result.frame is frame and not np.array_equal(frame, photo)
    assert len(result.faces) == 2
    for face in result.faces:
        assert len(face.probabilities) == len(EMOTIONS) and face.emotion in EMOTIONS
    assert len({face.track_id for face in result.faces}) == 2


def test_ids_persist_from_frame_to_frame_and_overlay_can_be_switched_off(photo) -> None:
    pipeline = Pipeline.from_config(Config(detector="short"))
    first = pipeline.process(photo.copy()).faces
    pipeline.overlay_enabled = False
    frame = photo.copy()
    second = pipeline.process(frame).faces
    np.testing.assert_array_equal(frame, photo)
    assert sorted(face.track_id for face in second) == sorted(face.track_id for face in first)


class CountingDetector:
    """The real detector, counting its calls."""

    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def detect(self, frame):
        self.calls += 1
        return self.detector.detect(frame)


def test_detecting_every_second_frame_keeps_the_faces_between(photo) -> None:
    pipeline = Pipeline.from_config(Config(detect_every=2))
    counting = pipeline.detector = CountingDetector(pipeline.detector)
    boxes = [[face.box for face in pipeline.process(frame).faces] for frame in (photo.copy(), np.flipud(photo).copy(),
                                                                                  photo.copy())]
    assert counting.calls == 2  # frames 0 and 2; frame 1 kept frame 0's faces
    assert boxes[1] == boxes[0] and len(boxes[0]) == 2


def test_detect_every_must_be_a_positive_whole_number() -> None:
    from vcam.errors import VcamError

    for bad in (0, 1.5, True):
        with pytest.raises(VcamError, match="detect_every"):
            Config(detect_every=bad)


def test_reset_forgets_the_kept_faces(photo) -> None:
    pipeline = Pipeline.from_config(Config(detect_every=5))
    counting = pipeline.detector = CountingDetector(pipeline.detector)
    pipeline.process(photo.copy())
    pipeline.reset()  # a new camera: its first frame is detected afresh
    assert pipeline.process(np.zeros_like(photo)).faces == [] and counting.calls == 2
