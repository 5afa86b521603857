"""How often a far face shows a wrong emoji: FER2013 faces shrunk to the size a far face has in
the frame and scaled back up, as the app's crop scales them, classified by the shipped model with
its calibrated probabilities, and shown as the app shows them (unsure: the unsure emoji).

    python -m benchmarks.far_faces                         # the test sample's PublicTest faces
    python -m benchmarks.far_faces --data data/fer2013.npz # all of PublicTest

For each face size (the detector box's width in frame pixels; the crop the model reads is
FACE_MARGIN times that) it prints the model's accuracy, the share of faces shown unsure, and the
share that show a wrong emoji (a sure emoji that is not the face's label) — with the unsure rule
alone ("before") and with the rule for faces too small to read ("after", vcam/readable.py).
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from benchmarks.inputs import FER_SAMPLE, cpu_name
from training.data import load_faces
from vcam.classify import EmotionModel
from vcam.config import Config
from vcam.preprocess import FACE_MARGIN, FACE_SIZE, prepare_faces
from vcam.track import tracker_settings

WIDTHS = (8, 10, 12, 14, 16, 20, 24, 32, 42)
"""Face box widths in frame pixels; 42 px boxes make a crop of 48, FER2013's own size."""


def shrunk(images: np.ndarray, width: int) -> np.ndarray:
    """The faces as the app sees a face `width` px wide: the crop at its size in the frame,
    scaled up to 48 bilinearly (vcam.preprocess.crop_face's warp)."""
    side = max(int(round(width * FACE_MARGIN)), 1)
    if side >= FACE_SIZE:
        return images
    return np.stack([cv2.resize(cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA), (FACE_SIZE, FACE_SIZE),
                                interpolation=cv2.INTER_LINEAR) for face in images])


def rates(probabilities: np.ndarray, labels: np.ndarray, unsure: np.ndarray) -> tuple[float, float, float, str]:
    """Accuracy of the top pick, share shown unsure, share showing a wrong (sure) emoji, and the
    share of right ones among the sure emojis shown ("-" when none is shown)."""
    right = probabilities.argmax(axis=1) == labels
    shown = f"{np.mean(right[~unsure]):.3f}" if np.any(~unsure) else "-"
    return float(np.mean(right)), float(np.mean(unsure)), float(np.mean(~unsure & ~right)), shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(FER_SAMPLE), help="a FER2013 .npz (default: the test sample)")
    parser.add_argument("--split", default="PublicTest")
    args = parser.parse_args(argv)
    faces = load_faces(args.data, args.split)
    model, config = EmotionModel(), Config()
    readability = tracker_settings(config).readability
    print(f"{len(faces)} {args.split} faces of {args.data}; CPU: {cpu_name()}")
    print("| face width (px) | accuracy | before: unsure | wrong emoji | right of shown "
          "| after: unsure | wrong emoji | right of shown |")
    print("|---|---|---|---|---|---|---|---|")
    for width in WIDTHS:
        probabilities = model.predict(prepare_faces(shrunk(faces.images, width), model.normalisation))
        top = probabilities.max(axis=1)
        before = top < config.unsure_below
        after = before | ~readability.readable(np.full(len(top), float(width)), top)
        accuracy, *was = rates(probabilities, faces.labels, before)
        _, *now = rates(probabilities, faces.labels, after)
        cells = " | ".join(f"{value:.3f}" if isinstance(value, float) else value for value in [*was, *now])
        print(f"| {width} | {accuracy:.3f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
