"""vcam.overlay: emojis drawn onto a real photo at each placement, custom emoji folders, blending."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import box_mask

from vcam.choices import Detector, Placement
from vcam.config import Config
from vcam.detect import FaceDetector
from vcam.emotions import EMOTIONS
from vcam.errors import MediaError
from vcam.faces import Face
from vcam.overlay import EmojiOverlay, blend, load_emojis

RED = (0, 0, 255)


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    return cv2.imread(str(media / "two_people.jpg"))


@pytest.fixture(scope="module")
def faces(photo) -> list[Face]:
    """The two real faces of the photo, each with an emotion to show."""
    found = FaceDetector(Detector.FULL).detect(photo)
    assert len(found) == 2
    return [face.replace(emotion=emotion) for face, emotion in zip(found, ("happy", "sad"))]


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    return load_emojis()


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Mask of the pixels that differ."""
    return np.any(before != after, axis=2)


def drawn(photo: np.ndarray, faces: list[Face], placement: Placement, emojis=None) -> np.ndarray:
    return EmojiOverlay(emojis, placement).draw(photo.copy(), faces)


def write_square(path: Path, colour: tuple[int, ...], side: int = 64) -> Path:
    cv2.imwrite(str(path), np.full((side, side, len(colour)), colour, np.uint8))
    return path


@pytest.mark.parametrize("placement", list(Placement))
def test_every_placement_draws_on_the_frame_in_place(photo, faces, placement) -> None:
    frame = photo.copy()
    returned = EmojiOverlay(placement=placement).draw(frame, faces)
    assert returned is frame
    assert changed(photo, frame).sum() > 1000


def test_face_placement_covers_each_face_and_stays_near_it(photo, faces) -> None:
    """Every changed pixel lies within some face box grown by half its size on each side,
    and most of each face box is covered."""
    change = changed(photo, drawn(photo, faces, Placement.FACE))
    near_a_face = np.logical_or.reduce([box_mask(photo.shape, face.box, grow=0.5) for face in faces])
    assert not (change & ~near_a_face).any()
    for face in faces:
        assert change[box_mask(photo.shape, face.box)].mean() > 0.8


def test_corner_placement_stacks_emojis_in_the_top_left(photo, faces) -> None:
    change = changed(photo, drawn(photo, faces, Placement.CORNER))
    ys, xs = np.nonzero(change)
    third = photo.shape[0] / 3
    assert xs.max() < third and ys.max() < len(faces) * third
    assert ys.max() > third / 2  # two faces: two emojis, one below the other
    for face in faces:
        assert not change[box_mask(photo.shape, face.box)].any()


def test_badge_placement_is_small_and_above_the_faces_right_side(photo, faces) -> None:
    for face in faces:
        change = changed(photo, drawn(photo, [face], Placement.BADGE))
        ys, xs = np.nonzero(change)
        x, y, w, h = face.box
        assert change.sum() < 0.5 * w * h
        assert xs.mean() > face.center[0] and ys.mean() < face.center[1]


@pytest.mark.parametrize("placement", list(Placement))
def test_a_face_without_an_emotion_draws_nothing(photo, faces, placement) -> None:
    undecided = [face.replace(emotion=None) for face in faces]
    np.testing.assert_array_equal(drawn(photo, undecided, placement), photo)


def test_each_emotion_draws_its_own_emoji(photo, faces) -> None:
    images = {emotion: drawn(photo, [faces[0].replace(emotion=emotion)], Placement.FACE) for emotion in EMOTIONS}
    assert len({image.tobytes() for image in images.values()}) == len(EMOTIONS)


def test_a_custom_folder_replaces_some_emojis_and_shipped_ones_fill_the_gaps(tmp_path, photo, faces, shipped) -> None:
    write_square(tmp_path / "happy.png", (*RED, 255))
    emojis = load_emojis(tmp_path)
    assert (emojis["happy"] == (*RED, 255)).all()
    for emotion in set(EMOTIONS) - {"happy"}:
        np.testing.assert_array_equal(emojis[emotion], shipped[emotion])
    frame = drawn(photo, [faces[0].replace(emotion="happy")], Placement.FACE, emojis)
    cx, cy = (round(v) for v in faces[0].center)
    assert tuple(frame[cy, cx]) == RED


def test_a_three_channel_png_is_drawn_opaque(tmp_path, photo, faces) -> None:
    blue = (255, 0, 0)
    write_square(tmp_path / "sad.png", blue)
    emojis = load_emojis(tmp_path)
    assert emojis["sad"].shape[2] == 4 and (emojis["sad"][:, :, 3] == 255).all()
    frame = drawn(photo, [faces[1].replace(emotion="sad")], Placement.BADGE, emojis)
    ys, xs = np.nonzero(changed(photo, frame))
    assert (frame[ys, xs] == blue).all(axis=1).mean() > 0.95


