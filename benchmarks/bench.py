"""`python -m benchmarks.bench`: where the time of one frame goes, and how many frames a second that makes.

For each frame size and number of faces, one frame goes round `frames` times through every stage
a live frame goes through: the webcam's JPEG decoded (webcams send 720p and 1080p as MJPEG), faces
detected, classified and tracked, emojis drawn, the frame fitted and converted for the virtual
camera, and JPEG-encoded for the web preview. Each stage is timed on its own; a frame's total is
the latency the pipeline adds. Runs on one core and on two are made in child processes pinned to
those cores, so that the thread pools of OpenCV and LiteRT see only them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from benchmarks.detections import missed as missed_faces
from benchmarks.frames import build_frame, findable_faces
from benchmarks.inputs import FER_SAMPLE, MEDIA
from benchmarks.peer import first_cpus, peer_python, run_peer
from vcam.choices import Detector, Effort
from vcam.cli import add_look_arguments
from vcam.config import Config, load_config
from vcam.detect import FaceDetector
from vcam.errors import MediaError, VcamError
from vcam.pipeline import STAGES as PIPELINE_STAGES
from vcam.pipeline import Pipeline
from vcam.virtual_camera import camera_frame

SIZES = ((640, 360), (1280, 720), (1920, 1080))
FACE_COUNTS = (1, 4, 8)
STAGES = ("decode", *PIPELINE_STAGES, "convert", "jpeg")
PHOTO = "two_people.jpg"
CLIP = "short_hamilton_clip.mp4"
T = TypeVar("T")

TARGET = {"width": 1280, "height": 720, "faces": 4, "fps": 60.0, "p95_ms": 33.0, "peer_ratio": 10.0}


@dataclass
class CaseResult:
    width: int
    height: int
    faces: int
    faces_found: int
    cores: int
    fps: float
    """Frames per second through every stage, one frame after the other."""
    p95_ms: float
    """95th percentile of one frame's time through every stage: the latency vcam adds."""
    cpu_ms: float
    """Process CPU time per frame, all threads."""
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per stage: median_ms and p95_ms."""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


class StageClock:
    """Times the stages of one frame: `with clock("detect"): ...`."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {stage: [] for stage in STAGES}
        self.totals: list[float] = []
        self._frame = 0.0

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        spent = time.perf_counter() - began
        self.times[stage].append(spent)
        self._frame += spent

    def end_frame(self) -> None:
        self.totals.append(self._frame)
        self._frame = 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        return {stage: {"median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * percentile(times, 95)}
                for stage, times in self.times.items() if times}


def one_frame(pipeline: Pipeline, jpeg: np.ndarray, config: Config, clock: StageClock) -> int:
    """One live frame through every stage; returns the faces found."""
    with clock("decode"):
        frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    faces = pipeline.process(frame, timer=clock).faces
    with clock("convert"):
        camera_frame(frame, config.width, config.height, config.pixel_format, config.fit)
    with clock("jpeg"):
        cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    clock.end_frame()
    return len(faces)


def measure_case(pipeline: Pipeline, frame: np.ndarray, faces: int, config: Config, frames: int,
                 cores: int, warmup: int = 10) -> CaseResult:
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])  # as a webcam's MJPEG arrives
    if not ok:
        raise MediaError(f"the {frame.shape[1]}×{frame.shape[0]} benchmark frame could not be encoded as JPEG")
    pipeline.tracker.reset()
    for _ in range(warmup):
        one_frame(pipeline, jpeg, config, StageClock())
    clock = StageClock()
    cpu = time.process_time()
    found = [one_frame(pipeline, jpeg, config, clock) for _ in range(frames)]
    cpu = time.process_time() - cpu
    height, width = frame.shape[:2]
    return CaseResult(width, height, faces, int(statistics.median(found)), cores,
                      fps=len(clock.totals) / sum(clock.totals), p95_ms=1000 * percentile(clock.totals, 95),
                      cpu_ms=1000 * cpu / frames, stages=clock.summary())


@dataclass(frozen=True)
class BenchInputs:
    media: Path
    data: Path
    frames: int = 100
    config: Config = field(default_factory=Config)


