"""Proportions of real faces as the full-range model sees them: the figures behind
vcam/overlay.py's EYES_PER_SIDE, EARS_PER_SIDE and EYES_TO_CENTER.

    python -m benchmarks.face_proportions

Every face scored 0.7 or more in tests/media's photos, examples/astronaut.png and every
third frame of the clip: eye-to-eye and ear-to-ear distances ÷ the box's side, and the box's
centre from the eyes' midpoint along and across the eye line, in sides (5th, 25th, 50th, 75th,
95th percentiles).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from benchmarks.inputs import MEDIA, REPO
from vcam.choices import Detector
from vcam.detect import FaceDetector
from vcam.video import VideoReader


def images() -> list[np.ndarray]:
    found = [cv2.imread(str(MEDIA / name)) for name in ("two_people.jpg", "obama-720p.jpg", "biden.jpg")]
    found.append(cv2.imread(str(REPO / "examples" / "astronaut.png")))
    with VideoReader(MEDIA / "short_hamilton_clip.mp4") as video:
        found += [frame for index, frame in enumerate(video) if frame is not None and index % 3 == 0]
    return found


def main() -> int:
    detector = FaceDetector(Detector.FULL)
    rows = []
    for image in images():
        for face in detector.detect(image):
            if face.score < 0.7:
                continue
            side = max(face.box[2:])
            right_eye, left_eye, _, _, right_ear, left_ear = (np.array(point) for point in face.keypoints)
            middle = (right_eye + left_eye) / 2
            angle = math.atan2(*(left_eye - right_eye)[::-1])
            along_x, along_y = math.cos(angle), math.sin(angle)
            offset = np.array(face.center) - middle
            rows.append((np.linalg.norm(left_eye - right_eye) / side, np.linalg.norm(left_ear - right_ear) / side,
                         (offset[0] * along_x + offset[1] * along_y) / side,
                         (-offset[0] * along_y + offset[1] * along_x) / side))
    table = np.array(rows)
    print(f"{len(rows)} faces; percentiles 5, 25, 50, 75, 95")
    for name, column in zip(("eyes / side", "ears / side", "centre along eye line", "centre across eye line"), table.T):
        print(f"  {name:24s}", " ".join(f"{v:6.3f}" for v in np.percentile(column, [5, 25, 50, 75, 95])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
