"""Crowd scenes made from real photos: the faces in tests/media's photos and their mirror
images, each cut out with its head and shoulders, scaled so that the face box is a chosen width,
and pasted with a soft edge on a blurred background, in a jittered grid. Deterministic (a seeded
generator), so figures from two runs or two machines compare.

The truth for each pasted face is the full-range detector's box on the source photo, scaled and
moved with the cut-out: recall is then "found where a detector that saw the face large found it".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.frames import background
from vcam.choices import Detector
from vcam.detect import FaceDetector
from vcam.faces import Box, iou

PHOTOS = ("two_people.jpg", "obama-720p.jpg", "biden.jpg")
CLIP = "short_hamilton_clip.mp4"
BACKGROUND = "two_people.jpg"
CUTOUT = 2.4
"""Side of a cut-out ÷ its face box's width: the head, hair and some shoulders."""


@dataclass(frozen=True)
class Portrait:
    """A square cut-out around one face, and that face's box inside it (x, y, w, h)."""

    image: np.ndarray
    box: Box


@dataclass(frozen=True)
class Scene:
    frame: np.ndarray
    faces: list[Box]
    """Where each pasted face is, in frame pixels."""


def portraits(media: Path) -> list[Portrait]:
    """Every face of the photos, and its mirror image, as cut-outs."""
    detector = FaceDetector(Detector.FULL)
    cut: list[Portrait] = []
    for name in PHOTOS:
        photo = cv2.imread(str(media / name))
        for face in detector.detect(photo):
            portrait = cutout(photo, face.box)
            x, y, w, h = portrait.box
            cut.append(portrait)
            cut.append(Portrait(portrait.image[:, ::-1].copy(), (portrait.image.shape[1] - x - w, y, w, h)))
    return cut


def clip_portraits(media: Path, every: int = 12) -> list[Portrait]:
    """The performer's face in every `every`th frame of tests/media's clip, as cut-outs: one face
    in many poses, lights and motion blurs, unlike the photos' posed portraits."""
    detector = FaceDetector(Detector.FULL)
    cut: list[Portrait] = []
    with av.open(str(media / CLIP)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every:
                continue
            picture = frame.to_ndarray(format="bgr24")
            cut += [cutout(picture, face.box) for face in detector.detect(picture)[:1]]
    return cut


def cutout(photo: np.ndarray, box: Box) -> Portrait:
    """A square CUTOUT times the face `box` wide around it (the photo mirrored where it runs out)."""
    x, y, w, h = box
    side = round(CUTOUT * w)
    left, top = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
    padded = cv2.copyMakeBorder(photo, side, side, side, side, cv2.BORDER_REFLECT)
    return Portrait(padded[top + side:top + 2 * side, left + side:left + 2 * side], (x - left, y - top, w, h))


def soft_disc(side: int) -> np.ndarray:
    """An alpha mask (side×side, float32): opaque in a central disc, fading to nothing at the edge,
    so that a cut-out has no straight seams for a detector to read as edges of something."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    radius = np.hypot(xx - (side - 1) / 2, yy - (side - 1) / 2) / (side / 2)
    return np.clip((1.0 - radius) / 0.15, 0.0, 1.0)


def paste(frame: np.ndarray, portrait: Portrait, face_width: float, cx: float, cy: float) -> Box:
    """`portrait` scaled so its face is `face_width` px wide, its face centred at (cx, cy); returns
    the face's box in the frame. Parts beyond the frame are cut off."""
    scale = face_width / portrait.box[2]
    side = max(1, round(portrait.image.shape[0] * scale))
    scale = side / portrait.image.shape[0]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(portrait.image, (side, side), interpolation=interpolation).astype(np.float32)
    bx, by, bw, bh = (v * scale for v in portrait.box)
    left, top = round(cx - bx - bw / 2), round(cy - by - bh / 2)
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, width), min(top + side, height)
    if x0 < x1 and y0 < y1:
        alpha = soft_disc(side)[y0 - top:y1 - top, x0 - left:x1 - left, None]
        region = frame[y0:y1, x0:x1].astype(np.float32)
        mixed = alpha * image[y0 - top:y1 - top, x0 - left:x1 - left] + (1 - alpha) * region
        frame[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return (left + bx, top + by, bw, bh)


def blurred_background(media: Path, width: int, height: int) -> np.ndarray:
    return background(cv2.imread(str(media / BACKGROUND)), width, height)


def crowd(cutouts: list[Portrait], backdrop: np.ndarray, count: int, face_width: float, seed: int = 0) -> Scene:
    """`count` faces `face_width` px wide in a grid as square as the frame allows, each moved
    within its cell by up to a tenth of the cell, cut-outs taken in turn."""
    height, width = backdrop.shape[:2]
    columns = max(1, round(np.sqrt(count * width / height)))
    rows = -(-count // columns)
    rng = np.random.default_rng(seed)
    frame = backdrop.copy()
    faces = []
    cell_w, cell_h = width / columns, height / rows
    for i in range(count):
        row, column = divmod(i, columns)
        dx, dy = rng.uniform(-0.1, 0.1, 2)
        cx, cy = (column + 0.5 + dx) * cell_w, (row + 0.5 + dy) * cell_h
        faces.append(paste(frame, cutouts[(3 * i + row) % len(cutouts)], face_width, cx, cy))
    return Scene(frame, faces)


SOFT_SIGMA, SOFT_JPEG = 1.0, 60
"""A webcam's or a video call's softness: Gaussian blur σ 1 px, then JPEG at quality 60."""


def softened(frame: np.ndarray) -> np.ndarray:
    """`frame` as a webcam and its compression soften it: a photo's faces are sharper than a
    1080p camera's."""
    blurred = cv2.GaussianBlur(frame, (0, 0), SOFT_SIGMA)
    return cv2.imdecode(cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, SOFT_JPEG])[1], cv2.IMREAD_COLOR)


