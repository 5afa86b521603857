"""How steady the emojis are: changes a second per track on the test clip, on a clip whose
true expression changes at known times and on a clip of small moving faces, at 15, 30 and 60
fps, plus a plot of one track.

    python -m benchmarks.steady_emojis [--before OLD.json] [--plot docs/steady-emojis.png] [--settle 0 0.3]
        [--changes-per-second 0 0.5]

The test clip is detected and classified once per frame; the tracker then runs over those
faces at each rate (15 fps: every other frame; 60 fps: each frame twice, at its own time), the
classifications being the same pictures. `--before` reads a `vcam annotate --json` of the clip
made by an earlier version, for the figures before. The known-changes clip is made at each rate
and goes through the whole pipeline, and so does the clip of six faces 44 px wide, from the photos
of tests/media, gliding around the frame (benchmarks/scenes.py). Each figure is given for each
`--settle` (the tracker's settle_seconds; 0: a new face shows its first reading at once) and
each `--changes-per-second` (the tracker's budget of changes; 0: none)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from benchmarks.inputs import FER_SAMPLE, MEDIA, cpu_name
from benchmarks.known_changes import KnownChangesClip, followed_truth, known_changes_clip, shown_emotion
from vcam.config import Config
from vcam.emotions import EMOTIONS
from vcam.faces import Face
from vcam.video import VideoReader
from vcam.pipeline import Pipeline
from vcam.steadiness import measure_steadiness
from benchmarks.scenes import moving_faces
from vcam.track import Tracker, TrackerSettings, tracker_settings

RATES = (15, 30, 60)
CUT = 20.0
"""Mean grey-level jump between two frames' thumbnails that marks a cut (the clip's are 28–31,
other frames stay under 12)."""


def classified_clip(pipeline: Pipeline, path: Path) -> tuple[list[list[Face]], float, list[int]]:
    """Each frame's detected and classified faces, the clip's frame rate, and the first frame of
    each shot (the frames where the picture cuts to another)."""
    faces, shots, before = [], [0], None
    with VideoReader(path) as video:
        for index, frame in enumerate(video):
            faces.append(pipeline.model.classify(frame, pipeline.detector.detect(frame)) if frame is not None else [])
            if frame is not None:
                thumbnail = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (64, 36), interpolation=cv2.INTER_AREA)
                if before is not None and np.abs(thumbnail.astype(float) - before).mean() > CUT:
                    shots.append(index)
                before = thumbnail.astype(float)
        return faces, video.info.fps, shots


def tracked_at(frames: list[list[Face]], fps: float, rate: float, settings: TrackerSettings) -> list[dict]:
    """`vcam annotate --json` records of the tracker over `frames` resampled to `rate`."""
    tracker = Tracker(settings)
    records = []
    for index in range(int(len(frames) / fps * rate)):
        t = index / rate
        source = min(round(t * fps), len(frames) - 1)
        records.append({"frame": index, "faces": [face.to_json() for face in tracker.update(frames[source], t)]})
    return records


def performer_tracks(records: list[dict], shot: tuple[float, float], rate: float) -> list[int]:
    """The tracks of the largest face in each frame of `shot` (start and end in seconds: the
    clip's longest shot, the performer singing), as often as the largest for 5 frames or more."""
    counts: dict[int, int] = {}
    for record in records:
        if shot[0] <= record["frame"] / rate < shot[1] and record["faces"]:
            largest = max(record["faces"], key=lambda face: face["box"][2])
            counts[largest["id"]] = counts.get(largest["id"], 0) + 1
    return sorted(track for track, count in counts.items() if count >= 5)


def tracks_per_shot(records: list[dict], rate: float, fps: float, shots: list[int]) -> list[int]:
    """Per shot (its first frames in the clip at `fps`), the tracks with a detected face in it
    (the faces a track shows only as predicted, just after a cut, are not counted)."""
    tracks: list[set[int]] = [set() for _ in shots]
    for record in records:
        source = round(record["frame"] / rate * fps)  # the clip's frame this record was made from
        shot = sum(1 for start in shots if start <= source) - 1
        tracks[shot].update(face["id"] for face in record["faces"] if not face.get("predicted"))
    return [len(ids) for ids in tracks]


def describe(records: list[dict], rate: float, fps: float, shots: list[int]) -> str:
    steadiness = measure_steadiness(records, rate)
    long = steadiness.long_tracks()
    worst = max((track.changes_per_second for track in long), default=0.0)
    bounds = [*shots, round(len(records) / rate * fps)]
    start, end = max(zip(bounds, bounds[1:]), key=lambda shot: shot[1] - shot[0])
    performer = performer_tracks(records, (start / fps, end / fps), rate)
    return (f"{len(steadiness.tracks):2d} tracks, {len(long)} of ≥1 s, worst {worst:.2f} changes/s, performer in "
            f"{len(performer)} track(s) {performer}, tracks per shot {tracks_per_shot(records, rate, fps, shots)}; "
            f"{steadiness}; long tracks (id: seconds, changes): "
            + ", ".join(f"{track.track_id}: {track.seconds:.1f} s, {track.changes}" for track in long))


def moving_faces_report(pipeline: Pipeline, media: Path, rate: int) -> str:
    """Steadiness of the small moving faces' tracks through the whole pipeline, and how long the
    tracks of 1 s or more show the unsure emoji before their first sure one."""
    records = []
    for index, (t, frame) in enumerate(moving_faces(media, rate)):
        records.append({"frame": index, "faces": [face.to_json() for face in pipeline.process(frame, t).faces]})
    pipeline.reset()
    steadiness = measure_steadiness(records, rate)
    long = steadiness.long_tracks()
    worst = max((track.changes_per_second for track in long), default=0.0)
    waits = [first - start for start, first in first_sure_frames(records).values() if first is not None]
    return (f"{rate:2d} fps: worst {worst:.2f} changes/s; {steadiness}; unsure before the first sure emoji: "
            f"{max(waits, default=0) / rate:.2f} s at most, over {len(waits)} tracks")


def first_sure_frames(records: list[dict]) -> dict[int, tuple[int, int | None]]:
    """Per track, its first frame and its first frame with a sure emoji (None: never)."""
    frames: dict[int, tuple[int, int | None]] = {}
    for record in records:
        for face in record["faces"]:
            start, sure = frames.get(face["id"], (record["frame"], None))
            if sure is None and not face["unsure"] and face["emotion"] is not None:
                sure = record["frame"]
            frames[face["id"]] = (start, sure)
    return frames


def known_changes_report(pipeline: Pipeline, clip: KnownChangesClip, rate: int) -> str:
    shown, ids = [], set()
    for t, frame in clip.frames(rate):
        faces = pipeline.process(frame, t).faces
        ids.update(face.track_id for face in faces)
        shown.append((t, shown_emotion(faces[0] if faces else None, shown)))
    pipeline.reset()
    followed = followed_truth(clip, shown)
    lags = ", ".join("never" if lag is None else f"{round(lag * rate)} frames ({lag:.2f} s)" for lag in followed.lags)
    return (f"{rate:2d} fps: {len(ids)} track(s), {followed.false_changes} changes where the truth holds "
            f"({followed.false_changes_per_second:.2f}/s over {followed.steady_seconds:.1f} s); true changes "
            f"followed after {lags}")


def plot_track(records: list[dict], rate: float, path: Path) -> int:
    """The longest track's smoothed probabilities and shown emoji over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steadiness = measure_steadiness(records, rate)
    track_id = max(steadiness.tracks, key=lambda track: track.frames).track_id
    rows = [(record["frame"] / rate, face) for record in records for face in record["faces"] if face["id"] == track_id]
    times = [t for t, _ in rows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, height_ratios=(3, 1))
    for emotion in EMOTIONS:
        top.plot(times, [face["smoothed"][emotion] for _, face in rows], label=emotion, linewidth=1.6)
        top.scatter(times, [face["probabilities"][emotion] for _, face in rows], s=3, alpha=0.35)
    top.set_ylabel("probability (dots: each frame,\nlines: smoothed)")
    top.legend(ncol=7, fontsize=8, loc="upper center")
    top.set_ylim(0, 1)
    bottom.scatter(times, [EMOTIONS.index(face["emotion"]) for _, face in rows], s=6,
                   c=["tab:gray" if face["predicted"] else "tab:blue" for _, face in rows])
    bottom.set_yticks(range(len(EMOTIONS)), EMOTIONS, fontsize=8)
    bottom.set_ylabel("shown")
    bottom.set_xlabel("seconds (grey: predicted, no detection)")
    top.set_title(f"Track {track_id} of the test clip at {rate:g} fps")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return track_id


def tracker_milliseconds(count: int, frames: int = 200) -> float:
    """The tracker's time a frame for `count` still faces in a grid (matching, smoothing, deciding)."""
    probabilities = tuple(0.7 if emotion == "happy" else 0.05 for emotion in EMOTIONS)
    faces = []
    for index in range(count):
        x, y = 80.0 * (index % 10), 80.0 * (index // 10)
        keypoints = tuple((x + 60 * fx, y + 60 * fy) for fx, fy in ((0.3, 0.35), (0.7, 0.35), (0.5, 0.55),
                                                                     (0.5, 0.75), (0.05, 0.4), (0.95, 0.4)))
        faces.append(Face((x, y, 60.0, 60.0), keypoints, 0.9, probabilities))
    tracker = Tracker()
    tracker.update(faces, 0.0)
    began = time.perf_counter()
    for index in range(1, frames + 1):
        tracker.update(faces, index / 30)
    return (time.perf_counter() - began) / frames * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--data", type=Path, default=FER_SAMPLE)
    parser.add_argument("--before", type=Path, help="a `vcam annotate --json` of the clip by an earlier version")
    parser.add_argument("--plot", type=Path, help="write the plot of the longest track at 30 fps here (PNG)")
    parser.add_argument("--settle", type=float, nargs="+", default=[0.0, TrackerSettings().settle_seconds],
                        help="the settle_seconds to compare (default: 0, as before, and the default)")
    parser.add_argument("--changes-per-second", type=float, nargs="+", default=[TrackerSettings().changes_per_second],
                        help="the tracker's budgets of emoji changes a second to compare (0: none; default: the default)")
    args = parser.parse_args()
    config = Config()
    pipeline = Pipeline.from_config(config)
    print(f"CPU: {cpu_name()}")
    frames, fps, shots = classified_clip(pipeline, args.media / "short_hamilton_clip.mp4")
    bounds = [*shots, len(frames)]
    start, end = max(zip(bounds, bounds[1:]), key=lambda shot: shot[1] - shot[0])
    print(f"short_hamilton_clip.mp4: {len(frames)} frames at {fps:.2f} fps, shots from frames "
          f"{', '.join(map(str, shots))}; the performer's shot: frames {start}–{end - 1}")
    if args.before:
        print(f"  before  : {describe(json.loads(args.before.read_text())['frames'], fps, fps, shots)}")
    clip = known_changes_clip(args.data)
    for settle, budget in [(settle, budget) for settle in args.settle for budget in args.changes_per_second]:
        settings = replace(tracker_settings(config), settle_seconds=settle, changes_per_second=budget)
        pipeline.tracker = Tracker(settings)
        print(f"settle_seconds {settle:g}, changes_per_second {budget:g}:")
        for rate in RATES:
            records = tracked_at(frames, fps, rate, settings)
            print(f"  {rate:2d} fps  : {describe(records, rate, fps, shots)}")
            if rate == 30 and args.plot and (settle, budget) == (args.settle[-1], args.changes_per_second[-1]):
                print(f"  plotted track {plot_track(records, rate, args.plot)} into {args.plot}")
        print(f"  known changes: {' → '.join(clip.emotions)}, {clip.segment_seconds:g} s each, true changes at "
              f"{', '.join(f'{t:g} s' for t in clip.change_times())}")
        for rate in RATES:
            print(f"    {known_changes_report(pipeline, clip, rate)}")
        print("  small moving faces:")
        for rate in RATES:
            print(f"    {moving_faces_report(pipeline, args.media, rate)}")
    print("tracker: " + ", ".join(f"{count} faces {tracker_milliseconds(count):.2f} ms a frame" for count in (1, 4, 24, 60)))


if __name__ == "__main__":
    main()
