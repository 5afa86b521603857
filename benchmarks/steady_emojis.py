"""How steady the emojis are: changes a second per track on the test clip and on a clip whose
true expression changes at known times, at 15, 30 and 60 fps, plus a plot of one track.

    python -m benchmarks.steady_emojis [--before OLD.json] [--plot docs/steady-emojis.png]

The test clip is detected and classified once per frame; the tracker then runs over those
faces at each rate (15 fps: every other frame; 60 fps: each frame twice, at its own time), the
classifications being the same pictures. `--before` reads a `vcam annotate --json` of the clip
made by an earlier version, for the figures before. The known-changes clip is made at each rate
and goes through the whole pipeline."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

from benchmarks.known_changes import KnownChangesClip, followed_truth, known_changes_clip
from vcam import EMOTIONS
from vcam.config import Config
from vcam.faces import Face
from vcam.media import VideoReader
from vcam.pipeline import Pipeline
from vcam.steadiness import Steadiness, measure_steadiness
from vcam.track import Tracker, tracker_settings

RATES = (15, 30, 60)
PERFORMER = 120
"""Pixels: on the test clip only the performer's face is this wide (the audience's are under 100)."""


def cpu_name() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def classified_clip(pipeline: Pipeline, path: Path) -> tuple[list[list[Face]], float]:
    """Each frame's detected and classified faces, and the clip's frame rate."""
    with VideoReader(path) as video:
        faces = [pipeline.model.classify(frame, pipeline.detector.detect(frame)) if frame is not None else []
                 for frame in video]
        return faces, video.info.fps


def tracked_at(frames: list[list[Face]], fps: float, rate: float, config: Config) -> list[dict]:
    """`vcam annotate --json` records of the tracker over `frames` resampled to `rate`."""
    tracker = Tracker(tracker_settings(config))
    records = []
    for index in range(int(len(frames) / fps * rate)):
        t = index / rate
        source = min(round(t * fps), len(frames) - 1)
        records.append({"frame": index, "faces": [face.to_json() for face in tracker.update(frames[source], t)]})
    return records


def performer_tracks(records: list[dict]) -> int:
    """Tracks the performer's face falls into: ids of faces at least PERFORMER pixels wide."""
    return len({face["id"] for record in records for face in record["faces"] if face["box"][2] >= PERFORMER})


def describe(steadiness: Steadiness, records: list[dict]) -> str:
    long = steadiness.long_tracks()
    worst = max((track.changes_per_second for track in long), default=0.0)
    return (f"{len(steadiness.tracks):2d} tracks, {len(long)} of ≥1 s, worst {worst:.2f} changes/s, "
            f"performer in {performer_tracks(records)} track(s); {steadiness}")


def known_changes_report(pipeline: Pipeline, clip: KnownChangesClip, rate: int) -> str:
    shown, ids = [], set()
    for t, frame in clip.frames(rate):
        faces = pipeline.process(frame, t).faces
        ids.update(face.track_id for face in faces)
        shown.append((t, faces[0].emotion if faces else None))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path("../shared/media"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fer2013-train-publictest.npz"))
    parser.add_argument("--before", type=Path, help="a `vcam annotate --json` of the clip by an earlier version")
    parser.add_argument("--plot", type=Path, help="write the plot of the longest track at 30 fps here (PNG)")
    args = parser.parse_args()
    config = Config()
    pipeline = Pipeline.from_config(config)
    print(f"CPU: {cpu_name()}")
    frames, fps = classified_clip(pipeline, args.media / "short_hamilton_clip.mp4")
    print(f"short_hamilton_clip.mp4: {len(frames)} frames at {fps:.2f} fps")
    if args.before:
        before = json.loads(args.before.read_text())["frames"]
        print(f"  before  : {describe(measure_steadiness(before, fps), before)}")
    for rate in RATES:
        records = tracked_at(frames, fps, rate, config)
        print(f"  {rate:2d} fps  : {describe(measure_steadiness(records, rate), records)}")
        if rate == 30 and args.plot:
            print(f"  plotted track {plot_track(records, rate, args.plot)} into {args.plot}")
    clip = known_changes_clip(pipeline, args.data)
    print(f"known changes: {' → '.join(clip.emotions)}, {clip.segment_seconds:g} s each, true changes at "
          f"{', '.join(f'{t:g} s' for t in clip.change_times())}")
    for rate in RATES:
        print(f"  {known_changes_report(pipeline, clip, rate)}")


if __name__ == "__main__":
    main()
