"""How large a face must be in a tile, for each BlazeFace model, and which tile score to keep.

    python -m benchmarks.tile_sizes

The figures behind vcam/tiles.py's constants. On the 1080p crowd scenes (benchmarks/scenes.py) it
cuts the frame into tiles of a side that makes each face 13.7 to 32 model pixels wide, runs each
model over them (the model's own score threshold) and merges by weighted NMS, as vcam does, then
prints faces found and false faces. Then, with vcam's tiling at min_face 48, it prints the recall
on each crowd and the false faces on the two-people photo for tile scores 0.5, 0.6 and 0.7.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks import scenes
from benchmarks.crowd import CROWDS
from benchmarks.inputs import MEDIA
from vcam.choices import Detector
from vcam.detect import Detections, FaceDetector, faces_from, weighted_nms
from vcam.tiles import OVERLAP, TiledDetector

MODEL_PIXELS = (32.0, 24.0, 19.2, 16.0, 13.7)


def grid_detect(detector: FaceDetector, frame: np.ndarray, side: int) -> list:
    """Square tiles of `side` px overlapping by OVERLAP, every detection merged."""
    height, width = frame.shape[:2]
    overlap = round(side * OVERLAP)

    def starts(length: int) -> list[int]:
        if side >= length:
            return [0]
        count = max(2, math.ceil((length - overlap) / (side - overlap)))
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    parts = [detector.detections(frame, (x, y, min(side, width), min(side, height)))
             for y in starts(height) for x in starts(width)]
    found = Detections.joined(parts)
    return faces_from(weighted_nms(found.rows, found.scores, detector.nms_iou))


def main() -> int:
    import cv2

    cutouts = scenes.portraits(MEDIA)
    backdrop = scenes.blurred_background(MEDIA, 1920, 1080)
    detectors = {kind: FaceDetector(kind) for kind in (Detector.FULL, Detector.SHORT)}
    print("Faces found by tiles alone, each face a given number of model pixels wide")
    for count, width in CROWDS:
        scene = scenes.crowd(cutouts, backdrop, count, width)
        for kind, detector in detectors.items():
            cells = []
            for pixels in MODEL_PIXELS:
                side = round(width * detector.spec.input_size / pixels)
                result = scenes.score(scene.faces, [face.box for face in grid_detect(detector, scene.frame, side)])
                cells.append(f"{pixels:4.1f} px: {result.found:2d}/{count} ({result.false} false)")
            print(f"  {count} faces of {width} px, {kind:5s} | " + " | ".join(cells))
    photo = cv2.imread(str(MEDIA / "two_people.jpg"))
    print("\nvcam's tiling at min_face 48 (whole frame + tiles), by tile score")
    for threshold in (0.5, 0.6, 0.7):
        tiled = TiledDetector(FaceDetector(Detector.FULL), FaceDetector(Detector.SHORT, threshold), 48)
        cells = []
        for count, width in CROWDS:
            scene = scenes.crowd(cutouts, backdrop, count, width)
            result = scenes.score(scene.faces, [face.box for face in tiled.detect(scene.frame)])
            cells.append(f"{width} px {result.recall:.3f} ({result.false} false)")
        print(f"  tile score {threshold}: " + ", ".join(cells) + f"; two_people.jpg: {len(tiled.detect(photo))} faces (2 there)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
