"""The `vcam` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from vcam import __version__
from vcam.choices import E, Detector, Effort, Fit, PixelFormat, Placement, Quality, choice_names, parse_choice
from vcam.config import CONFIG_FILE, PREVIEW_HOST, PREVIEW_PORT, Config, load_config, parse_camera
from vcam.encoding import GIF_FPS, GIF_WIDTH, VideoOptions
from vcam.errors import UnknownChoice, VcamError
from vcam.stop_signals import signal_name, stopping


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a wrong flag reported as every vcam error is: one line, status 2 (argparse's own
    prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vcam",
        description="Emotion-to-emoji camera: finds every face, reads its emotion, draws the matching emoji.",
        epilog=f"Settings are read from {CONFIG_FILE} when it exists; flags override them.",
    )
    parser.add_argument("--version", action="version", version=f"vcam {__version__}")
    parser.add_argument("--config", type=Path, help=f"settings file (TOML; default {CONFIG_FILE})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    annotate = commands.add_parser(
        "annotate", help="draw emojis onto a photo or a video file",
        description="Run the pipeline over a photo (jpg, png, webp, bmp, tif) or a video (any FFmpeg reads: mp4, mov, "
                    "mkv, webm, avi, gif, …) and write a photo, or a video (.mp4/.mov/.mkv as H.264, .webm as VP9, "
                    "the sound kept) or an animated .gif, with an emoji on every face.",
    )
    annotate.add_argument("input", type=Path, metavar="INPUT", help="photo or video to read")
    annotate.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the annotated photo or video")
    annotate.add_argument("--json", type=Path, metavar="PATH",
                          help="also write each frame's faces (box, id, probabilities, shown emotion) as JSON")
    add_look_arguments(annotate)
    annotate.add_argument("--emojis", type=Path, metavar="FOLDER", dest="emoji_dir",
                          help="a folder of your own angry.png … neutral.png")
    annotate.add_argument("--quiet", action="store_true", help="no progress bar")
    annotate.add_argument("--stats", action="store_true",
                          help="also print the number of tracks and each track's emoji changes a second")
    annotate.add_argument("--quality", type=choice(Quality, "quality"), metavar=braces(Quality), default=Quality.GOOD,
                          help="video encoding: draft (small, fast), good (default) or best (large, slow)")
    annotate.add_argument("--width", type=parse_positive(int, 16), metavar="PIXELS",
                          help=f"a .gif output's largest width (default {GIF_WIDTH}; narrower videos keep theirs)")
    annotate.add_argument("--fps", type=parse_positive(float, 0.1),
                          help=f"a .gif output's largest frame rate (default {GIF_FPS:g})")

    tray = commands.add_parser(
        "tray", help="the tray app: publish the virtual camera (the default command)",
        description="Start the system-tray app: read the webcam, draw an emoji on every face and publish the "
                    "result as a virtual camera that Zoom, Meet or Teams can pick. The tray menu switches the "
                    "overlay, placement, camera and detector, pauses, and quits.",
    )
    add_camera_arguments(tray)
    tray.add_argument("--size", type=parse_size, metavar="WxH",
                      help="the virtual camera's frame size (default 1280x720, what call apps expect)")
    tray.add_argument("--fps", type=int, help="the virtual camera's frame rate (default 30)")
    tray.add_argument("--fit", type=choice(Fit, "fit"), metavar=braces(Fit), help="how other camera shapes fill the frame (default letterbox)")
    tray.add_argument("--pixel-format", type=choice(PixelFormat, "pixel format"), metavar=braces(PixelFormat),
                      dest="pixel_format",
                      help="the virtual camera's pixel format (default BGR; try I420 or YUYV if Zoom shows black)")
    tray.add_argument("--device", dest="virtual_camera", metavar="NAME",
                      help="the virtual camera device, e.g. /dev/video10 (default: the first one free)")

    web = commands.add_parser(
        "web", help="show the camera with emojis in the browser (no virtual camera)",
        description="Serve a page with the live picture, the overlay switch, the emoji placement and each "
                    f"face's emotions, at http://{PREVIEW_HOST}:{PREVIEW_PORT}/ by default. The URL printed at "
                    "start carries this run's secret token: only requests with it (or the cookie the page sets) are answered. "
                    "No virtual camera is opened. Ctrl-C, SIGTERM or SIGHUP stops.",
    )
    add_camera_arguments(web)
    web.add_argument("--port", type=parse_port, default=PREVIEW_PORT,
                     help=f"the port to serve on (default {PREVIEW_PORT})")
    web.add_argument("--host", default=PREVIEW_HOST,
                     help=f"the address to serve on (default {PREVIEW_HOST}: this computer only; "
                          "0.0.0.0 makes the camera visible to the network)")

    doctor = commands.add_parser(
        "doctor", help="check the camera, the virtual-camera driver and the models, and say how to fix each problem",
        description="Check the webcam, the virtual-camera driver (v4l2loopback on Linux, OBS on Windows and "
                    "macOS) and the model files; print what to do for each problem. Exit status 1 if any.",
    )
    doctor.add_argument("--source", type=parse_camera, dest="camera", metavar="INDEX|FILE",
                        help="the webcam index or device path to check (default: the configured one)")

    return parser


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=parse_camera, dest="camera", metavar="INDEX|FILE",
                        help="webcam index (0, 1, …), device path, or a video or photo file played as the camera")
    add_look_arguments(parser)


def add_look_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every picture-making command shares: which detector, where the emoji goes."""
    parser.add_argument("--detector", type=choice(Detector, "detector"), metavar=braces(Detector),
                        help="full: faces near and far (default); short: faster, one person facing the camera")
    parser.add_argument("--placement", type=choice(Placement, "placement"), metavar=braces(Placement), help="face (default), badge or corner")


