"""`python -m benchmarks.live`: what the user sees in their task manager while vcam runs.

The engine runs at the source's rate on a 1280×720, 30 fps H.264 clip with 1, 4 and 8 faces
drifting slowly in front of a still room (with --sway, the whole picture drifting, as from a
camera that sways), the virtual camera attached through a backend that drops what it is sent (the
seam where v4l2loopback would be), nobody watching the preview. For each clip it reports:

- cores used: the process's CPU seconds (every thread) over wall seconds, after a warm-up;
- fps published: frames the virtual camera sent per second;
- p95 latency from capture (the source handing the frame over) to the virtual camera's send;
- on a clip whose one face changes expression at known frames (two FER2013 faces of different
  emotions cut in at the same spot every few seconds), the lag of the shown emoji: frames from
  the cut until the emoji shows the new face's emotion;
- a reference for how fast the machine was at the time: the CPU it took, just before each clip's
  run, to decode one of the clip's frames on one thread.

The clips are built deterministically from the photo and the FER2013 faces the main benchmark
uses (benchmarks/frames.py), so runs on two machines compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pyvirtualcam

from benchmarks.frames import build_frame, findable_faces
from benchmarks.inputs import FER_SAMPLE, MEDIA
from vcam.app import LiveApp
from vcam.classify import EmotionModel
from vcam.config import Config, load_config
from vcam.detect import FaceDetector
from vcam.errors import VcamError
from vcam.frames import FrameResult
from vcam.sources import FrameSource, open_source

WIDTH, HEIGHT, FPS = 1280, 720, 30
CLIP_SECONDS = 12
DRIFT_PX, DRIFT_PERIOD = 24, 8.0
"""The faces drift sideways by up to this many pixels, once round every this many seconds, each
an eighth of a round after the one before it (so that neighbours never touch)."""
CHANGE_EVERY = 3.0
"""Seconds between the cuts of the expression-change clip."""
BACKEND = "vcam-live-bench"


class SendClock:
    """The capture time of the newest published frame; the backend reads it when it sends."""

    def __init__(self) -> None:
        self.captured_at: dict[int, float] = {}
        self.index_of: dict[int, int] = {}
        self.newest: float | None = None
        self.latencies: list[float] = []
        self.recording = False
        self.lock = threading.Lock()


CLOCK = SendClock()


class TimedBackend:
    """A pyvirtualcam backend that drops each frame after noting how long ago it was captured."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **_: Any) -> None:
        self._fourcc = fourcc

    def send(self, frame: Any) -> None:
        with CLOCK.lock:
            if CLOCK.recording and CLOCK.newest is not None:
                CLOCK.latencies.append(time.perf_counter() - CLOCK.newest)

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "/dev/video-live-bench"

    def native_fourcc(self) -> int:
        return self._fourcc


pyvirtualcam.register_backend(BACKEND, TimedBackend)


class TimedSource:
    """The clip as the camera, noting when each frame is handed over and its place in the clip."""

    def __init__(self, source: FrameSource) -> None:
        self._source = source
        self.name = source.name
        self.count = 0

    def read(self) -> np.ndarray | None:
        frame = self._source.read()
        if frame is not None:
            with CLOCK.lock:
                CLOCK.captured_at[id(frame)] = time.perf_counter()
                CLOCK.index_of[id(frame)] = self.count
            self.count += 1
        return frame

    def close(self) -> None:
        self._source.close()


@dataclass
class ShownEmotions:
    """A sink: each published frame's place in the clip and the emotion shown on its first face."""

    shown: list[tuple[int, str | None]] = field(default_factory=list)

    def publish(self, result: FrameResult) -> None:
        with CLOCK.lock:
            captured = CLOCK.captured_at.pop(id(result.frame), None)
            index = CLOCK.index_of.pop(id(result.frame), None)
            if captured is not None:
                CLOCK.newest = captured
        if index is not None:
            self.shown.append((index, result.faces[0].emotion if result.faces else None))


