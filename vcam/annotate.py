"""`vcam annotate`: the pipeline over a photo or a video file, offline."""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vcam.errors import MediaError
from vcam.media import (
    VideoReader,
    atomic_output,
    media_kind,
    read_image,
    require_file,
    require_output_folder,
    video_writer,
    write_image,
)
from vcam.pipeline import Pipeline
from vcam.steadiness import Steadiness, measure_steadiness


@dataclass(frozen=True)
class AnnotateSummary:
    frames: int
    faces: int
    seconds: float
    broken: int = 0
    """Frames that failed to decode; the output repeats the frame before each."""
    steadiness: Steadiness | None = None
    """Emoji changes a second per track (`vcam annotate --stats` prints it)."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        text = f"{self.frames} frame{'s' * (self.frames != 1)}, {self.faces} face{'s' * (self.faces != 1)}, {self.fps:.1f} fps"
        if self.broken:
            text += f"; {self.broken} undecodable frame{'s' * (self.broken != 1)} replaced by the frame before"
        return text


def check_paths(source: Path, target: Path, json_path: Path | None = None) -> str:
    """Fail early, with MediaError, on paths that cannot work; returns "image" or "video"."""
    kind = media_kind(source)
    require_file(source)
    if media_kind(target) != kind:
        raise MediaError(f"{target}: the output must be {'an image' if kind == 'image' else 'a video'} like the input"
                         f" {source.name}; change its extension")
    outputs = [target] if json_path is None else [target, json_path]
    for path in outputs:
        require_output_folder(path)
        if path.resolve() == source.resolve():
            raise MediaError(f"{path}: is the input itself; choose another output path so the original is kept")
    if json_path is not None and json_path.resolve() == target.resolve():
        raise MediaError(f"{json_path}: is also the output {'image' if kind == 'image' else 'video'}; choose another path")
    return kind


def annotate(pipeline: Pipeline, source: Path, target: Path, json_path: Path | None = None,
             progress: bool = True) -> AnnotateSummary:
    """Annotate `source` into `target` (the same kind: photo → photo, video → video).

    With `json_path`, the faces of every frame go there too; both files appear together or
    not at all."""
    kind = check_paths(source, target, json_path)
    began = time.perf_counter()
    records: list[dict[str, object]] = []
    with ExitStack() as outputs:
        json_partial = outputs.enter_context(atomic_output(json_path)) if json_path is not None else None
        if kind == "image":
            result = pipeline.process(read_image(source), t=0.0)
            records.append({"frame": 0, "faces": [face.to_json() for face in result.faces]})
            write_image(target, result.frame)
        else:
            video = outputs.enter_context(VideoReader(source))
            info = video.info
            writer = outputs.enter_context(video_writer(target, info.width, info.height, info.fps))
            bar = outputs.enter_context(tqdm(total=info.frames or None, unit="frame", desc=source.name,
                                             disable=not progress, file=sys.stderr, leave=False))
            shown: np.ndarray | None = None
            for index, frame in enumerate(video):
                if frame is None:  # undecodable: keep the timing, repeat the last good frame
                    frame_faces: list[dict[str, object]] = []
                else:
                    result = pipeline.process(frame, t=index / info.fps)  # the file's clock, not the wall's
                    shown, frame_faces = result.frame, [face.to_json() for face in result.faces]
                writer.write(shown)
                records.append({"frame": index, "faces": frame_faces, **({"broken": True} if frame is None else {})})
                bar.update()
        if json_partial is not None:
            json_partial.write_text(json.dumps({"source": str(source), "frames": records}, indent=1))
    faces = sum(len(record["faces"]) for record in records)
    broken = sum(1 for record in records if record.get("broken"))
    steadiness = measure_steadiness(records, info.fps) if kind == "video" else None
    return AnnotateSummary(len(records), faces, time.perf_counter() - began, broken, steadiness)
