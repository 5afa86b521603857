"""vcam.schedule: which faces the classifier sees on each frame, on the real clip and photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from vcam.choices import Effort
from vcam.config import Config
from vcam.errors import VcamError
from vcam.pipeline import Pipeline
from vcam.schedule import CLASSIFY_EVERY, ClassifySchedule


class Counting:
    """The real pipeline, counting the faces its classifier is given on each frame."""

    def __init__(self, effort: Effort) -> None:
        self.pipeline = Pipeline.from_config(Config(effort=effort))
        self.per_frame: list[int] = []
        classify = self.pipeline.model.classify

        def counting(frame, faces):
            self.per_frame.append(len(faces))
            return classify(frame, faces)

        self.pipeline.model.classify = counting


def test_a_new_face_is_classified_at_once_then_at_the_effort_s_rate(clip_frames) -> None:
    counted = Counting(Effort.BALANCED)
    every = CLASSIFY_EVERY[Effort.BALANCED]
    fps = 30
    shown = []
    for index, frame in enumerate(clip_frames[:90]):
        shown.append(counted.pipeline.process(frame.copy(), index / fps).faces)
    assert counted.per_frame[0] == len([f for f in shown[0] if not f.predicted]) > 0  # the first look: all
    # Every face still in view is classified at least every `every` seconds: no stretch of frames
    # longer than that passes without a classification while faces are there.
    gap = 0
    for count, faces in zip(counted.per_frame, shown):
        gap = 0 if count else gap + 1
        assert gap <= round(every * fps), "a face went unclassified past the schedule"
    assert sum(counted.per_frame) < 0.6 * sum(len([f for f in faces if not f.predicted]) for faces in shown)


def test_high_effort_classifies_every_face_on_every_frame(clip_frames) -> None:
    counted = Counting(Effort.HIGH)
    for index, frame in enumerate(clip_frames[:20]):
        faces = counted.pipeline.process(frame.copy(), index / 30).faces
        assert counted.per_frame[-1] == len([f for f in faces if not f.predicted])


def test_another_face_in_the_same_place_is_classified_at_once(media: Path) -> None:
    """Two photos cut into each other at one spot: the box stays, the look changes, and the new
    face is classified on the frame it appears, long before its turn."""
    first = cv2.resize(cv2.imread(str(media / "obama-720p.jpg")), (1280, 720))
    second = cv2.resize(cv2.imread(str(media / "biden.jpg")), (1280, 720))
    pipeline = Pipeline.from_config(Config())
    faces = pipeline.detect(first)
    schedule = ClassifySchedule(every=10.0)  # a face's turn would come only after 10 s
    tracked = pipeline.tracker.update(pipeline.model.classify(first, faces), 0.0)
    schedule.done(first, tracked, [True] * len(faces), 0.0)
    assert schedule.due(first, faces, 1 / 30) == [False] * len(faces)  # the same face: its turn has not come
    assert schedule.due(second, faces, 1 / 30) == [True] * len(faces)  # another look in the same box


def test_an_unknown_effort_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(VcamError, match="^unknown effort 'max'; choose one of low, balanced, high$"):
        Config(effort="max")
