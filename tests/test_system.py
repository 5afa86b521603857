"""The installed vcam on this machine's own account, as its user meets it: `vcam doctor` (its exit
status and advice), `vcam annotate` on a photo and a clip, the real "Start at login" entry written
and removed, the settings file where the README says, and the tray started and stopped on the
desktop (or, where there is none, refused in one line).

These change the account they run in (the autostart entry, the settings file; both are put back
as they were), so they run only with --system, as the CI workflow's jobs on Linux, Windows and
macOS do. VCAM_EXPECT_VIRTUAL_CAMERA says whether this machine has a virtual camera ("present":
v4l2loopback loaded, OBS's camera registered) or not ("absent": the macOS runner, which cannot
approve OBS's camera extension; a machine without v4l2loopback).
"""

from __future__ import annotations

import configparser
import json
import logging
import os
import plistlib
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from media_files import read_all_frames

from vcam.autostart import ENTRY_NAME, RUN_KEY, Autostart, tray_command
from vcam.cli import main
from vcam.config import CONFIG_FILE, load_config, save_settings
from vcam.doctor import check_tray, obs_steps
from vcam.tray import TrayApp
from vcam.tray_protocol import TrayProtocol, tray_protocol
from vcam.virtual_camera import MODPROBE

pytestmark = pytest.mark.system

LINUX = sys.platform.startswith("linux")


def vcam_command() -> list[str]:
    """The `vcam` command that pip installed for this Python (as a user types it)."""
    folder = Path(sysconfig.get_path("scripts"))
    script = folder / ("vcam.exe" if sys.platform == "win32" else "vcam")
    assert script.is_file(), f"{script} is missing: pip install the project (pip install -e .)"
    return [str(script)]


