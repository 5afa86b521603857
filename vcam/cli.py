"""The `vcam` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcam import __version__
from vcam.config import CONFIG_FILE, load_config
from vcam.detect import DETECTORS
from vcam.errors import VcamError
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
        description="Run the pipeline over a photo (jpg/png) or a video (mp4/avi/mov/mkv) and write the "
                    "same kind of file with an emoji on every face.",
    )
    annotate.add_argument("input", type=Path, metavar="INPUT", help="photo or video to read")
    annotate.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the annotated photo or video")
    annotate.add_argument("--json", type=Path, metavar="PATH",
                          help="also write each frame's faces (box, id, probabilities, shown emotion) as JSON")
    annotate.add_argument("--detector", choices=sorted(DETECTORS),
                          help="full: faces near and far (default); short: faster, one person facing the camera")
    annotate.add_argument("--placement", choices=PLACEMENTS, help="face (default), badge or corner")
    annotate.add_argument("--emojis", type=Path, metavar="FOLDER", dest="emoji_dir",
                          help="a folder of your own angry.png … neutral.png")
    annotate.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_annotate(args: argparse.Namespace) -> int:
    from vcam.annotate import annotate, check_paths
    from vcam.pipeline import Pipeline

    config = load_config(args.config).replace(detector=args.detector, placement=args.placement, emoji_dir=args.emoji_dir)
    check_paths(args.input, args.output, args.json)  # before the models load: bad paths fail fast
    summary = annotate(Pipeline.from_config(config), args.input, args.output, args.json, progress=not args.quiet)
    print(f"annotated {args.input} → {args.output}: {summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return {"annotate": run_annotate}[args.command](args)
    except VcamError as err:
        print(f"vcam: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vcam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
