"""The `vcam` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from vcam import __version__
from vcam.config import CONFIG_FILE, FITS, PIXEL_FORMATS, Config, load_config, parse_camera
from vcam.detect import DETECTORS
from vcam.errors import VcamError
from vcam.encoding import GIF_FPS, GIF_WIDTH, Quality, VideoOptions
from vcam.overlay import PLACEMENTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    annotate.add_argument("--quality", type=Quality, choices=list(Quality), default=Quality.GOOD,
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
    tray.add_argument("--fit", choices=FITS, help="how other camera shapes fill the frame (default letterbox)")
    tray.add_argument("--pixel-format", choices=PIXEL_FORMATS, dest="pixel_format",
                      help="the virtual camera's pixel format (default RGB; try I420 or YUYV if Zoom shows black)")
    tray.add_argument("--device", dest="virtual_camera", metavar="NAME",
                      help="the virtual camera device, e.g. /dev/video10 (default: the first one free)")

    web = commands.add_parser(
        "web", help="show the camera with emojis in the browser (no virtual camera)",
        description="Serve a page with the live picture, the overlay switch, the emoji placement and each "
                    "face's emotions, at http://127.0.0.1:8765/ by default. No virtual camera is opened. "
                    "Ctrl-C stops.",
    )
    add_camera_arguments(web)
    web.add_argument("--port", type=parse_port, default=8765, help="the port to serve on (default 8765)")
    web.add_argument("--host", default="127.0.0.1",
                     help="the address to serve on (default 127.0.0.1: this computer only; "
                          "0.0.0.0 makes the camera visible to the network)")

    doctor = commands.add_parser(
        "doctor", help="check the camera, the virtual-camera driver and the models, and say how to fix each problem",
        description="Check the webcam, the virtual-camera driver (v4l2loopback on Linux, OBS on Windows and "
                    "macOS) and the model files; print what to do for each problem. Exit status 1 if any.",
    )
    doctor.add_argument("--source", type=parse_camera, dest="camera", metavar="INDEX|FILE",
                        help="the webcam index or device path to check (default: the configured one)")

    bench = commands.add_parser(
        "bench", help="measure each stage's time and the frames per second, beside the fer package",
        description="Time every stage of a live frame (decode, detect, classify, track, overlay, virtual-camera "
                    "conversion, web JPEG) for 640x360, 1280x720 and 1920x1080 frames with 1, 4 and 8 faces, on "
                    "one core and on two; run vcam annotate over the clip; compare with the fer package on the "
                    "same frames (installed with pip into its own environment on first use). With --soak, "
                    "run the engine with the virtual camera and the web preview for that long instead.",
    )
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    bench.add_argument("--media", type=Path, default=Path("../shared/media"),
                       help="the folder with two_people.jpg and short_hamilton_clip.mp4 (default ../shared/media)")
    bench.add_argument("--data", type=Path, default=Path("../shared/data/fer2013-train-publictest.npz"),
                       help="the FER2013 .npz the faces come from (default ../shared/data/fer2013-train-publictest.npz)")
    bench.add_argument("--frames", type=int, default=100, help="frames timed per case (default 100)")
    bench.add_argument("--no-peer", action="store_true", help="leave out the fer side-by-side (and its install)")
    bench.add_argument("--soak", type=float, metavar="SECONDS",
                       help="run the engine on the looping clip for SECONDS and report memory, threads and rates")
    bench.add_argument("--interval", type=float, default=60.0, help="seconds between soak samples (default 60)")
    add_look_arguments(bench)
    return parser


def add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=parse_camera, dest="camera", metavar="INDEX|FILE",
                        help="webcam index (0, 1, …), device path, or a video or photo file played as the camera")
    add_look_arguments(parser)


def add_look_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every picture-making command shares: which detector, where the emoji goes."""
    parser.add_argument("--detector", choices=sorted(DETECTORS),
                        help="full: faces near and far (default); short: faster, one person facing the camera")
    parser.add_argument("--placement", choices=PLACEMENTS, help="face (default), badge or corner")


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
    from vcam.web import serve

    return serve(camera_config(args), args.host, args.port, settings_file(args))


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

    config = load_config(args.config).replace(detector=args.detector, placement=args.placement, emoji_dir=args.emoji_dir)
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
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from vcam.bench import CLIP, BenchInputs, run_bench as bench

    config = load_config(args.config).replace(detector=args.detector, placement=args.placement)
    if args.frames < 1:
        raise VcamError(f"--frames must be at least 1, not {args.frames}")
    if args.soak is not None and not (args.soak > 0 and args.interval > 0):
        raise VcamError(f"--soak and --interval must be more than 0 seconds, not {args.soak} and {args.interval}")
    if args.json is not None and not args.json.parent.is_dir():
        raise VcamError(f"folder {args.json.parent} does not exist; create it or pick another --json path")
    if not (args.media / CLIP).is_file():
        raise VcamError(f"{args.media / CLIP} is missing; pass --media with the folder of the shared test media")
    if args.soak is not None:
        import json

        from vcam.soak import soak

        report = soak(config.replace(camera=str(args.media / CLIP)), args.soak, min(args.interval, args.soak))
        print(report.summary())
        if args.json:
            args.json.write_text(json.dumps(report.to_json(), indent=1))
        return 0
    if not args.data.is_file():
        raise VcamError(f"{args.data} is missing; pass --data with the FER2013 .npz")
    bench(BenchInputs(args.media, args.data, args.frames, config), args.json, peer=not args.no_peer)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `vcam` starts the tray app, with the settings file only
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "tray"])
    try:
        if args.command in ("tray", "web"):
            show_log_lines()
        return {"annotate": run_annotate, "tray": run_tray, "web": run_web, "doctor": run_doctor,
                "bench": run_bench}[args.command](args)
    except VcamError as err:
        print(f"vcam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vcam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
