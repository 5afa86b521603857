"""vcam.motion and the detection schedule's carrying: faces followed between detections by their
picture, on real photos of faces moving in front of a still room."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import scenes
from vcam.choices import Detector, Effort
from vcam.detect import FaceDetector
from vcam.faces import iou
from vcam.motion import FaceMotion
from vcam.schedule import DETECT_EVERY, DetectSchedule
from test_schedule import CountingDetections

FPS = 30


def shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`frame` moved by (dx, dy) pixels, to a fraction of a pixel, its edges repeated."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("photo, dx, dy", [("obama-720p.jpg", 7.5, -4.0), ("two_people.jpg", -12.25, 3.5),
                                           ("biden.jpg", 2.0, 9.75)])
def test_a_face_that_moved_is_carried_where_it_went(media: Path, photo: str, dx: float, dy: float) -> None:
    frame = cv2.imread(str(media / photo))
    faces = FaceDetector(Detector.FULL).detect(frame)
    assert faces
    motion = FaceMotion()
    motion.remember(frame, faces)
    carried = motion.carried(shifted(frame, dx, dy), faces)
    assert carried is not None and len(carried) == len(faces)
    for before, after in zip(faces, carried):
        assert after.box[0] - before.box[0] == pytest.approx(dx, abs=1.0)
        assert after.box[1] - before.box[1] == pytest.approx(dy, abs=1.0)
        assert after.box[2:] == before.box[2:]
        assert after.keypoints[0][0] - before.keypoints[0][0] == pytest.approx(after.box[0] - before.box[0])


def test_a_face_that_left_or_was_replaced_is_not_carried(media: Path) -> None:
    first = cv2.resize(cv2.imread(str(media / "obama-720p.jpg")), (1280, 720))
    second = cv2.resize(cv2.imread(str(media / "biden.jpg")), (1280, 720))
    room = scenes.blurred_background(media, 1280, 720)
    faces = FaceDetector(Detector.FULL).detect(first)
    motion = FaceMotion()
    motion.remember(first, faces)
    assert motion.carried(shifted(first, 3, 0), faces) is not None
    assert motion.carried(second, faces) is None, "another face in its place"
    assert motion.carried(room, faces) is None, "the face left"
    assert motion.carried(shifted(first, 3, 0), faces[:0]) is None, "not the faces remembered"


def test_a_face_that_moved_further_than_the_search_is_not_carried(media: Path) -> None:
    frame = cv2.resize(cv2.imread(str(media / "obama-720p.jpg")), (1280, 720))
    faces = FaceDetector(Detector.FULL).detect(frame)
    motion = FaceMotion()
    motion.remember(frame, faces)
    assert motion.carried(shifted(frame, faces[0].box[2] * 0.6, 0), faces) is None


def drifting_person(media: Path, frames: int, width: float = 220) -> list[np.ndarray]:
    """A real face drifting sideways in front of a still room, 40 px each way over three seconds."""
    room = scenes.blurred_background(media, 1280, 720)
    portrait = scenes.portraits(media)[0]
    out = []
    for index in range(frames):
        frame = room.copy()
        scenes.paste(frame, portrait, width, 640 + 40 * np.sin(2 * np.pi * index / (3 * FPS)), 330)
        out.append(frame)
    return out


def test_a_face_that_drifts_in_a_still_room_is_carried_between_detections(media: Path) -> None:
    """Balanced effort detects a drifting face a few times a second (the still picture's rate),
    where it used to detect on most frames, and the face it shows stays where a detection on
    every frame finds it."""
    frames = drifting_person(media, 90)
    every, balanced = CountingDetections(Effort.HIGH), CountingDetections(Effort.BALANCED)
    for index, frame in enumerate(frames):
        fresh = [face for face in every.process(frame, index) if not face.predicted]
        shown = balanced.process(frame, index)
        assert len(fresh) == len(shown) == 1
        assert iou(fresh[0].box, shown[0].box) >= 0.8, f"frame {index}: the carried face lags behind"
    wait = round(FPS * DETECT_EVERY[Effort.BALANCED])
    assert len(balanced.detected) <= len(frames) / wait + 2, f"detected on {len(balanced.detected)} frames"
    gaps = np.diff(balanced.detected + [len(frames)])
    assert gaps.max() <= wait, "carried past the still picture's wait for a detection"


def test_a_face_that_comes_while_another_drifts_is_found_on_that_frame(media: Path) -> None:
    frames = drifting_person(media, 40)
    newcomer = scenes.portraits(media)[1]
    counted = CountingDetections(Effort.BALANCED)
    for index, frame in enumerate(frames[:30]):
        assert len(counted.process(frame, index)) == 1
    for index, frame in enumerate(frames[30:], start=30):
        box = scenes.paste(frame, newcomer, 150, 1080, 300)
        shown = counted.process(frame, index)
        assert any(iou(face.box, box) >= 0.4 for face in shown), f"frame {index}: the face that came is not shown"
    assert 30 in counted.detected


def test_high_effort_never_carries(media: Path) -> None:
    """Every frame is detected, and no face's picture is kept for carrying: it would be work for nothing."""
    frames = drifting_person(media, 20)
    counted = CountingDetections(Effort.HIGH)
    remembered = []
    remember = counted.pipeline.motion.remember
    counted.pipeline.motion.remember = lambda frame, faces: (remembered.append(faces), remember(frame, faces))
    for index, frame in enumerate(frames):
        counted.process(frame, index)
    assert counted.detected == list(range(len(frames)))
    assert remembered == []


def test_only_a_change_around_the_faces_lets_them_be_carried(media: Path) -> None:
    room = scenes.blurred_background(media, 1280, 720)
    portrait = scenes.portraits(media)[0]
    before, moved, elsewhere = room.copy(), room.copy(), room.copy()
    box = scenes.paste(before, portrait, 200, 640, 360)
    scenes.paste(moved, portrait, 200, 652, 360)
    scenes.paste(elsewhere, portrait, 200, 640, 360)
    cv2.rectangle(elsewhere, (40, 40), (120, 120), (255, 255, 255), -1)  # something came in a corner
    for frame, expected in ((moved, True), (elsewhere, False)):
        schedule = DetectSchedule(DETECT_EVERY[Effort.BALANCED])
        assert schedule.due(before, 0.0)
        assert schedule.due(frame, 1 / FPS)
        assert schedule.around([box]) is expected
    schedule = DetectSchedule(DETECT_EVERY[Effort.BALANCED])
    assert schedule.due(before, 0.0) and schedule.due(moved, 0.6)
    assert not schedule.around([box]), "the still picture's wait is over: detect"
