"""vcam.config: defaults, a TOML file over them, and command-line flags over the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.cli import main
from vcam.config import Config, load_config
from vcam.errors import VcamError
from vcam.track import TrackerSettings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = Config()
    assert (config.detector, config.placement, config.score_threshold) == ("full", "face", None)
    assert (config.emoji_dir, config.emotion_model, config.detector_model) == (None, None, None)
    settings = TrackerSettings()
    assert (config.smoothing, config.switch_margin) == (settings.smoothing, settings.switch_margin)


def test_no_config_file_of_ones_own_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vcam.config.CONFIG_FILE", tmp_path / "none.toml")
    assert load_config() == Config()


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(VcamError, match="does not exist"):
        load_config(tmp_path / "none.toml")


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml",
                 'placement = "corner"\nsmoothing = 0.25\nscore_threshold = 0.7\nemoji_dir = "~/my-emojis"\n')
    config = load_config(path)
    assert (config.placement, config.smoothing, config.score_threshold) == ("corner", 0.25, 0.7)
    assert config.emoji_dir == Path.home() / "my-emojis"
    untouched = {"placement", "smoothing", "score_threshold", "emoji_dir"}
    for field in dataclasses.fields(Config):
        if field.name not in untouched:
            assert getattr(config, field.name) == getattr(Config(), field.name)


@pytest.mark.parametrize("text, message", [
    ('placement = "face"\ncolour = "red"\nzoom = 2\n', "unknown settings colour, zoom"),
    ("placement = [face\n", "not valid TOML"),
    ("detector = 'full'\ndetector = 'short'\n", "not valid TOML"),
])
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VcamError, match=message) as caught:
        load_config(write(tmp_path / "config.toml", text))
    assert "\n" not in str(caught.value)


def test_replace_changes_only_the_given_flags() -> None:
    config = Config(placement="badge", detector="short")
    assert config.replace(placement="corner", detector=None, emoji_dir=None) == Config(placement="corner",
                                                                                      detector="short")


def changed_pixels(out: Path, photo: Path, config: Path, *flags: str) -> tuple[np.ndarray, np.ndarray]:
    """Annotate `photo` into `out` with a config file and flags; the x and y of the pixels that changed."""
    assert main(["--config", str(config), "annotate", str(photo), str(out), "--quiet", *flags]) == 0
    return np.nonzero(np.any(cv2.imread(str(out)) != cv2.imread(str(photo)), axis=2))[::-1]


def test_a_flag_overrides_the_file(tmp_path: Path, media: Path) -> None:
    photo, config = media / "obama-720p.jpg", write(tmp_path / "config.toml", 'placement = "corner"\n')
    xs, ys = changed_pixels(tmp_path / "from-file.png", photo, config)
    assert xs.max() < 240 and ys.max() < 240  # the file's corner: top-left, clear of the face
    xs, ys = changed_pixels(tmp_path / "from-flag.png", photo, config, "--placement", "face")
    assert xs.min() > 500 and 600 < np.median(xs) < 720  # the flag's: on the face, mid-photo
