"""`vcam annotate` over the test clip with PyAV (the product: H.264 + the sound copied) against
the OpenCV path it replaced (VideoCapture in, VideoWriter out as MPEG-4 Part 2, no sound), in
the same process, same pipeline, same machine, taking turns so that a busy neighbour slows both.

    python -m benchmarks.annotate_video [--media tests/media] [--rounds 3]

Prints each path's frames per second (the best round and the median), the same for decoding and
encoding alone (no pipeline), and the CPU it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from benchmarks.inputs import MEDIA, cpu_name
from vcam.annotate import annotate
from vcam.choices import Quality
from vcam.config import Config
from vcam.encoding import VideoOptions
from vcam.pipeline import Pipeline
from vcam.video import VideoReader, video_writer

CLIP = "short_hamilton_clip.mp4"


def opencv_annotate(pipeline: Pipeline | None, source: Path, target: Path) -> int:
    """The path before PyAV: OpenCV decodes, the pipeline draws, VideoWriter writes mp4v."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer = None
    frames = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            shown = pipeline.process(frame).frame if pipeline is not None else frame
            if writer is None:
                height, width = shown.shape[:2]
                writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            writer.write(shown)
            frames += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return frames


def pyav_copy(source: Path, target: Path) -> int:
    """PyAV's decode and encode alone, as annotate does them, with no pipeline between."""
    with VideoReader(source) as video:
        info = video.info
        with video_writer(target, info.width, info.height, info.fps) as writer:
            frames = 0
            for frame in video:
                if frame is not None:
                    writer.write(frame)
                    frames += 1
    return frames


def timed(run: Callable[[], int]) -> tuple[float, float]:
    """(frames per second of wall time, CPU milliseconds per frame over all threads). On a
    shared machine the wall rate swings with the neighbours' load; the CPU time much less."""
    began, cpu = time.perf_counter(), time.process_time()
    frames = run()
    return frames / (time.perf_counter() - began), 1000 * (time.process_time() - cpu) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source = args.media / CLIP
    config = Config()
    cv2.setNumThreads(config.threads)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        cases: dict[str, Callable[[], int]] = {
            "annotate, PyAV (H.264 + sound)":
                lambda: annotate(Pipeline.from_config(config), source, out / "pyav.mp4", progress=False).frames,
            "annotate, PyAV --quality draft":
                lambda: annotate(Pipeline.from_config(config), source, out / "pyav-draft.mp4", progress=False,
                                 options=VideoOptions(Quality.DRAFT)).frames,
            "annotate, OpenCV (mp4v, no sound)":
                lambda: opencv_annotate(Pipeline.from_config(config), source, out / "opencv.mp4"),
            "decode + encode only, PyAV": lambda: pyav_copy(source, out / "pyav-copy.mp4"),
            "decode + encode only, OpenCV": lambda: opencv_annotate(None, source, out / "opencv-copy.mp4"),
        }
        for run in cases.values():  # warm-up: models, codecs and caches, untimed
            run()
        rates: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, run in cases.items():  # taking turns: a neighbour's load falls on every case
                rates[name].append(timed(run))
        sizes = {name: (out / file).stat().st_size / 1e6 for name, file in
                 zip(cases, ["pyav.mp4", "pyav-draft.mp4", "opencv.mp4", "pyav-copy.mp4", "opencv-copy.mp4"])}
    print(f"{CLIP} (275 frames, 640×360), {args.rounds} rounds, on {cpu_name()}:")
    best, cpu = {}, {}
    for name, values in rates.items():
        best[name] = max(fps for fps, _ in values)
        cpu[name] = statistics.median(ms for _, ms in values)
        print(f"  {name:36s} best {best[name]:6.1f} fps, median {statistics.median(fps for fps, _ in values):6.1f} fps,"
              f" {cpu[name]:5.2f} CPU ms/frame, file {sizes[name]:.2f} MB")
    pyav, draft, opencv = list(cases)[:3]
    print(f"annotate with PyAV: {best[pyav] / best[opencv]:.0%} of the OpenCV path's best rate"
          f" ({best[draft] / best[opencv]:.0%} with --quality draft), {cpu[pyav] / cpu[opencv]:.0%} of its CPU time"
          f" per frame ({cpu[draft] / cpu[opencv]:.0%} with draft)")


if __name__ == "__main__":
    main()
