"""`python -m benchmarks.detect_schedule`: what the detection schedule of each effort saves and
costs, against detecting on every frame.

For each effort the real pipeline runs over three scenes, frame by frame at 30 fps of scene time:
the clip in tests/media (a stage and a dim audience, the camera and the people moving), the
live benchmark's 1280×720 picture of four faces drifting slowly in front of a still room, and the
same picture with the camera swaying instead (benchmarks/live.py). It prints the share of frames the detector ran on, the detector's CPU milliseconds per frame, and two counts of
the faces lost between detections (IoU under 0.5 on the same frame), against high effort (every
frame): the detector's fresh faces that the faces kept from the last detection miss (as
`python -m benchmarks.bench` counts them for detect_every), and the faces the pipeline shows at
high effort that it does not show at this one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.detections import missed
from benchmarks.frames import findable_faces
from benchmarks.inputs import FER_SAMPLE, MEDIA, cpu_name
from benchmarks.live import drifting
from vcam.choices import Detector, Effort
from vcam.config import Config
from vcam.detect import FaceDetector
from vcam.video import VideoReader
from vcam.pipeline import Pipeline

FPS = 30
CLIP = "short_hamilton_clip.mp4"


def run(effort: Effort, frames: list[np.ndarray]) -> tuple[list[list], list[list], int, float]:
    """At `effort`: the detector's faces in force on each frame (fresh, kept or carried where they
    moved), the faces shown on each frame, the detector's runs and its CPU seconds."""
    pipeline = Pipeline.from_config(Config(effort=effort))
    detect = pipeline.detector.detect
    runs, cpu = [0], [0.0]

    def timed(frame, *changed):
        began = time.process_time()
        found = detect(frame, *changed)
        cpu[0] += time.process_time() - began
        runs[0] += 1
        return found

    pipeline.detector.detect = timed
    detected, shown = [], []
    in_force = pipeline.detect

    def recorded(frame, t=0.0):  # the detector's faces in force on each frame: fresh, carried or kept
        faces = in_force(frame, t)
        detected.append([face.box for face in faces])
        return faces

    pipeline.detect = recorded
    for index, frame in enumerate(frames):
        shown.append([face.box for face in pipeline.process(frame.copy(), index / FPS).faces])
    return detected, shown, runs[0], cpu[0]


def lost(reference: list[list], shown: list[list]) -> tuple[int, int]:
    """Faces of `reference` with no box of `shown` at IoU 0.5 on the same frame, and all of them."""
    faces = missing = 0
    for theirs, ours in zip(reference, shown):
        faces += len(theirs)
        missing += missed(theirs, ours)
    return missing, faces


def scenes(media: Path, data: Path, frames: int = 240) -> dict[str, list[np.ndarray]]:
    """The clip (its first `frames`), and `frames` of four faces drifting and of the camera swaying."""
    with VideoReader(media / CLIP) as video:
        clip = [frame for frame in video if frame is not None][:frames]
    photo = cv2.imread(str(media / "two_people.jpg"))
    faces = findable_faces(data, photo, FaceDetector(Detector.FULL), count=4)
    return {f"the clip ({len(clip)} frames)": clip,
            f"4 faces drifting ({frames} frames)": [drifting(photo, faces, index) for index in range(frames)],
            f"4 faces, the camera swaying ({frames} frames)": [drifting(photo, faces, index, sway=True)
                                                              for index in range(frames)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detect_schedule", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--data", type=Path, default=FER_SAMPLE)
    parser.add_argument("--frames", type=int, default=300, help="frames of each scene (default 300: all the clip's)")
    args = parser.parse_args(argv)
    problem = (f"--frames must be 1 or more, not {args.frames}" if args.frames < 1 else
               f"{args.media / CLIP} or {args.data} is missing; pass --media and --data"
               if not (args.media / CLIP).is_file() or not args.data.is_file() else None)
    if problem:
        print(f"detect_schedule: error: {problem}", file=sys.stderr)
        return 2
    print(f"on {cpu_name()}")
    print("| scene | effort | frames detected | detector CPU ms a frame | fresh faces missed | shown faces lost |")
    print("|---|---|---|---|---|---|")
    for name, frames in scenes(args.media, args.data, args.frames).items():
        fresh, reference, runs, cpu = run(Effort.HIGH, frames)
        print(f"| {name} | high | {runs / len(frames):.0%} | {1000 * cpu / len(frames):.2f} | — | — |")
        for effort in (Effort.BALANCED, Effort.LOW):
            kept, shown, runs, cpu = run(effort, frames)
            counts = [lost(fresh, kept), lost(reference, shown)]
            print(f"| {name} | {effort} | {runs / len(frames):.0%} | {1000 * cpu / len(frames):.2f} | "
                  + " | ".join(f"{missing} of {faces} ({missing / max(faces, 1):.1%})" for missing, faces in counts)
                  + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
