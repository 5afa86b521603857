"""vcam.cli: `vcam annotate` in-process and as a real process; every bad input is one line, status 2."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from conftest import REPO
from media_files import empty_config, empty_video, garbage, remuxed, run_cli
if sys.platform.startswith("linux"):  # Xvfb, trayer and python-xlib: the tests that use them are Linux-only
    from test_tray import desktop, signal_once_shown  # noqa: F401 - desktop: the fixture, Xvfb with a tray host
from waiting import wait_until, with_default_signals

from vcam.choices import PixelFormat
from vcam.cli import build_parser, main, with_default_command
from vcam.config import Config, load_config
from vcam.emotions import EMOTIONS

PHOTO = "two_people.jpg"


def run_process(*args: object) -> subprocess.CompletedProcess:
    """`python -m vcam ARGS` as a real process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "vcam", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def config_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    return path


def test_photo_in_photo_out_of_the_same_size(tmp_path: Path, media: Path, capsys) -> None:
    assert run_cli(tmp_path, "annotate", media / PHOTO, tmp_path / "out.png", "--quiet") == 0
    original, annotated = cv2.imread(str(media / PHOTO)), cv2.imread(str(tmp_path / "out.png"))
    assert annotated.shape == original.shape
    assert np.abs(annotated.astype(int) - original.astype(int)).mean() > 1
    out, err = capsys.readouterr()
    assert re.fullmatch(r"annotated \S+two_people\.jpg → \S+out\.png: 1 frame, 2 faces, \d+\.\d fps\n", out), out
    assert err == ""


