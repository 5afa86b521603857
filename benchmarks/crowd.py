"""The crowd benchmark: faces found and frames a second, from one near face to a room of 60.

    python -m benchmarks.crowd [--frames N] [--cores N] [--json PATH]

On 1920×1080 crowd scenes (benchmarks/scenes.py: the faces of tests/media's photos and their
mirror images, scaled, on a blurred background) it prints, for the "full" (room) detector:

- recall and false faces at IoU ≥ 0.3 with every tile searched, against the whole frame alone
  (today's single pass), for 24 faces of 128 px, 40 of 96, 60 of 64 and 80 of 48, and on the same
  crowd softened as a webcam softens it (scenes.softened);
- 48-px faces on `--mosaics` crowds of 80 (seeds 0, 1, …), of the photos' faces and of the
  clip's performer in many poses (scenes.clip_portraits), sharp and softened: recall and false
  faces with every tile searched, against the tiles' own bar alone (no closer look at the faces
  that score under it, vcam/tiles.py's LOOK_AGAIN);
- the live schedule (whole frame every frame, a tile a frame per 1280×720 of it): the faces that detecting
  everything on every frame finds and it misses (IoU under 0.5, as `python -m benchmarks.bench` counts for
  detect_every), on a crowd that holds still and on one that pans 2 px a frame;
- the whole pipeline (detect, classify, track, overlay) in frames a second on 1080p with 24 and
  60 faces;
- the detector's average time per 1280×720 frame with 4 faces, the live schedule against the
  whole frame alone, in the same run.

Runs pinned to `--cores` cores (default 2) where the OS allows it, and names the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks import scenes
from benchmarks.detections import missed as missed_faces
from benchmarks.inputs import MEDIA, cpu_name
from vcam.choices import Detector
from vcam.config import Config
from vcam.detect import FaceDetector
from vcam.pipeline import STAGES, Pipeline, build_detector
from vcam.tiles import TILE_SCORE, TiledDetector, TileRotation

CROWDS = ((24, 128), (40, 96), (60, 64), (80, 48))
LIVE_CROWDS = ((24, 128), (60, 64))
PAN = 2
"""Pixels a frame the panning crowd moves: 60 px a second at 30 fps."""


@contextmanager
def _cpu_stage(cpu: dict[str, float], stage: str) -> Iterator[None]:
    began = time.process_time()
    yield
    cpu[stage] += time.process_time() - began


def cpu_timer(cpu: dict[str, float]):
    """A pipeline stage timer adding each stage's CPU seconds into `cpu`."""
    return lambda stage: _cpu_stage(cpu, stage)


def pin(cores: int) -> int:
    """Pin this process to its first `cores` allowed CPUs; returns the cores it runs on."""
    if not hasattr(os, "sched_setaffinity"):
        return os.cpu_count() or 1
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, allowed[:cores])
    return len(allowed[:cores])


def room_detector(threads: int) -> TileRotation:
    detector = build_detector(Config(detector="full", threads=threads))
    assert isinstance(detector, TileRotation)
    return detector


def recall_table(cutouts: list[scenes.Portrait], backdrop: np.ndarray, threads: int) -> list[dict]:
    """Every tile searched against the whole frame alone, per crowd."""
    detector = room_detector(threads)
    rows = []
    for count, width in CROWDS:
        scene = scenes.crowd(cutouts, backdrop, count, width)
        detector.reset()
        tiled = scenes.score(scene.faces, [face.box for face in detector.detect(scene.frame)])
        whole = scenes.score(scene.faces, [face.box for face in detector.tiled.whole.detect(scene.frame)])
        detector.reset()
        soft = scenes.score(scene.faces, [face.box for face in detector.detect(scenes.softened(scene.frame))])
        rows.append({"faces": count, "face_px": width, "recall": tiled.recall, "false": tiled.false,
                     "whole_frame_recall": whole.recall, "whole_frame_false": whole.false,
                     "softened_recall": soft.recall, "softened_false": soft.false})
    return rows


def small_faces(faces: dict[str, list[scenes.Portrait]], backdrop: np.ndarray, mosaics: int, threads: int) -> dict:
    """48-px faces on `mosaics` crowds of 80 of each set of `faces`, sharp and softened, every tile
    searched: with the closer look at faces under the tiles' bar, and with the bar alone."""
    with_looks = room_detector(threads)
    bar_alone = TileRotation(TiledDetector(with_looks.tiled.whole, with_looks.tiled.tile_detector, 48,
                                           look_again=TILE_SCORE))
    totals: dict[str, list[int]] = {}
    for faces_name, cutouts in faces.items():
        for seed in range(mosaics):
            scene = scenes.crowd(cutouts, backdrop, 80, 48, seed=seed)
            for name, frame in (("sharp", scene.frame), ("softened", scenes.softened(scene.frame))):
                for look, detector in (("closer_look", with_looks), ("bar_alone", bar_alone)):
                    detector.reset()
                    result = scenes.score(scene.faces, [face.box for face in detector.detect(frame)])
                    total = totals.setdefault(f"{faces_name}, {name}, {look}", [0, 0, 0])
                    total[0], total[1], total[2] = total[0] + result.found, total[1] + result.faces, total[2] + result.false
    return {key: {"found": found, "faces": count, "recall": found / count, "false": false}
            for key, (found, count, false) in totals.items()}


