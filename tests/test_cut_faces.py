"""vcam.cut_faces: faces that the frame's edge cuts, found through the frame mirrored past its
edges; on real photos cut through a face, on scenes of the photos' faces cut at every edge
(benchmarks/scenes.py), and live, as the rotation searches the edges."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import scenes
from conftest import searched
from vcam.choices import Detector
from vcam.config import Config
from vcam.cut_faces import cut_faces
from vcam.detect import FaceDetector
from vcam.faces import iou
from vcam.pipeline import build_detector
from vcam.tiles import CUT_EVERY

PHOTOS = ("two_people.jpg", "obama-720p.jpg", "biden.jpg")


@pytest.fixture(scope="module")
def cutouts(media: Path) -> list[scenes.Portrait]:
    return scenes.portraits(media)


@pytest.fixture(scope="module")
def backdrop(media: Path) -> np.ndarray:
    return scenes.blurred_background(media, 1280, 720)


def cut_photo(image: np.ndarray, box: tuple[float, float, float, float], share: float,
              side: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """`image` cropped so that `share` of the face `box` lies beyond its `side` edge, and where
    the whole face is in the crop's pixels."""
    x, y, w, h = box
    if side == "left":
        left = round(x + share * w)
        return np.ascontiguousarray(image[:, left:]), (x - left, y, w, h)
    if side == "right":
        return np.ascontiguousarray(image[:, :round(x + (1 - share) * w)]), box
    return np.ascontiguousarray(image[:round(y + (1 - share) * h)]), box


@pytest.mark.parametrize("share", [0.4, 0.5])
def test_a_face_of_a_real_photo_cut_by_the_edge_is_found_whole(share, media) -> None:
    detector = FaceDetector(Detector.FULL)
    room = build_detector(Config(detector="full"))
    found = cut = total = 0
    for name in PHOTOS:
        image = cv2.imread(str(media / name))
        faces = detector.detect(image)
        for face in faces:
            for side in ("left", "right", "bottom"):
                crop, truth = cut_photo(image, face.box, share, side)
                room.reset()
                boxes = [found_face.box for found_face in room.detect(crop)]
                total += 1
                found += any(iou(box, truth) >= 0.4 for box in boxes)
                # The box is the whole face's: it reaches past the edge that cuts the face.
                cut += any(iou(box, truth) >= 0.4 and (box[0] < 0 or box[0] + box[2] > crop.shape[1]
                                                       or box[1] + box[3] > crop.shape[0]) for box in boxes)
    assert found >= total - 1 and cut >= total - 2


@pytest.mark.parametrize("share, least", [(0.4, 0.85), (0.5, 0.75)])
def test_faces_cut_at_every_edge_and_corner_are_found(share, least, cutouts, backdrop, room_detector) -> None:
    found = ordinary = false = total = 0
    for side in scenes.EDGES:
        for height in (120, 250, 450):
            for which in range(0, len(cutouts), 2):
                scene = scenes.out_of_frame(cutouts, backdrop, height, share, side, which=which)
                faces = searched(room_detector, scene.frame)
                result = scenes.score(scene.faces, [face.box for face in faces])
                without = scenes.score(scene.faces, [face.box for face in faces if face not in room_detector.cut])
                found, ordinary, false, total = found + result.found, ordinary + without.found, false + result.false, total + 1
    assert found >= least * total
    assert ordinary <= 0.6 * total  # without the mirrored pass most of them are missed
    assert false <= total // 10


def test_a_whole_face_at_the_edge_leaves_no_mirror_image(cutouts, backdrop, room_detector) -> None:
    for side in ("left", "right", "bottom"):
        for which in range(len(cutouts)):
            # The face just inside the edge: its mirror image lies wholly in the margin.
            scene = scenes.out_of_frame(cutouts, backdrop, 250, -0.02, side, which=which)
            faces = searched(room_detector, scene.frame)
            assert len(faces) == 1 and iou(faces[0].box, scene.faces[0]) >= 0.5, (side, which)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (640, 480)])
def test_a_picture_without_people_has_no_cut_faces(size, media) -> None:
    empty = scenes.blurred_background(media, *size)
    assert cut_faces(FaceDetector(Detector.FULL), empty, []) == []


def test_a_face_the_ordinary_passes_found_is_not_found_twice(cutouts, backdrop) -> None:
    scene = scenes.out_of_frame(cutouts, backdrop, 300, 0.5, "left")
    detector = FaceDetector(Detector.FULL)
    [face] = cut_faces(detector, scene.frame, [])
    assert cut_faces(detector, scene.frame, [face]) == []


def test_live_a_face_that_leans_in_at_the_side_is_found_and_followed(cutouts, backdrop) -> None:
    detector = build_detector(Config(detector="full"))
    detector.detect(backdrop)  # the camera's first frame: nobody there
    step = 0
    # Leaning in: the face comes CUT_EVERY detections later at the latest, then is found on every
    # detection where it is, not where it was.
    for step in range(CUT_EVERY):
        scene = scenes.out_of_frame(cutouts, backdrop, 300, 0.45, "right")
        if any(iou(face.box, scene.faces[0]) >= 0.4 for face in detector.detect(scene.frame)):
            break
    else:
        pytest.fail(f"a face cut by the right edge was not found in {CUT_EVERY} detections")
    for shift in np.linspace(0.45, 0.3, 8):
        scene = scenes.out_of_frame(cutouts, backdrop, 300, float(shift), "right")
        faces = detector.detect(scene.frame)
        assert len(faces) == 1 and iou(faces[0].box, scene.faces[0]) >= 0.5, (step, shift)


def test_live_the_edges_are_searched_every_few_detections_only_while_nobody_is_there(backdrop, monkeypatch) -> None:
    import vcam.tiles

    calls = []
    real = vcam.tiles.cut_faces
    monkeypatch.setattr(vcam.tiles, "cut_faces", lambda *args: calls.append(1) or real(*args))
    detector = build_detector(Config(detector="full"))
    for _ in range(4 * CUT_EVERY + 1):
        detector.detect(backdrop)
    assert len(calls) == 5  # the first frame, then one in CUT_EVERY


def test_live_a_change_at_the_edge_has_the_edges_searched_at_once(cutouts, backdrop) -> None:
    detector = build_detector(Config(detector="full"))
    detector.detect(backdrop)
    scene = scenes.out_of_frame(cutouts, backdrop, 300, 0.45, "left")
    changed = np.zeros((18, 32), bool)
    changed[6:12, 0] = True  # what the detection schedule's grid says when someone leans in at the left
    assert any(iou(face.box, scene.faces[0]) >= 0.4 for face in detector.detect(scene.frame, changed))
