"""What `pip install .` puts on a user's machine: the product, and nothing of the checkout's labs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

SHIPPED = ("pyproject.toml", "README.md", "vcam", "weights", "emojis")
"""What the wheel is built from; the checkout's other folders are copied too, to show they stay out."""
LABS = ("training", "benchmarks", "tools", "tests", "docs", "examples")


def test_the_wheel_holds_the_product_only(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in (*SHIPPED, *LABS):
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("vcam-*.whl")
    names = [name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name]
    tops = {name.split("/")[0] for name in names}
    assert tops == {"vcam"}, tops
    modules = {name for name in names if name.endswith(".py")}
    assert modules == {f"vcam/{path.name}" for path in (REPO / "vcam").glob("*.py")}, modules
    assert not [name for name in names if "render_emojis" in name]
    for needed in ("vcam/weights/emotion.tflite", "vcam/weights/emotion.calibration.json",
                   "vcam/weights/face_detection_short_range.tflite", "vcam/weights/face_detection_full_range_sparse.tflite",
                   "vcam/emojis/LICENSE", "vcam/templates/preview.html", "vcam/web_static/preview.js",
                   *(f"vcam/emojis/{emotion}.png" for emotion in
                     ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))):
        assert needed in names, needed
    assert "vcam/weights/emotion.keras" not in names  # the training twin of the model stays in the checkout
