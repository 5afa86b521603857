"""`vcam doctor`: checks the webcam, the virtual camera, the system tray and the models, and prints
for every problem the exact commands or steps that fix it."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from vcam.config import CONFIG_FILE, Config
from vcam.errors import VcamError
from vcam.tray_protocol import TrayProtocol, tray_protocol

UNLOAD = "sudo modprobe -r v4l2loopback"
KEEP_LOADED = "echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf"
KEEP_OPTIONS = ("echo 'options v4l2loopback devices=1 exclusive_caps=1 card_label=\"vcam\"'"
                " | sudo tee /etc/modprobe.d/v4l2loopback.conf")
MEETING_APPS = "Zoom, Meet or Teams"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""
    """What to do, one step or command a line (lines starting with # are explanations)."""


@contextmanager
def _opencv_quiet() -> Iterator[None]:
    """OpenCV warns on stderr about every camera it fails to open; the check says it better."""
    import cv2

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _frame_size(source: int | str, platform: str) -> tuple[int, int] | None:
    """The (width, height) of the first frame `source` gives, or None when it gives none. It is
    opened the way vcam.sources opens a camera, so that the answer holds for the tray too."""
    import cv2

    with _opencv_quiet():
        capture = cv2.VideoCapture(source, cv2.CAP_DSHOW if platform == "win32" and isinstance(source, int)
                                   else cv2.CAP_ANY)
        try:
            ok, frame = capture.read() if capture.isOpened() else (False, None)
        finally:
            capture.release()
    return (frame.shape[1], frame.shape[0]) if ok and frame is not None else None


def processes_holding(path: Path, proc_root: Path = Path("/proc")) -> list[tuple[int, str]]:
    """(pid, name) of the processes, other than this one, with `path` open, found through the
    /proc/PID/fd links. Processes of other users are invisible unless we are root."""
    target = os.path.realpath(path)
    holders = []
    for process in proc_root.iterdir():
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        try:
            holds = any(os.readlink(fd) == target for fd in (process / "fd").iterdir())
            name = (process / "comm").read_text().strip() if holds else ""
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        if holds:
            holders.append((int(process.name), name))
    return sorted(holders)


def _video_devices(root: Path) -> list[str]:
    """The /dev/video* nodes under `root`, each with its card label when sysfs has one."""
    nodes = sorted((root / "dev").glob("video*"), key=lambda node: (len(node.name), node.name))
    described = []
    for node in nodes:
        label_file = root / "sys" / "class" / "video4linux" / node.name / "name"
        label = label_file.read_text().strip() if label_file.is_file() else ""
        described.append(f'/dev/{node.name} "{label}"' if label else f"/dev/{node.name}")
    return described


def check_camera(camera: int | str, platform: str = sys.platform, root: Path = Path("/"),
                 proc_root: Path = Path("/proc")) -> Check:
    """Opens the webcam (index, device path) or video file `camera` and reads one frame. On Linux
    index N is the node `root`/dev/videoN: its absence means no camera, and when it exists but
    gives no frame `proc_root` is searched for the apps that hold it."""
    name = f"camera {camera}"
    pick_another = f"pick another camera with --source N, or camera = N in {CONFIG_FILE}"
    linux = platform.startswith("linux")
    if linux and isinstance(camera, int):
        path = root / "dev" / f"video{camera}"
    else:
        path = Path(camera).expanduser() if isinstance(camera, str) else None
    if path is not None and not path.exists():
        if isinstance(camera, str) and not camera.startswith("/dev/"):
            return Check(name, False, f"no such file or device {camera}",
                         f"check the path, or {pick_another}")
        present = _video_devices(root) if linux else []
        listing = f"cameras present: {', '.join(present)}" if present else "no /dev/video* devices present"
        return Check(name, False, f"no camera at /dev/{path.name}" if linux else f"no camera at {camera}",
                     f"plug the webcam in, or {pick_another}\n{listing}")
    size = _frame_size(str(path) if isinstance(camera, str) else camera, platform)
    if size is not None:
        return Check(name, True, f"{size[0]}×{size[1]}")
    if path is not None and (isinstance(camera, int) or stat.S_ISCHR(path.stat().st_mode)):
        return explain_unreadable_device(name, path, proc_root)
    if path is not None:
        return Check(name, False, f"{camera} is not a video OpenCV can play",
                     f"convert it to mp4 (ffmpeg -i {camera} out.mp4), or {pick_another}")
    return Check(name, False, "cannot be opened or gives no picture", _open_camera_steps(platform) + pick_another)


def explain_unreadable_device(name: str, device: Path, proc_root: Path = Path("/proc")) -> Check:
    """A camera device that exists but gives no frame: another app holding it, else permissions
    or a node that is not a capture device."""
    holders = processes_holding(device, proc_root)
    if holders:
        apps = ", ".join(f"{comm} (pid {pid})" for pid, comm in holders)
        return Check(name, False, f"held by another app: {apps}",
                     "close that app or pick another camera with --source N")
    return Check(name, False, f"{device} exists but gives no picture", "\n".join([
        f"# you may lack access: `ls -l {device}` shows its group (usually video); join it and log in again:",
        "sudo usermod -aG video $USER",
        "# webcams also make metadata-only nodes (often the odd numbers); try the next one with --source N",
    ]))


def _open_camera_steps(platform: str) -> str:
    if platform == "darwin":
        return ("plug the webcam in and close other apps using it; allow camera access for your terminal in"
                " System Settings › Privacy & Security › Camera\nor ")
    if platform == "win32":
        return ("plug the webcam in and close other apps using it; turn on \"Let desktop apps access your camera\""
                " in Settings › Privacy & security › Camera\nor ")
    return "plug the webcam in and close other apps using it\nor "


def _loopback_devices(sys_root: Path) -> list[tuple[str, str]]:
    """(/dev/videoN, card label) of the v4l2loopback devices, in device-number order."""
    folder = sys_root / "sys" / "devices" / "virtual" / "video4linux"
    nodes = sorted(folder.glob("video*"), key=lambda node: (len(node.name), node.name))
    return [(f"/dev/{node.name}", (node / "name").read_text().strip() if (node / "name").is_file() else "")
            for node in nodes]


def _exclusive_caps(module: Path) -> list[bool]:
    """The module's exclusive_caps, one per device in load order (sysfs shows Y/N, or 1/0 on old kernels)."""
    parameter = module / "parameters" / "exclusive_caps"
    text = parameter.read_text().strip() if parameter.is_file() else ""
    return [value.strip() in ("Y", "1") for value in text.split(",") if value.strip()]


def check_virtual_camera(platform: str = sys.platform, sys_root: Path = Path("/"), device: str | None = None,
                         try_backend: Callable[[str | None], str] | None = None) -> Check:
    """Whether meeting apps will see vcam's camera. Linux: v4l2loopback in sysfs under `sys_root`.
    Windows and macOS: opening the OBS virtual camera through pyvirtualcam (`try_backend`, which
    returns the camera's name, stands in for it in tests)."""
    from vcam.virtual_camera import MODPROBE  # OpenCV and pyvirtualcam load inside the guarded check

    name = "virtual camera"
    if platform in ("win32", "darwin"):
        try:
            opened = (try_backend or _open_obs_camera)(device)
        except Exception as err:  # pyvirtualcam raises RuntimeError and others, with a useful text
            return Check(name, False, f"none can be opened ({err})", obs_steps(platform))
        return Check(name, True, f'"{opened}": pick it as the camera in {MEETING_APPS}')
    if not platform.startswith("linux"):
        return Check(name, False, f"not supported on {platform}", "use vcam annotate for photos and videos")
    module = sys_root / "sys" / "module" / "v4l2loopback"
    if not module.is_dir():
        return Check(name, False, "v4l2loopback is not loaded", "\n".join([
            "# Debian/Ubuntu (Fedora: sudo dnf install akmod-v4l2loopback):",
            "sudo apt install v4l2loopback-dkms",
            MODPROBE,
            "# load it at every boot, with the same options:",
            KEEP_LOADED,
            KEEP_OPTIONS,
            "# with Secure Boot on, enroll the DKMS signing key when apt asks, and reboot",
        ]))
    devices = _loopback_devices(sys_root)
    if not devices:
        return Check(name, False, "v4l2loopback is loaded but has no devices",
                     "\n".join([UNLOAD, MODPROBE, "# and keep those options after a reboot:", KEEP_OPTIONS]))
    caps = _exclusive_caps(module)
    entries = [(node, label, index < len(caps) and caps[index]) for index, (node, label) in enumerate(devices)]
    if device is not None:
        entries = [entry for entry in entries if device in (entry[0], entry[1])]
        if not entries:
            present = ", ".join(f'{node} "{label}"' for node, label in devices)
            return Check(name, False, f"{device} is not a v4l2loopback device (those are: {present})",
                         f"set virtual_camera in {CONFIG_FILE} to one of them, or remove it to take the first free")
    usable = [(node, label) for node, label, exclusive in entries if exclusive]
    if not usable:
        node, label, _ = entries[0]
        return Check(name, False, f'{node} "{label}" has exclusive_caps off: Chrome and Meet will not list it',
                     "\n".join(["# close the apps using the camera, then reload the module:", UNLOAD, MODPROBE,
                                "# and keep those options after a reboot:", KEEP_OPTIONS]))
    listed = ", ".join(f'{node} "{label}"' for node, label in usable)
    return Check(name, True, f'{listed}: pick "{usable[0][1] or usable[0][0]}" as the camera in {MEETING_APPS}'
                             " (Chrome lists it only while vcam is running)")


def obs_steps(platform: str) -> str:
    """How to get the OBS virtual camera that pyvirtualcam drives on Windows and macOS."""
    steps = ["install OBS Studio (30 or newer) from https://obsproject.com"
             + (" or with: brew install --cask obs" if platform == "darwin" else "")]
    if platform == "darwin":
        steps.append("on macOS 13+ start its Virtual Camera once so that its camera extension is enabled/approved"
                     " in System Settings › General › Login Items & Extensions")
    else:
        steps.append("start its Virtual Camera once, so that Windows registers the camera")
    steps.append("then stop it in OBS: only one app at a time can feed the virtual camera")
    return "\n".join(steps)


def _open_obs_camera(device: str | None) -> str:
    import pyvirtualcam

    with pyvirtualcam.Camera(width=640, height=480, fps=30, device=device) as camera:
        return str(camera.device)


TRAY_STEPS = "\n".join([
    "# GNOME: the AppIndicator extension hosts tray icons (Ubuntu ships it on); log out and in after:",
    "sudo apt install gnome-shell-extension-appindicator",
    "gnome-extensions enable appindicatorsupport@rgcjonas.gmail.com",
    "# KDE Plasma, XFCE, LXQt, Cinnamon, Budgie: add the panel's status notifier / system tray applet",
    "# no tray at all: `vcam web` shows the camera and its switches in the browser",
])


def check_tray(platform: str = sys.platform, env: Mapping[str, str] = os.environ) -> Check:
    """Which tray protocol vcam found here (vcam.tray_protocol), and what to install when it
    finds none, or one without a menu."""
    name = "system tray"
    found = tray_protocol(platform, env)
    if found is TrayProtocol.XEMBED:
        return Check(name, False, f"no StatusNotifierWatcher on the session bus, only the {found}", TRAY_STEPS)
    if found is TrayProtocol.NONE:
        return Check(name, False, "none found: no StatusNotifierWatcher on the session bus and no X display",
                     TRAY_STEPS)
    return Check(name, True, str(found))


SHORTCUT_STEPS = "\n".join([
    "# Wayland: KDE Plasma, GNOME 48+ and Hyprland offer the GlobalShortcuts portal (xdg-desktop-portal with",
    "# their backend: xdg-desktop-portal-kde, -gnome or -hyprland); sway and other wlroots desktops have none yet",
    "# X11: another app holds the key: set another toggle_key in the settings file, e.g. toggle_key = \"Ctrl+Alt+F9\"",
    "# the app runs on without it; the tray's Overlay item and the web page switch the overlay as well",
])


def check_shortcut(config: Config, env: Mapping[str, str] = os.environ, platform: str = sys.platform,
                   wait: float = 10.0) -> Check:
    """Whether the overlay key (toggle_key) can be listened for here: it is taken for a moment and let go."""
    import threading

    from vcam.shortcut import Binding, parse_shortcut
    from vcam.shortcut_listener import start_shortcuts

    name = "overlay key"
    shortcut = parse_shortcut(config.toggle_key)
    if shortcut is None:
        return Check(name, True, 'none (toggle_key = "")')
    heard: list[tuple[str | None, str | None]] = []
    told = threading.Event()

    def on_status(working: str | None, problem: str | None) -> None:
        heard.append((working, problem))
        told.set()

    listener = start_shortcuts([Binding("toggle-overlay", shortcut, "Switch the vcam overlay on and off",
                                        lambda: None)], on_status, env, platform)
    try:
        if not told.wait(wait):
            return Check(name, False, f"the desktop did not answer within {wait:g} s", SHORTCUT_STEPS)
    finally:
        listener.close()
    working, problem = heard[0]
    if working:
        return Check(name, True, f"{working} switches the overlay from any window")
    return Check(name, False, f"{shortcut} cannot work here: {problem}", SHORTCUT_STEPS)


def check_models(config: Config) -> Check:
    """The emotion model and the face detector the settings name load and have the right shapes."""
    from vcam.classify import DEFAULT_MODEL, EmotionModel
    from vcam.detect import DETECTORS
    from vcam.pipeline import build_detector

    try:
        EmotionModel(config.emotion_model, config.threads)
        build_detector(config)
    except VcamError as err:
        return Check("models", False, str(err),
                     f"point emotion_model / detector_model in {CONFIG_FILE} at working files,"
                     " or remove them there to use the shipped ones")
    emotion = config.emotion_model.name if config.emotion_model else DEFAULT_MODEL
    detector = config.detector_model.name if config.detector_model else DETECTORS[config.detector].filename
    return Check("models", True, f"{emotion}, {detector} ({config.detector} range detector)")


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """The check's result, or its unexpected exception as a failed check: the doctor never crashes."""
    try:
        return check()
    except Exception as err:
        return Check(name, False, f"the check itself failed: {type(err).__name__}: {err}",
                     "please report this at the project's issue tracker with this output")


def _write_line(out: TextIO, line: str) -> None:
    # A Windows console in a legacy code page cannot print ✓ or some camera labels; never crash on it.
    try:
        out.write(line + "\n")
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "ascii"
        out.write(line.encode(encoding, "replace").decode(encoding) + "\n")


def run_doctor(config: Config, out: TextIO = sys.stdout) -> int:
    """Run every check, print one line each with its fix indented below, and a summary; 0 when
    all pass, 1 otherwise."""
    checks = [
        _guarded(f"camera {config.camera}", lambda: check_camera(config.camera)),
        _guarded("virtual camera", lambda: check_virtual_camera(device=config.virtual_camera)),
        _guarded("system tray", check_tray),
        _guarded("overlay key", lambda: check_shortcut(config)),
        _guarded("models", lambda: check_models(config)),
    ]
    for check in checks:
        _write_line(out, f"{'✓' if check.ok else '✗'} {check.name}: {check.message}")
        for line in check.fix.splitlines() if not check.ok else []:
            _write_line(out, f"    {line}")
    failed = sum(not check.ok for check in checks)
    _write_line(out, f"all {len(checks)} checks passed" if not failed
                else f"{failed} of {len(checks)} checks found a problem; the fixes are under each ✗")
    return 1 if failed else 0
