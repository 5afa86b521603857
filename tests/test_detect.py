"""vcam.detect: BlazeFace on the real photos and clip, anchors, weighted NMS, odd frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.choices import Detector
from vcam.config import Config
from vcam.detect import DETECTORS, FaceDetector, ssd_anchors, weighted_nms
from vcam.errors import ModelFileError
from vcam.faces import Face, iou
from vcam.resources import weights_dir

KINDS = sorted(DETECTORS)
PHOTOS = ("two_people.jpg", "obama-720p.jpg", "biden.jpg")
FACES_IN_PHOTO = {"two_people.jpg": 2, "obama-720p.jpg": 1, "biden.jpg": 1}


@pytest.fixture(scope="module")
def detectors() -> dict[str, FaceDetector]:
    return {kind: FaceDetector(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def photos(media: Path) -> dict[str, np.ndarray]:
    return {name: cv2.imread(str(media / name)) for name in PHOTOS}


@pytest.fixture(scope="module")
def photo_faces(detectors, photos) -> dict[tuple[str, str], list[Face]]:
    """Every photo through both detectors, once."""
    return {(kind, name): detectors[kind].detect(image) for kind in KINDS for name, image in photos.items()}


def grown(box: tuple[float, float, float, float], fraction: float) -> tuple[float, float, float, float]:
    """The box grown by `fraction` of its size on every side."""
    x, y, w, h = box
    return x - fraction * w, y - fraction * h, w * (1 + 2 * fraction), h * (1 + 2 * fraction)


def contains(box: tuple[float, float, float, float], point: tuple[float, float]) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def assert_sensible_box(face: Face, image: np.ndarray) -> None:
    """A face box is roughly square, a plausible fraction of the photo, and inside it."""
    height, width = image.shape[:2]
    x, y, w, h = face.box
    assert 0.8 < w / h < 1.25
    assert 0.05 * min(width, height) < w < 0.6 * min(width, height)
    assert contains(grown((0, 0, width, height), 0.02), (x, y))
    assert contains(grown((0, 0, width, height), 0.02), (x + w, y + h))


@pytest.mark.parametrize("kind", KINDS)
def test_two_people_one_face_in_each_half(kind, photos, photo_faces) -> None:
    image = photos["two_people.jpg"]
    faces = sorted(photo_faces[kind, "two_people.jpg"], key=lambda face: face.center[0])
    assert len(faces) == 2
    middle = image.shape[1] / 2
    assert faces[0].center[0] < middle < faces[1].center[0]
    for face in faces:
        assert_sensible_box(face, image)
        assert face.center[1] < image.shape[0] / 2  # standing people: faces in the upper half


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["obama-720p.jpg", "biden.jpg"])
def test_portrait_has_one_face_in_its_upper_middle(kind, name, photos, photo_faces) -> None:
    image = photos[name]
    faces = photo_faces[kind, name]
    assert len(faces) == 1
    assert_sensible_box(faces[0], image)
    cx, cy = faces[0].center
    assert image.shape[1] / 4 < cx < image.shape[1] * 3 / 4
    assert cy < image.shape[0] / 2


@pytest.mark.parametrize("name", PHOTOS)
def test_both_detectors_agree_on_every_face(name, photo_faces) -> None:
    short, full = photo_faces["short", name], photo_faces["full", name]
    assert len(short) == len(full) == FACES_IN_PHOTO[name]
    for face in short:
        assert max(iou(face.box, other.box) for other in full) > 0.6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", PHOTOS)
def test_keypoints_lie_on_the_face_eyes_above_nose_above_mouth(kind, name, photo_faces) -> None:
    for face in photo_faces[kind, name]:
        assert len(face.keypoints) == 6
        near = grown(face.box, 0.25)
        assert all(contains(near, point) for point in face.keypoints)
        (rx, ry), (lx, ly), (_, nose_y), (_, mouth_y) = face.keypoints[:4]
        assert rx < lx  # the person's right eye is on the image's left
        assert max(ry, ly) < nose_y < mouth_y


@pytest.mark.parametrize("kind", KINDS)
def test_every_face_meets_the_default_score_threshold(kind, photo_faces) -> None:
    scores = [face.score for name in PHOTOS for face in photo_faces[kind, name]]
    assert scores and min(scores) >= DETECTORS[kind].score_threshold
    assert max(scores) <= 1.0


def test_a_higher_threshold_drops_the_weaker_face(photos, photo_faces) -> None:
    weaker, stronger = sorted(face.score for face in photo_faces["full", "two_people.jpg"])
    between = (weaker + stronger) / 2
    faces = FaceDetector(Detector.FULL, score_threshold=between).detect(photos["two_people.jpg"])
    assert [round(face.score, 6) for face in faces] == [round(stronger, 6)]
    assert FaceDetector(Detector.FULL, score_threshold=min(stronger + 0.01, 0.999)).detect(photos["two_people.jpg"]) == []


@pytest.mark.parametrize("kind, count", [("short", 896), ("full", 2304)])
def test_ssd_anchor_counts_match_the_models(kind, count) -> None:
    anchors = ssd_anchors(DETECTORS[kind])
    assert anchors.shape == (count, 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_weighted_nms_merges_overlapping_boxes_into_their_weighted_mean() -> None:
    first = np.array([10, 10, 50, 50, 20, 20], np.float64)
    overlapping = np.array([14, 12, 54, 52, 24, 22], np.float64)
    elsewhere = np.array([200, 200, 240, 240, 210, 210], np.float64)
    detections = np.stack([overlapping, elsewhere, first])
    merged = weighted_nms(detections, np.array([0.6, 0.8, 0.9]), iou_threshold=0.3)
    assert len(merged) == 2
    (row, score), (far_row, far_score) = merged
    assert score == 0.9 and far_score == 0.8
    np.testing.assert_allclose(row, (0.9 * first + 0.6 * overlapping) / 1.5)
    np.testing.assert_allclose(far_row, elsewhere)


def test_weighted_nms_keeps_boxes_that_overlap_too_little() -> None:
    left = np.array([0, 0, 10, 10], np.float64)
    right = np.array([8, 0, 18, 10], np.float64)  # IoU 2/18
    merged = weighted_nms(np.stack([left, right]), np.array([0.7, 0.9]), iou_threshold=0.3)
    assert [score for _, score in merged] == [0.9, 0.7]


def test_default_detector_finds_a_face_in_95_percent_of_the_clip(clip_frames) -> None:
    assert len(clip_frames) == 275
    detector = FaceDetector(Config().detector)
    found = sum(bool(detector.detect(frame)) for frame in clip_frames)
    assert found >= 0.95 * len(clip_frames)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [0, 128], ids=["black", "gray"])
def test_plain_frames_have_no_faces(kind, value, detectors) -> None:
    assert detectors[kind].detect(np.full((480, 640, 3), value, np.uint8)) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1, 1, 3), (10, 5, 3), (5, 10, 3), (1, 1000, 3)])
def test_tiny_frames_do_not_crash(kind, shape, detectors) -> None:
    frame = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    faces = detectors[kind].detect(frame)
    assert isinstance(faces, list)
    assert all(np.isfinite(face.box).all() for face in faces)


@pytest.mark.parametrize("kind", KINDS)
def test_grayscale_frame_finds_the_face(kind, detectors, media, photo_faces) -> None:
    gray = cv2.imread(str(media / "obama-720p.jpg"), cv2.IMREAD_GRAYSCALE)
    faces = detectors[kind].detect(gray)
    assert len(faces) == 1
    assert iou(faces[0].box, photo_faces[kind, "obama-720p.jpg"][0].box) > 0.7


@pytest.mark.parametrize(
    "kind, filename",
    [("full", "emotion.tflite"), ("full", "face_detection_short_range.tflite")],
)
def test_a_model_file_of_the_wrong_kind_is_a_model_file_error(kind, filename) -> None:
    with pytest.raises(ModelFileError):
        FaceDetector(kind, model_path=weights_dir() / filename).detect(np.zeros((64, 64, 3), np.uint8))


def test_a_missing_detector_model_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="missing"):
        FaceDetector(Detector.SHORT, model_path=tmp_path / "nope.tflite")


def test_an_unknown_detector_is_refused_where_it_enters() -> None:
    # Choices are parsed once, at the edge (settings, flags); the detector trusts its member.
    with pytest.raises(ValueError, match="unknown detector 'medium'; choose one of short, full"):
        Config(detector="medium")


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (640, 360), (333, 187)])
def test_shrink_matches_area_averaging(photos, size) -> None:
    from vcam.detect import shrink

    frame = cv2.resize(photos["two_people.jpg"], size)
    width, height = 192, round(size[1] * 192 / size[0])
    fast = shrink(frame, width, height).astype(int)
    exact = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA).astype(int)
    assert fast.shape == exact.shape
    assert np.abs(fast - exact).mean() < 2.5


# Faces of every size: the whole frame and tiles (vcam/tiles.py), on crowd scenes built from the
# real photos (benchmarks/scenes.py).

from benchmarks import scenes  # noqa: E402
from conftest import searched  # noqa: E402
from vcam.errors import VcamError  # noqa: E402
from vcam.pipeline import build_detector  # noqa: E402
from vcam.tiles import MIN_FACE_REACH, plan_tiles  # noqa: E402


@pytest.fixture(scope="module")
def cutouts(media: Path) -> list[scenes.Portrait]:
    return scenes.portraits(media)


@pytest.mark.parametrize("count, width, least_recall", [(24, 128, 0.95), (40, 96, 0.95), (60, 64, 0.95),
                                                        (80, 48, 0.95)])
def test_a_1080p_crowd_is_found_face_by_face(count, width, least_recall, media, cutouts, room_detector) -> None:
    backdrop = scenes.blurred_background(media, 1920, 1080)
    scene = scenes.crowd(cutouts, backdrop, count, width)
    whole_only = scenes.score(scene.faces, [face.box for face in room_detector.tiled.whole.detect(scene.frame)])
    result = scenes.score(scene.faces, [face.box for face in searched(room_detector, scene.frame)])
    assert result.recall >= least_recall and result.false <= 1
    assert whole_only.recall < 0.5  # the whole frame alone misses most of them: the tiles found them


@pytest.mark.parametrize("height", [300, 500])
def test_a_near_face_is_found_whichever_person(height, media, cutouts, room_detector) -> None:
    backdrop = scenes.blurred_background(media, 1280, 720)
    for which in range(len(cutouts)):
        scene = scenes.near_face(cutouts, backdrop, height, which=which)
        result = scenes.score(scene.faces, [face.box for face in searched(room_detector, scene.frame)])
        assert result.found == 1 and result.false <= 1


def test_faces_30_percent_out_of_frame_are_found(media, cutouts, room_detector) -> None:
    backdrop = scenes.blurred_background(media, 1280, 720)
    found = total = false = 0
    for side in ("left", "right"):
        for height in (200, 300, 500):
            for which in range(len(cutouts)):
                scene = scenes.out_of_frame(cutouts, backdrop, height, 0.3, side, which=which)
                result = scenes.score(scene.faces, [face.box for face in searched(room_detector, scene.frame)])
                found, total, false = found + result.found, total + 1, false + result.false
    assert found >= 0.9 * total and false <= total // 10


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_a_picture_without_people_has_no_faces(size, media, room_detector) -> None:
    backdrop = scenes.blurred_background(media, *size)
    assert searched(room_detector, backdrop) == []


def test_a_room_without_people_in_a_real_photo_has_no_faces(photos, room_detector) -> None:
    image = photos["obama-720p.jpg"]
    flag_and_curtain = np.ascontiguousarray(image[:400, 336:560])  # the room left of the portrait
    assert searched(room_detector, flag_and_curtain) == []


def test_the_room_detector_finds_one_face_in_the_astronaut_photo(room_detector) -> None:
    image = cv2.imread(str(Path(__file__).resolve().parents[1] / "examples" / "astronaut.png"))
    assert len(searched(room_detector, image)) == 1


@pytest.mark.parametrize("name", PHOTOS)
def test_the_room_detector_finds_the_photos_faces(name, photos, room_detector) -> None:
    assert len(searched(room_detector, photos[name])) == FACES_IN_PHOTO[name]


def test_the_room_detector_finds_a_face_in_95_percent_of_the_clip(clip_frames) -> None:
    detector = build_detector(Config(detector="full"))
    found = sum(bool(detector.detect(frame)) for frame in clip_frames)
    assert found >= 0.95 * len(clip_frames)


def test_the_rotation_keeps_each_tiles_faces_between_its_visits(media, cutouts) -> None:
    detector = build_detector(Config(detector="full"))
    backdrop = scenes.blurred_background(media, 1920, 1080)
    scene = scenes.crowd(cutouts, backdrop, 60, 64)
    tiles = len(detector.tiled.plan(scene.frame))
    assert detector.tiles_per_frame(1920, 1080) == 2 and tiles > 4
    for _ in range(3):  # the first frame searches every tile, the next two visit two tiles each
        result = scenes.score(scene.faces, [face.box for face in detector.detect(scene.frame)])
        assert result.recall >= 0.95


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720), (640, 360), (4096, 2160)])
@pytest.mark.parametrize("min_face", [MIN_FACE_REACH, 48, 100])
def test_every_face_a_level_keeps_is_whole_in_one_of_its_tiles(width, height, min_face) -> None:
    tiles = plan_tiles(width, height, min_face)
    whole_frame_finds = width * 20 / 192
    for side in (min_face, 1.5 * min_face, 3 * min_face, whole_frame_finds * 0.99):
        if not min_face <= side < whole_frame_finds or side > min(width, height):
            continue
        for x in np.linspace(0, width - side, 23):
            for y in np.linspace(0, height - side, 13):
                assert any(tx <= x and ty <= y and x + side <= tx + tw and y + side <= ty + th and side <= tile.largest_face
                           for tile in tiles for tx, ty, tw, th in [tile.region]), (side, x, y)


def test_no_tiles_when_the_whole_frame_already_finds_the_smallest_face() -> None:
    assert plan_tiles(640, 360, 80) == []
    assert plan_tiles(8, 8, MIN_FACE_REACH) == []


@pytest.mark.parametrize("bad", [0, MIN_FACE_REACH - 1, 2.5, True])
def test_min_face_below_what_tiles_reach_is_refused(bad) -> None:
    with pytest.raises(VcamError, match="min_face"):
        Config(min_face=bad)


@pytest.mark.parametrize("shape", [(1, 1, 3), (10, 5, 3), (5, 10, 3), (1, 1000, 3), (8, 8, 3), (2000, 40, 3)])
def test_tiny_and_odd_frames_do_not_crash_the_room_detector(shape, room_detector) -> None:
    frame = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for _ in range(2):  # a first frame (every tile), then a frame of the rotation
        faces = room_detector.detect(frame)
        assert all(np.isfinite(face.box).all() for face in faces)


def test_the_room_detector_takes_a_grayscale_frame(media, room_detector, photo_faces) -> None:
    gray = cv2.imread(str(media / "obama-720p.jpg"), cv2.IMREAD_GRAYSCALE)
    faces = searched(room_detector, gray)
    assert len(faces) == 1
    assert iou(faces[0].box, photo_faces["full", "obama-720p.jpg"][0].box) > 0.7


def test_a_pipeline_reset_makes_the_next_frame_search_every_tile(media, cutouts) -> None:
    from vcam.pipeline import Pipeline

    pipeline = Pipeline.from_config(Config(detector="full"))
    backdrop = scenes.blurred_background(media, 1920, 1080)
    first, second = scenes.crowd(cutouts, backdrop, 60, 64, seed=1), scenes.crowd(cutouts, backdrop, 40, 96, seed=2)
    pipeline.detect(first.frame)
    rotating = scenes.score(second.faces, [face.box for face in pipeline.detect(second.frame)])
    pipeline.reset()  # a new camera: its first frame is searched through
    fresh = scenes.score(second.faces, [face.box for face in pipeline.detect(second.frame)])
    assert rotating.recall < 0.5 <= 0.95 <= fresh.recall
