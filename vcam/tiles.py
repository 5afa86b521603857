"""Faces of every size: the whole frame for large faces, overlapping tiles for small ones.

The full-range model sees the whole frame letterboxed into 192 px, so in a 1920×1080 frame a face
must be about 200 px wide to be found every time (it needs some 20 of its 192 pixels). Smaller
faces are found by looking closer, as SAHI does for small objects: the frame is cut into
overlapping square tiles, each run through the short-range model at its own input size (128 px),
and every detection of every pass is merged by the same weighted NMS a single pass uses.

Why the short-range model on tiles: on the crowd scenes of `benchmarks/scenes.py` it finds every
face that is 19.2 of its 128 pixels wide (60 of 60 faces of 64 px, 80 of 80 of 48 px), where the
full-range model still misses some at 24 of its 192 (57 of 60, 79 of 80); and it runs in well
under half the time. So one tile of the short model covers more faces per millisecond than one
of the full model (`python -m benchmarks.tile_sizes` prints the figures).

Tiles come in levels. A level's tiles are `TILE_PER_FACE` × its smallest face wide, so that face
is 16 model pixels, and overlap by a third of a tile, so that every face up to a third of a tile
is whole in one of them; the next level's tiles are `LEVEL_STEP` times larger, until the largest
face a level keeps reaches the size the whole-frame pass finds by itself.

A 48-px face is 16 of a tile's 128 model pixels: sharp, most score over the tiles' bar, but
softened as a webcam softens it one in five does not. A face that scores under the bar but over
LOOK_AGAIN gets a closer look, the short-range model on a square CLOSER_VIEW times its size
around it, and is kept as that look finds it: close up a real face scores high and a blob that
looked like one from afar does not (`python -m benchmarks.crowd`, the 48-px mosaics).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vcam.config import MIN_FACE_REACH
from vcam.cut_faces import cut_faces
from vcam.detect import (Detections, FaceDetector, Region, beyond_frame, faces_from, gray_to_bgr, look_closer,
                         weighted_nms)
from vcam.faces import Box, Face, ious, shares_inside

TILE_PER_FACE = 8
"""Tile side ÷ the smallest face its level finds: that face is 128/8 = 16 model pixels (79 of
80 faces of 48 px found on a 1080p crowd at this ratio and the model's own threshold, all of
them at 6.7, which needs about 1.4 times the tiles)."""
LEVEL_STEP = 2.5
"""Each level's tiles this much larger than the last's: its smallest face (side/8) stays below
the last level's largest (side/3), so no size falls between levels."""
OVERLAP = 1 / 3
"""Tiles of a level overlap by this share of their side: the largest face the level keeps."""
WHOLE_FRAME_FACE = 20 / 192
"""Smallest face the whole-frame pass finds every time, as a share of the frame's longer side
(20 of the full-range model's 192 pixels)."""
EDGE = 0.02
"""A tile's detection that comes this close (share of the tile) to an edge the tile shares with
the rest of the frame is a face cut by the tile: a neighbour or a larger level sees it whole."""
TILE_SCORE = 0.62
"""Least score of a face found in a tile, above the short model's own 0.5: tiles show it parts
of bodies and rooms it never sees whole, and at 0.5 crossed hands in two_people.jpg become a
third face, and letterboxed into 1280×720 they still scored 0.602; at 0.62 they do not, and the
1080p crowds keep every face of 64 px and up and most of 48 px (0.6 kept 71 of 80, 0.65 under
the 0.8 the tests ask, 0.7 kept 47; python -m benchmarks.tile_sizes). Faces under it get a
closer look (LOOK_AGAIN)."""
LOOK_AGAIN = 0.4
"""Least tile score of a face worth a closer look. A 48-px face is 16 of the tile's 128 model
pixels, and softened as a webcam softens it, one in five scores under TILE_SCORE, most of them
0.45–0.62 (python -m benchmarks.crowd, softened column)."""
CLOSER_VIEW = 3.0
"""Side of the closer look, in face sizes: the face 43 of the model's 128 pixels, where a real face
scores over 0.8."""
CLOSER_SCORE = 0.75
"""Least score of the closer look. The 48-px faces of the crowd mosaics (sharp and softened)
that score under TILE_SCORE in their tile score 0.83–0.97 in the closer look; the blobs of the
test photos, letterboxed into 1080p, that score over LOOK_AGAIN in a tile (hands, shirts,
a flag) score 0.55 at most."""
MOST_LOOKS = 4
"""Most closer looks a tile's visit takes: a busy tile costs at most this many more short-range
passes."""


