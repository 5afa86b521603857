"""Whether a face is large enough to read its emotion: the smaller the face, the surer the model
must be before its emoji is shown.

A face a few pixels wide is scaled up to the model's 48×48 and read poorly, yet the model is
still often sure of it: on PublicTest shrunk to 12-px faces it is right for 47 % of them and
over 0.4 sure of 61 % (`python -m benchmarks.far_faces`). So the confidence a face needs grows
as it shrinks, from `unsure_below` at `clear_width` px to `small_needs` at `smallest` px, and
below `smallest` no confidence is enough: the face is too small to read and shows the unsure
emoji. The ramp keeps the share of right emojis among the shown ones on small faces near that of
full-size faces (0.73 on PublicTest; docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcam.faces import Face


@dataclass(frozen=True)
class Readability:
    smallest: float = 10.0
    """Faces narrower than this (the detector box's larger side, frame pixels) are too small to
    read (0: no size rule)."""
    clear_width: float = 24.0
    """From this width up a face needs no more than `unsure_below`."""
    unsure_below: float = 0.4
    small_needs: float = 0.7
    """The confidence a face of `smallest` px needs; it falls linearly to `unsure_below` at `clear_width`."""

    def needs(self, width: float | np.ndarray) -> float | np.ndarray:
        """The top (calibrated, smoothed) probability a face `width` px wide needs to be shown
        sure; above 1 (never) when it is too small to read."""
        if self.smallest <= 0:
            return np.full_like(np.asarray(width, float), self.unsure_below) if np.ndim(width) else self.unsure_below
        span = max(self.clear_width - self.smallest, 1e-9)
        small = np.clip((self.clear_width - np.asarray(width, float)) / span, 0.0, 1.0)
        needed = self.unsure_below + (max(self.small_needs, self.unsure_below) - self.unsure_below) * small
        needed = np.where(np.asarray(width, float) < self.smallest, 2.0, needed)
        return float(needed) if np.ndim(needed) == 0 else needed

    def readable(self, widths: np.ndarray, tops: np.ndarray) -> np.ndarray:
        """Whether faces of these widths, read with these top probabilities, may show their emoji
        as far as their size goes (the unsure rule for every face still applies)."""
        return np.asarray(tops) >= self.needs(np.asarray(widths, float))

    def too_small(self, width: float, top: float) -> bool:
        """Whether a face's size alone keeps it from being shown sure: it is narrower than
        `smallest`, or its top probability would do for a full-size face but not for one its size."""
        return (self.smallest > 0 and width < self.smallest) or self.unsure_below <= top < self.needs(width)


def face_width(face: Face) -> float:
    """A face's size for reading it: its detector box's larger side, in frame pixels."""
    return float(max(face.box[2], face.box[3]))
