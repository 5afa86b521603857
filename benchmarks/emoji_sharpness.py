"""How sharp the emoji is on a near face: the width of its outline's edge, in pixels.

    python -m benchmarks.emoji_sharpness

obama-720p.jpg (tests/media) is enlarged until its face is 500 px high, a person close to the
webcam, and the "face" emoji is drawn on it as the app draws it. Printed: the width of the
emoji's outer outline edge (white to dark, between 90 % and 10 % of white, along the rows of its
middle fifth), against the shipped artwork area-averaged straight to the same size, and against
the artwork first reduced to 136 px (the size of the Noto bitmaps shipped before) and enlarged.
Then what the large artwork costs: the overlay's CPU time a frame on a 1080p crowd of 24 faces
panning 2 px a frame (faces change size and angle, so stickers are made anew), with the shipped
1024-px PNGs against the same PNGs reduced to 117 px (the size shipped before).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.inputs import MEDIA
from vcam.choices import Detector, Placement
from vcam.detect import FaceDetector
from vcam.faces import Face
from vcam.overlay import EmojiOverlay, load_emojis

OLD_BITMAP = 136


def on_white(bgra: np.ndarray) -> np.ndarray:
    alpha = bgra[:, :, 3:].astype(np.float32) / 255
    return (bgra[:, :, :3] * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)


def outline_width(image: np.ndarray) -> float:
    """Mean width in pixels of the emoji's outer outline edge, white to dark, along the rows of
    its middle fifth, from the left: the pixels between 90 % and 10 % of white."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int)
    height = gray.shape[0]
    widths = [int(np.argmax(row < 25)) - int(np.argmax(row < 230)) for row in gray[round(0.4 * height):round(0.6 * height)]]
    return float(np.mean(widths))


def near_face(media: Path, height: float = 500) -> tuple[np.ndarray, Face]:
    """obama-720p.jpg enlarged so that its face is `height` px high, and that face."""
    photo = cv2.imread(str(media / "obama-720p.jpg"))
    detector = FaceDetector(Detector.FULL)
    [face] = detector.detect(photo)
    scale = height / face.box[3]
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    [face] = detector.detect(big)
    return big, face


def drawn_emoji(frame_shape: tuple[int, ...], face: Face, emojis: dict[str, np.ndarray], emotion: str) -> np.ndarray:
    """The emoji as the app draws it on `face`, on white, cut to its drawn pixels."""
    white = np.full(frame_shape, 255, np.uint8)
    frame = EmojiOverlay(emojis, Placement.FACE).draw(white.copy(), [face.replace(emotion=emotion)])
    ys, xs = np.nonzero(np.any(frame != white, axis=2))
    return frame[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def widths(art: np.ndarray, side: int, drawn: np.ndarray) -> dict[str, float]:
    reference = on_white(cv2.resize(art, (side, side), interpolation=cv2.INTER_AREA))
    small = cv2.resize(art, (OLD_BITMAP, OLD_BITMAP), interpolation=cv2.INTER_AREA)
    blown_up = on_white(cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR))
    return {"drawn": outline_width(drawn), "artwork_area_averaged": outline_width(reference),
            f"from_{OLD_BITMAP}_px_enlarged": outline_width(blown_up)}


def overlay_cost(frames: int = 30) -> dict[str, float]:
    """Overlay CPU ms a frame on the panning 24-face crowd, shipped artwork against 117-px copies."""
    from benchmarks import scenes
    from benchmarks.crowd import panned
    from vcam.config import Config
    from vcam.pipeline import Pipeline

    cutouts = scenes.portraits(MEDIA)
    sequence = panned(scenes.crowd(cutouts, scenes.blurred_background(MEDIA, 1920, 1080), 24, 128), frames + 1, 2)
    pipeline = Pipeline.from_config(Config())
    faces = [pipeline.process(frame.copy()).faces for frame, _ in sequence]
    shipped = load_emojis()
    costs = {}
    with tempfile.TemporaryDirectory() as folder:
        for emotion, art in shipped.items():
            scale = 117 / max(art.shape[:2])
            cv2.imwrite(str(Path(folder) / f"{emotion}.png"), cv2.resize(art, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        for name, emojis in (("shipped_1024_px", shipped), ("reduced_117_px", load_emojis(Path(folder)))):
            overlay = EmojiOverlay(emojis, Placement.FACE)
            overlay.draw(sequence[0][0].copy(), faces[0])
            began = time.process_time()
            for (frame, _), seen in zip(sequence[1:], faces[1:]):
                overlay.draw(frame.copy(), seen)
            costs[name] = 1000 * (time.process_time() - began) / frames
    return costs


def main() -> int:
    big, face = near_face(MEDIA)
    emojis = load_emojis()
    print(f"face {face.box[3]:.0f} px high in a {big.shape[1]}x{big.shape[0]} frame")
    for emotion, art in emojis.items():
        drawn = drawn_emoji(big.shape, face, emojis, emotion)
        side = max(drawn.shape[:2])
        figures = ", ".join(f"{name} {value:.2f}" for name, value in widths(art, side, drawn).items())
        print(f"  {emotion:8s} drawn {side} px from {max(art.shape[:2])} px artwork; outline edge width (px): {figures}")
    costs = overlay_cost()
    print("overlay CPU a frame, 1080p crowd of 24 faces panning: "
          + ", ".join(f"{name} {ms:.2f} ms" for name, ms in costs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
