"""The still frame published while there is no camera picture, so that the call shows a
message instead of a frozen face or a black square."""

from __future__ import annotations

import textwrap

import cv2
import numpy as np

from vcam.frames import PlaceholderFrame

BACKGROUND = (48, 40, 36)  # BGR: a dark slate that no call app mistakes for a dead stream
TITLE_COLOUR = (255, 255, 255)
TEXT_COLOUR = (200, 200, 200)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _ascii(text: str) -> str:
    # OpenCV's Hershey fonts draw ASCII only.
    return text.replace("×", "x").replace("…", "...").encode("ascii", "replace").decode()


def render_placeholder(width: int, height: int, title: str, detail: str = "") -> np.ndarray:
    """A width×height BGR frame with `title` in large letters and `detail` wrapped below it."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = BACKGROUND
    scale = width / 1280
    title_scale, title_thickness = 1.6 * scale, max(1, round(3 * scale))
    (title_width, title_height), _ = cv2.getTextSize(_ascii(title), FONT, title_scale, title_thickness)
    y = int(height * 0.42)
    cv2.putText(frame, _ascii(title), ((width - title_width) // 2, y), FONT, title_scale, TITLE_COLOUR,
                title_thickness, cv2.LINE_AA)
    detail_scale, detail_thickness = 0.8 * scale, max(1, round(2 * scale))
    line_height = int(title_height * 0.9)
    for line in textwrap.wrap(_ascii(detail), width=70)[:4]:
        y += line_height + int(10 * scale)
        (line_width, _), _ = cv2.getTextSize(line, FONT, detail_scale, detail_thickness)
        cv2.putText(frame, line, ((width - line_width) // 2, y), FONT, detail_scale, TEXT_COLOUR, detail_thickness,
                    cv2.LINE_AA)
    return frame


def placeholder_frame(width: int, height: int, title: str, detail: str = "") -> PlaceholderFrame:
    return PlaceholderFrame(render_placeholder(width, height, title, detail), [])
