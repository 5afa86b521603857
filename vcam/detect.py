"""Face detection with BlazeFace (MediaPipe's models, run with LiteRT).

The network sees the frame letterboxed into a square (128 px for the short-range model, made for
one person near the camera; 192 px for the full-range model, made for a room), and predicts, for
each SSD anchor, a score and a box with six keypoints relative to that anchor. Decoding follows
MediaPipe's `SsdAnchorsCalculator` and `TensorsToDetectionsCalculator` options for these models;
overlapping boxes are merged by weighted non-maximum suppression, as MediaPipe does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.choices import Detector
from vcam.config import Config
from vcam.errors import ModelFileError
from vcam.faces import Box, Face, ious
from vcam.litert import open_interpreter
from vcam.resources import weights_dir


@dataclass(frozen=True)
class DetectorSpec:
    """What differs between the two BlazeFace models."""

    filename: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with MediaPipe's interpolated scale, 1 without
    score_threshold: float


DETECTORS: dict[Detector, DetectorSpec] = {
    Detector.SHORT: DetectorSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5),
    Detector.FULL: DetectorSpec("face_detection_full_range_sparse.tflite", 192, (4,), 1, 0.6),
}


def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], in the order the model emits its predictions.

    With `fixed_anchor_size` every anchor is 1×1, so only the centres matter; consecutive layers
    that share a stride share one grid, each adding `anchors_per_layer` anchors per cell.
    """
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        per_cell = 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += spec.anchors_per_layer
            layer += 1
        cells = spec.input_size // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(xy, per_cell, axis=0))
    return np.concatenate(centres)


