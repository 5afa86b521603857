"""vcam.config: defaults, a TOML file over them, and command-line flags over the file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.choices import Detector, Placement
from vcam.cli import main
from vcam.config import RANGES, Config, load_config
from vcam.errors import VcamError
from vcam.paths import partial_path
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
    ("camera = -1", "camera must be a whole number from 0 to 255, not -1"),
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


# --- bounds: every numeric setting has a range, named in a one-line error ----------------------------


@pytest.mark.parametrize("text,complaint", [
    ("width = 100000", "width must be a whole number from 16 to 4096, not 100000"),  # numpy asked for 27.9 GiB
    ("height = 100000", "height must be a whole number from 16 to 4096, not 100000"),
    ("width = 65536", "width must be a whole number from 16 to 4096, not 65536"),  # too wide for a JPEG
    ("threads = 1000", f"threads must be a whole number from 1 to {os.cpu_count()}, not 1000"),  # 2,006 threads
    ("fps = 1000", "fps must be a whole number from 1 to 60, not 1000"),
    ("fps = 30.5", "fps must be a whole number from 1 to 60, not 30.5"),
    ("detect_every = 0", "detect_every must be a whole number from 1 to 60, not 0"),
    ("camera = 100000", "camera must be a whole number from 0 to 255, not 100000"),
    ('camera = "100000"', "camera must be a whole number from 0 to 255, not 100000"),
    ("switch_margin = 2", "switch_margin must be a number from 0 to 1, not 2"),
    ("score_threshold = nan", "score_threshold must be a number from 0 to 1, not nan"),
    ("unsure_below = -inf", "unsure_below must be a number from 0 to 1, not -inf"),
    ("switch_margin = {a = 1}", "switch_margin must be a number from 0 to 1, not {'a': 1}"),
])
def test_numbers_out_of_range_name_the_key_and_the_range(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(VcamError) as raised:
        load_config(write(tmp_path / "c.toml", text + "\n"))
    assert str(raised.value) == f"config file {tmp_path / 'c.toml'}: {complaint}"


@pytest.mark.parametrize("name", RANGES)
def test_every_range_takes_its_ends_and_refuses_beyond_them(name: str) -> None:
    allowed = RANGES[name]
    step = 1 if allowed.whole else 0.001
    evenly = (lambda n: int(n) // 2 * 2) if name in ("width", "height") else (lambda n: n)  # YUV needs even sizes
    for value in (allowed.low, allowed.high):
        value = evenly(int(value)) if allowed.whole else value
        assert getattr(Config(**{name: value}), name) == value
    for value in (allowed.low - step, allowed.high + step):
        with pytest.raises(VcamError, match=f"^{name} must be .* from {allowed.low:g} to {allowed.high:g}"):
            Config(**{name: type(value)(value)})


@pytest.mark.parametrize("text", ["emoji_dir = {folder = 1}", "emotion_model = 5", "detector_model = []",
                                  'emoji_dir = ""', "emotion_model = true"])
def test_a_path_setting_that_is_not_a_string_names_the_key(tmp_path: Path, text: str) -> None:
    name = text.split(" ")[0]
    with pytest.raises(VcamError, match=f"{name} must be a path in quotes") as raised:
        load_config(write(tmp_path / "c.toml", text + "\n"))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", ["detector = {kind = 'full'}", "placement = ['face']", "fit = 3"])
def test_a_choice_that_is_not_a_string_names_the_key(tmp_path: Path, text: str) -> None:
    name = text.split(" ")[0]
    with pytest.raises(VcamError, match=f"unknown {name} .*; choose one of"):
        load_config(write(tmp_path / "c.toml", text + "\n"))


@pytest.mark.parametrize("command", [["web", "--port", "0"], ["tray"]])
def test_the_live_commands_refuse_a_huge_frame_before_starting(tmp_path: Path, capsys, command: list[str]) -> None:
    config = write(tmp_path / "c.toml", "width = 100000\nheight = 100000\n")
    assert main(["--config", str(config), *command]) == 2
    out, err = capsys.readouterr()
    assert err == f"vcam: error: config file {config}: width must be a whole number from 16 to 4096, not 100000\n"


def test_flags_are_held_to_the_same_ranges(tmp_path: Path, capsys) -> None:
    config = write(tmp_path / "c.toml", "")
    for flags, complaint in ((["--size", "65536x720"], "width must be a whole number from 16 to 4096, not 65536"),
                             (["--fps", "1000"], "fps must be a whole number from 1 to 60, not 1000")):
        assert main(["--config", str(config), "tray", *flags]) == 2
        assert capsys.readouterr().err == f"vcam: error: {complaint}\n"


def test_a_failed_save_leaves_the_file_whole_and_no_partial_file(tmp_path: Path) -> None:
    from vcam.config import save_settings

    path = write(tmp_path / "c.toml", 'placement = "badge"\n')
    partial_path(path).mkdir()  # the temporary name is taken: the write fails
    with pytest.raises(OSError):
        save_settings({"overlay": False}, path)
    assert path.read_text() == 'placement = "badge"\n'
    partial_path(path).rmdir()
    save_settings({"overlay": False}, path)
    assert load_config(path) == Config(placement="badge", overlay=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_a_save_changes_only_the_keys_changed_and_keeps_the_users_comments(tmp_path: Path) -> None:
    from vcam.config import save_settings

    written = ("# vcam on the work laptop\n\n# the USB webcam, not the built-in one\ncamera = 1  # /dev/video2\n"
               'placement = "badge"\n\n# steadier emojis\ndwell_seconds = 1.5\n')
    path = write(tmp_path / "c.toml", written)
    save_settings({"placement": Placement.CORNER, "overlay": False}, path)
    assert path.read_text() == written.replace('"badge"', '"corner"') + "overlay = false\n"
    assert load_config(path) == Config(camera=1, placement="corner", dwell_seconds=1.5, overlay=False)
    save_settings({"camera": "/dev/video4"}, path)  # a value of another type, in the same place
    assert '# the USB webcam, not the built-in one\ncamera = "/dev/video4"  # /dev/video2\n' in path.read_text()
    fresh = tmp_path / "new" / "c.toml"
    save_settings({"detector": Detector.SHORT}, fresh)
    assert fresh.read_text() == '# vcam settings; see `vcam --help`\ndetector = "short"\n'


@pytest.mark.parametrize("make, problem", [
    (lambda tmp: tmp / ("b" * 300 + ".toml"), "a name in the path is longer than 255 bytes; shorten it"),
    (lambda tmp: tmp, "is not a file; pass the settings file with --config"),
])
def test_a_config_path_that_cannot_be_a_file_is_one_line(tmp_path: Path, capsys, make, problem: str) -> None:
    assert main(["--config", str(make(tmp_path)), "doctor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vcam: error: config file ") and problem in err