def case_frames(inputs: BenchInputs) -> list[tuple[int, np.ndarray]]:
    """(faces, frame) for every size × face count, in the order of the table."""
    photo = cv2.imread(str(inputs.media / PHOTO))
    if photo is None:
        raise MediaError(f"{inputs.media / PHOTO}: missing or unreadable; pass --media with the folder of the test media (tests/media)")
    detector = FaceDetector(Detector.FULL, num_threads=inputs.config.threads)
    faces = findable_faces(inputs.data, photo, detector, max(FACE_COUNTS))
    return [(count, build_frame(photo, faces[:count], width, height))
            for width, height in SIZES for count in FACE_COUNTS]


def pin(cores: int) -> None:
    """This process onto its first `cores` CPUs (where the system can pin), and OpenCV's threads to match."""
    chosen = first_cpus(cores)
    if chosen:
        os.sched_setaffinity(0, chosen)
    cv2.setNumThreads(cores)


def run_cases(inputs: BenchInputs, frames: list[tuple[int, np.ndarray]], cores: int) -> list[CaseResult]:
    """Every case of `frames` (from `case_frames`), in this process, on its first `cores` CPUs."""
    pin(cores)
    config = inputs.config.replace(threads=cores)
    pipeline = Pipeline.from_config(config)
    return [measure_case(pipeline, frame, faces, config, inputs.frames, cores) for faces, frame in frames]


def in_child(work: Callable[..., T], *args) -> T:
    """`work(*args)` in a fresh child process: one that pins itself (`pin`) starts OpenCV's and
    LiteRT's thread pools after the pinning, so they inherit it (numpy's BLAS threads start
    before it, but no stage uses BLAS)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(work, *args).result()


def run_cases_pinned(inputs: BenchInputs, frames: list[tuple[int, np.ndarray]], cores: int) -> list[CaseResult]:
    """`run_cases` in a fresh child process pinned to `cores` CPUs."""
    return in_child(run_cases, inputs, frames, cores)


def core_counts() -> list[int]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return [1, 2] if cpus >= 2 else [1]


def measure_clip(inputs: BenchInputs, target: Path) -> dict[str, float]:
    """`vcam annotate` on the clip, as a user runs it: decode, pipeline, encode, write."""
    from vcam.annotate import annotate

    summary = annotate(Pipeline.from_config(inputs.config), inputs.media / CLIP, target, progress=False)
    return {"frames": summary.frames, "faces": summary.faces, "seconds": summary.seconds, "fps": summary.fps}


def detect_every_cost(inputs: BenchInputs, every: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, float]]:
    """What detecting on every n-th frame of the clip saves and costs: the detector's time per
    frame, and the faces of a fresh detection that the kept faces miss (IoU under 0.5)."""
    from vcam.video import VideoReader

    detector = FaceDetector(inputs.config.detector, num_threads=inputs.config.threads)
    boxes, seconds = [], []
    detector.detect(np.zeros((720, 1280, 3), np.uint8))  # warm-up: the first call sets up LiteRT's kernels
    with VideoReader(inputs.media / CLIP) as video:
        for frame in video:
            if frame is None:
                continue
            began = time.perf_counter()
            boxes.append([face.box for face in detector.detect(frame)])
            seconds.append(time.perf_counter() - began)
    results = []
    for n in every:
        faces = missed = 0
        for i, fresh in enumerate(boxes):
            kept = boxes[i - i % n]
            faces += len(fresh)
            missed += missed_faces(fresh, kept)
        results.append({"every": n, "detect_ms_per_frame": 1000 * sum(seconds[::n]) / len(boxes),
                        "faces": faces, "missed": missed, "missed_share": missed / max(faces, 1)})
    return results


def table(cases: list[CaseResult]) -> str:
    lines = [f"{'frame':>10} {'faces':>5} {'found':>5} {'cores':>5} {'fps':>7} {'p95 ms':>7} {'cpu ms':>7}  "
             + "  ".join(f"{stage:>8}" for stage in STAGES) + "   (stage medians, ms)"]
    for case in cases:
        lines.append(f"{case.width:>5}×{case.height:<4} {case.faces:>5} {case.faces_found:>5} {case.cores:>5} "
                     f"{case.fps:>7.1f} {case.p95_ms:>7.2f} {case.cpu_ms:>7.2f}  "
                     + "  ".join(f"{case.stages[stage]['median_ms']:>8.2f}" for stage in STAGES))
    return "\n".join(lines)


def verdict(cases: list[CaseResult], peer: dict | None) -> list[str]:
    """The issue's targets, each with the figure that meets or misses it."""
    lines = []
    for case in cases:
        if (case.width, case.height, case.faces, case.cores) == (TARGET["width"], TARGET["height"], TARGET["faces"], 2):
            lines.append(f"1280×720, 4 faces: {case.fps:.1f} fps (target ≥ {TARGET['fps']:.0f}) "
                         f"{'met' if case.fps >= TARGET['fps'] else 'MISSED'}; p95 {case.p95_ms:.1f} ms "
                         f"(target ≤ {TARGET['p95_ms']:.0f}) {'met' if case.p95_ms <= TARGET['p95_ms'] else 'MISSED'}")
    if peer and peer.get("ratio"):
        each = ", ".join(f"{round_['ratio']:.1f}×" for round_ in peer["rounds"])
        met = "met" if peer["ratio"] >= TARGET["peer_ratio"] else "MISSED"
        lines.append(f"vs fer, the median of {len(peer['rounds'])} rounds ({each}): {peer['ours_fps']:.1f} fps against "
                     f"{peer['fps']:.1f} fps = {peer['ratio']:.1f}× (target ≥ {TARGET['peer_ratio']:.0f}×) {met}")
    return lines


