"""`python -m benchmarks.camera_frame`: the virtual camera's frame made in one pass, against the
two passes it replaced, in CPU milliseconds per frame.

Before, a frame of another size than the virtual camera's was scaled, the scaled picture copied
into a black canvas, and the canvas converted into a third array (for NV12, the whole buffer was
rebuilt once more). Now the picture is scaled straight into the canvas, and RGB swaps its channels
in place there. `two_pass` is the old way, kept as the reference that tests/test_virtual_camera.py
holds the one pass equal to.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.inputs import MEDIA, cpu_name
from benchmarks.threads import ROUNDS
from vcam.choices import Fit, PixelFormat
from vcam.virtual_camera import camera_frame

CASES = (((1920, 1080), (1280, 720), "RGB"), ((640, 480), (1280, 720), "RGB"), ((640, 480), (1280, 720), "I420"),
         ((1280, 720), (1280, 720), "NV12"), ((1920, 1080), (1280, 720), "NV12"))
"""(camera size, virtual camera size, pixel format), letterboxed: webcams of other sizes and shapes."""


def two_pass(frame: np.ndarray, width: int, height: int, pixel_format: str, fit: str) -> np.ndarray:
    """The virtual camera's frame as it was made before the one pass: scale, copy the scaled
    picture into a black canvas, then convert (and for NV12 rebuild the whole buffer)."""
    frame_height, frame_width = frame.shape[:2]
    if (frame_width, frame_height) != (width, height):
        if fit == "stretch":
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        else:
            scale = (min if fit == "letterbox" else max)(width / frame_width, height / frame_height)
            size = max(1, round(frame_width * scale)), max(1, round(frame_height * scale))
            scaled = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)
            if fit == "crop":
                x, y = (size[0] - width) // 2, (size[1] - height) // 2
                frame = scaled[y:y + height, x:x + width]
            else:
                frame = np.zeros((height, width, 3), np.uint8)
                x, y = (width - size[0]) // 2, (height - size[1]) // 2
                frame[y:y + size[1], x:x + size[0]] = scaled
    if pixel_format == "BGR":
        return np.ascontiguousarray(frame)
    if pixel_format == "NV12":
        planar = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).reshape(-1)
        luma, quarter = width * height, width * height // 4
        nv12 = np.empty_like(planar)
        nv12[:luma] = planar[:luma]
        nv12[luma::2] = planar[luma:luma + quarter]
        nv12[luma + 1::2] = planar[luma + quarter:]
        return nv12
    codes = {"RGB": cv2.COLOR_BGR2RGB, "I420": cv2.COLOR_BGR2YUV_I420, "YUYV": cv2.COLOR_BGR2YUV_YUYV,
             "UYVY": cv2.COLOR_BGR2YUV_UYVY}
    return cv2.cvtColor(frame, codes[pixel_format])


def cpu_ms(make, frame: np.ndarray, calls: int) -> float:
    began = time.process_time()
    for _ in range(calls):
        make(frame)
    return (time.process_time() - began) * 1000 / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.camera_frame", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="frames per case and way, over 5 rounds (default 200)")
    parser.add_argument("--media", type=Path, default=MEDIA)
    args = parser.parse_args(argv)
    photo = cv2.imread(str(args.media / "two_people.jpg"))
    if photo is None or args.calls < 1:
        print(f"camera_frame: error: {args.media / 'two_people.jpg'} is missing (pass --media) or --calls < 1",
              file=sys.stderr)
        return 2
    print(f"virtual camera frame, letterbox, CPU ms per frame, {args.calls} frames each, on {cpu_name()}")
    print("| camera | virtual camera | format | two passes | one pass |")
    print("|---|---|---|---|---|")
    for (camera, size, pixel_format) in CASES:
        frame = cv2.resize(photo, camera, interpolation=cv2.INTER_AREA)
        ways = (lambda f, size=size, fmt=pixel_format: two_pass(f, *size, fmt, "letterbox"),
                lambda f, size=size, fmt=pixel_format: camera_frame(f, *size, PixelFormat(fmt), Fit.LETTERBOX))
        for make in ways:
            cpu_ms(make, frame, 10)  # warm-up: OpenCV's thread pool and the allocator
        # Alternating rounds, the median of each: the load of a shared machine falls on both alike.
        rounds = [[cpu_ms(make, frame, args.calls // ROUNDS or 1) for make in ways] for _ in range(ROUNDS)]
        old, new = (statistics.median(r[i] for r in rounds) for i in (0, 1))
        print(f"| {camera[0]}×{camera[1]} | {size[0]}×{size[1]} | {pixel_format} | {old:.2f} | {new:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
