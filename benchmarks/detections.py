"""The one measure of what a detection schedule costs in faces: of the faces a fresh detection
finds, those that the faces kept (carried, scheduled, tiled in turn) miss."""

from __future__ import annotations

from collections.abc import Sequence

from vcam.faces import Box, iou

MATCH_IOU = 0.5
"""A kept box stands for a fresh one when they overlap at least this much (the usual detection match)."""


def missed(fresh: Sequence[Box], kept: Sequence[Box]) -> int:
    """How many boxes of `fresh` have no box of `kept` at IoU MATCH_IOU or more."""
    return sum(1 for box in fresh if max((iou(box, other) for other in kept), default=0.0) < MATCH_IOU)
