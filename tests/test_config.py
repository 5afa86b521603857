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
    assert (config.smoothing_seconds, config.dwell_seconds, config.switch_margin, config.unsure_below) == (
        settings.time_constant, settings.dwell, settings.switch_margin, settings.unsure_below)


def test_no_config_file_of_ones_own_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vcam.config.CONFIG_FILE", tmp_path / "none.toml")
    assert load_config() == Config()


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(VcamError, match="does not exist"):
        load_config(tmp_path / "none.toml")


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml",
                 'placement = "corner"\nsmoothing_seconds = 0.25\nscore_threshold = 0.7\nemoji_dir = "~/my-emojis"\n')
    config = load_config(path)
    assert (config.placement, config.smoothing_seconds, config.score_threshold) == ("corner", 0.25, 0.7)
    assert config.emoji_dir == Path.home() / "my-emojis"
    untouched = {"placement", "smoothing_seconds", "score_threshold", "emoji_dir"}
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


def test_camera_settings_read_from_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", 'camera = "1"\nfps = 15\nwidth = 640\nheight = 360\n'
                               'pixel_format = "I420"\nfit = "crop"\noverlay = false\n'))
    assert (config.camera, config.fps, config.width, config.height) == (1, 15, 640, 360)
    assert (config.pixel_format, config.fit, config.overlay) == ("I420", "crop", False)
    assert load_config(write(tmp_path / "d.toml", 'camera = "~/clip.mp4"\n')).camera == "~/clip.mp4"


@pytest.mark.parametrize("text,complaint", [
    ('pixel_format = "MJPG"', "unknown pixel_format"),
    ('fit = "zoom"', "unknown fit"),
    ("width = 641", "must be even"),
    ("fps = 0", "fps must be a whole number"),
    ('overlay = "yes"', "overlay must be true or false"),
    ("classify_views = 3", "classify_views must be 1, 2, 10"),
    ("classify_views = true", "classify_views must be 1, 2, 10"),
    ("camera = -1", "camera index must be 0 or more"),
    ("camera = 1.5", "camera must be an index"),
])
def test_bad_camera_settings_are_one_line_errors(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(VcamError, match=complaint) as raised:
        load_config(write(tmp_path / "c.toml", text + "\n"))
    assert "\n" not in str(raised.value)


def test_saving_settings_keeps_what_the_file_had_and_adds_the_change(tmp_path: Path) -> None:
    from vcam.config import save_settings

    path = write(tmp_path / "c.toml", 'detector = "short"\n')
    saved = save_settings({"overlay": False, "camera": str(tmp_path / "a b.mp4")}, path)
    assert load_config(path) == saved
    assert (saved.detector, saved.overlay, saved.camera) == ("short", False, str(tmp_path / "a b.mp4"))
    with pytest.raises(VcamError):
        save_settings({"placement": "hat"}, path)
    assert load_config(path) == saved  # a refused change leaves the file as it was


def test_settings_of_the_wrong_kind_are_refused(tmp_path: Path) -> None:
    for text, complaint in (("virtual_camera = 5", "virtual_camera must be a device name"),
                            ("score_threshold = true", "score_threshold must be a number")):
        with pytest.raises(VcamError, match=complaint):
            load_config(write(tmp_path / "c.toml", text + "\n"))
    (tmp_path / "latin1.toml").write_bytes('placement = "face" # caf\xe9\n'.encode("latin-1"))
    with pytest.raises(VcamError, match="not valid TOML"):
        load_config(tmp_path / "latin1.toml")
