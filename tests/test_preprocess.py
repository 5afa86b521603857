"""vcam.preprocess: the model's input batch, and cropping an upright face by its eye line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.preprocess import FACE_SIZE, crop_face, prepare_faces

CENTRE = (200.0, 200.0)
BOX = (120.0, 120.0, 160.0, 160.0)  # a 160 px "face" centred on CENTRE
EYES = ((170.0, 180.0), (230.0, 180.0))  # level, image-left first


def assert_batch(batch: np.ndarray, count: int) -> None:
    assert batch.shape == (count, FACE_SIZE, FACE_SIZE, 1)
    assert batch.dtype == np.float32
    assert np.all((batch >= 0.0) & (batch <= 1.0))


def test_fer_faces_pass_straight_through(public_test_sample) -> None:
    images = public_test_sample[0][:5]
    batch = prepare_faces(images)
    assert_batch(batch, 5)
    np.testing.assert_array_equal(batch[..., 0], images.astype(np.float32) / 255.0)


def test_crops_of_any_size_and_colour_become_48_px_gray(public_test_sample) -> None:
    face = public_test_sample[0][0]
    crops = [
        cv2.cvtColor(face, cv2.COLOR_GRAY2BGR),  # BGR, already 48 px
        cv2.resize(face, (96, 96), interpolation=cv2.INTER_NEAREST),  # gray, twice the size
        cv2.cvtColor(cv2.resize(face, (150, 150), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR),
    ]
    batch = prepare_faces(crops)
    assert_batch(batch, 3)
    expected = face.astype(np.float32) / 255.0
    np.testing.assert_allclose(batch[0, ..., 0], expected, atol=1 / 255)
    np.testing.assert_allclose(batch[1, ..., 0], expected, atol=1 / 255)
    assert np.abs(batch[2, ..., 0] - expected).mean() < 0.03


def test_no_crops_make_an_empty_batch() -> None:
    assert_batch(prepare_faces([]), 0)


def bar_image() -> np.ndarray:
    """A dark frame with a bright horizontal bar through the face and a dot above it (the forehead)."""
    image = np.full((400, 400), 30, np.uint8)
    cv2.rectangle(image, (60, 195), (340, 210), 230, thickness=-1)
    cv2.circle(image, (200, 150), 12, 230, thickness=-1)
    return image


def rotated(image: np.ndarray, eyes, degrees: float):
    """The image and the eye points rotated about CENTRE by `degrees` (counter-clockwise on screen)."""
    matrix = cv2.getRotationMatrix2D(CENTRE, degrees, 1.0)
    turned = cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=30)
    points = [tuple(matrix @ np.array([x, y, 1.0])) for x, y in eyes]
    return turned, (points[0], points[1])


def bar_slope(crop: np.ndarray) -> float:
    """Slope of the bright bar in a crop: the fitted line through each column's bright-row centroid
    (the dot above the bar is left out by only looking at the lower part of the crop)."""
    rows = np.arange(crop.shape[0])[:, None]
    bright = (crop > 130) & (rows >= crop.shape[0] * 0.4)
    columns = np.flatnonzero(bright.sum(axis=0) > 0)[4:-4]
    centroids = [(rows[:, 0] * bright[:, c]).sum() / bright[:, c].sum() for c in columns]
    return float(np.polyfit(columns, centroids, 1)[0])


@pytest.mark.parametrize("degrees", [20.0, -20.0])
def test_rotation_by_the_eye_line_levels_the_face(degrees: float) -> None:
    image = bar_image()
    turned, turned_eyes = rotated(image, EYES, degrees)
    level = crop_face(image, BOX, EYES)
    aligned = crop_face(turned, BOX, turned_eyes)
    unaligned = crop_face(turned, BOX)
    assert abs(bar_slope(level)) < 0.02
    assert abs(bar_slope(aligned)) < np.tan(np.radians(2))
    assert abs(bar_slope(unaligned)) > np.tan(np.radians(15))  # without the eyes it stays turned
    # Not only level: the same crop as the upright face, dot above the bar, shifted up the same way.
    assert np.abs(aligned.astype(int) - level.astype(int)).mean() < 4


def test_eyes_in_either_order_give_the_same_crop() -> None:
    turned, (first, second) = rotated(bar_image(), EYES, 20.0)
    np.testing.assert_array_equal(crop_face(turned, BOX, (first, second)), crop_face(turned, BOX, (second, first)))


def test_level_eyes_crop_like_no_eyes(media: Path) -> None:
    frame = cv2.imread(str(media / "obama-720p.jpg"))
    box = (575.0, 90.0, 180.0, 180.0)
    np.testing.assert_array_equal(crop_face(frame, box, ((620.0, 150.0), (700.0, 150.0))), crop_face(frame, box))


@pytest.mark.parametrize(
    "box",
    [(-60.0, -60.0, 150.0, 150.0), (1200.0, 650.0, 150.0, 150.0), (-10.0, 300.0, 40.0, 40.0), (600.0, 0.0, 2.0, 2.0)],
    ids=["top-left", "bottom-right", "left-edge", "tiny"],
)
def test_crops_over_the_border_are_full_48_px_faces(media: Path, box) -> None:
    frame = cv2.imread(str(media / "obama-720p.jpg"))
    x, y, w, h = box
    eyes = ((x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.45 * h))
    for crop in (crop_face(frame, box), crop_face(frame, box, eyes)):
        assert crop.shape == (FACE_SIZE, FACE_SIZE) and crop.dtype == np.uint8
    assert_batch(prepare_faces([crop_face(frame, box, eyes)]), 1)


def test_a_colour_frame_crops_as_its_grey_frame_does_wherever_the_face_is(media: Path) -> None:
    # Only the pixels under the face turn grey; the crop must be the one the whole grey frame
    # gives, for faces inside, over every edge, wholly outside, tiny, larger than the frame,
    # turned either way (the last bit of the warp's arithmetic may round the other way).
    frame = cv2.imread(str(media / "obama-720p.jpg"))
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    rng = np.random.default_rng(7)
    off_by_one = compared = 0
    for index in range(400):
        side = rng.uniform(2.0, 1.5 * height)
        box = (rng.uniform(-side, width), rng.uniform(-side, height), side, side * rng.uniform(0.8, 1.3))
        eyes = None
        if index % 2:
            angle = np.radians(rng.uniform(-70, 70))
            cx, cy, half = box[0] + box[2] / 2, box[1] + box[3] / 3, 0.2 * side
            eyes = ((cx - half * np.cos(angle), cy - half * np.sin(angle)), (cx + half * np.cos(angle), cy + half * np.sin(angle)))
        from_colour, from_grey = crop_face(frame, box, eyes), crop_face(grey, box, eyes)
        difference = np.abs(from_colour.astype(int) - from_grey)
        assert difference.max() <= 1, (box, eyes)
        off_by_one += int(np.count_nonzero(difference))
        compared += difference.size
    assert off_by_one < 1e-4 * compared
