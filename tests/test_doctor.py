"""`vcam doctor`: the camera against this machine and the real clip, processes holding a file
found through the real /proc, the virtual camera against sysfs trees built for each case (and the
real one), the tray protocol on a real session bus, the shipped models, and what run_doctor prints."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_files import garbage

if sys.platform.startswith("linux"):  # dbus-fast, the session bus: Linux only
    from sni_host import Host, session_bus

from vcam.config import Config
from vcam.doctor import (
    Check, check_camera, check_models, check_tray, check_virtual_camera, processes_holding, run_doctor,
)
from vcam.virtual_camera import MODPROBE, virtual_camera_advice

KEEP_LOADED = "echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf"
KEEP_OPTIONS = ("echo 'options v4l2loopback devices=1 exclusive_caps=1 card_label=\"vcam\"'"
                " | sudo tee /etc/modprobe.d/v4l2loopback.conf")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A real process that holds a file open until its stdin closes; it says "ready" once it has."""
    held = tmp_path / "held.bin"
    held.write_bytes(b"x")
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; f = open(sys.argv[1], 'rb'); print('ready', flush=True); sys.stdin.read()",
         str(held)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process, held
    process.stdin.close()
    process.wait(timeout=10)
    process.stdout.close()


def sysfs(root: Path, *, loaded: bool = True, caps: str | None = None,
          devices: dict[int, str] | None = None) -> Path:
    """A fake sysfs under `root`: the v4l2loopback module (with its exclusive_caps) and loopback devices."""
    if loaded:
        parameters = root / "sys" / "module" / "v4l2loopback" / "parameters"
        parameters.mkdir(parents=True)
        if caps is not None:
            (parameters / "exclusive_caps").write_text(caps + "\n")
    for number, label in (devices or {}).items():
        node = root / "sys" / "devices" / "virtual" / "video4linux" / f"video{number}"
        node.mkdir(parents=True)
        (node / "name").write_text(label + "\n")
    return root


# --- the camera -------------------------------------------------------------------------------

@pytest.mark.linux("webcam N is /dev/videoN")
def test_missing_webcam_on_this_machine_says_what_to_do() -> None:
    assert not Path("/dev/video0").exists()  # this machine has no webcam

    check = check_camera(0)

    assert check == Check("camera 0", False, "no camera at /dev/video0", check.fix)
    assert "plug the webcam in" in check.fix and "--source" in check.fix
    assert "no /dev/video* devices present" in check.fix


def test_missing_webcam_lists_the_cameras_present(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "video2").write_bytes(b"")
    (tmp_path / "dev" / "video10").write_bytes(b"")
    (tmp_path / "sys" / "class" / "video4linux" / "video2").mkdir(parents=True)
    (tmp_path / "sys" / "class" / "video4linux" / "video2" / "name").write_text("Integrated Camera\n")

    check = check_camera(0, platform="linux", root=tmp_path)

    assert not check.ok
    assert 'cameras present: /dev/video2 "Integrated Camera", /dev/video10' in check.fix


def test_video_file_as_camera_gives_its_size(media: Path) -> None:
    clip = media / "short_hamilton_clip.mp4"

    check = check_camera(str(clip))

    assert check == Check(f"camera {clip}", True, "640×360")


def test_missing_and_unplayable_files(tmp_path: Path) -> None:
    missing = check_camera(str(tmp_path / "nope.mp4"))
    assert not missing.ok and missing.message == f"no such file or device {tmp_path / 'nope.mp4'}"

    broken = check_camera(str(garbage(tmp_path / "broken.mp4")))
    assert not broken.ok and broken.message.endswith("is not a video OpenCV can play")
    assert "ffmpeg -i" in broken.fix


@pytest.mark.linux("the holders are found through /proc")
def test_processes_holding_finds_a_real_process(holder: tuple[subprocess.Popen, Path]) -> None:
    process, held = holder
    with held.open("rb"):  # this test holds it too, and is left out
        holders = processes_holding(held)

    assert len(holders) == 1
    pid, name = holders[0]
    assert pid == process.pid and name.startswith("python")
    assert processes_holding(held.with_name("other.bin")) == []