def run_vcam(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed command, with UTF-8 output (the doctor's ✓ and ✗) and wide help text."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "250"}
    return subprocess.run([*vcam_command(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout)


def remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders a test made (innermost first) that it left empty."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


@pytest.fixture(scope="module")
def expect_virtual_camera() -> bool:
    value = os.environ.get("VCAM_EXPECT_VIRTUAL_CAMERA")
    assert value in ("present", "absent"), \
        "set VCAM_EXPECT_VIRTUAL_CAMERA to present or absent: whether this machine has a virtual camera"
    return value == "present"


# --- vcam doctor ------------------------------------------------------------------------------

def test_doctor_checks_each_part_and_its_exit_status_says_whether_all_passed(
        media: Path, tmp_path: Path, expect_virtual_camera: bool) -> None:
    clip = media / "short_hamilton_clip.mp4"

    result = run_vcam("doctor", "--source", str(clip), cwd=tmp_path)

    lines = result.stdout.splitlines()
    report = f"vcam doctor printed:\n{result.stdout}{result.stderr}"
    assert lines[0] == f"✓ camera {clip}: 640×360", report
    [camera] = [line for line in lines if line.startswith(("✓ virtual camera:", "✗ virtual camera:"))]
    fix = lines[lines.index(camera) + 1:]
    if expect_virtual_camera:
        assert camera.startswith("✓ virtual camera: ") and "pick" in camera, report
        if sys.platform == "win32":
            assert '"OBS Virtual Camera"' in camera, report
    elif LINUX:
        assert camera == "✗ virtual camera: v4l2loopback is not loaded", report
        assert f"    {MODPROBE}" in fix, report
    else:  # OBS missing, or its camera extension not allowed: the steps that fix either
        assert camera.startswith("✗ virtual camera: none can be opened ("), report
        assert [f"    {step}" for step in obs_steps(sys.platform).splitlines()] == fix[:len(obs_steps(sys.platform).splitlines())], report
    tray = check_tray()
    assert f"{'✓' if tray.ok else '✗'} system tray: {tray.message}" in lines, report
    if sys.platform in ("win32", "darwin"):
        assert tray.ok, "Windows and macOS always have their own tray"
    assert any(line.startswith("✓ models: emotion.tflite") for line in lines), report
    problems = sum(line.startswith("✗ ") for line in lines)
    assert result.returncode == (1 if problems else 0), report
    assert lines[-1] == ("all 4 checks passed" if not problems
                         else f"{problems} of 4 checks found a problem; the fixes are under each ✗"), report
    assert "Traceback" not in result.stderr, report


# --- vcam annotate ----------------------------------------------------------------------------

def test_annotate_draws_on_a_photo_and_on_a_clip(media: Path, tmp_path: Path) -> None:
    photo = run_vcam("annotate", str(media / "two_people.jpg"), str(tmp_path / "out.jpg"), cwd=tmp_path)
    assert photo.returncode == 0, photo.stderr
    assert "1 frame, 2 faces" in photo.stdout
    original, annotated = cv2.imread(str(media / "two_people.jpg")), cv2.imread(str(tmp_path / "out.jpg"))
    assert annotated.shape == original.shape and (annotated != original).any()

    clip = media / "short_hamilton_clip.mp4"
    video = run_vcam("annotate", str(clip), str(tmp_path / "out.mp4"), "--json", str(tmp_path / "faces.json"),
                     "--quiet", cwd=tmp_path)
    assert video.returncode == 0, video.stderr
    frames, source = read_all_frames(tmp_path / "out.mp4"), read_all_frames(clip)
    assert len(frames) == len(source) and frames[0].shape == source[0].shape
    records = json.loads((tmp_path / "faces.json").read_text(encoding="utf-8"))["frames"]
    assert len(records) == len(source) and sum(bool(record["faces"]) for record in records) > len(records) // 2


# --- the autostart entry ----------------------------------------------------------------------

def read_run_value() -> str | None:
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        try:
            return str(winreg.QueryValueEx(key, ENTRY_NAME)[0])
        except FileNotFoundError:
            return None


@pytest.fixture
def autostart() -> Iterator[Autostart]:
    """This account's real "Start at login" entry; put back as it was afterwards."""
    entry = Autostart()
    location = entry.location
    if isinstance(location, Path):
        before = location.read_bytes() if location.is_file() else None
        made = [folder for folder in (location.parent, location.parent.parent) if not folder.exists()]
        yield entry
        if before is None:
            location.unlink(missing_ok=True)
            remove_if_empty(made)
        else:
            location.write_bytes(before)
    else:
        before = read_run_value()
        yield entry
        if before is None:
            entry.disable()
        else:
            import winreg

            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.SetValueEx(key, ENTRY_NAME, 0, winreg.REG_SZ, before)


def test_the_autostart_entry_is_written_where_the_system_reads_it_and_removed(autostart: Autostart) -> None:
    command = tray_command()
    autostart.disable()
    assert not autostart.is_enabled()

    location = autostart.enable()

    assert autostart.is_enabled()
    if sys.platform == "win32":
        assert location == rf"HKCU\{RUN_KEY}\{ENTRY_NAME}"
        assert read_run_value() == subprocess.list2cmdline(command)
    elif sys.platform == "darwin":
        assert location == Path.home() / "Library" / "LaunchAgents" / "io.github.vcam.tray.plist"
        lint = subprocess.run(["plutil", "-lint", str(location)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert plistlib.loads(location.read_bytes())["ProgramArguments"] == command
    else:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(location, encoding="utf-8")
        assert parser["Desktop Entry"]["Type"] == "Application" and "tray" in parser["Desktop Entry"]["Exec"]
        if shutil.which("desktop-file-validate"):
            validate = subprocess.run(["desktop-file-validate", str(location)], capture_output=True, text=True)
            assert validate.returncode == 0, validate.stdout + validate.stderr
    # What the entry starts is this installation's tray: asked for its help, it answers.
    started = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr

    autostart.disable()

    assert not autostart.is_enabled()
    assert (read_run_value() is None) if sys.platform == "win32" else not Path(location).exists()


# --- the settings file ------------------------------------------------------------------------

def expected_settings_file() -> Path:
    """Where the README says the settings live."""
    if sys.platform == "win32":
        return Path(os.environ["LOCALAPPDATA"]) / "vcam" / "vcam" / "config.toml"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "vcam" / "config.toml"
    config_home = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(config_home) if config_home else Path.home() / ".config") / "vcam" / "config.toml"


def test_settings_live_where_the_readme_says_and_vcam_reads_them_back(tmp_path: Path) -> None:
    assert os.path.normcase(CONFIG_FILE) == os.path.normcase(expected_settings_file())
    shown = run_vcam("--help", cwd=tmp_path)
    assert shown.returncode == 0 and str(CONFIG_FILE) in " ".join(shown.stdout.split()), shown.stdout

    before = CONFIG_FILE.read_bytes() if CONFIG_FILE.is_file() else None
    made = [folder for folder in (CONFIG_FILE.parent, CONFIG_FILE.parent.parent) if not folder.exists()]
    try:
        save_settings({"placement": "badge"})  # what a choice in the tray's menu does
        assert load_config().placement == "badge"
        # The installed command reads the same file: a bad value there is an error naming it.
        CONFIG_FILE.write_text('placement = "sideways"\n', encoding="utf-8")
        refused = run_vcam("doctor", cwd=tmp_path)
        assert refused.returncode == 2 and str(CONFIG_FILE) in refused.stderr, refused.stderr
    finally:
        if before is None:
            CONFIG_FILE.unlink(missing_ok=True)
            remove_if_empty(made)
        else:
            CONFIG_FILE.write_bytes(before)


# --- the tray ---------------------------------------------------------------------------------

def test_the_tray_starts_on_the_desktop_and_stops_on_ctrl_c(media: Path, tmp_path: Path, monkeypatch,
                                                           capsys) -> None:
    clip = str(media / "short_hamilton_clip.mp4")
    settings = tmp_path / "config.toml"
    settings.write_text("", encoding="utf-8")
    if tray_protocol() is TrayProtocol.NONE:
        # A machine without a desktop (the Linux runner): one line that says so, and no camera opened.
        result = run_vcam("--config", str(settings), "tray", "--source", clip, cwd=tmp_path, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("vcam: error: no system tray") and len(result.stderr.splitlines()) == 1
        return

    # The tray in this process's main thread, as `vcam tray` runs it (macOS wants its menu there);
    # a helper thread waits for the icon, then does what Ctrl-C does: the handler vcam installed.
    trays: list = []
    if tray_protocol() is TrayProtocol.SNI:
        from vcam.tray_sni import SniTray as tray_class
    else:
        tray_class = TrayApp
    original_init = tray_class.__init__

    def recording_init(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        trays.append(self)

    monkeypatch.setattr(tray_class, "__init__", recording_init)
    signums = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    handlers = {signum: signal.getsignal(signum) for signum in signums}
    log_handlers = list(logging.getLogger("vcam").handlers)
    shown = threading.Event()

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            app = trays[0] if trays else None
            if app is not None and signal.getsignal(signal.SIGINT) is not handlers[signal.SIGINT] and \
                    getattr(app, "_ready", True) and getattr(getattr(app, "icon", None), "visible", True):
                shown.set()
                break
            time.sleep(0.1)
        time.sleep(3)  # frames flow to the virtual camera meanwhile
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    try:
        status = main(["--config", str(settings), "tray", "--source", clip])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        logging.getLogger("vcam").handlers[:] = log_handlers  # main() added its stderr lines
        presser.join(10)
    assert shown.is_set(), "the tray icon was not shown within 60 s"
    assert status == 0
    assert capsys.readouterr().err.splitlines()[-1] == "vcam: stopped"