@dataclass(frozen=True)
class Tile:
    region: Region
    largest_face: float
    """Detections wider than this belong to a larger level or the whole frame."""


def plan_tiles(width: int, height: int, min_face: int) -> list[Tile]:
    """The tiles that find faces from `min_face` px up to what the whole-frame pass finds, for a
    width×height frame; none when the whole frame finds them already."""
    whole_frame_finds = WHOLE_FRAME_FACE * max(width, height)
    tiles: list[Tile] = []
    side = TILE_PER_FACE * min_face
    smallest = float(min_face)
    while smallest < whole_frame_finds:
        tile_w, tile_h = min(side, width), min(side, height)
        overlap = round(min(tile_w, tile_h) * OVERLAP)
        largest = max(overlap, 1)
        for y in _starts(height, tile_h, overlap):
            for x in _starts(width, tile_w, overlap):
                tiles.append(Tile((x, y, tile_w, tile_h), largest))
        if tile_w == width and tile_h == height:
            break
        side = round(side * LEVEL_STEP)
        smallest = side / TILE_PER_FACE
    return tiles


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spread starts of tiles `tile` long over `length`, neighbours overlapping by at least `overlap`."""
    if tile >= length:
        return [0]
    count = math.ceil((length - overlap) / max(tile - overlap, 1))
    count = max(count, 2)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_detections(detector: FaceDetector, frame: np.ndarray, tile: Tile, look_again: float = LOOK_AGAIN) -> Detections:
    """The faces the tile sees whole and its level is for: none cut by one of its inner edges,
    none larger than the level keeps; those that score under the detector's bar but `look_again`
    at least, kept where a closer look finds them (`closer_looks`; none with `look_again` at the
    bar or over it)."""
    found = detector.detections(frame, tile.region, least_score=min(look_again, detector.score_threshold))
    if not len(found.scores):
        return found
    x, y, w, h = tile.region
    rows = found.rows
    margin = EDGE * max(w, h)
    inner_left, inner_top = x > 0, y > 0
    inner_right, inner_bottom = x + w < frame.shape[1], y + h < frame.shape[0]
    cut = ((inner_left & (rows[:, 0] < x + margin)) | (inner_top & (rows[:, 1] < y + margin))
           | (inner_right & (rows[:, 2] > x + w - margin)) | (inner_bottom & (rows[:, 3] > y + h - margin)))
    too_large = (rows[:, 2] - rows[:, 0]) > tile.largest_face
    found = found.where(~(cut | too_large))
    unsure = found.scores < detector.score_threshold
    sure = found.where(~unsure)
    if not unsure.any():
        return sure
    return Detections.joined([sure, closer_looks(detector, frame, sure, found.where(unsure))])


def closer_looks(detector: FaceDetector, frame: np.ndarray, sure: Detections, unsure: Detections) -> Detections:
    """Of a tile's `unsure` detections (under its bar), merged, the faces that no `sure` one
    overlaps and that a closer look (CLOSER_VIEW times their size, up to MOST_LOOKS of them, best
    first) scores CLOSER_SCORE, as that look found them."""
    looks = []
    taken = np.column_stack([sure.rows[:, :2], sure.rows[:, 2:4] - sure.rows[:, :2]])
    for row, _ in weighted_nms(unsure.rows, unsure.scores, detector.nms_iou):
        box = (row[0], row[1], row[2] - row[0], row[3] - row[1])
        if len(taken) and ious(np.array([box]), taken).max() > 0:
            continue
        looks.append(look_closer(detector, frame, box, CLOSER_VIEW, CLOSER_SCORE))
        if len(looks) == MOST_LOOKS:
            break
    return Detections.joined(looks)


class TiledDetector:
    """The whole frame through `whole` and the tiles for faces down to `min_face` px through
    `tiles`, merged: `detect(frame) -> list[Face]`, as `FaceDetector.detect`. A tile's faces that
    score under `tiles`' bar but `look_again` at least get a closer look (LOOK_AGAIN)."""

    def __init__(self, whole: FaceDetector, tiles: FaceDetector, min_face: int, look_again: float = LOOK_AGAIN) -> None:
        if min_face < MIN_FACE_REACH:
            raise ValueError(f"min_face must be at least {MIN_FACE_REACH} px (tiles reach no smaller faces), not {min_face}")
        self.whole = whole
        self.tile_detector = tiles
        self.min_face = min_face
        self.look_again = look_again
        self._plans: dict[tuple[int, int], list[Tile]] = {}

    @property
    def nms_iou(self) -> float:
        return self.whole.nms_iou

    def tile(self, frame: np.ndarray, tile: Tile) -> Detections:
        """The faces of one tile of `frame` (`tile_detections`)."""
        return tile_detections(self.tile_detector, frame, tile, self.look_again)

    def plan(self, frame: np.ndarray) -> list[Tile]:
        """The tiles of frames this size (planned once per size)."""
        size = (frame.shape[1], frame.shape[0])
        if size not in self._plans:
            self._plans[size] = plan_tiles(size[0], size[1], self.min_face)
        return self._plans[size]

    def detect(self, frame: np.ndarray) -> list[Face]:
        frame = gray_to_bgr(frame)
        parts = [self.whole.detections(frame)]
        parts += [self.tile(frame, tile) for tile in self.plan(frame)]
        faces = self.merge(parts)
        return faces + cut_faces(self.whole, frame, faces, self.tile_detector)

    def merge(self, parts: list[Detections]) -> list[Face]:
        """The passes' detections as faces: merged by weighted NMS, then `without_nested`."""
        found = Detections.joined(parts)
        return without_nested(faces_from(weighted_nms(found.rows, found.scores, self.nms_iou)))