def panned(scene: scenes.Scene, frames: int, step: int) -> list[tuple[np.ndarray, list]]:
    """The scene's frame shifted `step` px right a frame (the edge repeated), with its faces that
    are still in the frame (their centre inside it)."""
    out = []
    width = scene.frame.shape[1]
    for i in range(frames):
        shift = i * step
        frame = np.concatenate([np.repeat(scene.frame[:, :1], shift, axis=1), scene.frame[:, :width - shift]],
                               axis=1) if shift else scene.frame
        faces = [(x + shift, y, w, h) for x, y, w, h in scene.faces if x + shift + w / 2 < width]
        out.append((np.ascontiguousarray(frame), faces))
    return out


def schedule_misses(cutouts: list[scenes.Portrait], backdrop: np.ndarray, frames: int, threads: int) -> list[dict]:
    """Faces that every tile on every frame finds and the live schedule misses."""
    rows = []
    for count, width in LIVE_CROWDS:
        scene = scenes.crowd(cutouts, backdrop, count, width)
        for step in (0, PAN):
            live, every = room_detector(threads), room_detector(threads)
            fresh_faces = missed = 0
            recalls = []
            for frame, truth in panned(scene, frames, step):
                every.reset()  # every tile, every frame
                fresh = [face.box for face in every.detect(frame)]
                kept = [face.box for face in live.detect(frame)]
                fresh_faces += len(fresh)
                missed += missed_faces(fresh, kept)
                recalls.append(scenes.score(truth, kept).recall)
            rows.append({"faces": count, "face_px": width, "pan_px_per_frame": step, "frames": frames,
                         "fresh_faces": fresh_faces, "missed": missed, "missed_share": missed / max(fresh_faces, 1),
                         "live_recall_mean": statistics.fmean(recalls)})
    return rows




def pipeline_fps(cutouts: list[scenes.Portrait], backdrop: np.ndarray, frames: int, threads: int) -> list[dict]:
    """Frames a second through detect, classify, track and overlay (each stage's process CPU
    time too), on a panning 1080p crowd: the steps of Pipeline.process, timed one by one."""
    rows = []
    for count, width in LIVE_CROWDS:
        scene = scenes.crowd(cutouts, backdrop, count, width)
        sequence = panned(scene, frames + 1, PAN)
        pipeline = Pipeline.from_config(Config(detector="full", threads=threads))
        pipeline.process(sequence[0][0].copy())  # the first frame searches every tile: not live
        cpu = dict.fromkeys(STAGES, 0.0)
        shown = []
        began = time.perf_counter()
        for frame, _ in sequence[1:]:
            frame = frame.copy()
            faces = pipeline.process(frame, timer=cpu_timer(cpu)).faces
            shown.append(len(faces))
        seconds = time.perf_counter() - began
        rows.append({"faces": count, "face_px": width, "frames": frames, "fps": frames / seconds,
                     "cpu_ms_per_frame": 1000 * sum(cpu.values()) / frames,
                     "stage_cpu_ms": {stage: 1000 * value / frames for stage, value in cpu.items()},
                     "faces_shown_mean": statistics.fmean(shown)})
    return rows