def choice(kind: type[E], name: str) -> Callable[[str], E]:
    """An argparse type: the member of `kind` that the user typed, parsed where it enters (as every
    choice is), or the one-line error that names the choices."""
    def parse(text: str) -> E:
        try:
            return parse_choice(kind, name, text)
        except UnknownChoice as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def braces(kind: type[E]) -> str:
    """The choices as argparse shows them in the usage line: {short,full}."""
    return "{" + ",".join(choice_names(kind)) + "}"


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x720") from None
    return width, height


def parse_positive(kind: type, least: float):
    """An argparse type: a number of `kind` no smaller than `least`."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= least or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of at least {least:g}")
        return value
    return parse


def parse_port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def camera_config(args: argparse.Namespace) -> Config:
    """The settings file with this run's flags over it."""
    width, height = getattr(args, "size", None) or (None, None)
    return load_config(args.config).replace(camera=args.camera, detector=args.detector, placement=args.placement,
                                            width=width, height=height, fps=getattr(args, "fps", None),
                                            fit=getattr(args, "fit", None),
                                            pixel_format=getattr(args, "pixel_format", None),
                                            virtual_camera=getattr(args, "virtual_camera", None))


def settings_file(args: argparse.Namespace) -> Path:
    return args.config or CONFIG_FILE


def run_tray(args: argparse.Namespace) -> int:
    from vcam.tray import run_tray_app

    return run_tray_app(camera_config(args), settings_file(args))


def run_web(args: argparse.Namespace) -> int:
    from vcam.app import serve_web

    return serve_web(camera_config(args), args.host, args.port, settings_file(args))


def run_doctor(args: argparse.Namespace) -> int:
    from vcam.doctor import run_doctor as doctor

    return doctor(load_config(args.config).replace(camera=args.camera))


def show_log_lines() -> None:
    """Engine news (camera lost, virtual camera found) as one line each on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("vcam: %(message)s"))
    logger = logging.getLogger("vcam")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def run_annotate(args: argparse.Namespace) -> int:
    from vcam.annotate import annotate, check_paths
    from vcam.paths import require_folder
    from vcam.pipeline import Pipeline

    # Offline, every face of every frame is classified: the JSON has each frame's own probabilities.
    config = load_config(args.config).replace(detector=args.detector, placement=args.placement, emoji_dir=args.emoji_dir,
                                              effort=Effort.HIGH)
    check_paths(args.input, args.output, args.json)  # before the models load: bad paths fail fast
    if args.emoji_dir is not None:
        require_folder(args.emoji_dir, "emoji folder")
    gif_flags = [flag for flag, value in (("--width", args.width), ("--fps", args.fps)) if value is not None]
    if gif_flags and args.output.suffix.lower() != ".gif":
        raise VcamError(f"{' and '.join(gif_flags)} shape a .gif output only; drop {'them' if len(gif_flags) > 1 else 'it'}"
                        f" or write {args.output.with_suffix('.gif').name}")
    options = VideoOptions(args.quality, args.width or GIF_WIDTH, args.fps or GIF_FPS)
    summary = annotate(Pipeline.from_config(config), args.input, args.output, args.json, progress=not args.quiet,
                       options=options)
    print(f"annotated {args.input} → {args.output}: {summary}")
    if args.stats and summary.steadiness is not None:
        print(f"steadiness: {summary.steadiness}")
    return 0


COMMANDS = ("annotate", "tray", "web", "doctor")


def with_default_command(argv: list[str]) -> list[str]:
    """`vcam [--config FILE] [FLAGS]` means `vcam [--config FILE] tray [FLAGS]`, as the README's
    synopsis says. The command goes after vcam's own options (argparse would read the first tray
    flag's value, e.g. I420 in `vcam --pixel-format I420`, as an unknown command)."""
    position = 0
    while position < len(argv):
        token = argv[position]
        if token in COMMANDS:
            return argv
        if token == "--config":
            if position + 1 == len(argv):
                return argv  # no value: argparse says so, in one line
            position += 2
        elif token in ("-h", "--help", "--version") or token.startswith("--config="):
            position += 1
        else:
            break
    return [*argv[:position], "tray", *argv[position:]]


def main(argv: list[str] | None = None) -> int:
    try:
        with stopping():  # from the start: a SIGTERM while the models load stops vcam as Ctrl-C does
            parser = build_parser()
            args = parser.parse_args(with_default_command(list(argv if argv is not None else sys.argv[1:])))
            from vcam.sources import silence_opencv_log  # OpenCV loads after the signals are taken

            silence_opencv_log()
            if args.command in ("tray", "web"):
                show_log_lines()
            return {"annotate": run_annotate, "tray": run_tray, "web": run_web,
                    "doctor": run_doctor}[args.command](args)
    except VcamError as err:
        print(f"vcam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        return interrupted(stop)


def interrupted(stop: KeyboardInterrupt) -> int:
    """The one rule for a signal that stops vcam before its work is done: one line naming the
    signal, and exit status 128 + its number (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    name = signal_name(stop)
    print(f"vcam: interrupted ({name})", file=sys.stderr)
    return 128 + signal.Signals[name]


if __name__ == "__main__":
    sys.exit(main())