NESTED = 0.5
"""A face with at least this share of its box inside another face's box (or the other's inside
its own) is that face seen by two passes at two scales: a tile of a larger level sees a 48-px
face as 6 of its pixels and may put a loose box round it, or beside it, that the merge's IoU
(0.3) does not join to the face's own box; on the 48-px mosaics, 62–100 % of the face's box lay
inside such a loose box. Two people's faces overlap that much only where one hides the other."""


def without_nested(faces: list[Face]) -> list[Face]:
    """`faces` without those NESTED in a higher-scoring one (or it in them): best first, as kept."""
    if len(faces) < 2:
        return faces
    faces = sorted(faces, key=lambda face: -face.score)
    boxes = np.array([face.box for face in faces])
    inside = shares_inside(boxes, boxes)
    nested = np.maximum(inside, inside.T) >= NESTED
    kept: list[int] = []
    for index in range(len(faces)):
        if not nested[index, kept].any():
            kept.append(index)
    return [faces[index] for index in kept]


CUT_EVERY = 8
"""Live, the frame's edges are searched for cut faces (vcam/cut_faces.py, one more pass of the
whole-frame model) at once where the picture changed at an edge (someone leaning in), on every
detection while a face reaches past an edge (leaving, or cut), and else on every this many detections:
a frame with nobody at its edges pays for one pass in eight."""


FOCUS_TILES = 2
"""Tiles searched beside the rotation's where the picture changed: a person who walks into a still
room is looked for where they came, not only when their tile's turn comes round."""