def detector_cost_720p(cutouts: list[scenes.Portrait], frames: int, threads: int) -> dict:
    """The detector's time per 1280×720 frame with 4 faces: the whole frame alone (today's single
    pass) against the live schedule, interleaved frame by frame so load hits both alike; wall
    time (mean and median) and the process's CPU time (all threads; steadier on a busy machine)."""
    backdrop = scenes.blurred_background(MEDIA, 1280, 720)
    scene = scenes.crowd(cutouts, backdrop, 4, 150)
    whole = FaceDetector(Detector.FULL, num_threads=threads)
    live = room_detector(threads)
    live.detect(scene.frame)  # first frame: every tile
    whole.detect(scene.frame)
    wall: dict[str, list[float]] = {"whole_frame": [], "live_schedule": []}
    cpu: dict[str, list[float]] = {"whole_frame": [], "live_schedule": []}
    for _ in range(frames):
        for name, detector in (("whole_frame", whole), ("live_schedule", live)):
            began, began_cpu = time.perf_counter(), time.process_time()
            detector.detect(scene.frame)
            wall[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)
    result = {}
    for name in wall:
        result[f"{name}_ms"] = 1000 * statistics.fmean(wall[name])
        result[f"{name}_median_ms"] = 1000 * statistics.median(wall[name])
        result[f"{name}_cpu_ms"] = 1000 * statistics.fmean(cpu[name])
    result["ratio"] = result["live_schedule_ms"] / result["whole_frame_ms"]
    result["median_ratio"] = result["live_schedule_median_ms"] / result["whole_frame_median_ms"]
    result["cpu_ratio"] = result["live_schedule_cpu_ms"] / result["whole_frame_cpu_ms"]
    result["tiles"] = len(live.tiled.plan(scene.frame))
    result["tiles_per_frame"] = live.tiles_per_frame(1280, 720)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crowd", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per live measurement (default 60)")
    parser.add_argument("--cores", type=int, default=2, help="cores to pin to and threads to use (default 2)")
    parser.add_argument("--mosaics", type=int, default=8, help="crowds of 80 faces of 48 px to score (default 8)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.frames < 2 or args.cores < 1 or args.mosaics < 1:
        print("error: --frames must be at least 2, --cores and --mosaics at least 1", file=sys.stderr)
        return 2
    if not MEDIA.is_dir():
        print(f"error: media folder {MEDIA} missing; run from a checkout of vcam", file=sys.stderr)
        return 2
    cores = pin(args.cores)
    cutouts = scenes.portraits(MEDIA)
    backdrop = scenes.blurred_background(MEDIA, 1920, 1080)
    print(f"CPU: {cpu_name()}, {cores} core(s), {os.cpu_count()} on the machine")
    result: dict[str, object] = {"cpu": cpu_name(), "cores": cores}

    result["recall_1080p"] = rows = recall_table(cutouts, backdrop, cores)
    print("\n1920x1080, every tile searched (IoU >= 0.3)   | whole frame alone   | softened, every tile")
    for row in rows:
        print(f"  {row['faces']:3d} faces of {row['face_px']:3d} px: recall {row['recall']:.3f}, false {row['false']}"
              f"   | recall {row['whole_frame_recall']:.3f}, false {row['whole_frame_false']}"
              f"   | recall {row['softened_recall']:.3f}, false {row['softened_false']}")

    sets = {"photos' faces": cutouts, "clip's faces": scenes.clip_portraits(MEDIA)}
    result["small_faces_1080p"] = small = small_faces(sets, backdrop, args.mosaics, cores)
    print(f"\n80 faces of 48 px on {args.mosaics} 1920x1080 crowds of each set, every tile searched:"
          f" with the closer look | the tiles' bar alone")
    for faces_name in sets:
        for name in ("sharp", "softened"):
            look, alone = small[f"{faces_name}, {name}, closer_look"], small[f"{faces_name}, {name}, bar_alone"]
            print(f"  {faces_name:13s} {name:8s}: recall {look['recall']:.3f} ({look['found']}/{look['faces']}),"
                  f" false {look['false']} | recall {alone['recall']:.3f} ({alone['found']}/{alone['faces']}),"
                  f" false {alone['false']}")

    result["schedule_1080p"] = rows = schedule_misses(cutouts, backdrop, args.frames, cores)
    print(f"\nLive schedule against every tile every frame, {args.frames} frames (missed: IoU < 0.5)")
    for row in rows:
        print(f"  {row['faces']:3d} faces of {row['face_px']:3d} px, pan {row['pan_px_per_frame']} px/frame: "
              f"missed {row['missed']} of {row['fresh_faces']} ({100 * row['missed_share']:.1f} %),"
              f" live recall {row['live_recall_mean']:.3f}")

    result["pipeline_1080p"] = rows = pipeline_fps(cutouts, backdrop, args.frames, cores)
    print(f"\nWhole pipeline (detect, classify, track, overlay), 1920x1080 panning, {cores} core(s)")
    for row in rows:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in row["stage_cpu_ms"].items())
        print(f"  {row['faces']:3d} faces of {row['face_px']:3d} px: {row['fps']:.1f} fps,"
              f" {row['cpu_ms_per_frame']:.1f} ms CPU a frame ({stages}), {row['faces_shown_mean']:.1f} faces shown")

    result["detector_720p_4_faces"] = cost = detector_cost_720p(cutouts, args.frames, cores)
    print(f"\nDetector per 1280x720 frame, 4 faces, {args.frames} frames, whole frame alone against the live schedule"
          f" ({cost['tiles']} tiles, {cost['tiles_per_frame']} a frame):")
    for label, key in (("mean", ""), ("median", "_median"), ("CPU time, mean", "_cpu")):
        ratio = cost["live_schedule" + key + "_ms"] / cost["whole_frame" + key + "_ms"]
        print(f"  {label:15s} {cost['whole_frame' + key + '_ms']:6.2f} ms against {cost['live_schedule' + key + '_ms']:6.2f} ms:"
              f" {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
