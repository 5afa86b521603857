"""vcam's settings: one dataclass with defaults, read from a TOML file, overridden by flags."""

from __future__ import annotations

import dataclasses
import os
import reprlib
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from vcam.choices import Detector, Effort, Faces, Fit, PixelFormat, Placement, UnsureEmoji, ViewCount, parse_choice
from vcam.errors import VcamError
from vcam.paths import os_problem, write_atomically
from vcam.shortcut import DEFAULT_TOGGLE_KEY, parse_shortcut

CONFIG_FILE = Path(user_config_dir("vcam")) / "config.toml"
PREVIEW_HOST = "127.0.0.1"
"""Where the preview page listens unless told otherwise: this computer only."""
PREVIEW_PORT = 8765


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take: from `low` to `high`, both included."""

    low: float
    high: float
    whole: bool = False
    """Only whole numbers (sizes, counts, rates)."""

    def check(self, name: str, value: object) -> None:
        """VcamError naming `name` and this range unless `value` lies in it (bools are not numbers)."""
        kind = int if self.whole else int | float
        if isinstance(value, bool) or not isinstance(value, kind) or not self.low <= value <= self.high:
            what = "a whole number" if self.whole else "a number"
            raise VcamError(f"{name} must be {what} from {self.low:g} to {self.high:g}, not {shown(value)}")


MIN_FACE_REACH = 16
"""The smallest min_face: its tiles are then the short-range model's own 128 px, and smaller
tiles would only be enlarged, which shows the model no more of the face (vcam/tiles.py)."""

RANGES: dict[str, Range] = {
    "score_threshold": Range(0.0, 1.0),
    # Steady emojis, in seconds: a moving average needs a time constant above 0, a dwell may be 0;
    # beyond a minute an emoji no longer follows a face.
    "smoothing_seconds": Range(0.01, 60.0),
    "dwell_seconds": Range(0.0, 60.0),
    "switch_margin": Range(0.0, 1.0),
    "unsure_below": Range(0.0, 1.0),
    "smallest_readable_face": Range(0, 4096, whole=True),
    "threads": Range(1, os.cpu_count() or 1, whole=True),
    "detect_every": Range(1, 60, whole=True),
    "camera": Range(0, 255, whole=True),  # the webcam's index; a path is checked apart
    # 4096 on a side holds 4K (3840×2160) and DCI 4K; a frame that size is 48 MiB, and every
    # stage (placeholder, JPEG, virtual camera) can still make one. 100000 would ask for 28 GiB.
    "width": Range(16, 4096, whole=True),
    "height": Range(16, 4096, whole=True),
    "fps": Range(1, 60, whole=True),
    # Faces smaller than the tiles can reach are not findable; above the frame, no tiles run.
    "min_face": Range(MIN_FACE_REACH, 4096, whole=True),
}
"""Every numeric setting and the values it may take: one place to read them, one place to add one.
A setting that may be None (score_threshold) is checked only when it has a value."""


CHOICES = {"detector": Detector, "placement": Placement, "classify_views": ViewCount, "effort": Effort,
           "fit": Fit, "pixel_format": PixelFormat, "faces": Faces, "unsure_emoji": UnsureEmoji}
"""Every setting that is a choice, and its enum."""


@dataclass(frozen=True)
class Config:
    detector: Detector = Detector.FULL
    """BlazeFace model: "full" (faces near and far, turned and half out of frame: the default, it
    finds the face in 98 % of the test clip's frames) or "short" (faster, for one person facing
    the camera from under 2 m: 80 % of the same frames)."""
    min_face: int = 48
    """Smallest face the "full" detector looks for, in pixels of the camera's frame: faces below
    what the whole frame shows the model (a tenth of the frame's width) are searched for in
    tiles, a few a frame. 48 finds 71 of 80 faces 48 px wide in a 1080p crowd and all of 64 px;
    larger values mean fewer tiles. At least 16 (smaller tiles than the model's input show it
    nothing more); a value at or above what the whole frame finds (so also one larger than the
    frame) means no tiles: the whole-frame pass alone."""
    score_threshold: float | None = None
    """Least detector score for a face; None takes the model's own default (0.5 short, 0.6 full)."""
    placement: Placement = Placement.FACE
    """Where the emoji goes: "face", "badge" or "corner"."""
    faces: Faces = Faces.EVERYONE
    """Whose faces get an emoji: "everyone" or "only_me" (the largest face near the centre, held
    by its track while the user moves or turns away for a moment; vcam/user_face.py)."""
    emoji_dir: Path | None = None
    """A folder of the user's own <emotion>.png files; None uses the shipped emojis."""
    emotion_model: Path | None = None
    detector_model: Path | None = None
    smoothing_seconds: float = 0.4
    """Time constant of each face's moving average of probabilities, in seconds (the same at any
    frame rate); longer is steadier and slower to follow a new expression."""
    dwell_seconds: float = 0.8
    """Least time a shown emoji stays before another replaces it (0: no dwell); a clear and
    confident change may come sooner. vcam/track.py explains the defaults."""
    switch_margin: float = 0.15
    unsure_below: float = 0.4
    """A face is unsure while no emotion's smoothed probability reaches this (0: never)."""
    smallest_readable_face: int = 10
    """Faces narrower than this, in camera pixels, are too small to read and always unsure; faces
    under 24 px need more confidence the smaller they are (vcam/readable.py; 0: no size rule)."""
    unsure_emoji: UnsureEmoji = UnsureEmoji.NEUTRAL
    """What an unsure face shows: an emotion's emoji ("neutral") or "none" (the face as it is)."""
    threads: int = 1
    """LiteRT threads per model, the one default every model takes: one spends less CPU a frame than two
    and is no slower under load (python -m benchmarks.threads)."""
    detect_every: int = 1
    """Run the face detector on at most every n-th frame and keep its faces for the frames
    between (the effort may skip more: a still picture needs no new detection). On the test clip
    at high effort, 2 saves half the detector's time (about 2 ms a 720p frame) and misses 4.6 %
    of the faces (IoU under 0.5 with a fresh detection): `python -m benchmarks.bench` measures both."""
    classify_views: ViewCount = ViewCount.FACE
    """Views of each face the emotion CNN classifies and averages (test-time augmentation): 1 the
    face; 2 also its mirror image; 10 also four corner crops, each mirrored. On FER2013's
    PublicTest: 0.703, 0.712 and 0.707; for 4 faces on two cores 2.4, 4.8 and 24 ms, so 2 is
    the one worth its time (weights/README.md has the figures)."""
    effort: Effort = Effort.BALANCED
    """How much CPU goes into following faces: "high" detects and classifies every face on every
    frame; "balanced" detects when the picture changes (and twice a second when it is still) and
    classifies an unchanged face about seven times a second (a new or changed one at once); "low"
    once and five times a second. The emoji changes the same way, at a fraction of the CPU
    (docs/performance.md)."""
    camera: int | str = 0
    """The webcam: its index (0, 1, …), a device path (/dev/video2) or a video file (played in a loop)."""
    overlay: bool = True
    """Draw the emojis (the tray's Overlay switch)."""
    width: int = 1280
    height: int = 720
    fps: int = 30
    """The virtual camera's size and rate, what meeting apps expect, whatever the webcam delivers."""
    fit: Fit = Fit.LETTERBOX
    """How a webcam frame of another shape fills the virtual camera: "letterbox" (black bars),
    "crop" (fill, cutting the edges) or "stretch"."""
    pixel_format: PixelFormat = PixelFormat.BGR
    """The pixel format vcam hands the virtual camera. BGR, the pipeline's own layout, is sent as it
    is, and the virtual camera converts it to its device's format in the one pass it makes for RGB
    too; some Zoom setups show black for that and want I420 or YUYV."""
    virtual_camera: str | None = None
    """The virtual camera device (/dev/video10, "OBS Virtual Camera"); None takes the first one free."""
    mirror_preview: bool = True
    """Mirror the preview like a bathroom mirror; the published stream is never mirrored."""
    toggle_key: str = DEFAULT_TOGGLE_KEY
    """The key that switches the overlay on and off from any window, the call app's too: modifiers
    and a key joined by + ("Ctrl+Alt+E", "Super+F9"); "" for none (vcam/shortcut.py)."""

    def __post_init__(self) -> None:
        for name, kind in CHOICES.items():  # the one place a choice in the settings is parsed
            object.__setattr__(self, name, parse_choice(kind, name, getattr(self, name)))
        if isinstance(self.camera, bool) or not isinstance(self.camera, int | str) or self.camera == "":
            raise VcamError(f"camera must be an index (0, 1, …) or a path, not {shown(self.camera)}")
        for name, allowed in RANGES.items():
            value = getattr(self, name)
            if value is not None and not (name == "camera" and isinstance(value, str)):
                allowed.check(name, value)
        if self.width % 2 or self.height % 2:
            raise VcamError(f"width and height must be even (YUV formats halve them), not {self.width}×{self.height}")
        for name, value in (("overlay", self.overlay), ("mirror_preview", self.mirror_preview)):
            if not isinstance(value, bool):
                raise VcamError(f"{name} must be true or false, not {shown(value)}")
        parse_shortcut(self.toggle_key)
        if self.virtual_camera is not None and not (isinstance(self.virtual_camera, str) and self.virtual_camera):
            raise VcamError(f"virtual_camera must be a device name such as \"/dev/video10\", not {shown(self.virtual_camera)}")

    def replace(self, **changes: Any) -> Config:
        """A copy with the given fields changed; None values (flags not given) change nothing."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})


def shown(value: object) -> str:
    """`value` for an error message: its repr, cut short (a TOML table may be long)."""
    return reprlib.repr(value)


_PATH_FIELDS = {"emoji_dir", "emotion_model", "detector_model"}


def _path_setting(name: str, value: object) -> Path:
    """A path read from the settings file; VcamError naming the key for anything but a usable string."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise VcamError(f'{name} must be a path in quotes, e.g. {name} = "~/vcam/{name}", not {shown(value)}')
    return Path(value).expanduser()


def load_config(path: Path | None = None) -> Config:
    """The settings in `path` (default: the user's CONFIG_FILE), defaults for what it leaves out.

    A missing default file means defaults; a file the user named must exist."""
    if path is None:
        path = CONFIG_FILE
        if not path.exists():
            return Config()
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise VcamError(f"config file {path} does not exist; check the --config path") from None
    except OSError as err:  # a name too long, a link loop, no permission: one line all the same
        raise VcamError(f"config file {os_problem(path, err)}") from None
    if not stat.S_ISREG(status.st_mode):
        raise VcamError(f"config file {path} is not a file; pass the settings file with --config")
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise VcamError(f"config file {path} is not valid TOML ({err}); fix or delete it") from None
    known = {field.name for field in dataclasses.fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise VcamError(f"config file {path} has unknown settings {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        if isinstance(values.get("camera"), str):
            values["camera"] = parse_camera(values["camera"])  # camera = "1" means webcam 1, as --source 1 does
        return Config(**{key: _path_setting(key, value) if key in _PATH_FIELDS else value for key, value in values.items()})
    except VcamError as err:
        raise VcamError(f"config file {path}: {err}") from None
    except TypeError as err:
        raise VcamError(f"config file {path} has a value of the wrong type ({err}); fix it") from None


def parse_camera(text: str) -> int | str:
    """A --source argument: digits are a webcam index, anything else a device path or video file."""
    return int(text) if text.strip().isdigit() else text


def _toml_value(value: Any) -> bool | int | float | str:
    """A setting's value as TOML holds it: a choice by its name, a path as a string."""
    return value if isinstance(value, bool | int | float) else str(value)


def save_settings(changes: dict[str, Any], path: Path | None = None) -> Config:
    """Write `changes` into the settings file (default: the user's CONFIG_FILE) and return the
    settings the file now gives. Only the keys changed are touched (tomlkit edits the document in
    place), so the user's comments, order and other settings stay as they wrote them; flags given
    for one run stay out of the file. The file is replaced whole (vcam.paths.write_atomically), so
    a crash never leaves it half-written."""
    import tomlkit  # only a save needs it: reading the settings takes the standard library's tomllib

    path = path or CONFIG_FILE
    current = load_config(path) if path.exists() else Config()
    updated = dataclasses.replace(current, **changes)  # validates
    if path.exists():
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    else:
        document = tomlkit.document()
        document.add(tomlkit.comment("vcam settings; see `vcam --help`"))
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = _toml_value(value)
    write_atomically(path, tomlkit.dumps(document).encode("utf-8"))
    return updated