FOCUS_CELLS = 4
"""Changed cells (vcam/schedule.py's grid) a tile must hold to be searched out of turn: a face of
40 px changes 6, the odd edge of a picture that drifts one or two."""


def grid_cells(grid: np.ndarray, size: tuple[int, int], x0: float, y0: float, x1: float,
               y1: float) -> tuple[slice, slice]:
    """The cells of `grid` (laid over a frame of `size`, width × height) that the frame rectangle
    from (x0, y0) to (x1, y1) touches, as (rows, columns) slices."""
    rows, columns = grid.shape
    width, height = size
    return (slice(max(0, int(y0 * rows / height)), max(0, int(np.ceil(y1 * rows / height)))),
            slice(max(0, int(x0 * columns / width)), max(0, int(np.ceil(x1 * columns / width)))))


def changed_tiles(tiles: list[Tile], changed: np.ndarray, size: tuple[int, int], skip: list[int],
                  most: int = FOCUS_TILES) -> list[int]:
    """Up to `most` tiles, not in `skip`, with the largest share of their cells changed in
    `changed` (a boolean grid laid over a frame of `size`; FOCUS_CELLS at least), largest first:
    a share, not a count, so that the small tiles made for small faces come before the large
    ones that hold more cells of the same change."""
    counts = []
    for index, tile in enumerate(tiles):
        if index in skip:
            continue
        x, y, w, h = tile.region
        cells = changed[grid_cells(changed, size, x, y, x + w, y + h)]
        if (count := int(cells.sum())) >= FOCUS_CELLS:
            counts.append((-count / cells.size, index))
    return [index for _, index in sorted(counts)[:most]]


def near_edge(box: Box, size: tuple[int, int]) -> bool:
    """Whether a face `box` (x, y, w, h) reaches past the left, right or bottom edge of a frame of
    `size` (width × height) by LEAVING of its size: a face that is leaving, or is cut."""
    x, y, w, h = box
    sides, bottom = beyond_frame(np.array([[x, y, x + w, y + h]]), *size)
    return bool(sides[0] >= LEAVING * w or bottom[0] >= LEAVING * h)


LEAVING = 0.05
"""Share of a face beyond the frame that has the edges searched on every detection: a face found
whole right at the edge (its box a few pixels over) is not leaving."""


def at_edges(changed: np.ndarray) -> bool:
    """Whether `changed` (a boolean grid over a frame) holds a cell on the frame's left, right or
    bottom edge: something came or went where the frame cuts faces."""
    return bool(changed[:, 0].any() or changed[:, -1].any() or changed[-1].any())


def cells_under(grid: np.ndarray, size: tuple[int, int], boxes: Iterable[Box], grow: float) -> np.ndarray:
    """Which cells of `grid` (laid over a frame of `size`, width × height) lie under `boxes`
    (x, y, w, h in frame pixels), each grown by `grow` of its side on every side."""
    under = np.zeros(grid.shape, bool)
    for x, y, w, h in boxes:
        under[grid_cells(under, size, x - grow * w, y - grow * h, x + (1 + grow) * w, y + (1 + grow) * h)] = True
    return under


def without_boxes(changed: np.ndarray, rows: np.ndarray, size: tuple[int, int], grow: float = 1.0) -> np.ndarray:
    """`changed` (a boolean grid over a frame of `size`) with the cells under the boxes of `rows`
    (x0, y0, x1, y1, … in frame pixels), each grown by `grow` of its side on every side (1: the
    head, hair and shoulders around a face, which move with it), cleared."""
    if not len(rows):
        return changed
    boxes = np.column_stack([rows[:, :2], rows[:, 2:4] - rows[:, :2]])
    return changed & ~cells_under(changed, size, boxes, grow)