def report(cases: list[CaseResult], peer: dict | None, clip: dict | None, cases_config: Config,
           say: Callable[[str], None] = print) -> dict:
    result = {"cases": [asdict(case) for case in cases if case.cores == max(c.cores for c in cases)],
              "one_core": [asdict(case) for case in cases if case.cores == 1],
              "peer": peer, "clip": clip,
              "config": {"detector": cases_config.detector, "detect_every": cases_config.detect_every,
                         "placement": cases_config.placement, "pixel_format": cases_config.pixel_format},
              "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "opencv": cv2.__version__}}
    say(table(cases))
    if clip:
        say(f"vcam annotate on {CLIP}: {clip['frames']} frames at {clip['fps']:.1f} fps")
    for line in verdict(cases, peer):
        say(line)
    return result


def ours_on(frames: list[np.ndarray], config: Config, repeats: int, cores: int) -> float:
    """vcam's frames per second over `frames` through the whole pipeline, on the `cores` CPUs
    fer is given (one LiteRT thread per core, as TensorFlow takes every core it is given).

    Each frame comes `repeats` times in a row, as a camera's frames come: one size, one scene
    after another. (Cycling through the three sizes frame by frame made every frame a camera's
    first picture, on which the tile rotation searches every tile, 8 at 1280×720 and 15 at
    1920×1080, and every emoji is scaled afresh: a cost no camera pays, and fer, which keeps
    nothing from one frame to the next, does not see the order.)"""
    pin(cores)
    pipeline = Pipeline.from_config(config.replace(threads=cores))
    seconds = 0.0
    for frame in frames:
        pipeline.process(frame.copy())  # its first picture, then a stream of it
        copies = [frame.copy() for _ in range(repeats)]
        began = time.perf_counter()
        for copy in copies:
            pipeline.process(copy)
        seconds += time.perf_counter() - began
    return len(frames) * repeats / seconds


PEER_ROUNDS = 3
"""fer and vcam measured in turn this many times: the median of the rounds' ratios holds still on a
machine whose speed changes under other work, where one round each could catch one fast and the
other slow."""


def side_by_side(pictures: list[np.ndarray], config: Config, repeats: int, python: Path, cores: int,
                 rounds: int = PEER_ROUNDS) -> dict:
    """fer (from `python`) and vcam on the same frames and `cores` CPUs, in turn `rounds` times:
    fer's result with the medians of the rounds' fps and ratios, and each round's figures."""
    measured = []
    for _ in range(rounds):
        peer = run_peer(pictures, repeats, python, cores)
        # Ten times fer's frames: both measured over about the same seconds at the target ratio.
        ours = in_child(ours_on, pictures, config, repeats * 10, cores)
        measured.append({"fps": peer["fps"], "ours_fps": ours, "ratio": ours / peer["fps"]})
    return {**peer, "cores": cores, "rounds": measured,
            **{key: statistics.median(round_[key] for round_ in measured) for key in ("fps", "ours_fps", "ratio")}}


def run_bench(inputs: BenchInputs, json_path: Path | None = None, peer: bool = True, peer_repeats: int = 3,
              say: Callable[[str], None] = print) -> dict:
    """The whole benchmark: every case on one core and on two, the clip, detect-every, the peer."""
    frames = case_frames(inputs)
    cases: list[CaseResult] = []
    for cores in core_counts():
        say(f"measuring {len(frames)} cases × {inputs.frames} frames on {cores} core{'s' * (cores > 1)}")
        cases += run_cases_pinned(inputs, frames, cores)
    with tempfile.TemporaryDirectory(prefix="vcam-bench-") as folder:
        clip = measure_clip(inputs, Path(folder) / "annotated.mp4")
    every = detect_every_cost(inputs)
    for row in every:
        say(f"detect every {row['every']} frame{'s' * (row['every'] > 1)}: detector {row['detect_ms_per_frame']:.2f} ms"
            f" a frame, {row['missed']} of {row['faces']} clip faces missed ({100 * row['missed_share']:.1f} %)")
    peer_result = None
    if peer:
        pictures = [frame for _, frame in frames]
        say(f"the peer (fer) and vcam on the same {len(pictures)} frames, in turn, {PEER_ROUNDS} times")
        peer_result = side_by_side(pictures, inputs.config, peer_repeats, peer_python(say=say), max(core_counts()))
    result = report(cases, peer_result, clip, inputs.config, say)
    result["detect_every"] = every
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=1))
        say(f"written {json_path}")
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Time every stage of a live frame (decode, detect, classify, track, overlay, virtual-camera "
                    "conversion, web JPEG) for 640x360, 1280x720 and 1920x1080 frames with 1, 4 and 8 faces, on "
                    "one core and on two; run vcam annotate over the clip; compare with the fer package on the "
                    "same frames (installed with pip into its own environment on first use). With --soak, "
                    "run the engine with the virtual camera and the web preview for that long instead.",
    )
    parser.add_argument("--config", type=Path, help="vcam settings file (TOML) for the pipeline's look")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--media", type=Path, default=MEDIA,
                        help="the folder with two_people.jpg and short_hamilton_clip.mp4 (default tests/media)")
    parser.add_argument("--data", type=Path, default=FER_SAMPLE,
                        help="the FER2013 .npz the faces come from (default the sample in tests/data)")
    parser.add_argument("--frames", type=int, default=100, help="frames timed per case (default 100)")
    parser.add_argument("--no-peer", action="store_true", help="leave out the fer side-by-side (and its install)")
    parser.add_argument("--soak", type=float, metavar="SECONDS",
                        help="run the engine on the looping clip for SECONDS and report memory, threads and rates")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between soak samples (default 60)")
    parser.add_argument("--live", type=float, metavar="SECONDS",
                        help="run the engine at camera rate on 1280x720 clips with 1, 4 and 8 faces for SECONDS each "
                             "and report cores used, fps, latency and the emoji's lag (benchmarks/live.py)")
    add_look_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config).replace(detector=args.detector, placement=args.placement)
    if args.frames < 1:
        raise VcamError(f"--frames must be at least 1, not {args.frames}")
    if args.soak is not None and not (args.soak > 0 and args.interval > 0):
        raise VcamError(f"--soak and --interval must be more than 0 seconds, not {args.soak} and {args.interval}")
    if args.json is not None and not args.json.parent.is_dir():
        raise VcamError(f"folder {args.json.parent} does not exist; create it or pick another --json path")
    if not (args.media / CLIP).is_file():
        raise VcamError(f"{args.media / CLIP} is missing; pass --media with the folder of the test media (tests/media)")
    if args.live is not None:
        from benchmarks import live

        return live.main(["--seconds", str(args.live), "--media", str(args.media), "--data", str(args.data),
                          *(["--config", str(args.config)] if args.config else []),
                          *(["--json", str(args.json)] if args.json else [])])
    if args.soak is not None:
        from benchmarks.soak import soak

        report = soak(config.replace(camera=str(args.media / CLIP)), args.soak, min(args.interval, args.soak))
        print(report.summary())
        if args.json:
            args.json.write_text(json.dumps(report.to_json(), indent=1))
        return 0
    if not args.data.is_file():
        raise VcamError(f"{args.data} is missing; pass --data with the FER2013 .npz")
    # Each case repeats one frame, which the effort's schedules would mostly skip: high effort runs
    # every stage on every frame, so that the table times what one frame costs (and fer, beside
    # it, does the same work). `--live` measures the effort's schedules at camera rate.
    run_bench(BenchInputs(args.media, args.data, args.frames, config.replace(effort=Effort.HIGH)), args.json,
              peer=not args.no_peer)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(build_parser().parse_args(argv))
    except VcamError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