@pytest.mark.parametrize("content", [b"not a png at all", b""], ids=["garbage", "empty"])
def test_an_unreadable_png_in_a_custom_folder_is_a_media_error(tmp_path, content: bytes) -> None:
    (tmp_path / "angry.png").write_bytes(content)
    with pytest.raises(MediaError, match="angry.png"):
        load_emojis(tmp_path)


def test_a_missing_emoji_folder_is_a_media_error(tmp_path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        load_emojis(tmp_path / "nowhere")


def test_an_unknown_placement_is_refused_where_it_enters() -> None:
    # Choices are parsed once, at the edge (settings, flags, the web API); the overlay trusts its member.
    with pytest.raises(ValueError, match="unknown placement 'middle'; choose one of face, badge, corner"):
        Config(placement="middle")


@pytest.mark.parametrize(
    "x, y", [(-20, -20), (90, 50), (-25, 30), (40, -25), (500, 500), (-30, -30)],
    ids=["top-left", "bottom-right", "left", "top", "far-outside", "just-outside"],
)
def test_blend_clips_at_the_frame_edges(photo, x: int, y: int) -> None:
    """A 30×30 opaque red patch placed partly (or wholly) outside a 100×60 frame paints exactly
    the part inside it."""
    frame = photo[:60, :100].copy()
    blend(frame, np.full((30, 30, 4), (*RED, 255), np.uint8), x, y)
    inside = np.zeros(frame.shape[:2], bool)
    inside[max(y, 0):max(y + 30, 0), max(x, 0):max(x + 30, 0)] = True
    assert (frame[inside] == RED).all()
    np.testing.assert_array_equal(frame[~inside], photo[:60, :100][~inside])


def test_blend_mixes_by_alpha() -> None:
    frame = np.full((10, 10, 3), 100, np.uint8)
    patch = np.zeros((10, 10, 4), np.uint8)
    patch[:, :, :3], patch[:, :5, 3], patch[:, 5:, 3] = 200, 255 // 2, 0
    blend(frame, patch, 0, 0)
    assert np.abs(frame[:, :5].astype(int) - 150).max() <= 1
    assert (frame[:, 5:] == 100).all()


def test_a_sticker_blends_as_floating_point_alpha_does() -> None:
    """The premultiplied uint8 blend equals the plain float formula within one grey level, over
    every alpha and colour, and skips the fully transparent border."""
    from vcam.overlay import Sticker

    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    image[:5], image[:, :3, 3] = 0, 0  # transparent top rows and left columns
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    expected = frame.astype(np.float64)
    alpha = image[..., 3:4] / 255.0
    expected[10:50, 20:70] = image[..., :3] * alpha + expected[10:50, 20:70] * (1 - alpha)
    sticker = Sticker.from_bgra(image)
    assert (sticker.left, sticker.top, sticker.width, sticker.height) == (3, 5, 50, 40)
    sticker.paste(frame, 20, 10)
    assert np.abs(frame - expected).max() <= 1.01


def test_a_face_that_holds_still_reuses_its_sticker(shipped) -> None:
    overlay = EmojiOverlay(shipped, Placement.FACE)
    first = overlay._sized("happy", 200.0, 10.2)
    assert overlay._sized("happy", 200.4, 9.8) is first  # the same 2 % step, the same whole degree
    assert overlay._sized("happy", 210.0, 10.0) is not first
    assert overlay._sized("happy", 200.0, 12.0) is not first
    assert max(first.width, first.height) == round(1.02 ** round(math.log(200) / math.log(1.02)) * 1.42)
    # A tracked face keeps its sticker through the jitter of its box and eyes (4 %, 3 degrees) ...
    tracked = overlay._sized("happy", 200.0, 10.0, track=7)
    assert overlay._sized("happy", 207.9, 13.0, track=7) is tracked
    assert overlay._sized("happy", 192.5, 7.2, track=7) is tracked
    # ... and not through a real change of size or tilt.
    tilted = overlay._sized("happy", 200.0, 14.0, track=7)
    assert tilted is not tracked
    larger = overlay._sized("happy", 216.0, 14.0, track=7)
    assert larger is not tracked and larger is not tilted


def test_a_sticker_blends_into_any_view_of_a_frame(shipped) -> None:
    """A mirrored view and the BGR part of a BGRA frame are painted as a plain frame is."""
    from vcam.overlay import Sticker

    sticker = Sticker.from_bgra(cv2.resize(shipped["happy"], (40, 40)))
    plain = np.full((60, 80, 3), 90, np.uint8)
    sticker.paste(plain, 10, 5)
    mirrored = np.full((60, 80, 3), 90, np.uint8)
    sticker.paste(mirrored[:, ::-1], 10, 5)
    np.testing.assert_array_equal(mirrored[:, ::-1], plain)
    bgra = np.full((60, 80, 4), 90, np.uint8)
    sticker.paste(bgra[:, :, :3], 10, 5)
    np.testing.assert_array_equal(bgra[:, :, :3], plain)
    assert (bgra[:, :, 3] == 90).all()


def test_a_changed_emoji_cross_fades_over_150_ms_and_then_shows_only_the_new_one(tmp_path, photo, faces) -> None:
    """At 30 fps a change from a red happy to a blue sad square is drawn, at the face's centre,
    with both colours on the 4 frames of the fade (the new one's weight rising by (1/30 s) / 0.15 s
    a frame, the old one's falling) and as pure blue from the fifth; a face whose emotion holds is
    one layer at weight 1."""
    from vcam.overlay import CrossFades

    blue = (255, 0, 0)
    write_square(tmp_path / "happy.png", (*RED, 255))
    write_square(tmp_path / "sad.png", (*blue, 255))
    overlay, fades = EmojiOverlay(load_emojis(tmp_path), Placement.FACE), CrossFades()
    face = faces[0].replace(track_id=7)
    happy, sad = face.replace(emotion="happy"), face.replace(emotion="sad")
    cx, cy = (round(v) for v in face.center)
    for index in range(3):
        assert fades.layers([happy], index / 30) == [(happy, 1.0)]
        overlay.draw(photo.copy(), [happy], index / 30)
    weights, centres = [], []
    for index in range(3, 10):
        weights.append([(layer.emotion, weight) for layer, weight in fades.layers([sad], index / 30)])
        centres.append(overlay.draw(photo.copy(), [sad], index / 30)[cy, cx].astype(int))
    rising = [step / 30 / 0.15 for step in range(1, 5)]
    for layers, weight in zip(weights[:4], rising):
        assert [emotion for emotion, _ in layers] == ["happy", "sad"]
        assert [w for _, w in layers] == pytest.approx([1 - weight, weight])
    assert weights[4:] == [[("sad", 1.0)]] * 3
    reds, blues = [centre[2] for centre in centres[:4]], [centre[0] for centre in centres[:4]]
    assert all(red > 10 for red in reds) and all(blue > 50 for blue in blues)
    assert reds == sorted(reds, reverse=True) and blues == sorted(blues)
    assert all(tuple(centre) == blue for centre in centres[4:])


def test_a_frame_drawn_without_a_time_shows_the_new_emoji_at_once(faces) -> None:
    from vcam.overlay import CrossFades

    fades = CrossFades()
    fades.layers([faces[0].replace(track_id=1, emotion="happy")], 0.0)
    sad = faces[0].replace(track_id=1, emotion="sad")
    assert fades.layers([sad], None) == [(sad, 1.0)]


# The emoji's size and place from the keypoints as well as the box (vcam.overlay.emoji_place).

from vcam.overlay import emoji_place  # noqa: E402

PORTRAITS = ("obama-720p.jpg", "biden.jpg", "two_people.jpg")


def hand_over_mouth(image: np.ndarray, face: Face, hand: np.ndarray, cover: float) -> np.ndarray:
    """`image` with `hand` (a real hand, faded out at its edges) scaled to `cover` of the face's
    width and pasted over its mouth, the fingers up to the nose."""
    x, y, w, h = face.box
    width = round(w * cover)
    height = round(width * hand.shape[0] / hand.shape[1])
    patch = cv2.resize(hand, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ellipse = np.hypot((xx - width / 2) / (width / 2), (yy - height / 2) / (height / 2))
    alpha = np.clip((1 - ellipse) / 0.2, 0, 1)[:, :, None]
    mouth_x, mouth_y = face.keypoints[3]
    left, top = round(mouth_x - width / 2), round(mouth_y - height * 0.35)
    out = image.copy()
    region = out[top:top + height, left:left + width].astype(np.float32)
    out[top:top + height, left:left + width] = np.clip(alpha * patch + (1 - alpha) * region + 0.5, 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def hand(media: Path) -> np.ndarray:
    """The crossed hand of the man on the left in two_people.jpg."""
    return cv2.imread(str(media / "two_people.jpg"))[445:515, 405:495]


def test_a_hand_over_the_mouth_does_not_shrink_the_emoji(media, hand) -> None:
    detector = FaceDetector(Detector.FULL)
    shrunk_boxes = 0
    for name in PORTRAITS:
        image = cv2.imread(str(media / name))
        for face in detector.detect(image):
            for cover in (0.8, 1.0):
                covered = [other for other in detector.detect(hand_over_mouth(image, face, hand, cover))
                           if math.dist(other.center, face.center) < face.box[2] / 2]
                if not covered:
                    continue  # the hand hid the face from the detector: nothing to draw
                [other] = covered
                before, after = emoji_place(face), emoji_place(other)
                shrunk_boxes += max(other.box[2:]) < 0.93 * max(face.box[2:])
                assert after.side >= 0.94 * before.side, (name, cover)
                assert math.dist(after.center, before.center) < 0.08 * before.side, (name, cover)
    assert shrunk_boxes >= 1  # the box alone would have shrunk the emoji


def test_the_face_emoji_follows_emoji_place_and_is_as_large(media, hand) -> None:
    image = cv2.imread(str(media / "biden.jpg"))
    detector = FaceDetector(Detector.FULL)
    [face] = detector.detect(image)
    [covered] = detector.detect(hand_over_mouth(image, face, hand, 1.0))
    assert max(covered.box[2:]) < 0.92 * max(face.box[2:])  # the box shrank by more than 8 %
    sides = []
    for seen in (face, covered):
        frame = image.copy()
        EmojiOverlay(placement=Placement.FACE).draw(frame, [seen.replace(emotion="neutral")])
        ys, xs = np.nonzero(changed(image, frame))
        sides.append(max(xs.max() - xs.min(), ys.max() - ys.min()))
    assert sides[1] >= 0.95 * sides[0]


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_face_in_full_view_keeps_about_its_box(name, media) -> None:
    for face in FaceDetector(Detector.FULL).detect(cv2.imread(str(media / name))):
        place = emoji_place(face)
        side = max(face.box[2:])
        assert side <= place.side <= 1.1 * side
        assert math.dist(place.center, face.center) < 0.05 * side


# Sharp emojis at any size: 1024-px artwork, only ever scaled down (vcam.overlay.emoji_pyramid).

from benchmarks.emoji_sharpness import drawn_emoji, on_white, widths  # noqa: E402
from benchmarks.emoji_sharpness import near_face as enlarged_face
from vcam.overlay import _scaled_emoji, emoji_pyramid  # noqa: E402


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_the_emoji_on_a_500_px_face_has_edges_as_crisp_as_the_artwork(emotion, media, shipped) -> None:
    big, face = enlarged_face(media)
    assert 450 < face.box[3] < 550
    drawn = drawn_emoji(big.shape, face, shipped, emotion)
    side = max(drawn.shape[:2])
    assert max(shipped[emotion].shape[:2]) >= side  # shipped large enough to be only scaled down
    edge = widths(shipped[emotion], side, drawn)
    assert edge["drawn"] <= edge["artwork_area_averaged"] + 1.0
    assert edge["from_136_px_enlarged"] > edge["artwork_area_averaged"] + 1.0  # what the check would catch


@pytest.mark.parametrize("side", [40, 97, 300, 650, 1024])
def test_scaling_from_the_pyramid_matches_area_averaging_the_artwork(side, shipped) -> None:
    art = shipped["happy"]
    scaled = _scaled_emoji(emoji_pyramid(art), side, 0.0)
    direct = cv2.resize(art, scaled.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert max(scaled.shape[:2]) == side
    assert np.abs(on_white(scaled).astype(int) - on_white(direct).astype(int)).mean() < 4.0


@pytest.mark.parametrize("placement", list(Placement))
def test_the_pixels_under_the_emojis_give_back_the_camera_s_picture(photo, faces, placement) -> None:
    """Two faces in a cross-fade (two emojis each, the second drawn over the first) and a third
    overlapping them: putting back what each emoji covered, the last first, gives the photo exactly."""
    from vcam.overlay import uncover

    overlay = EmojiOverlay(load_emojis(), placement)
    tracked = [face.replace(track_id=index) for index, face in enumerate(faces)]
    x, y, w, h = faces[0].box
    tracked.append(faces[0].replace(box=(x + w / 3, y, w, h), track_id=9))
    overlay.draw(photo.copy(), tracked, 0.0)
    changed = [face.replace(emotion="surprise") for face in tracked]
    underneath = []
    frame = overlay.draw(photo.copy(), changed, 1 / 30, underneath)  # mid-fade: both emojis on each face
    assert len(underneath) == 2 * len(changed)
    assert not np.array_equal(frame, photo)
    assert np.array_equal(uncover(frame, underneath), photo)