class TileRotation:
    """The live schedule of a `TiledDetector`: the whole frame on every detection, and the tiles
    in turn, one a detection for every `pixels_per_tile` of the frame (1 at 1280×720, 2 at 1920×1080:
    the tiles grow with the frame's area, so either frame is searched through in about 17
    detections at min_face 48); each tile's faces are kept until its next visit, so a small face
    that sits still keeps its box between visits. The first frame (and the first after `reset` or
    a change of frame size) visits every tile: a photo, or a camera's first picture, is searched
    completely at once. Where the picture changed (`detect(frame, changed)`), up to FOCUS_TILES
    more tiles are searched out of turn.

    A face that moves is found again by the whole-frame pass each detection when it is large (and
    its kept tile box is then left out, so that it leaves no ghost behind); a small one keeps its
    last box until its tile comes round (`benchmarks/crowd.py` counts the faces that costs
    against detecting everything every frame)."""

    def __init__(self, tiled: TiledDetector, pixels_per_tile: int = 1280 * 720) -> None:
        if pixels_per_tile < 1:
            raise ValueError(f"pixels_per_tile must be at least 1, not {pixels_per_tile}")
        self.tiled = tiled
        self.pixels_per_tile = pixels_per_tile
        self.reset()

    def reset(self) -> None:
        self._size: tuple[int, int] | None = None
        self._kept: list[Detections] = []
        self._whole = Detections.none()
        self._next = 0
        self._cut: list[Face] = []
        self._since_cut = 0
        self._near_edge = False

    @property
    def cut(self) -> list[Face]:
        """The faces of the last detection that the frame's edge cuts (vcam/cut_faces.py)."""
        return self._cut

    def tiles_per_frame(self, width: int, height: int) -> int:
        return max(1, round(width * height / self.pixels_per_tile))

    def detect(self, frame: np.ndarray, changed: np.ndarray | None = None) -> list[Face]:
        """The faces of `frame`: the whole frame, the tiles whose turn it is, and, with `changed`
        (a boolean grid over the frame, True where the picture changed), up to FOCUS_TILES more
        tiles where most of it changed, so that a small face that comes is found at once."""
        frame = gray_to_bgr(frame)
        tiles = self.tiled.plan(frame)
        size = (frame.shape[1], frame.shape[0])
        first = size != self._size
        if first:  # every tile
            self._size, self._next = size, 0
            self._kept = [Detections.none()] * len(tiles)
            visit: list[int] = list(range(len(tiles)))
        else:
            count = min(self.tiles_per_frame(*size), len(tiles))
            visit = [(self._next + i) % len(tiles) for i in range(count)]
            if changed is not None:
                # A person the whole frame found last time moves with their own changes: no tile needed there.
                visit += changed_tiles(tiles, without_boxes(changed, self._whole.rows, size), size, skip=visit)
        for index in visit:
            self._kept[index] = self.tiled.tile(frame, tiles[index])
        if tiles:
            self._next = (self._next + min(self.tiles_per_frame(*size), len(tiles))) % len(tiles)
        # A kept face the whole frame finds by itself is found afresh there on every frame: its
        # kept box could only lag behind a face that moves, a ghost beside the fresh one.
        visited = set(visit)
        largest = WHOLE_FRAME_FACE * max(size)
        kept = [found if index in visited else found.where(found.rows[:, 2] - found.rows[:, 0] < largest)
                for index, found in enumerate(self._kept)]
        self._whole = self.tiled.whole.detections(frame)
        faces = self.tiled.merge([self._whole, *kept])
        # The edges: on a first frame, where they changed, while a face reaches past one (leaving, or
        # cut), and every CUT_EVERY detections.
        self._since_cut += 1
        if (first or self._near_edge or self._since_cut >= CUT_EVERY
                or (changed is not None and at_edges(changed))):
            self._cut, self._since_cut = cut_faces(self.tiled.whole, frame, faces, self.tiled.tile_detector), 0
        else:
            self._cut = []
        faces = faces + self._cut
        self._near_edge = any(near_edge(face.box, size) for face in faces)
        return faces
