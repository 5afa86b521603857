"""vcam: an emotion-to-emoji virtual camera."""

import os

__version__ = "0.1.0"

# FFmpeg inside OpenCV prints its own diagnostics (e.g. "moov atom not found") straight to
# stderr; vcam reports unreadable media in one line of its own. Must be set before cv2 loads.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# FFmpeg (above) and OpenCV's own logger would print warnings such as "imwrite_ ... permission
# denied" before vcam's one-line error; errors only.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from vcam.emotions import EMOTIONS  # noqa: E402

__all__ = ["EMOTIONS", "__version__"]
