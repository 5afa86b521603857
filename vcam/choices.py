"""Every choice a user makes by name, as an enum, and the one way to read one.

A choice is parsed once where it enters vcam — the settings file, a command-line flag (argparse
`type=`), the web page's JSON — and is trusted inside: stages compare members, never strings.
This module imports nothing heavy, so the settings can be read before any model loads.
"""

from __future__ import annotations

import reprlib
from enum import Enum, IntEnum, StrEnum
from typing import TypeVar

from vcam.emotions import Emotion
from vcam.errors import UnknownChoice


class Detector(StrEnum):
    """Which BlazeFace model finds the faces."""

    SHORT = "short"
    """Short range: faster, one person facing the camera from under 2 m."""
    FULL = "full"
    """Full range: faces near and far, turned and half out of frame (the default)."""


class Placement(StrEnum):
    """Where the emoji goes."""

    FACE = "face"
    BADGE = "badge"
    CORNER = "corner"


class Fit(StrEnum):
    """How a webcam frame of another shape fills the virtual camera."""

    LETTERBOX = "letterbox"
    CROP = "crop"
    STRETCH = "stretch"


class Effort(StrEnum):
    """How much CPU vcam spends to follow faces (vcam/schedule.py): `high` detects and classifies
    every face on every frame; `balanced` (the default) detects when the picture changes and twice
    a second when it holds still, and classifies a face that holds its look about seven times a
    second; `low` once a second and five times a second."""

    LOW = "low"
    BALANCED = "balanced"
    HIGH = "high"


class Quality(StrEnum):
    """How hard the video encoder works for a smaller, cleaner file (`vcam annotate --quality`)."""

    DRAFT = "draft"
    GOOD = "good"
    BEST = "best"


class ViewCount(IntEnum):
    """Views of each face the emotion CNN classifies and averages (test-time augmentation)."""

    FACE = 1
    MIRRORED = 2
    CROPS = 10
    """The face and four corner crops, each mirrored."""


class Normalisation(StrEnum):
    """How each face's brightness and contrast are evened out before the network sees it.

    none: the pixels as they are, /255. standardise: each face shifted and scaled to FER2013's
    typical face (mean STANDARD_MEAN, standard deviation STANDARD_STD), so that a dark or
    washed-out face arrives with the brightness and contrast of a well-lit one. clahe: OpenCV's
    contrast-limited adaptive histogram equalisation in 2×2 tiles of 24 px, which also evens out
    light that falls on one side of the face.
    A model works best with the normalisation it was trained with: it is recorded in the model's
    calibration file (`normalisation`, default none) and the app applies what is recorded there."""

    NONE = "none"
    STANDARDISE = "standardise"
    CLAHE = "clahe"


class PixelFormat(StrEnum):
    """The virtual camera's pixel formats a user may choose, by the names of pyvirtualcam's own
    PixelFormat, which the sink opens the camera with (`pyvirtualcam.PixelFormat[name]`). A choice of
    names, not a second table: it is here so that the settings are read without loading pyvirtualcam,
    and a test holds every name to pyvirtualcam's table."""

    RGB = "RGB"
    BGR = "BGR"
    I420 = "I420"
    NV12 = "NV12"
    YUYV = "YUYV"
    UYVY = "UYVY"


E = TypeVar("E", bound=Enum)


def choice_names(kind: type[Enum]) -> list[str]:
    """What a user types for each of `kind`'s members, in declaration order."""
    return [str(member.value) for member in kind]


def parse_choice(kind: type[E], name: str, value: object) -> E:
    """`value` (a member, what a user types for one, or for a count its number) as a member of
    `kind`; UnknownChoice naming the setting `name` and every choice otherwise."""
    if isinstance(value, kind):
        return value
    for member in kind:
        # A bool is an int to Python, and true is no count; a table or a list is no name.
        if isinstance(value, str | int) and not isinstance(value, bool) and value in (member.value, str(member.value)):
            return member
    if issubclass(kind, IntEnum):  # a count: say which numbers
        raise UnknownChoice(f"{name} must be {', '.join(choice_names(kind))}, not {reprlib.repr(value)}")
    raise UnknownChoice(f"unknown {name} {reprlib.repr(value)}; choose one of {', '.join(choice_names(kind))}")


class Faces(StrEnum):
    """Whose faces get an emoji: everyone's, or only the user's (vcam/user_face.py)."""

    EVERYONE = "everyone"
    ONLY_ME = "only_me"



UnsureEmoji = StrEnum("UnsureEmoji", {**{emotion.name: emotion.value for emotion in Emotion}, "NONE": "none"})
"""What a face the model cannot read shows: one of the emotions' emojis (neutral by default), or
"none" (the face is left as it is). Made from Emotion, the one table of the emotions."""
