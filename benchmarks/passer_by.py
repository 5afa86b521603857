"""A call with someone passing behind: "only me" against everyone, on the same frames.

The clip is made from real faces (benchmarks/scenes.py's cut-outs of the test photos): the user
near the middle, swaying from side to side, and a second, smaller person walking across the room
behind them, from the left edge to the right. Half way through the user turns away for two
seconds (their head is there, their face is not: a blurred head), longer than the tracker keeps a
track, while the other person is in full view. Deterministic, so two runs compare.

    python -m benchmarks.passer_by [--frames 150] [--repeats 3]

prints, for each setting, the CPU time a frame through the whole pipeline (best of the repeats,
the two settings taking turns) and the frames with an emoji on a face other than the user's, then
the ratio of the CPU times.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.inputs import MEDIA
from benchmarks.scenes import blurred_background, paste, portraits
from vcam.choices import Faces
from vcam.config import Config
from vcam.faces import Box, iou
from vcam.frames import FrameResult
from vcam.pipeline import Pipeline

WIDTH, HEIGHT, FPS = 1280, 720, 30
USER_WIDTH = 230
PASSER_WIDTH = 120
TURNED_AWAY = (0.3, 0.7)
"""The share of the clip during which the user looks away: two seconds of a five-second clip, while
the other person walks through the middle."""


@dataclass(frozen=True)
class PasserByFrame:
    frame: np.ndarray
    user: Box
    """Where the user's face is (also while they look away: their head is still there)."""
    user_visible: bool
    passer: Box


def passer_by_clip(media: Path, frames: int = 150) -> list[PasserByFrame]:
    """`frames` frames at 30 fps: the user's face `USER_WIDTH` px wide, swaying round the middle,
    pasted over a second face `PASSER_WIDTH` px wide that walks from the left edge to the right."""
    cutouts = portraits(media)
    user, passer = cutouts[2], cutouts[0]  # obama-720p.jpg's face, two_people.jpg's first
    backdrop = blurred_background(media, WIDTH, HEIGHT)
    turned = user.__class__(cv2.GaussianBlur(user.image, (0, 0), sigmaX=user.box[2] / 4), user.box)
    clip = []
    for index in range(frames):
        share = index / max(frames - 1, 1)
        frame = backdrop.copy()
        passer_box = paste(frame, passer, PASSER_WIDTH, 40 + share * (WIDTH - 80), HEIGHT * 0.3)
        visible = not TURNED_AWAY[0] <= share < TURNED_AWAY[1]
        cx = WIDTH / 2 + 90 * math.sin(2 * math.pi * index / (FPS * 3))
        user_box = paste(frame, user if visible else turned, USER_WIDTH, cx, HEIGHT * 0.58)
        clip.append(PasserByFrame(frame, user_box, visible, passer_box))
    return clip


def on_wrong_face(result: FrameResult, truth: PasserByFrame) -> bool:
    """Whether an emoji was drawn on a face that is not the user's."""
    return any(face.emotion is not None and iou(face.box, truth.user) < 0.3 for face in result.faces)


def run(pipeline: Pipeline, clip: list[PasserByFrame]) -> tuple[list[FrameResult], float]:
    """Every frame through `pipeline` (from a fresh start) and the CPU seconds they took."""
    pipeline.reset()
    results = []
    started = time.process_time()
    for index, truth in enumerate(clip):
        results.append(pipeline.process(truth.frame.copy(), t=index / FPS))
    return results, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA, help="the test photos' folder")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.media.is_dir():
        parser.exit(2, f"error: media folder {args.media} missing; pass --media with the folder of the test photos (tests/media)\n")
    clip = passer_by_clip(args.media, args.frames)
    pipelines = {faces: Pipeline.from_config(Config(faces=faces)) for faces in Faces}
    best = {faces: math.inf for faces in Faces}
    wrong = {}
    for _ in range(args.repeats):
        for faces, pipeline in pipelines.items():
            results, seconds = run(pipeline, clip)
            best[faces] = min(best[faces], seconds)
            wrong[faces] = sum(on_wrong_face(result, truth) for result, truth in zip(results, clip))
    for faces in Faces:
        print(f"{faces:9} {1000 * best[faces] / len(clip):6.2f} ms CPU a frame, "
              f"{wrong[faces]} of {len(clip)} frames with an emoji on another face")
    print(f"only_me / everyone CPU: {best[Faces.ONLY_ME] / best[Faces.EVERYONE]:.3f}")


if __name__ == "__main__":
    main()
