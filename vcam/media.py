"""The photos and videos that `vcam annotate` works on: which kind a file is, and photos in and out.

Videos are vcam.video's (PyAV) and GIFs vcam.gif's; OpenCV reads and writes photos. Every output
is written to a temporary file beside the target and renamed into place only when complete
(vcam.paths), so a failure never leaves a half-written file under the user's chosen name. PyAV is
not imported here: the live app reads photos through this module and never needs it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vcam.errors import MediaError
from vcam.paths import atomic_output, require_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".flv", ".wmv", ".3gp", ".ogv")
"""Containers FFmpeg reads that people keep videos in; the codec inside is FFmpeg's business."""
GIF_SUFFIX = ".gif"
MAX_PIXELS = 100_000_000
"""The largest photo vcam decodes (100 megapixels, 300 MB as BGR): a 40000×40000 PNG can be a
1.8 MB file that would take 4.8 GB to decode. Read from the header, before decoding."""


WIDE_GREY_MODES = {"I;16": 1 / 257, "I;16B": 1 / 257, "I;16L": 1 / 257, "I;16N": 1 / 257, "I": 1 / 257, "F": 1.0}
"""Pillow's modes for 16-bit (and 32-bit) grey photos, and the factor to 8 bits, as OpenCV scales them."""


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    GIF = "gif"
    """An animated GIF written for sharing (a GIF read is a video like any other)."""


def unsupported(path: Path, suffixes: tuple[str, ...]) -> MediaError:
    return MediaError(f"{path}: unsupported file type {path.suffix or '(none)'}; use a photo ({', '.join(IMAGE_SUFFIXES)})"
                      f" or a video ({', '.join(suffixes)})")


def media_kind(path: Path) -> MediaKind:
    """What an input file is, from its name; MediaError for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.IMAGE
    if suffix in VIDEO_SUFFIXES:
        return MediaKind.VIDEO
    raise unsupported(path, VIDEO_SUFFIXES)


def output_kind(path: Path) -> MediaKind:
    """What an output file will be, from its name; MediaError for a kind vcam does not write."""
    from vcam.video import VIDEO_FORMATS  # the table of what vcam writes; PyAV is loaded only to write one

    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.IMAGE
    if suffix in VIDEO_FORMATS:
        return MediaKind.VIDEO
    if suffix == GIF_SUFFIX:
        return MediaKind.GIF
    raise unsupported(path, (*VIDEO_FORMATS, GIF_SUFFIX))


def undecodable(path: Path) -> MediaError:
    return MediaError(f"{path}: cannot decode the image (corrupt or not really {path.suffix}); use another file")


def open_photo(path: Path) -> Image.Image:
    """The photo's header, read without decoding its pixels; MediaError for a photo over
    MAX_PIXELS or a file that is not a photo."""
    try:
        photo = Image.open(path)
    except Image.DecompressionBombError:  # Pillow's own limit, higher than ours, already said no
        raise MediaError(f"{path}: the photo is over vcam's limit of {MAX_PIXELS // 1_000_000} megapixels;"
                         " scale it down first") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise undecodable(path) from None
    width, height = photo.size
    if width * height > MAX_PIXELS:
        photo.close()
        raise MediaError(f"{path}: the photo is {width}×{height}, over vcam's limit of {MAX_PIXELS // 1_000_000} "
                         "megapixels; scale it down first")
    return photo


def require_decodable_size(path: Path) -> None:
    """Refuse a photo whose header declares more than MAX_PIXELS, before any decoding."""
    open_photo(path).close()


def read_image(path: Path) -> np.ndarray:
    """A photo as BGR uint8, upright as its EXIF orientation says (a phone stores a portrait
    photo sideways and says so in EXIF). Pillow decodes: it reads every kind here, TIFFs that
    OpenCV 5 cannot among them, and reports the size before decoding."""
    require_file(path)
    with open_photo(path) as photo:
        try:
            upright = ImageOps.exif_transpose(photo)
            if upright.mode in WIDE_GREY_MODES:  # Pillow's convert("RGB") would clip them to white
                grey = np.asarray(upright, dtype=np.float32) * WIDE_GREY_MODES[upright.mode]
                return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
            rgb = upright.convert("RGB")
        except (OSError, ValueError, SyntaxError, EOFError):
            raise undecodable(path) from None
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def encode_image(path: Path, image: np.ndarray, kind: str = "") -> None:
    """Write `image` to `path` in the format of `kind` (a suffix; default: the path's own)."""
    ok, data = cv2.imencode(kind or path.suffix, image)
    if not ok:
        raise MediaError(f"{path}: could not encode the image; check the file name")
    path.write_bytes(data.tobytes())


def write_image(path: Path, image: np.ndarray) -> None:
    with atomic_output(path) as partial:
        encode_image(partial, image, path.suffix)