@pytest.mark.linux("the holders are found through /proc")
def test_camera_held_by_another_app_names_it(tmp_path: Path, holder: tuple[subprocess.Popen, Path]) -> None:
    process, held = holder
    (tmp_path / "root" / "dev").mkdir(parents=True)
    # "The device": a file the holder has open. Index 63 so that no real webcam answers instead.
    (tmp_path / "root" / "dev" / "video63").symlink_to(held)

    check = check_camera(63, platform="linux", root=tmp_path / "root")

    assert not check.ok
    assert check.message.startswith("held by another app: python") and check.message.endswith(f"(pid {process.pid})")
    assert check.fix == "close that app or pick another camera with --source N"


@pytest.mark.linux("the holders are found through /proc")
def test_device_nobody_holds_points_at_permissions(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    garbage(tmp_path / "dev" / "video63")

    check = check_camera(63, platform="linux", root=tmp_path)

    assert not check.ok and check.message.endswith("exists but gives no picture")
    assert "sudo usermod -aG video $USER" in check.fix.splitlines()


# --- the virtual camera -----------------------------------------------------------------------

def test_module_not_loaded(tmp_path: Path) -> None:
    check = check_virtual_camera("linux", sysfs(tmp_path, loaded=False))

    assert not check.ok and check.message == "v4l2loopback is not loaded"
    lines = check.fix.splitlines()
    assert "sudo apt install v4l2loopback-dkms" in lines and "akmod-v4l2loopback" in check.fix
    assert MODPROBE in lines and KEEP_LOADED in lines and KEEP_OPTIONS in lines


def test_module_loaded_without_devices(tmp_path: Path) -> None:
    check = check_virtual_camera("linux", sysfs(tmp_path, caps="Y,N,N,N"))

    assert not check.ok and check.message == "v4l2loopback is loaded but has no devices"
    lines = check.fix.splitlines()
    assert lines.index("sudo modprobe -r v4l2loopback") < lines.index(MODPROBE)


@pytest.mark.parametrize("caps", ["N,N,N,N", "0,0", ""])
def test_device_without_exclusive_caps(tmp_path: Path, caps: str) -> None:
    check = check_virtual_camera("linux", sysfs(tmp_path, caps=caps, devices={10: "Dummy video device (0x0000)"}))

    assert not check.ok
    assert check.message == ('/dev/video10 "Dummy video device (0x0000)" has exclusive_caps off:'
                             " Chrome and Meet will not list it")
    lines = check.fix.splitlines()
    assert lines.index("sudo modprobe -r v4l2loopback") < lines.index(MODPROBE) and KEEP_OPTIONS in lines


@pytest.mark.parametrize("caps", ["Y,N,N,N", "1"])
def test_working_loopback_device_is_named(tmp_path: Path, caps: str) -> None:
    check = check_virtual_camera("linux", sysfs(tmp_path, caps=caps, devices={10: "vcam"}))

    assert check.ok, check
    assert check.message.startswith('/dev/video10 "vcam": pick "vcam" as the camera in Zoom, Meet or Teams')


def test_configured_device_is_the_one_judged(tmp_path: Path) -> None:
    root = sysfs(tmp_path, caps="Y,N", devices={10: "vcam", 11: "other"})

    assert check_virtual_camera("linux", root, device="/dev/video10").ok
    assert not check_virtual_camera("linux", root, device="/dev/video11").ok
    missing = check_virtual_camera("linux", root, device="/dev/video3")
    assert not missing.ok and missing.message.startswith("/dev/video3 is not a v4l2loopback device")
    assert '/dev/video10 "vcam", /dev/video11 "other"' in missing.message


@pytest.mark.linux("v4l2loopback")
def test_this_machine_has_no_loopback_module() -> None:
    assert not Path("/sys/module/v4l2loopback").exists()

    check = check_virtual_camera()

    assert not check.ok and check.message == "v4l2loopback is not loaded" and MODPROBE in check.fix


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_point_at_obs(platform: str) -> None:
    def no_obs(device: str | None) -> str:
        raise RuntimeError("'obs' backend: virtual camera output could not be started")

    check = check_virtual_camera(platform, try_backend=no_obs)

    assert not check.ok and "could not be started" in check.message
    assert "install OBS Studio (30 or newer)" in check.fix
    assert ("System Settings" in check.fix) == (platform == "darwin")
    assert check_virtual_camera(platform, try_backend=lambda device: "OBS Virtual Camera") == Check(
        "virtual camera", True, '"OBS Virtual Camera": pick it as the camera in Zoom, Meet or Teams')
    assert "OBS Studio" in virtual_camera_advice(platform)


def test_advice_on_linux_is_one_line_with_the_modprobe() -> None:
    advice = virtual_camera_advice("linux")
    assert "\n" not in advice and MODPROBE in advice and "vcam doctor" in advice


# --- the models -------------------------------------------------------------------------------

def test_shipped_models_load() -> None:
    check = check_models(Config())
    assert check == Check("models", True,
                          "emotion.tflite, face_detection_full_range_sparse.tflite (full range detector)")


def test_corrupt_model_is_reported(tmp_path: Path) -> None:
    broken = garbage(tmp_path / "emotion.tflite")

    check = check_models(Config(emotion_model=broken))

    assert not check.ok and str(broken) in check.message and "corrupt" in check.message
    assert "emotion_model" in check.fix


# --- the whole doctor -------------------------------------------------------------------------

@pytest.mark.linux("/dev/video0, v4l2loopback and a D-Bus session bus")
def test_doctor_on_this_machine_reports_camera_virtual_camera_and_tray(monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.delenv("DISPLAY", raising=False)
    with session_bus() as bus:  # a desktop-less session: a bus with no tray watcher, no X display
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
        status = run_doctor(Config(), out)

    lines = out.getvalue().splitlines()
    assert status == 1
    assert lines[0] == "✗ camera 0: no camera at /dev/video0"
    assert "✗ virtual camera: v4l2loopback is not loaded" in lines
    assert f"    {MODPROBE}" in lines
    assert ("✗ system tray: none found: no StatusNotifierWatcher on the session bus and no X display") in lines
    assert "    sudo apt install gnome-shell-extension-appindicator" in lines
    assert lines[-2].startswith("✓ models: emotion.tflite")
    assert ("✗ overlay key: Ctrl+Alt+E cannot work here: no X display and no Wayland session to take a key "
            "from") in lines
    assert lines[-1] == "4 of 5 checks found a problem; the fixes are under each ✗"


# --- the system tray --------------------------------------------------------------------------

@pytest.mark.linux("a D-Bus session bus")
def test_tray_check_names_the_protocol_it_finds_on_the_session_bus(monkeypatch) -> None:
    with session_bus() as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
        xembed = check_tray("linux", env={"DISPLAY": ":5"})
        host = Host(bus)
        try:
            host.start_watcher()
            sni = check_tray("linux", env={})
        finally:
            host.close()
    assert not xembed.ok and "only the X11 system tray (XEmbed)" in xembed.message and "no menu" in xembed.message
    assert "gnome-extensions enable appindicatorsupport@rgcjonas.gmail.com" in xembed.fix.splitlines()
    assert sni == Check("system tray", True, "StatusNotifierItem over D-Bus, with the full menu")
    assert check_tray("win32").ok and check_tray("darwin").message == "the system's own tray, with the full menu"


def test_doctor_with_a_video_file_and_a_broken_model(media: Path, tmp_path: Path) -> None:
    clip = media / "short_hamilton_clip.mp4"
    out = io.StringIO()

    status = run_doctor(Config(camera=str(clip), detector_model=garbage(tmp_path / "detector.tflite")), out)

    text = out.getvalue()
    assert status == 1
    assert f"✓ camera {clip}: 640×360\n" in text
    assert f"✗ models: model file {tmp_path / 'detector.tflite'} is corrupt" in text
    assert "Traceback" not in text


def test_unexpected_failure_becomes_a_failed_check() -> None:
    class BadConfig:
        camera = 0
        virtual_camera = None
        emotion_model = detector_model = None
        detector = "medium"  # no such detector (settings never let one through): a KeyError, not a VcamError
        score_threshold = None
        threads = 2

    out = io.StringIO()
    assert run_doctor(BadConfig(), out) == 1  # type: ignore[arg-type]
    assert "✗ models: the check itself failed: KeyError: 'medium'" in out.getvalue()


@pytest.mark.linux("the line it looks for is v4l2loopback's")
def test_doctor_prints_on_a_console_that_cannot_show_ticks(media: Path) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="cp437", errors="strict")

    run_doctor(Config(camera=str(media / "short_hamilton_clip.mp4")), out)

    out.flush()
    text = raw.getvalue().decode("cp437")
    assert "? camera " in text and "? virtual camera: v4l2loopback is not loaded" in text