class FaceDetector:
    """Finds faces in BGR frames: `detect(frame) -> list[Face]`, boxes in frame pixels."""

    def __init__(self, kind: Detector = Detector.SHORT, score_threshold: float | None = None,
                 nms_iou: float = 0.3, model_path: Path | None = None, num_threads: int = Config.threads) -> None:
        self.kind = kind
        self.spec = DETECTORS[kind]
        self.score_threshold = self.spec.score_threshold if score_threshold is None else score_threshold
        self.nms_iou = nms_iou
        self._logit_threshold = logit(min(self.score_threshold, EDGE_SCORE))
        path = model_path or weights_dir() / self.spec.filename
        self._interpreter = open_interpreter(path, num_threads)
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        self._anchors = ssd_anchors(self.spec)
        size, anchors = self.spec.input_size, len(self._anchors)
        shapes = sorted(tuple(int(v) for v in d["shape"]) for d in outputs)
        if [tuple(int(v) for v in d["shape"]) for d in inputs] != [(1, size, size, 3)] or shapes != [
            (1, anchors, 1), (1, anchors, 16)
        ]:
            raise ModelFileError(
                f"model file {path} is not the BlazeFace {kind}-range detector ({size}×{size} input, {anchors} anchors);"
                f" use weights/{self.spec.filename} or set the detector to match the file"
            )
        self._input = inputs[0]["index"]
        outputs = sorted(outputs, key=lambda d: d["shape"][-1])
        self._scores_out, self._boxes_out = outputs[0]["index"], outputs[1]["index"]
        size = self.spec.input_size
        self._canvas = np.zeros((1, size, size, 3), np.float32)  # reused: no allocation per frame

    def detect(self, frame: np.ndarray) -> list[Face]:
        """The faces in the whole frame, one pass of the model over it letterboxed."""
        found = self.detections(gray_to_bgr(frame))
        return faces_from(weighted_nms(found.rows, found.scores, self.nms_iou))

    def detections(self, frame: np.ndarray, region: Region | None = None, least_score: float | None = None) -> Detections:
        """The model's detections over `region` (x, y, w, h; default: the whole frame), before
        merging, in frame pixels: what a tiled pass gathers over its tiles and merges once. With
        `least_score` (EDGE_SCORE at least), every detection that scores it, wherever it lies."""
        frame_width = frame.shape[1]
        x, y, width, height = region or (0, 0, frame_width, frame.shape[0])
        frame = frame[y:y + height, x:x + width]
        size = self.spec.input_size
        height, width = frame.shape[:2]
        scale = size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
        small = shrink(frame, new_w, new_h)
        canvas = self._canvas
        canvas.fill(-1.0)  # black in the model's [-1, 1] range
        rgb = small[:, :, ::-1]  # BlazeFace wants RGB; a view, the copy happens in the next line
        np.multiply(rgb, 2.0 / 255.0, out=canvas[0, pad_y:pad_y + new_h, pad_x:pad_x + new_w], casting="unsafe")
        canvas[0, pad_y:pad_y + new_h, pad_x:pad_x + new_w] -= 1.0
        self._interpreter.set_tensor(self._input, canvas)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes_out)[0]
        logits = self._interpreter.get_tensor(self._scores_out)[0, :, 0]
        keep = np.flatnonzero(logits >= self._logit_threshold)  # sigmoid is monotonic: no need to apply it to all
        if keep.size == 0:
            return Detections.none()
        scores = 1.0 / (1.0 + np.exp(-logits[keep].astype(np.float64)))
        decoded = self._decode(raw[keep], self._anchors[keep]).astype(np.float64)  # (K, 16) in letterbox [0, 1]
        # From letterbox units back to frame pixels.
        decoded[:, 0::2] = (decoded[:, 0::2] * size - pad_x) / scale + x
        decoded[:, 1::2] = (decoded[:, 1::2] * size - pad_y) / scale + y
        found = Detections(decoded, scores)
        if least_score is not None:
            return found.where(scores >= least_score)
        if region is not None:  # a tile: its faces are small, and the lower bar for cut faces is for near ones
            return found.where(scores >= self.score_threshold)
        return found.where((scores >= self.score_threshold) | cut_by_frame(decoded, frame_width))

    def _decode(self, raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """Raw predictions → (x0, y0, x1, y1, kx0, ky0, …, kx5, ky5) in [0, 1] letterbox units."""
        size = float(self.spec.input_size)
        cx = raw[:, 0] / size + anchors[:, 0]
        cy = raw[:, 1] / size + anchors[:, 1]
        w, h = raw[:, 2] / size, raw[:, 3] / size
        out = np.empty_like(raw)
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        out[:, 4::2] = raw[:, 4::2] / size + anchors[:, :1]
        out[:, 5::2] = raw[:, 5::2] / size + anchors[:, 1:]
        return out


EDGE_SCORE = 0.2
"""Least score of a face that the frame's left or right border cuts. The full-range model scores
a face 30 % out of the frame far lower than a whole one: of 64 such faces on 1280×720 scenes,
0.62 reach 0.6 and 0.97 reach 0.2. On a face-free picture nothing it puts across a side border
scores above 0, while boxes across the top reach 0.37 and elsewhere 0.19: so a lower bar for
boxes that cross a side border finds cut faces and no false ones (python -m benchmarks.edge_faces)."""
EDGE_CUT = 0.15
"""A box crosses the border when at least this share of its width lies beyond it."""


def cut_by_frame(rows: np.ndarray, width: int) -> np.ndarray:
    """Which detections (x0, y0, x1, y1, …) the left or right border of a frame `width` px wide
    cuts. Only the sides: people lean and walk out sideways, while boxes that the model puts
    across the top border on a face-free picture reach 0.37."""
    beyond_sides, _ = beyond_frame(rows, width, np.inf)
    return beyond_sides >= EDGE_CUT * (rows[:, 2] - rows[:, 0])


def beyond_frame(rows: np.ndarray, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """How many pixels of each detection (x0, y0, x1, y1, …) lie beyond the left and right
    borders of a frame width × height together, and beyond its bottom border."""
    sides = np.maximum(-rows[:, 0], 0) + np.maximum(rows[:, 2] - width, 0)
    return sides, np.maximum(rows[:, 3] - height, 0)


SAME_FACE = 0.3
"""A closer look's detection that overlaps the face it looked at by this IoU is that face."""


def look_closer(detector: FaceDetector, frame: np.ndarray, box: Box, view: float, least_score: float) -> Detections:
    """A second look of `detector` at a face `box` (x, y, w, h) of `frame`: the detections scoring
    `least_score` in a square `view` times the face's size around it (shifted to lie inside the
    frame), that overlap `box` by SAME_FACE. In that view the face is larger than in the pass that
    found it, so a real face scores high there, while a blob that only looked like a face from
    afar does not."""
    x, y, w, h = box
    height, width = frame.shape[:2]
    side = round(view * max(w, h))
    left = min(max(round(x + w / 2 - side / 2), 0), max(width - side, 0))
    top = min(max(round(y + h / 2 - side / 2), 0), max(height - side, 0))
    found = detector.detections(frame, (left, top, min(side, width), min(side, height)), least_score=least_score)
    if not len(found.scores):
        return found
    boxes = np.column_stack([found.rows[:, :2], found.rows[:, 2:4] - found.rows[:, :2]])
    return found.where(ious(np.array([box], np.float64), boxes)[0] >= SAME_FACE)


def logit(probability: float) -> float:
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    return float(np.log(probability / (1.0 - probability)))


Region = tuple[int, int, int, int]
"""x, y, width, height of a part of a frame, in whole pixels."""


@dataclass(frozen=True)
class Detections:
    """A pass's detections before merging: rows of (x0, y0, x1, y1, kx0, ky0, …, kx5, ky5) in
    frame pixels, and their scores."""

    rows: np.ndarray
    scores: np.ndarray

    @classmethod
    def none(cls) -> Detections:
        return cls(np.zeros((0, 16)), np.zeros(0))

    @classmethod
    def joined(cls, parts: list[Detections]) -> Detections:
        parts = [part for part in parts if len(part.scores)]
        if not parts:
            return cls.none()
        return cls(np.concatenate([part.rows for part in parts]), np.concatenate([part.scores for part in parts]))

    def where(self, keep: np.ndarray) -> Detections:
        return Detections(self.rows[keep], self.scores[keep])


def gray_to_bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def faces_from(merged: list[tuple[np.ndarray, float]]) -> list[Face]:
    """Merged detections as faces."""
    faces = []
    for row, score in merged:
        x0, y0, x1, y1 = (float(v) for v in row[:4])
        keypoints = tuple((float(row[4 + 2 * k]), float(row[5 + 2 * k])) for k in range(6))
        faces.append(Face(box=(x0, y0, x1 - x0, y1 - y0), keypoints=keypoints, score=float(score)))
    return faces


def shrink(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`frame` scaled down to width×height, averaging pixels as INTER_AREA does, but first halved
    with bilinear steps (each an exact 2×2 mean): INTER_AREA at an odd factor is slow — 3.3 ms
    for 1280×720 to 192×108 here, against 0.5 ms this way, for a mean difference under one grey
    level."""
    while frame.shape[1] // 2 >= width and frame.shape[0] // 2 >= height:
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def weighted_nms(detections: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster of overlapping detections becomes one, its
    coordinates the score-weighted mean of the cluster, its score the cluster's best.
    This steadies boxes from frame to frame far better than keeping the single best."""
    if len(scores) == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    detections, scores = detections[order], scores[order]
    corners = detections[:, :4]
    boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]])  # (x, y, w, h)
    remaining = np.ones(len(scores), bool)
    merged = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = ious(boxes[i:i + 1], boxes)[0]
        cluster = remaining & (overlap > iou_threshold)
        cluster[i] = True
        weights = scores[cluster]
        merged.append(((detections[cluster] * weights[:, None]).sum(0) / weights.sum(), float(scores[i])))
        remaining &= ~cluster
    return merged
