"""Faces the frame cuts: a person who leans towards the laptop or sits at the side of the picture.

BlazeFace finds a face from what it sees of it, and with more than a third of a face beyond the
frame it seldom finds it (`python -m benchmarks.edge_faces`: of faces cut by 40 % at the sides,
under half). A face is nearly mirror-symmetric, so the frame is mirrored out past its left, right
and bottom edges: the half of a face that the frame shows, with its mirror image beside it, is a
whole face again. One more pass of the full-range model over that padded frame finds it, and of
what it finds only faces that the frame really cuts are kept:

- the border cuts at least `detect.EDGE_CUT` of the box (a whole face near the edge, with its
  mirror image beside it, is found by the ordinary pass);
- at least `LEAST_INSIDE` of the box's width and of its height lie inside the frame (the mirror
  image alone lies outside: no ghost of a face in the margin);
- no face the ordinary passes found overlaps it (the main pass's box wins);
- the short-range model, shown the mirrored frame close up around it (`VIEW` times its size),
  finds it too: a dark shoulder at the edge and its mirror image make a blob that the full-range
  model may score 0.7, and the other model does not.

The box is the whole face's, partly beyond the frame, so its emoji is sized to the whole face and
drawn on the part the frame shows.
"""

from __future__ import annotations

import cv2
import numpy as np

from vcam.detect import EDGE_CUT, FaceDetector, beyond_frame, faces_from, look_closer, weighted_nms
from vcam.faces import Face, iou

MARGIN = 0.2
"""Mirrored margin on the left, right and bottom, a share of the frame's width (sides) and height
(bottom): room for the hidden half of a face up to 0.4 of the frame wide, while the padded frame
shrinks the faces the model sees by no more than 1.4."""
LEAST_INSIDE = 0.45
"""Least share of a kept box's width and of its height inside the frame: a face cut by half keeps
it, the mirror image of a face near the edge does not."""
CUT_SCORE = 0.45
"""Least full-range score of a cut face. The model scores half a face and its mirror image lower
than a whole face (the room detector asks 0.6): of faces cut by 40 % at a bottom corner, most
score 0.45–0.7. Confirmed by the second model, this bar finds 0.92 of faces cut by 40 % and 0.86
by 50 % with no false face more than the ordinary passes make (0.55: 0.85 and 0.79; python -m
benchmarks.edge_faces); on face-free pictures nothing that passes the rules above reaches 0.25."""
VIEW = 2.0
"""Side of the close view the second model confirms a cut face in, in face sizes."""
SECOND_SCORE = 0.5
"""Least score of the second (short-range) model's confirmation: its own default."""
OVERLAP = 0.2
"""A cut face overlapping a face of the ordinary passes by this IoU is that face."""


def cut_faces(detector: FaceDetector, frame: np.ndarray, found: list[Face],
              second: FaceDetector | None = None) -> list[Face]:
    """The faces that the edges of `frame` (BGR) cut and `found` lacks: one pass of `detector`
    over the frame mirrored out past its sides and bottom; with `second`, each confirmed by it
    on a close view of the mirrored face."""
    height, width = frame.shape[:2]
    side, bottom = round(MARGIN * width), round(MARGIN * height)
    padded = cv2.copyMakeBorder(frame, 0, bottom, side, side, cv2.BORDER_REFLECT)
    least = min(CUT_SCORE, detector.score_threshold)
    detections = detector.detections(padded, least_score=least)
    rows = detections.rows.copy()
    rows[:, 0::2] -= side
    box_w, box_h = rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]
    beyond_sides, beyond_bottom = beyond_frame(rows, width, height)
    inside_w = np.clip(rows[:, 2], 0, width) - np.clip(rows[:, 0], 0, width)
    inside_h = np.clip(rows[:, 3], 0, height) - np.clip(rows[:, 1], 0, height)
    keep = (((beyond_sides >= EDGE_CUT * box_w) | (beyond_bottom >= EDGE_CUT * box_h))
            & (inside_w >= LEAST_INSIDE * box_w) & (inside_h >= LEAST_INSIDE * box_h))
    merged = faces_from(weighted_nms(rows[keep], detections.scores[keep], detector.nms_iou))
    merged = [face for face in merged if all(iou(face.box, other.box) < OVERLAP for other in found)]
    if second is not None:
        merged = [face for face in merged if confirmed(second, padded, face, side)]
    return merged


def confirmed(second: FaceDetector, padded: np.ndarray, face: Face, side: int) -> bool:
    """Whether `second` finds `face` too, in a square VIEW times the face's size around it in the
    mirrored frame `padded` (whose left margin is `side` px)."""
    x, y, w, h = face.box
    return bool(len(look_closer(second, padded, (x + side, y, w, h), VIEW, SECOND_SCORE).scores))
