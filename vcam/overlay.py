"""Drawing the emoji of each face's emotion onto the frame."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from vcam.choices import Placement
from vcam.emotions import EMOTIONS
from vcam.errors import MediaError
from vcam.faces import Face
from vcam.paths import os_problem
from vcam.resources import emojis_dir

"""face: the emoji covers the face, turned with it. badge: a small emoji beside the head.
corner: the prototype's look, one emoji per face stacked in the top-left corner."""


def load_emojis(folder: Path | None = None) -> dict[str, np.ndarray]:
    """One BGRA image per emotion, from `<folder>/<emotion>.png`.

    A user's folder may hold only some of the seven; the shipped emojis fill the gaps.
    """
    shipped = emojis_dir()
    folder = folder or shipped
    if not folder.is_dir():
        raise MediaError(f"emoji folder {folder} does not exist; pass a folder holding angry.png … neutral.png")
    emojis = {}
    for emotion in EMOTIONS:
        path = folder / f"{emotion}.png"
        if not _is_present(path):
            path = shipped / f"{emotion}.png"
        emojis[emotion] = _read_bgra(path)
    return emojis


MAX_EMOJI_SIDE = 4096
"""The largest emoji side vcam decodes (4096×4096 is 64 MB as BGRA; an emoji is drawn at most a
face's size): a PNG of under 1 MB can declare 20000×20000, 1.6 GB decoded. Read from the header."""


def _is_present(path: Path) -> bool:
    """Whether the user's folder has this emoji: False when nothing bears its name, True for a
    regular file; MediaError for a folder, a FIFO, a broken link or anything else of that name,
    which would otherwise be passed over without a word."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise MediaError(f"emoji {path} is a symbolic link to nothing; point it at a PNG or remove it "
                             "to use the shipped one") from None
        return False
    except OSError as err:
        raise MediaError(f"emoji {os_problem(path, err)}") from None
    if not stat.S_ISREG(status.st_mode):
        kind = "a folder" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        raise MediaError(f"emoji {path} is {kind}; put a PNG there or remove it to use the shipped one")
    return True


def _require_emoji_size(path: Path) -> None:
    """Refuse an emoji whose header declares a side over MAX_EMOJI_SIDE, before decoding."""
    try:
        with Image.open(path) as header:
            size = "{}×{} pixels, ".format(*header.size)
            fits = max(header.size) <= MAX_EMOJI_SIDE
    except Image.DecompressionBombError:  # Pillow's own limit, higher than ours, already said no
        size, fits = "", False
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return  # not an image at all: the decoder below says so
    if not fits:
        raise MediaError(f"emoji {path} is {size}over vcam's limit of {MAX_EMOJI_SIDE} pixels a side; "
                         "scale it down (512×512 is plenty)")


def _read_bgra(path: Path) -> np.ndarray:
    """Any PNG as 8-bit BGRA: 16-bit depth scaled down, gray made colour, no alpha made opaque."""
    _require_emoji_size(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise MediaError(f"emoji {path} is not a readable PNG; replace it or remove it to use the shipped one")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise MediaError(f"emoji {path} has {image.dtype} pixels; save it as an 8- or 16-bit PNG")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    if image.shape[2] == 2:  # gray + alpha
        bgra = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGRA)
        bgra[:, :, 3] = image[:, :, 1]
        return bgra
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)  # no alpha channel: opaque everywhere
    return image


@dataclass(frozen=True)
class EmojiPlace:
    center: tuple[float, float]
    side: float
    """The face's size: what the box's larger side is on a face in full view."""
    angle: float
    """The eye line's slope in degrees, clockwise on screen."""


EYES_PER_SIDE = 0.39
EARS_PER_SIDE = 0.86
"""Eye-to-eye and ear-to-ear distances ÷ the box's side on a face in full view, near the upper
quartiles over 96 faces of the test photos and clip (medians 0.378 and 0.832, upper quartiles
0.397 and 0.871; the distances shrink as the head turns): a face in full view then rarely
measures larger than its box, and a box that a hand has shrunk is still outgrown."""
EYES_TO_CENTER = (0.02, 0.186)
"""The box's centre from the eyes' midpoint, in sides along and across the eye line (medians over
the same faces; `python -m benchmarks.face_proportions` prints all these figures)."""
SHRUNK = 0.1
"""A box this much smaller than its eyes and ears say is taken wholly from them."""


