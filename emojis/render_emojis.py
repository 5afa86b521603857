"""Render the seven emotion emoji PNGs from the Noto Color Emoji font.

Each emotion is drawn with Pillow from the colour bitmap font shipped by
Debian's ``fonts-noto-color-emoji`` package, cropped tight to its
non-transparent pixels and saved as an RGBA PNG next to this script (or to
the folder given as the first argument)::

    python emojis/render_emojis.py [OUTPUT_DIR]

Install the font first with ``apt-get install -y fonts-noto-color-emoji``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
# Noto Color Emoji is a CBDT bitmap font; 109 is its only native size.
FONT_SIZE = 109

EMOJIS: dict[str, str] = {
    "angry": "\U0001F620",  # 😠 ANGRY FACE
    "disgust": "\U0001F922",  # 🤢 NAUSEATED FACE
    "fear": "\U0001F628",  # 😨 FEARFUL FACE
    "happy": "\U0001F604",  # 😄 SMILING FACE WITH OPEN MOUTH AND SMILING EYES
    "sad": "\U0001F622",  # 😢 CRYING FACE
    "surprise": "\U0001F62E",  # 😮 FACE WITH OPEN MOUTH
    "neutral": "\U0001F610",  # 😐 NEUTRAL FACE
}


def render(char: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """Draw one emoji on a transparent canvas and crop it to its visible pixels."""
    left, top, right, bottom = font.getbbox(char)
    pad = 8
    size = (right - left + 2 * pad, bottom - top + 2 * pad)
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((pad - left, pad - top), char, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        raise RuntimeError(f"emoji U+{ord(char):04X} rendered as an empty image")
    return canvas.crop(box)


def main(argv: list[str]) -> int:
    """Render every emoji into the output folder; return a process exit code."""
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    if not FONT_PATH.is_file():
        print(
            f"error: font not found at {FONT_PATH}; "
            "install it with: apt-get install -y fonts-noto-color-emoji",
            file=sys.stderr,
        )
        return 1
    font = ImageFont.truetype(str(FONT_PATH), FONT_SIZE)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, char in EMOJIS.items():
        image = render(char, font)
        path = out_dir / f"{name}.png"
        image.save(path, optimize=True)
        print(f"{path}: U+{ord(char):04X} {image.width}x{image.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
