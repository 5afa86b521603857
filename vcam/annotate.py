"""`vcam annotate`: the pipeline over a photo or a video file, offline."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vcam.encoding import VideoOptions
from vcam.errors import MediaError
from vcam.gif import GifShape, GifWriter
from vcam.media import MediaKind, encode_image, media_kind, output_kind, read_image, require_decodable_size
from vcam.paths import atomic_outputs, os_problem, require_file, require_output_folder, same_file
from vcam.stop_signals import stopping
from vcam.pipeline import Pipeline
from vcam.steadiness import Steadiness, measure_steadiness
from vcam.video import ReadReport, VideoReader, VideoWriter


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


@dataclass(frozen=True)
class AnnotateSummary:
    frames: int
    faces: int
    seconds: float
    broken: int = 0
    """Frames that failed to decode; the output repeats the frame before each."""
    missing: int = 0
    """Frames the input declares that were never there (a truncated file)."""
    notes: tuple[str, ...] = ()
    """What else the user should know: sound converted, streams dropped, the GIF's size."""
    steadiness: Steadiness | None = None
    """Emoji changes a second per track (`vcam annotate --stats` prints it)."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        parts = [f"{plural(self.frames, 'frame')}, {plural(self.faces, 'face')}, {self.fps:.1f} fps"]
        if self.broken:
            parts.append(f"{plural(self.broken, 'undecodable frame')} replaced by the frame before")
        if self.missing:
            parts.append(f"{plural(self.missing, 'frame')} missing: the file ends early (truncated?)")
        return "; ".join([*parts, *self.notes])


def check_paths(source: Path, target: Path, json_path: Path | None = None) -> MediaKind:
    """Fail early, with MediaError, on paths that cannot work, before any model loads or any
    output is begun; returns the output's kind."""
    kind, out = media_kind(source), output_kind(target)
    require_file(source)
    if kind == MediaKind.IMAGE and out == MediaKind.GIF:
        raise MediaError(f"{target}: a GIF is made from a video, and {source.name} is a photo; write a photo"
                         f" (e.g. {target.with_suffix('.png').name}) or pass a video")
    if (kind == MediaKind.IMAGE) != (out == MediaKind.IMAGE):
        raise MediaError(f"{target}: the output must be {'a photo' if kind == MediaKind.IMAGE else 'a video or a GIF'}"
                         f" like the input {source.name}; change its extension")
    outputs = [target] if json_path is None else [target, json_path]
    for path in outputs:
        require_output_folder(path)
        if same_file(path, source):
            raise MediaError(f"{path}: is the input itself; choose another output path so the original is kept")
    if json_path is not None and same_file(json_path, target):
        raise MediaError(f"{json_path}: is also the output {kind}; choose another path")
    if kind == MediaKind.IMAGE:
        require_decodable_size(source)
    return out


def annotate(pipeline: Pipeline, source: Path, target: Path, json_path: Path | None = None,
             progress: bool = True, options: VideoOptions = VideoOptions()) -> AnnotateSummary:
    """Annotate `source` into `target` (photo → photo, video → video or GIF).

    With `json_path`, the faces of every frame go there too; both files appear together or not
    at all, also when the run is stopped by Ctrl-C or SIGTERM."""
    kind = check_paths(source, target, json_path)
    began = time.perf_counter()
    records: list[dict[str, object]] = []
    report, notes = ReadReport(), []
    with stopping(), atomic_outputs(target, *([json_path] if json_path else [])) as partials:
        if kind == MediaKind.IMAGE:
            result = pipeline.process(read_image(source), t=0.0)
            records.append({"frame": 0, "faces": [face.to_json() for face in result.faces]})
            encode_image(partials[0], result.frame, target.suffix)
        else:
            report, notes, fps = annotate_video(pipeline, source, partials[0], target.suffix.lower(), options,
                                                progress, records)
        if json_path is not None:
            try:
                partials[1].write_text(json.dumps({"source": str(source), "frames": records}, indent=1))
            except OSError as err:  # a failed write() names no file: say it was the JSON
                raise MediaError(os_problem(json_path, err)) from None
    faces = sum(len(record["faces"]) for record in records)
    steadiness = measure_steadiness(records, fps) if kind != MediaKind.IMAGE else None
    return AnnotateSummary(len(records), faces, time.perf_counter() - began, report.repeated, report.missing,
                           tuple(notes), steadiness)


def annotate_video(pipeline: Pipeline, source: Path, partial: Path, suffix: str, options: VideoOptions,
                   progress: bool, records: list[dict[str, object]]) -> tuple[ReadReport, list[str], float]:
    """Every frame of `source` through the pipeline into `partial` (a file of `suffix`'s kind);
    the sound passes along. Returns what reading found, the notes for the summary and the
    frame rate."""
    with VideoReader(source) as video:
        info = video.info
        if suffix == ".gif":
            writer: VideoWriter | GifWriter = GifWriter(partial, info, GifShape.of(info, options.gif_width,
                                                                                   options.gif_fps))
            writer.notes.extend(["sound dropped (a GIF has none)"] if video.audio else [])
        else:
            writer = VideoWriter(partial, info, options.quality, video.audio, suffix)
        try:
            video.on_audio = writer.mux_audio
            with tqdm(total=info.frames or None, unit="frame", desc=source.name, disable=not progress,
                      file=sys.stderr, leave=False) as bar:
                shown: np.ndarray | None = None
                for index, (pts, frame) in enumerate(video.timed()):
                    bar.update()
                    if not writer.wants(index):
                        continue
                    if frame is None:  # undecodable: keep the timing, repeat the last good frame
                        frame_faces: list[dict[str, object]] = []
                    else:
                        result = pipeline.process(frame, t=index / info.fps)  # the file's clock, not the wall's
                        shown, frame_faces = result.frame, [face.to_json() for face in result.faces]
                    writer.write(shown, pts)
                    records.append({"frame": index, "faces": frame_faces, **({"broken": True} if frame is None else {})})
            writer.close()
        except BaseException:
            writer.abandon()
            raise
    notes = [*writer.notes, *(f"{plural(count, f'{kind} stream')} dropped" for kind, count in
                              sorted({kind: video.dropped.count(kind) for kind in video.dropped}.items()))]
    if suffix == ".gif":
        notes.append(f"{os.path.getsize(partial) / 1e6:.1f} MB")
    return video.report, notes, info.fps