def emoji_place(face: Face) -> EmojiPlace:
    """Where a face's emoji goes, and how large: from the box, and from the eyes and ears as well.

    A hand over the mouth shrinks the detector's box (by a tenth on biden.jpg) and moves its
    centre up, while eyes and ears stay where they are. The face's size is therefore the larger
    of the box's side and the size the eye and ear distances give (turning the head shrinks those,
    never the box), and its centre moves from the box's towards the one the eyes give as far as
    the box has shrunk."""
    x, y, w, h = face.box
    box_side = max(w, h)
    (rx, ry), (lx, ly) = face.eyes
    angle = float(np.degrees(np.arctan2(ly - ry, lx - rx)))
    if len(face.keypoints) < 6:
        return EmojiPlace(face.center, box_side, angle)
    (erx, ery), (elx, ely) = face.keypoints[4], face.keypoints[5]
    eyes, ears = math.hypot(lx - rx, ly - ry), math.hypot(elx - erx, ely - ery)
    side = max(box_side, (eyes / EYES_PER_SIDE + ears / EARS_PER_SIDE) / 2)
    shrunk = min(max((side / max(box_side, 1e-6) - 1) / SHRUNK, 0.0), 1.0)
    if shrunk == 0:
        return EmojiPlace(face.center, side, angle)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    along, across = EYES_TO_CENTER[0] * side, EYES_TO_CENTER[1] * side
    from_eyes = ((rx + lx) / 2 + along * cos - across * sin, (ry + ly) / 2 + along * sin + across * cos)
    (bx, by) = face.center
    return EmojiPlace((bx + shrunk * (from_eyes[0] - bx), by + shrunk * (from_eyes[1] - by)), side, angle)