def test_json_names_each_faces_box_id_probabilities_and_emotion(tmp_path: Path, media: Path) -> None:
    assert run_cli(tmp_path, "annotate", media / "obama-720p.jpg", tmp_path / "out.jpg",
                   "--json", tmp_path / "faces.json", "--quiet") == 0
    document = json.loads((tmp_path / "faces.json").read_text())
    assert document["source"].endswith("obama-720p.jpg")
    [face] = document["frames"][0]["faces"]
    assert set(face) >= {"box", "id", "probabilities", "emotion"}
    assert face["id"] == 1 and len(face["box"]) == 4
    assert sorted(face["probabilities"]) == sorted(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    assert face["emotion"] in face["probabilities"]


def test_short_detector_and_own_emojis_through_the_command_line(tmp_path: Path, media: Path) -> None:
    own = tmp_path / "emojis"
    own.mkdir()
    red = np.zeros((64, 64, 4), np.uint8)
    red[:, :, 2] = red[:, :, 3] = 255
    for emotion in EMOTIONS:
        cv2.imwrite(str(own / f"{emotion}.png"), red)
    out = tmp_path / "out.png"
    assert run_cli(tmp_path, "annotate", media / "obama-720p.jpg", out, "--detector", "short",
                   "--emojis", own, "--json", tmp_path / "f.json", "--quiet") == 0
    [face] = json.loads((tmp_path / "f.json").read_text())["frames"][0]["faces"]
    x, y, w, h = (round(v) for v in face["box"])
    centre = cv2.imread(str(out))[y + h // 2 - 5:y + h // 2 + 5, x + w // 2 - 5:x + w // 2 + 5]
    assert (centre == (0, 0, 255)).all()  # the user's red square covers the face


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    for command in ("annotate", "tray", "doctor"):
        assert command in out


def annotating(tmp: Path, source: Path, output: str = "o.jpg", *flags: object, config: Path | None = None) -> list:
    """argv for `vcam --config CONFIG annotate SOURCE out/OUTPUT FLAGS` in the test's folder `tmp`."""
    return ["--config", config or empty_config(tmp), "annotate", source, tmp / "out" / output, *flags]


def configured(tmp: Path, photo: Path, settings: str) -> list:
    """argv annotating the photo with a config file holding `settings`."""
    return annotating(tmp, photo, config=config_file(tmp / "c.toml", settings))


# Each bad input: (tmp folder, a good photo) → argv after `vcam`, and a word the error line must name.
BAD_INPUTS: dict[str, tuple[Callable[[Path, Path], list], str]] = {
    "missing-input": (lambda tmp, photo: annotating(tmp, tmp / "nope.jpg"), "nope.jpg"),
    "corrupt-image": (lambda tmp, photo: annotating(tmp, garbage(tmp / "x.jpg")), "x.jpg"),
    "corrupt-video": (lambda tmp, photo: annotating(tmp, garbage(tmp / "x.mp4"), "o.mp4"), "x.mp4"),
    "zero-byte-video": (lambda tmp, photo: annotating(tmp, garbage(tmp / "z.mp4", 0), "o.mp4"), "z.mp4"),
    "video-without-frames": (lambda tmp, photo: annotating(tmp, empty_video(tmp / "e.mp4"), "o.mp4"), "e.mp4"),
    "avi-without-frames": (lambda tmp, photo: annotating(tmp, empty_video(tmp / "e.avi"), "o.avi"), "no frames"),
    "output-is-the-input": (lambda tmp, photo: annotating(tmp, tmp / "out" / "o.jpg"), "is the input itself"),
    "output-is-a-folder": (lambda tmp, photo: annotating(tmp, photo, "sub.jpg"), "is a folder"),
    "gif": (lambda tmp, photo: annotating(tmp, garbage(tmp / "x.gif"), "o.gif"), ".gif"),
    "txt": (lambda tmp, photo: annotating(tmp, garbage(tmp / "x.txt")), ".txt"),
    "photo-to-video": (lambda tmp, photo: annotating(tmp, photo, "o.mp4"), "o.mp4"),
    "video-to-photo": (lambda tmp, photo: annotating(tmp, empty_video(tmp / "e.mp4"), "o.jpg"), "o.jpg"),
    "output-folder-missing": (lambda tmp, photo: annotating(tmp, photo, "nowhere/o.jpg"), "nowhere"),
    "json-folder-missing": (lambda tmp, photo: annotating(tmp, photo, "o.jpg", "--json", tmp / "nowhere" / "f.json"),
                            "nowhere"),
    "emoji-folder-missing": (lambda tmp, photo: annotating(tmp, photo, "o.jpg", "--emojis", tmp / "no-emojis"),
                             "no-emojis"),
    "weights-missing": (lambda tmp, photo: configured(tmp, photo, f'emotion_model = "{tmp / "gone.tflite"}"'),
                        "gone.tflite"),
    "weights-corrupt": (lambda tmp, photo: configured(tmp, photo, f'emotion_model = "{garbage(tmp / "bad.tflite")}"'),
                        "bad.tflite"),
    "config-not-toml": (lambda tmp, photo: configured(tmp, photo, "placement = [face"), "c.toml"),
    "config-unknown-key": (lambda tmp, photo: configured(tmp, photo, 'colour = "red"'), "colour"),
    "config-unknown-detector": (lambda tmp, photo: configured(tmp, photo, 'detector = "medium"'), "medium"),
    "config-unknown-placement": (lambda tmp, photo: configured(tmp, photo, 'placement = "middle"'), "middle"),
    "config-bad-threads": (lambda tmp, photo: configured(tmp, photo, "threads = 0"), "threads"),
    "config-bad-margin": (lambda tmp, photo: configured(tmp, photo, 'switch_margin = "big"'), "switch_margin"),
    "config-negative-smoothing": (lambda tmp, photo: configured(tmp, photo, "smoothing_seconds = -0.5"),
                                  "smoothing_seconds"),
    "config-zero-smoothing": (lambda tmp, photo: configured(tmp, photo, "smoothing_seconds = 0"), "smoothing_seconds"),
    "config-negative-dwell": (lambda tmp, photo: configured(tmp, photo, "dwell_seconds = -1"), "dwell_seconds"),
    "config-dwell-over-a-minute": (lambda tmp, photo: configured(tmp, photo, "dwell_seconds = 61"), "dwell_seconds"),
}


def leftovers(folder: Path) -> list[str]:
    """Everything under the output folder: an output, a .partial file, a JSON."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_on_stderr_status_2_and_no_output(tmp_path: Path, media: Path, capsys, case: str) -> None:
    (tmp_path / "out").mkdir()
    if case == "output-is-the-input":
        shutil.copyfile(media / PHOTO, tmp_path / "out" / "o.jpg")
    if case == "output-is-a-folder":
        (tmp_path / "out" / "sub.jpg").mkdir()
    before = leftovers(tmp_path / "out")
    make_argv, names = BAD_INPUTS[case]
    assert main([str(arg) for arg in make_argv(tmp_path, media / PHOTO)]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vcam: error: ") and names in lines[0]
    assert "Traceback" not in err and out == ""
    assert leftovers(tmp_path / "out") == before  # nothing written, nothing lost


def test_a_real_process_annotates_a_photo(tmp_path: Path, media: Path) -> None:
    result = run_process("--config", empty_config(tmp_path), "annotate", media / "biden.jpg", tmp_path / "out.jpg")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.fullmatch(r"annotated \S+biden\.jpg → \S+out\.jpg: 1 frame, 1 faces?, \d+\.\d fps\n", result.stdout)
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == cv2.imread(str(media / "biden.jpg")).shape


@pytest.mark.parametrize("case", ["missing-input", "corrupt-video"])
def test_a_real_process_reports_a_bad_input_in_one_line(tmp_path: Path, media: Path, case: str) -> None:
    (tmp_path / "out").mkdir()
    make_argv, names = BAD_INPUTS[case]
    result = run_process(*make_argv(tmp_path, media / PHOTO))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vcam: error: ") and names in lines[0]
    assert leftovers(tmp_path / "out") == []


def test_flags_without_a_command_are_the_tray_commands(tmp_path: Path) -> None:
    # `vcam --pixel-format I420` is `vcam tray --pixel-format I420`: a bad value gets the tray's own error.
    done = run_process("--config", tmp_path / "none.toml", "--pixel-format", "RGBX")
    assert done.returncode == 2
    assert done.stderr == ("vcam tray: error: argument --pixel-format: unknown pixel format 'RGBX'; choose one of "
                           "RGB, BGR, I420, NV12, YUYV, UYVY; see vcam tray --help\n")
    parsed = build_parser().parse_args(with_default_command(["--config", "c.toml", "--pixel-format", "I420"]))
    assert (parsed.command, parsed.pixel_format, parsed.config) == ("tray", PixelFormat.I420, Path("c.toml"))
    assert with_default_command(["doctor", "--source", "tray"]) == ["doctor", "--source", "tray"]



@pytest.mark.parametrize("argv", [["--config"], ["tray", "--config"], ["--detector", "medium"], ["annotate"]],
                         ids=["config-alone", "config-after-tray", "unknown-detector", "annotate-without-files"])
def test_a_wrong_flag_is_one_line_and_status_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("vcam") and ": error: " in err and err.rstrip().endswith("--help")


def test_config_without_a_value_is_one_line_and_status_2() -> None:
    done = run_process("--config")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "vcam: error: argument --config: expected one argument; see vcam --help\n"
    assert with_default_command(["--config"]) == ["--config"]

# --- the live commands as real processes: signals, and nothing printed but vcam's own lines -------------


def start_web(tmp_path: Path, source: object, host: str = "127.0.0.1",
              config: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`vcam --config CONFIG web --source SOURCE --host HOST --port 0` as a real process (CONFIG: an
    empty settings file unless given), and the URL it printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "vcam", "--config", str(config or empty_config(tmp_path)), "web",
                                "--source", str(source), "--host", host, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                               preexec_fn=with_default_signals)
    first = process.stdout.readline()  # vcam web prints its URL once the server takes requests
    address = re.escape(f"[{host}]" if ":" in host else host)
    found = re.match(rf"vcam: preview at (http://{address}:\d+/\?token=[\w-]+) ", first)
    if found is None:
        process.kill()
        raise AssertionError(f"no URL printed: {first!r} {process.communicate()}")
    return process, found[1]


@pytest.mark.linux("/proc, and POSIX signals (Windows has no SIGHUP)")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_vcam_web_stops_on_sigterm_and_sighup_as_on_ctrl_c(tmp_path: Path, media: Path, name: str) -> None:
    signum = getattr(signal, name)
    clip = media / "short_hamilton_clip.mp4"
    process, url = start_web(tmp_path, clip)
    try:
        root = url.split("?")[0]
        wait_until(lambda: requests.get(root + "healthz", timeout=5).json()["camera_ok"], message="the clip to play")
        held = {os.path.realpath(link) for link in Path(f"/proc/{process.pid}/fd").iterdir()}
        assert str(clip.resolve()) in held  # the camera (the clip) is open while it runs
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out == "vcam: preview stopped\n"  # printed once the engine let go of the camera
    assert "Traceback" not in err and "interrupted" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(root + "healthz", timeout=2)


@pytest.mark.linux("POSIX signals: the preview stops on SIGTERM, saving done")
def test_a_comment_in_the_settings_survives_an_overlay_toggle_from_the_web_page(tmp_path: Path, media: Path) -> None:
    settings = tmp_path / "config.toml"
    written = ('# vcam at my desk\n\n# the emoji beside the head, not on it\nplacement = "badge"  # my choice\n'
               "smoothing_seconds = 0.5\n")
    settings.write_text(written)
    process, url = start_web(tmp_path, media / "short_hamilton_clip.mp4", config=settings)
    try:
        browser = requests.Session()
        assert browser.get(url, timeout=10).status_code == 200  # the page, as a user opens it
        root = url.split("?")[0]
        toggled = browser.post(root + "api/state", json={"overlay": False}, timeout=10)
        assert toggled.status_code == 200 and toggled.json()["overlay"] is False
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        process.kill()
    # The one key changed, added at the end; every comment, blank line and other setting as written.
    assert settings.read_text() == written + "overlay = false\n"
    assert load_config(settings) == Config(placement="badge", smoothing_seconds=0.5, overlay=False)


# A file given to `vcam web --source` that can never play: (tmp folder, media) → the file.
UNPLAYABLE_SOURCES: dict[str, Callable[[Path, Path], Path]] = {
    "missing": lambda tmp, media: tmp / "gone.mp4",
    "text-named-jpg": lambda tmp, media: garbage(tmp / "notes.jpg"),
    "zero-bytes": lambda tmp, media: garbage(tmp / "empty.mp4", 0),
    "sound-only": lambda tmp, media: remuxed(media / "short_hamilton_clip.mp4", tmp / "sound.mp4", kinds=("audio",)),
}


@pytest.mark.parametrize("case", UNPLAYABLE_SOURCES)
def test_vcam_web_with_a_file_that_cannot_play_is_one_line_and_status_2(tmp_path: Path, media: Path,
                                                                        case: str) -> None:
    source = UNPLAYABLE_SOURCES[case](tmp_path, media)
    done = run_process("--config", empty_config(tmp_path), "web", "--source", source, "--port", "0")
    assert done.returncode == 2, done.stderr  # not a retry for ever: run_process would time out
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vcam: error: ") and source.name in lines[0], done.stderr
    assert done.stdout == ""  # no preview URL: nothing was served


@pytest.mark.linux("POSIX signals and preexec_fn; webcam 7 is /dev/video7")
def test_a_missing_webcam_is_reported_by_vcam_alone(tmp_path: Path) -> None:
    """OpenCV's own [ WARN:0@…] and [ERROR:0@…] lines stay out of the terminal."""
    process, url = start_web(tmp_path, 7)  # no webcam 7 here
    try:
        lines = []
        while not any("camera 7 cannot be opened" in line for line in lines):
            line = process.stderr.readline()
            assert line, f"vcam web ended: {lines}"
            lines.append(line)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    lines += err.splitlines(keepends=True)
    assert process.returncode == 0
    assert lines and all(line.startswith("vcam: ") for line in lines), lines


@pytest.mark.linux("an X display with a tray host, and SIGHUP")
def test_vcam_tray_stops_on_sighup_as_on_ctrl_c(desktop: str, media: Path, tmp_path: Path) -> None:  # noqa: F811
    """The tray quits as its menu's Quit does when the terminal it was started from closes."""
    config = config_file(tmp_path / "c.toml", f'camera = "{media / "short_hamilton_clip.mp4"}"')
    env = {**os.environ, "DISPLAY": desktop, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "vcam", "--config", str(config), "tray"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=with_default_signals)  # as from a terminal, even when the tests run under nohup
    out, err = signal_once_shown(process, env, signal.SIGHUP)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "interrupted" not in err
    assert err.strip().endswith("vcam: stopped")


@pytest.mark.linux("POSIX signals and preexec_fn; macOS's loopback has no 127.0.0.2")
@pytest.mark.parametrize("host", ["127.0.0.2", "::1"])
def test_the_url_vcam_web_prints_for_another_loopback_address_works(tmp_path: Path, media: Path, host: str) -> None:
    process, url = start_web(tmp_path, media / "short_hamilton_clip.mp4", host)
    try:
        browser = requests.Session()
        page = browser.get(url, timeout=10)
        assert page.status_code == 200 and "<title>vcam preview</title>" in page.text
        assert browser.get(url.split("?")[0] + "api/state", timeout=10).json()["running"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and out == "vcam: preview stopped\n", err