def near_face(cutouts: list[Portrait], backdrop: np.ndarray, face_height: float, which: int = 0) -> Scene:
    """One face `face_height` px high in the middle of the frame: a person close to the webcam."""
    portrait = cutouts[which]
    width = face_height * portrait.box[2] / portrait.box[3]
    frame = backdrop.copy()
    box = paste(frame, portrait, width, backdrop.shape[1] / 2, backdrop.shape[0] / 2)
    return Scene(frame, [box])


EDGES = ("left", "right", "bottom", "bottom-left", "bottom-right")
"""The edges and corners a face is cut by: people lean and walk out sideways and come close to
the camera; the top of the frame cuts a forehead, not a face."""


def out_of_frame(cutouts: list[Portrait], backdrop: np.ndarray, face_height: float, share: float,
                 side: str, which: int = 0) -> Scene:
    """One face `face_height` px high with `share` of its box beyond the frame's `side` edge: one
    of EDGES, a corner cutting that share both ways."""
    portrait = cutouts[which]
    width = face_height * portrait.box[2] / portrait.box[3]
    frame = backdrop.copy()
    height_px, width_px = backdrop.shape[:2]
    cx, cy = width_px / 2, height_px / 2
    if "left" in side:
        cx = width * (0.5 - share)
    if "right" in side:
        cx = width_px - width * (0.5 - share)
    if "bottom" in side:
        cy = height_px - face_height * (0.5 - share)
    box = paste(frame, portrait, width, cx, cy)
    return Scene(frame, [box])


@dataclass(frozen=True)
class Score:
    found: int
    faces: int
    false: int

    @property
    def recall(self) -> float:
        return self.found / max(self.faces, 1)


def score(truth: list[Box], found: list[Box], min_iou: float = 0.3) -> Score:
    """Greedy one-to-one matching, best IoU first: found faces, and detections matching no face."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    used_truth, used_found = set(), set()
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i not in used_truth and j not in used_found:
            used_truth.add(i)
            used_found.add(j)
    return Score(len(used_truth), len(truth), len(found) - len(used_found))


def moving_faces(media: Path, fps: float, seconds: float = 6.0, count: int = 6, face_width: float = 44.0,
                 size: tuple[int, int] = (640, 480), seed: int = 0) -> list[tuple[float, np.ndarray]]:
    """(time, frame) at `fps`: `count` faces of the photos, `face_width` px wide, each gliding on its
    own ellipse (one turn in 4–8 s, up to a fifth of the frame across) around a cell of a grid, on the
    blurred backdrop, with camera noise. The same seed gives the same frames at any rate."""
    cutouts, backdrop = portraits(media), blurred_background(media, *size)
    rng = np.random.default_rng(seed)
    columns = max(1, round(np.sqrt(count * size[0] / size[1])))
    rows = -(-count // columns)
    centres = [((i % columns + 0.5) * size[0] / columns, (i // columns + 0.5) * size[1] / rows) for i in range(count)]
    radii = rng.uniform(0.05, 0.2, (count, 2)) * size
    periods, phases = rng.uniform(4.0, 8.0, count), rng.uniform(0, 2 * np.pi, count)
    frames = []
    for index in range(round(seconds * fps)):
        t = index / fps
        frame = backdrop.copy()
        for i, (cx, cy) in enumerate(centres):
            angle = phases[i] + 2 * np.pi * t / periods[i]
            paste(frame, cutouts[i % len(cutouts)], face_width, cx + radii[i, 0] * np.cos(angle),
                  cy + radii[i, 1] * np.sin(angle))
        noise = np.random.default_rng((seed, index)).normal(0, 4, frame.shape)
        frames.append((t, np.clip(frame + noise, 0, 255).astype(np.uint8)))
    return frames
