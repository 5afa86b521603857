"""48-pixel faces in 1080p: the closer look at faces that score under the tiles' bar, and the
merge that keeps one box for a face that two levels saw (vcam/tiles.py), on crowd mosaics of the
real photos' faces (benchmarks/scenes.py), sharp and softened as a webcam softens them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import scenes
from conftest import searched
from vcam.detect import look_closer
from vcam.faces import Face
from vcam.tiles import CLOSER_SCORE, CLOSER_VIEW, TILE_SCORE, TiledDetector, TileRotation, without_nested

PHOTOS = {"two_people.jpg": 2, "obama-720p.jpg": 1, "biden.jpg": 1}


@pytest.fixture(scope="module")
def cutouts(media: Path) -> list[scenes.Portrait]:
    return scenes.portraits(media)


@pytest.fixture(scope="module")
def backdrop(media: Path) -> np.ndarray:
    return scenes.blurred_background(media, 1920, 1080)


@pytest.fixture(scope="module")
def bar_alone(room_detector) -> TileRotation:
    """The room detector without the closer look: a tile keeps only what scores its bar."""
    tiled = room_detector.tiled
    return TileRotation(TiledDetector(tiled.whole, tiled.tile_detector, tiled.min_face, look_again=TILE_SCORE))


def crowd_of_48(cutouts, backdrop, seed: int, softened: bool) -> scenes.Scene:
    scene = scenes.crowd(cutouts, backdrop, 80, 48, seed=seed)
    return scenes.Scene(scenes.softened(scene.frame), scene.faces) if softened else scene


@pytest.mark.parametrize("softened", [False, True], ids=["sharp", "softened"])
@pytest.mark.parametrize("seed", [1, 2, 5])
def test_48_pixel_faces_are_found_with_a_closer_look(seed, softened, cutouts, backdrop, room_detector,
                                                     bar_alone) -> None:
    scene = crowd_of_48(cutouts, backdrop, seed, softened)
    looked = scenes.score(scene.faces, [face.box for face in searched(room_detector, scene.frame)])
    alone = scenes.score(scene.faces, [face.box for face in searched(bar_alone, scene.frame)])
    assert looked.recall >= 0.95
    assert alone.recall < 0.9  # the tiles' bar alone misses them: the closer look found them
    assert looked.false <= alone.false  # and it added no false face


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_the_closer_look_adds_no_face_to_a_photo_in_a_large_frame(name, size, media, room_detector) -> None:
    # The photos' hands, shirts and flags score over the closer look's first bar in some tiles.
    image = cv2.imread(str(media / name))
    scale = min(size[0] / image.shape[1], size[1] / image.shape[0])
    small = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    top, left = (size[1] - small.shape[0]) // 2, (size[0] - small.shape[1]) // 2
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    assert len(searched(room_detector, frame)) == PHOTOS[name]


def test_a_closer_look_finds_a_small_face_and_not_the_backdrop(cutouts, backdrop, room_detector) -> None:
    scene = crowd_of_48(cutouts, backdrop, 0, softened=True)
    detector = room_detector.tiled.tile_detector
    found = [look_closer(detector, scene.frame, face, CLOSER_VIEW, CLOSER_SCORE) for face in scene.faces]
    assert sum(len(each.scores) > 0 for each in found) >= 0.95 * len(scene.faces)
    empty = [look_closer(detector, backdrop, (x, y, 48, 48), CLOSER_VIEW, CLOSER_SCORE)
             for x in range(100, 1800, 200) for y in range(100, 1000, 200)]
    assert all(len(each.scores) == 0 for each in empty)


def test_small_faces_are_kept_between_the_rotations_visits(cutouts, backdrop) -> None:
    from vcam.config import Config
    from vcam.pipeline import build_detector

    detector = build_detector(Config(detector="full"))
    scene = crowd_of_48(cutouts, backdrop, 3, softened=True)
    for _ in range(4):  # the first frame searches every tile, the next ones a few each
        assert scenes.score(scene.faces, [face.box for face in detector.detect(scene.frame)]).recall >= 0.95


def face(box: tuple[float, float, float, float], score: float) -> Face:
    return Face(box=box, keypoints=((0.0, 0.0),) * 6, score=score)


@pytest.mark.parametrize("tight, loose", [
    ((1320, 372, 61, 61), (1296, 360, 84, 84)),  # wholly inside
    ((76, 514, 42, 42), (39, 513, 66, 66)),  # a loose box off to one side: 69 % of the face inside it
    ((1334, 504, 45, 45), (1291, 496, 71, 71)),  # 62 %
])
def test_a_loose_box_round_a_face_is_the_same_face(tight, loose) -> None:
    # Boxes measured on the 48-px mosaics: a larger level's tile put the loose box round the face.
    assert without_nested([face(loose, 0.72), face(tight, 0.9)]) == [face(tight, 0.9)]
    assert without_nested([face(loose, 0.95), face(tight, 0.9)]) == [face(loose, 0.95)]


def test_faces_side_by_side_are_all_kept() -> None:
    row = [face((x, 100, 48, 48), 0.9 - x / 10000) for x in range(0, 480, 52)]
    assert without_nested(row) == row
    overlapping = [face((0, 0, 100, 100), 0.9), face((55, 0, 100, 100), 0.8)]  # 45 % of each inside the other
    assert without_nested(overlapping) == overlapping
