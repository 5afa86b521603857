"""vcam.schedule: which faces the classifier sees on each frame, on the real clip and photos."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import pytest

from vcam.choices import Effort
from vcam.config import Config
from vcam.errors import VcamError
from vcam.pipeline import Pipeline, build_detector
from vcam.faces import iou
from vcam.schedule import CLASSIFY_EVERY, DETECT_EVERY, ClassifySchedule, DetectSchedule


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
        assert gap <= math.ceil(every * fps), "a face went unclassified past the schedule"
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


# --- the detection schedule -----------------------------------------------------------------------

class CountingDetections:
    """The real pipeline at `effort`, noting on which frames its detector ran."""

    def __init__(self, effort: Effort) -> None:
        self.pipeline = Pipeline.from_config(Config(effort=effort))
        self.detected: list[int] = []
        self.frame = 0
        detect = self.pipeline.detector.detect

        def counting(frame, *changed):
            self.detected.append(self.frame)
            return detect(frame, *changed)

        self.pipeline.detector.detect = counting

    def process(self, frame, index: int, fps: int = 30):
        self.frame = index
        return self.pipeline.process(frame.copy(), index / fps).faces


def test_detection_follows_the_picture_and_keeps_the_faces_of_the_clip(clip_frames) -> None:
    """On the real clip, balanced effort runs the detector on a fraction of the frames, and the
    faces it shows are where a detection on every frame finds them."""
    frames = clip_frames[:120]
    every = CountingDetections(Effort.HIGH)
    balanced = CountingDetections(Effort.BALANCED)
    found = kept = 0
    for index, frame in enumerate(frames):
        fresh = [face.box for face in every.process(frame, index) if not face.predicted]
        shown = [face.box for face in balanced.process(frame, index)]
        found += len(fresh)
        kept += sum(1 for box in fresh if max((iou(box, other) for other in shown), default=0.0) >= 0.5)
    assert len(every.detected) == len(frames)
    assert len(balanced.detected) < 0.9 * len(frames), "the detector ran on nearly every frame"
    assert found > 0 and kept >= 0.98 * found, f"{found - kept} of {found} faces lost between detections"


def still_room(media: Path) -> tuple[cv2.typing.MatLike, cv2.typing.MatLike]:
    """A room without a face (a blurred photo) and the same room with a real face cut in."""
    person = cv2.resize(cv2.imread(str(media / "obama-720p.jpg")), (1280, 720))
    empty = cv2.resize(cv2.resize(person, (8, 4), interpolation=cv2.INTER_AREA), (1280, 720))  # its colours, no face
    return empty, person


def test_a_face_that_comes_into_a_still_picture_is_found_on_that_frame_and_gone_when_it_leaves(
        media: Path) -> None:
    empty, person = still_room(media)
    counted = CountingDetections(Effort.LOW)
    frames = [empty] * 40 + [person] * 40 + [empty] * 10
    shown = [counted.process(frame, index) for index, frame in enumerate(frames)]
    assert all(not faces for faces in shown[:40])
    assert shown[40] and 40 in counted.detected, "the face that came was not looked for at once"
    assert 80 in counted.detected and not [face for face in shown[80] if not face.predicted]
    # A still picture is detected again only every DETECT_EVERY seconds, not on every frame.
    still = [index for index in counted.detected if 1 <= index < 40]
    assert len(still) == len(range(0, 40, round(30 * DETECT_EVERY[Effort.LOW]))) - 1


def test_after_a_stall_the_next_frame_is_detected(media: Path) -> None:
    """The camera stops for two seconds and comes back with the same picture: looked at again."""
    _, person = still_room(media)
    schedule = DetectSchedule(DETECT_EVERY[Effort.BALANCED])
    assert schedule.due(person, 0.0) and not schedule.due(person, 1 / 30)
    assert schedule.due(person, 2.0)


def test_detect_every_still_sets_the_least_number_of_frames_between_detections(media: Path) -> None:
    empty, person = still_room(media)
    schedule = DetectSchedule(DETECT_EVERY[Effort.BALANCED], every_frames=3)
    pictures = [empty, person, empty, person, empty, person, empty]
    assert [schedule.due(frame, index / 30) for index, frame in enumerate(pictures)] == [
        True, False, False, True, False, False, True]


def test_when_the_camera_drops_a_second_of_frames_the_faces_are_found_again_at_once(clip_frames) -> None:
    """The real clip with frames 30–59 lost (a driver hiccup): the first frame after the gap is
    detected afresh, and what it shows matches a detection of that frame."""
    counted = CountingDetections(Effort.LOW)
    for index in range(30):
        counted.process(clip_frames[index], index)
    shown = counted.process(clip_frames[60], 60)
    assert counted.detected[-1] == 60
    fresh = build_detector(Config()).detect(clip_frames[60].copy())
    assert fresh and all(max(iou(face.box, other.box) for other in shown) >= 0.5 for face in fresh)


@pytest.mark.parametrize("effort", [Effort.BALANCED, Effort.HIGH])
def test_a_small_face_that_comes_into_a_still_room_is_found_where_the_picture_changed(media: Path,
                                                                                      effort: Effort) -> None:
    """A 56-px face, too small for the whole-frame pass, steps into a still 1280×720 room: the
    tiles over the change are searched on that frame, whichever tile's turn it was."""
    from benchmarks import scenes

    room = scenes.blurred_background(media, 1280, 720)
    cutout = scenes.portraits(media)[0]
    for cx, cy in ((1100, 560), (200, 150), (640, 400)):
        counted = CountingDetections(effort)
        for index in range(10):
            assert not counted.process(room, index)
        visited = room.copy()
        box = scenes.paste(visited, cutout, 56, cx, cy)
        shown = counted.process(visited, 10)
        assert counted.detected[-1] == 10
        assert any(iou(face.box, box) >= 0.4 for face in shown), f"the face at {cx, cy} was not found at once"


