"""Faces cut by the frame's edge: how many the room detector finds, the scores the full-range
model gives them, and false faces.

    python -m benchmarks.edge_faces

On 1280×720 scenes (benchmarks/scenes.py), one face 120, 250 or 450 px high (far to near), each of
the eight cut-outs, with 30, 40 or 50 % of it beyond the left, right or bottom edge or a bottom
corner: the faces the room detector finds (IoU ≥ 0.3, every tile searched) and its false faces.
Then the figures behind vcam/detect.py's EDGE_SCORE: the share of faces 200–500 px high cut by
20–40 % at the sides that the full-range model scores above each threshold, and the highest
score of anything it puts on a face-free picture, across a side edge and elsewhere.
"""

from __future__ import annotations

import numpy as np

from benchmarks import scenes
from benchmarks.inputs import MEDIA
from vcam.choices import Detector
from vcam.config import Config
from vcam.pipeline import build_detector
from vcam.detect import EDGE_CUT, FaceDetector
from vcam.faces import iou
from vcam.tiles import TileRotation

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def main() -> int:
    cutouts = scenes.portraits(MEDIA)
    backdrop = scenes.blurred_background(MEDIA, 1280, 720)
    room = build_detector(Config(detector="full"))
    assert isinstance(room, TileRotation)
    print("Faces cut by the frame found by the room detector (IoU >= 0.3), [without the mirrored pass], and false faces, of 24 per cell")
    print("| cut | " + " | ".join(scenes.EDGES) + " | all |")
    print("|---" * (len(scenes.EDGES) + 2) + "|")
    for share in (0.3, 0.4, 0.5):
        cells, found_all, ordinary_all, false_all, total = [], 0, 0, 0, 0
        for side in scenes.EDGES:
            found = ordinary = false = count = 0
            for height in (120, 250, 450):
                for which in range(len(cutouts)):
                    scene = scenes.out_of_frame(cutouts, backdrop, height, share, side, which=which)
                    room.reset()
                    faces = room.detect(scene.frame)
                    result = scenes.score(scene.faces, [face.box for face in faces])
                    without = scenes.score(scene.faces, [face.box for face in faces if face not in room.cut])
                    found, false, count = found + result.found, false + result.false, count + 1
                    ordinary += without.found
            cells.append(f"{found}/{count} [{ordinary}], {false} false")
            found_all, ordinary_all = found_all + found, ordinary_all + ordinary
            false_all, total = false_all + false, total + count
        print(f"| {round(100 * share)} % | " + " | ".join(cells)
              + f" | {found_all / total:.3f} [{ordinary_all / total:.3f}], {false_all} false |")
    detector = FaceDetector(Detector.FULL, score_threshold=0.05)
    print("Faces out of the frame found by the full-range model, by score threshold (IoU >= 0.3)")
    for share in (0.2, 0.3, 0.4):
        best = []
        for side in ("left", "right"):
            for height in (200, 300, 400, 500):
                for which in range(len(cutouts)):
                    scene = scenes.out_of_frame(cutouts, backdrop, height, share, side, which=which)
                    scores = [face.score for face in detector.detect(scene.frame) if iou(face.box, scene.faces[0]) >= 0.3]
                    best.append(max(scores, default=0.0))
        best_scores = np.array(best)
        cells = ", ".join(f"{t}: {np.mean(best_scores >= t):.3f}" for t in THRESHOLDS)
        print(f"  {round(100 * share)} % out ({len(best)} faces): {cells}")
    for size in ((1280, 720), (1920, 1080)):
        empty = scenes.blurred_background(MEDIA, *size)
        found = detector.detections(empty)
        width = found.rows[:, 2] - found.rows[:, 0]
        beyond_sides = np.maximum(-found.rows[:, 0], 0) + np.maximum(found.rows[:, 2] - size[0], 0)
        across = beyond_sides >= EDGE_CUT * width
        top = found.rows[:, 1] < 0
        print(f"  face-free {size[0]}x{size[1]}: best score across a side edge"
              f" {found.scores[across].max(initial=0):.2f}, across the top {found.scores[top & ~across].max(initial=0):.2f},"
              f" elsewhere {found.scores[~across & ~top].max(initial=0):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