class EmojiOverlay:
    """`draw(frame, faces)` draws each face's shown emotion onto the frame, in place."""

    def __init__(self, emojis: dict[str, np.ndarray] | None = None, placement: Placement = Placement.FACE,
                 face_scale: float = 1.3, badge_scale: float = 0.45) -> None:
        self.emojis = emojis if emojis is not None else load_emojis()
        self.placement = placement
        self.face_scale = face_scale
        self.badge_scale = badge_scale
        self._stickers: dict[tuple[str, int, int], Sticker] = {}
        self.fades = CrossFades()
        self._pyramids: dict[str, list[np.ndarray]] = {}
        self._shapes: dict[int, tuple[int, int]] = {}

    def draw(self, frame: np.ndarray, faces: Sequence[Face], t: float | None = None,
             underneath: list[Covered] | None = None) -> np.ndarray:
        """With `t` (seconds), a face whose emotion changed fades from the old emoji to the new one;
        with `underneath`, the pixels each emoji covers are added to it first (`uncover` puts them back)."""
        shown = [face for face in faces if face.emotion is not None]
        layers = self.fades.layers(shown, t)
        if self.placement is Placement.CORNER:
            self._draw_corner(frame, layers, underneath)
        for face, weight in layers if self.placement is not Placement.CORNER else ():
            x, y, w, h = face.box
            place = emoji_place(face)
            side = place.side
            if self.placement is Placement.FACE:
                emoji = self._sized(face.emotion, side * self.face_scale, place.angle, face.track_id)
                cx, cy = place.center
            else:  # badge: above the head's right side, clear of the face
                emoji = self._sized(face.emotion, side * self.badge_scale, track=face.track_id)
                cx, cy = x + w + emoji.width * 0.35, y - emoji.height * 0.15
            emoji.paste(frame, round(cx - emoji.width / 2), round(cy - emoji.height / 2), weight, underneath)
        return frame

    def _draw_corner(self, frame: np.ndarray, layers: Sequence[tuple[Face, float]],
                     underneath: list[Covered] | None) -> None:
        size = max(24, frame.shape[0] // 6)
        margin = size // 8
        slots: dict[int, int] = {}  # a face's two layers share its slot
        for face, weight in sorted(layers, key=lambda layer: layer[0].box[0]):  # left-to-right, as the faces stand
            slot = slots.setdefault(id(face) if face.track_id is None else face.track_id, len(slots))
            self._sized(face.emotion, size).paste(frame, margin, margin + slot * (size + margin), weight, underneath)

    def _sized(self, emotion: str, side: float, angle: float = 0.0, track: int | None = None) -> Sticker:
        """The emoji scaled so that its larger side is `side` pixels, turned by `angle` degrees
        (clockwise on screen, as the eye line is measured), ready to blend. Sizes are rounded to
        steps of STICKER_STEP and angles to whole degrees, and a tracked face keeps its last size
        and angle while they move by no more than HOLD_STEPS steps and HOLD_DEGREES degrees (the
        detector's boxes and keypoints jitter that much from one detection to the next): a face
        that holds still reuses the same sticker instead of scaling and turning the emoji again."""
        shape = (round(math.log(max(side, 1.0)) / math.log(STICKER_STEP)), 0 if abs(angle) < 1.0 else round(angle))
        if track is not None:
            last = self._shapes.get(track)
            if last is not None and abs(shape[0] - last[0]) <= HOLD_STEPS and abs(shape[1] - last[1]) <= HOLD_DEGREES:
                shape = last
            elif len(self._shapes) >= SHAPES_KEPT:
                self._shapes.clear()  # tracks long gone; the faces in view settle again at once
            self._shapes[track] = shape
        step = shape[0]
        key = (emotion, *shape)
        sticker = self._stickers.get(key)
        if sticker is not None:
            self._stickers[key] = self._stickers.pop(key)  # the most recently used is kept longest
        else:
            if len(self._stickers) >= STICKER_CACHE:
                self._stickers.pop(next(iter(self._stickers)))  # the least recently used
            if emotion not in self._pyramids:
                self._pyramids[emotion] = emoji_pyramid(self.emojis[emotion])
            sticker = self._stickers[key] = Sticker.from_bgra(
                _scaled_emoji(self._pyramids[emotion], STICKER_STEP ** step, key[2]))
        return sticker


STICKER_STEP = 1.02
"""Emoji sizes go in steps of 2 %: too small a change to see, and a face that breathes stays on one."""
HOLD_STEPS = 2
HOLD_DEGREES = 3
"""A tracked face's emoji keeps its size and angle until they are off by more than this many
steps (4 %) and degrees: the detector's boxes and eye points jitter by 2–3 steps and degrees
from one detection to the next on a face that holds still, and each new size or angle is the
emoji scaled and turned afresh (4.6 ms of CPU for a 380-px emoji here). At one step and one
degree, three drifting faces needed 82 new stickers in 12 s (python -m benchmarks.live's
4-face clip)."""
STICKER_CACHE = 32
SHAPES_KEPT = 256
"""Tracks whose last sticker size and angle are remembered."""


def emoji_pyramid(emoji: np.ndarray) -> list[np.ndarray]:
    """The artwork and its halvings down to about 32 px, each pixel the mean of four of the last.
    Area averaging is slow in OpenCV at factors that are not whole numbers (8.9 ms from 1024 px
    to 650 here, 1.3 ms from 512 to 166); from the smallest halving at least as large as the
    target it takes a third of that (0.5 ms to 166 px), a crowd's worth of new sizes a frame
    when faces move. The result differs from averaging the artwork directly only in how the
    few pixels on each output pixel's border are weighed: 0.3 grey levels on average at 300 px,
    3 at 40 px, with outlines as sharp (python -m benchmarks.emoji_sharpness)."""
    levels = [emoji]
    while min(levels[-1].shape[:2]) >= 64:
        last = levels[-1]
        levels.append(cv2.resize(last, (last.shape[1] // 2, last.shape[0] // 2), interpolation=cv2.INTER_AREA))
    return levels


def _scaled_emoji(pyramid: list[np.ndarray], side: float, angle: float) -> np.ndarray:
    """The emoji with its larger side `side` px, turned by `angle` degrees. Scaled first, by area
    averaging when smaller (each output pixel the mean of the artwork under it, so a 1024-px
    emoji keeps clean outlines at 40 px), from the smallest level of its pyramid that is at least
    as large, and only then turned, at its final size, so that the bilinear turn samples
    neighbouring pixels of that size rather than skipping the artwork's."""
    emoji = next((level for level in reversed(pyramid) if max(level.shape[:2]) >= side), pyramid[0])
    scale = max(side, 1.0) / max(emoji.shape[:2])
    size = (max(1, round(emoji.shape[1] * scale)), max(1, round(emoji.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = emoji if size == (emoji.shape[1], emoji.shape[0]) else cv2.resize(emoji, size, interpolation=interpolation)
    if angle == 0:
        return scaled
    out = max(1, round(max(scaled.shape[:2]) * 1.42))  # room for the corners when turned
    matrix = cv2.getRotationMatrix2D((scaled.shape[1] / 2, scaled.shape[0] / 2), -angle, 1.0)
    matrix[0, 2] += out / 2 - scaled.shape[1] / 2
    matrix[1, 2] += out / 2 - scaled.shape[0] / 2
    return cv2.warpAffine(scaled, matrix, (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))


@dataclass(frozen=True)
class Sticker:
    """A BGRA image prepared for blending: its colour already multiplied by its alpha, and
    255 − alpha, both cut to the part that is not fully transparent. Blending is then one
    multiply and one add of uint8 arrays in OpenCV, instead of float arithmetic over the square."""

    premultiplied: np.ndarray
    transparency: np.ndarray
    width: int
    height: int
    """Size of the whole image; the arrays start at (left, top) inside it."""
    left: int = 0
    top: int = 0

    @classmethod
    def from_bgra(cls, image: np.ndarray) -> Sticker:
        alpha = image[:, :, 3]
        rows, columns = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        height, width = image.shape[:2]
        if rows.size == 0:
            empty = np.zeros((0, 0, 3), np.uint8)
            return cls(empty, empty, width, height)
        top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
        alpha3 = cv2.cvtColor(alpha[top:bottom, left:right], cv2.COLOR_GRAY2BGR)
        colour = np.ascontiguousarray(image[top:bottom, left:right, :3])
        return cls(cv2.multiply(colour, alpha3, scale=1 / 255), 255 - alpha3,
                   width, height, int(left), int(top))

    def paste(self, frame: np.ndarray, x: int, y: int, weight: float = 1.0,
              underneath: list[Covered] | None = None) -> None:
        """Blend onto a BGR frame with the image's top-left at (x, y), clipped to the frame; a
        `weight` under 1 scales the image's alpha (a cross-fade); with `underneath`, the pixels
        it covers are added to it first."""
        x, y = x + self.left, y + self.top
        height, width = frame.shape[:2]
        patch_height, patch_width = self.premultiplied.shape[:2]
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + patch_width, width), min(y + patch_height, height)
        if x0 >= x1 or y0 >= y1:
            return
        inside = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        region = frame[y0:y1, x0:x1]
        if underneath is not None:
            underneath.append(Covered(x0, y0, region.copy()))
        premultiplied, transparency = self.premultiplied[inside], self.transparency[inside]
        if weight < 1.0:  # colour·alpha·w, and 255 − alpha·w = w·(255 − alpha) + 255·(1 − w)
            premultiplied = cv2.convertScaleAbs(premultiplied, alpha=weight)
            transparency = cv2.convertScaleAbs(transparency, alpha=weight, beta=255 * (1.0 - weight))
        if _rows_of_pixels(region):
            # Blended where it lies, OpenCV writing into the frame: no blended copy to make and copy back.
            cv2.add(premultiplied, cv2.multiply(region, transparency, dst=region, scale=1 / 255), dst=region)
        else:  # a mirrored view, a BGRA frame's BGR: OpenCV cannot write into it, numpy can
            region[:] = cv2.add(premultiplied, cv2.multiply(region, transparency, scale=1 / 255))


def _rows_of_pixels(view: np.ndarray) -> bool:
    """Whether `view` is rows of whole, packed pixels going forward (a rectangle of a packed
    frame), which OpenCV can write into in place."""
    return view.ndim == 3 and view.strides[2] == 1 and view.strides[1] == view.shape[2] and view.strides[0] > 0


@dataclass(frozen=True)
class Covered:
    """Pixels of a frame as they were before an emoji was drawn over them, top-left at (x, y)."""

    x: int
    y: int
    pixels: np.ndarray


def uncover(frame: np.ndarray, underneath: Sequence[Covered]) -> np.ndarray:
    """`frame` with the pixels under its emojis put back (the last drawn first): the camera's
    picture, kept this way instead of as a copy of the whole frame before drawing."""
    for covered in reversed(underneath):
        height, width = covered.pixels.shape[:2]
        frame[covered.y:covered.y + height, covered.x:covered.x + width] = covered.pixels
    return frame


def blend(frame: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend a BGRA image onto a BGR frame with its top-left at (x, y), clipped to the frame."""
    Sticker.from_bgra(image).paste(frame, x, y)


FADE_SECONDS = 0.15
"""An emoji change fades over 150 ms: long enough to read as deliberate, short enough not to lag."""


@dataclass
class _Shown:
    emotion: str
    previous: str | None = None
    """The emoji fading out, while a fade lasts."""
    changed_at: float = 0.0
    """When the fade began: the frame before the one with the new emotion."""
    drawn_at: float = 0.0


class CrossFades:
    """Per track, what its emoji was and when it changed, so that a change fades over `seconds`:
    the old emoji at weight 1 − w under the new one at w, w rising from the first frame after the
    change to 1, and from then on only the new emoji. Faces without a change, or drawn without a
    time, are one layer at weight 1: no extra blending."""

    def __init__(self, seconds: float = FADE_SECONDS) -> None:
        self.seconds = seconds
        self._shown: dict[int, _Shown] = {}

    def layers(self, faces: Sequence[Face], t: float | None) -> list[tuple[Face, float]]:
        """(face, weight) to draw in order: a fading face twice, its old emotion first."""
        if t is None:
            return [(face, 1.0) for face in faces]
        layers, seen = [], {}
        for face in faces:
            if face.track_id is None:
                layers.append((face, 1.0))
                continue
            state = self._shown.get(face.track_id) or _Shown(face.emotion, None, t, t)
            if state.emotion != face.emotion:
                state = _Shown(face.emotion, state.emotion, state.drawn_at, t)
            weight = 1.0 if state.previous is None else min(1.0, (t - state.changed_at) / self.seconds)
            if weight < 1.0:
                layers += [(face.replace(emotion=state.previous), 1.0 - weight), (face, weight)]
            else:
                state.previous = None
                layers.append((face, 1.0))
            state.drawn_at = t
            seen[face.track_id] = state
        self._shown = seen  # tracks gone from the picture are forgotten
        return layers