def test_a_frame_of_another_size_is_detected_at_once(media: Path) -> None:
    """The camera switches from 1280×720 to 1920×1080 on the same picture: the kept faces are in
    the old frame's pixels, so the new frame is looked at at once."""
    _, person = still_room(media)
    schedule = DetectSchedule(DETECT_EVERY[Effort.LOW])
    assert schedule.due(person, 0.0) and not schedule.due(person, 1 / 30)
    assert schedule.due(cv2.resize(person, (1920, 1080)), 2 / 30)


def test_faces_found_together_take_turns_and_each_keeps_its_rate(media: Path) -> None:
    """Six faces come on one frame: all are classified at once; after that the ones whose time is
    up take turns, a share of them a frame (six times a frame's time over the effort's interval:
    two at 30 fps and 0.15 s), so that no frame carries all six, and each face is still classified
    at about that interval."""
    from vcam.faces import Face

    frame = cv2.resize(cv2.imread(str(media / "obama-720p.jpg")), (1280, 720))
    faces = [Face((40.0 + 200 * i, 300.0, 150.0, 150.0), (), 0.9, track_id=i + 1) for i in range(6)]
    every = CLASSIFY_EVERY[Effort.BALANCED]
    schedule = ClassifySchedule(every)
    per_frame, classified_at = [], {face.track_id: [] for face in faces}
    for index in range(90):
        due = schedule.due(frame, faces, index / 30)
        schedule.done(frame, faces, due, index / 30)
        per_frame.append(sum(due))
        for face, now in zip(faces, due):
            if now:
                classified_at[face.track_id].append(index)
    assert per_frame[0] == 6
    assert max(per_frame[1:]) == math.ceil(len(faces) / (every * 30))
    period = math.ceil(every * 30 - 1e-9)
    for frames in classified_at.values():
        gaps = [after - before for before, after in zip(frames, frames[1:])]
        # Turns put off a face by a few frames at first; then each comes round in its interval (a
        # frame more where the frame times add up to a hair under it).
        assert max(gaps) <= period + len(faces) - 1 and max(gaps[-5:]) <= period + 1