def write_clip(path: Path, frames: Iterator[np.ndarray]) -> Path:
    """H.264 (yuv420p) at 30 fps, as a webcam-like source."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def drift(index: int, face: int = 0) -> int:
    """How far face number `face` has drifted sideways on frame `index`, in pixels."""
    return round(DRIFT_PX * np.sin(2 * np.pi * index / (DRIFT_PERIOD * FPS) + face * np.pi / 4))


def drifting(photo: np.ndarray, faces: list[np.ndarray], index: int, sway: bool = False) -> np.ndarray:
    """Frame `index` of the faces drifting: each on its own in front of a still room, as a
    webcam that stands still sees people who move; or, with `sway`, the whole picture drifting
    round (the frame rolled sideways, what leaves one side coming back at the other), as a
    camera that sways sees them."""
    if sway:
        return np.roll(build_frame(photo, faces, WIDTH, HEIGHT), drift(index), axis=1)
    return build_frame(photo, faces, WIDTH, HEIGHT, [drift(index, face) for face in range(len(faces))])


def faces_clip(path: Path, photo: np.ndarray, faces: list[np.ndarray], sway: bool = False) -> Path:
    return write_clip(path, (drifting(photo, faces, i, sway) for i in range(CLIP_SECONDS * FPS)))


def distinct_faces(candidates: list[np.ndarray], photo: np.ndarray, model: EmotionModel,
                   detector: FaceDetector) -> tuple[list[np.ndarray], list[str]]:
    """Two faces the model reads as two different emotions, each with confidence, pasted alone."""
    read = []
    for face in candidates:
        frame = build_frame(photo, [face], WIDTH, HEIGHT)
        found = model.classify(frame, detector.detect(frame))
        if len(found) == 1:
            read.append((max(found[0].probabilities), found[0].top_emotion, face))
    read.sort(key=lambda item: -item[0])
    first = read[0]
    second = next(item for item in read[1:] if item[1] != first[1])
    return [first[2], second[2]], [first[1], second[1]]


def change_clip(path: Path, photo: np.ndarray, pair: list[np.ndarray], sway: bool = False) -> tuple[Path, list[int]]:
    """One face, cut between the two of `pair` every CHANGE_EVERY seconds; the cut frames."""
    period = round(CHANGE_EVERY * FPS)
    frames = CLIP_SECONDS * FPS
    write_clip(path, (drifting(photo, [pair[(i // period) % 2]], i, sway) for i in range(frames)))
    return path, list(range(period, frames, period))


@dataclass
class LiveResult:
    clip: str
    faces: int
    seconds: float
    cores: float
    fps_published: float
    fps_processed: float
    p95_latency_ms: float
    repeated_share: float = 0.0
    """Share of the processed frames that repeated a still picture and skipped the pipeline."""
    emoji_lag_s: list[float] | None = None
    reference_ms: float = 0.0
    """CPU milliseconds this machine took, just before the run, to decode one frame of the clip
    (on one thread): how fast it was then. Shared machines slow down and speed up by tens of
    per cent from one minute to the next; compare cores between runs whose reference agrees."""


def reference_ms(clip: Path, frames: int = 90) -> float:
    """CPU ms a frame to decode the first `frames` frames of `clip` on this thread."""
    source = cv2.VideoCapture(str(clip), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        began, decoded = time.thread_time(), 0
        while decoded < frames and source.read()[0]:
            decoded += 1
        return 1000 * (time.thread_time() - began) / max(decoded, 1)
    finally:
        source.release()


def run_live(config: Config, clip: Path, faces: int, seconds: float, warmup: float = 3.0) -> tuple[LiveResult, ShownEmotions]:
    """Run the engine on `clip` for warm-up + `seconds` and measure the last `seconds`."""
    reference = reference_ms(clip)
    config = config.replace(camera=str(clip), width=WIDTH, height=HEIGHT, fps=FPS)
    source: list[TimedSource] = []

    def opener(camera: int | str) -> FrameSource:
        source.append(TimedSource(open_source(camera, WIDTH, HEIGHT)))
        return source[-1]

    shown = ShownEmotions()
    with CLOCK.lock:
        CLOCK.latencies.clear(), CLOCK.captured_at.clear(), CLOCK.index_of.clear()
        CLOCK.recording, CLOCK.newest = False, None
    with LiveApp(config, backend=BACKEND, opener=opener) as app:
        engine, sink = app.engine, app.virtual_camera
        engine.add_sink(shown)
        time.sleep(warmup)
        with CLOCK.lock:
            CLOCK.recording = True
        began, cpu_began = time.perf_counter(), time.process_time()
        sent_began, processed_began, repeated_began = sink.frames_sent, engine.frames_processed, engine.frames_repeated
        time.sleep(seconds)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        sent, processed = sink.frames_sent - sent_began, engine.frames_processed - processed_began
        repeated = engine.frames_repeated - repeated_began
        with CLOCK.lock:
            CLOCK.recording = False
            latencies = sorted(CLOCK.latencies)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] * 1000 if latencies else float("nan")
    return LiveResult(clip.name, faces, round(wall, 2), round(cpu / wall, 3), round(sent / wall, 2),
                      round(processed / wall, 2), round(p95, 2), round(repeated / max(processed, 1), 3),
                      reference_ms=round(reference, 3)), shown


def emoji_lag(shown: ShownEmotions, cuts: list[int], truths: list[str]) -> list[float]:
    """Seconds from each cut (in the clip's frames, at its rate) until the emoji shows the new face's
    emotion; the clip loops, so each cut is found in every loop that was watched."""
    frames = CLIP_SECONDS * FPS
    period = round(CHANGE_EVERY * FPS)
    lags = []
    for index, (played, emotion) in enumerate(shown.shown):
        position = played % frames
        if position not in cuts:
            continue
        truth = truths[(position // period) % 2]
        later = [p for p, e in shown.shown[index:] if p - played < period and e == truth]
        if later:
            lags.append(round((later[0] - played) / FPS, 3))
    return lags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="vcam settings file (TOML) for the engine")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds measured per clip (default 20)")
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4, 8], help="face counts (default 1 4 8)")
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--data", type=Path, default=FER_SAMPLE)
    parser.add_argument("--sway", action="store_true",
                        help="the camera sways: the whole picture drifts, not only the faces in front of a still room")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.seconds > 0 or any(count < 1 or count > 8 for count in args.faces):
            raise VcamError("--seconds must be more than 0 and --faces from 1 to 8")
        photo = cv2.imread(str(args.media / "two_people.jpg"))
        if photo is None or not args.data.is_file():
            raise VcamError(f"{args.media / 'two_people.jpg'} or {args.data} is missing; pass --media and --data")
        config = load_config(args.config)
        detector = FaceDetector(config.detector)
        candidates = findable_faces(args.data, photo, detector, count=24)
        results = []
        with tempfile.TemporaryDirectory(prefix="vcam-live-") as folder:
            for count in args.faces:
                clip = faces_clip(Path(folder) / f"faces-{count}.mp4", photo, candidates[:count], args.sway)
                result, _ = run_live(config, clip, count, args.seconds)
                results.append(result)
            pair, truths = distinct_faces(candidates, photo, EmotionModel(config.emotion_model), detector)
            clip, cuts = change_clip(Path(folder) / "expression-change.mp4", photo, pair, args.sway)
            result, shown = run_live(config, clip, 1, args.seconds)
            result.emoji_lag_s = emoji_lag(shown, cuts, truths)
            results.append(result)
    except VcamError as err:
        print(f"live: error: {err}", file=sys.stderr)
        return 2
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    print(f"live at {WIDTH}×{HEIGHT}, {FPS} fps source, {'the camera swaying' if args.sway else 'faces drifting'}, on {cpu}")
    print("| clip | faces | cores used | fps published | fps processed | repeated | p95 capture→send ms | emoji lag s "
          "| reference: decode ms a frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lag = "—" if r.emoji_lag_s is None else (
            f"median {statistics.median(r.emoji_lag_s):.2f}, max {max(r.emoji_lag_s):.2f} ({len(r.emoji_lag_s)} cuts)"
            if r.emoji_lag_s else "never followed")
        print(f"| {r.clip} | {r.faces} | {r.cores:.2f} | {r.fps_published:.1f} | {r.fps_processed:.1f} | "
              f"{100 * r.repeated_share:.0f} % | {r.p95_latency_ms:.1f} | {lag} | {r.reference_ms:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "results": [asdict(r) for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
