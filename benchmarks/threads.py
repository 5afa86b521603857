"""`python -m benchmarks.threads`: LiteRT threads by what the user pays — CPU time per frame.

A second thread shortens a model's call (latency) but seldom halves it, and the threads of
XNNPACK's pool spin while they wait for work, so the process may burn more CPU in total for a
frame than one thread would. Beside a call app that needs the machine too, CPU per frame is what
counts. For the detector (one 1280×720 frame) and the classifier (the same frame's faces), with
1 and 2 threads, this prints process CPU milliseconds per call (every thread of the process) and
wall milliseconds per call. The thread counts are measured in alternating rounds, so that the
load of a shared machine falls on both alike.

The frame is the live benchmark's: the photo blurred into a background with FER2013 faces pasted
on it (benchmarks/frames.py), so the figures compare with `python -m benchmarks.live`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from benchmarks.frames import build_frame, findable_faces
from benchmarks.inputs import FER_SAMPLE, MEDIA, cpu_name
from vcam.classify import EmotionModel
from vcam.config import load_config
from vcam.detect import FaceDetector
from vcam.errors import VcamError

THREADS = (1, 2)
ROUNDS = 5


def per_call(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """(process CPU ms, wall ms) per call of `call`, over `calls` calls."""
    began, cpu_began = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    return ((time.process_time() - cpu_began) * 1000 / calls, (time.perf_counter() - began) * 1000 / calls)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="vcam settings file (TOML): the detector and emotion model")
    parser.add_argument("--faces", type=int, default=4, help="faces in the frame, 1 to 8 (default 4)")
    parser.add_argument("--calls", type=int, default=100, help="calls per round and thread count (default 100)")
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--data", type=Path, default=FER_SAMPLE)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 1 <= args.faces <= 8 or args.calls < 1:
            raise VcamError("--faces must be from 1 to 8 and --calls at least 1")
        photo = cv2.imread(str(args.media / "two_people.jpg"))
        if photo is None or not args.data.is_file():
            raise VcamError(f"{args.media / 'two_people.jpg'} or {args.data} is missing; pass --media and --data")
        config = load_config(args.config)
        detectors = {n: FaceDetector(config.detector, model_path=config.detector_model, num_threads=n) for n in THREADS}
        models = {n: EmotionModel(config.emotion_model, num_threads=n) for n in THREADS}
        frame = build_frame(photo, findable_faces(args.data, photo, detectors[THREADS[-1]], count=args.faces),
                            1280, 720)
    except VcamError as err:
        print(f"threads: error: {err}", file=sys.stderr)
        return 2
    faces = detectors[THREADS[-1]].detect(frame)
    calls = {"detector": lambda n: lambda: detectors[n].detect(frame),
             "classifier": lambda n: lambda: models[n].classify(frame, faces)}
    figures: dict[tuple[str, int], list[tuple[float, float]]] = {key: [] for key in
                                                                 ((stage, n) for stage in calls for n in THREADS)}
    for stage, call in calls.items():
        for n in THREADS:
            per_call(call(n), 10)  # warm-up: buffers allocated, pools started
    for _ in range(ROUNDS):
        for stage, call in calls.items():
            for n in THREADS:
                figures[stage, n].append(per_call(call(n), args.calls))
    print(f"LiteRT threads, 1280×720 frame with {len(faces)} faces found, {ROUNDS} rounds of {args.calls} calls, "
          f"on {cpu_name()}")
    print("| model | threads | CPU ms per call (median of rounds) | wall ms per call |")
    print("|---|---|---|---|")
    for (stage, n), rounds in figures.items():
        cpu = statistics.median(r[0] for r in rounds)
        wall = statistics.median(r[1] for r in rounds)
        print(f"| {stage} | {n} | {cpu:.2f} | {wall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
