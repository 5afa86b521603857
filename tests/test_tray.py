"""vcam.tray on a real X server (Xvfb) with a real tray host (trayer): the icon shows, a real
click toggles the overlay and changes the icon, and every menu item drives the engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sni_host import session_bus
from test_engine import Running
from waiting import wait_until
from x_display import screenshot, start_client, virtual_display, yellow_pixels

from vcam.autostart import Autostart
from vcam.config import Config, load_config
from vcam.engine import EngineState
from vcam.tray import TrayApp, import_pystray, tray_image, tray_title

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def desktop():
    """A virtual X display with a system tray (trayer) docked at its top right corner."""
    assert shutil.which("trayer"), "trayer is missing: apt-get install trayer (.ci/run does)"
    with virtual_display() as display:
        env = {**os.environ, "DISPLAY": display}
        trayer = start_client(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                               "--height", "32", "--SetDockType", "true", "--transparent", "false",
                               "--tint", "0x202020"], env, lambda: tray_host_ready(display),
                              "trayer to take the system tray selection")
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display  # pystray's X11 backend connects when it is imported
        yield display
        trayer.terminate()
        trayer.wait(10)
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


def tray_host_ready(display: str) -> bool:
    """Whether a tray host owns the screen's system tray selection (icons shown before then are
    never docked)."""
    from Xlib import X
    from Xlib.display import Display

    connection = Display(display)
    try:
        if connection.get_selection_owner(connection.intern_atom("_NET_SYSTEM_TRAY_S0")) == X.NONE:
            return False
    finally:
        connection.close()
    panel = subprocess.run(["xdotool", "search", "--onlyvisible", "--class", "trayer"], capture_output=True,
                           env={**os.environ, "DISPLAY": display}, timeout=10)
    return panel.returncode == 0


def save_screenshot(display: str, path: Path) -> None:
    Image.fromarray(screenshot(display)).save(path)


def tray_strip(display: str) -> np.ndarray:
    """The top right corner of the screen, where trayer docks the icons (RGB)."""
    return screenshot(display)[:32, -160:]


def red_pixels(picture: np.ndarray) -> int:
    r, g, b = (picture[..., i].astype(int) for i in range(3))
    return int(((r > 180) & (g < 70) & (b < 70)).sum())


class TrayRun:
    """A TrayApp over a Running engine, its icon's event loop on a thread."""

    def __init__(self, config: Config, tmp: Path, **engine_options) -> None:
        self.running = Running(config, settings_file=tmp / "config.toml", **engine_options)
        self.autostart = Autostart(platform="linux", home=tmp, env={})
        self.previews: list[str] = []
        self.browsed: list[str] = []  # the user's browser is not started in tests
        self.app = TrayApp(self.running.engine, import_pystray(), autostart=self.autostart,
                           open_preview=self._preview, cameras=[0, 1], browse=self.browsed.append)
        self._thread = threading.Thread(target=self.app.run, daemon=True)

    def _preview(self) -> str:
        self.previews.append("http://127.0.0.1:8765/")
        return self.previews[-1]

    def __enter__(self) -> TrayRun:
        self.running.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.on_quit()
        self._thread.join(10)
        self.running.__exit__()

    def window(self, display: str) -> str:
        """The icon's window, once the tray host has docked and shown it."""
        found = wait_until(lambda: subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^vcam"],
                                                  capture_output=True, text=True, timeout=10,
                                                  env={**os.environ, "DISPLAY": display}).stdout.split(),
                           message="the icon's window")
        return found[0]


def test_the_icon_shows_in_the_tray_a_click_toggles_the_overlay_and_a_lost_camera_shows(desktop: str, media: Path,
                                                                                 tmp_path: Path) -> None:
    config = Config(camera=str(media / "short_hamilton_clip.mp4"))
    with TrayRun(config, tmp_path) as run:
        engine = run.running.engine
        run.running.wait_state(lambda s: s.camera_ok and s.virtual_camera)
        window = run.window(desktop)
        shown = wait_until(lambda: yellow_pixels(tray_strip(desktop)) > 100, message="the emoji icon in the tray")
        assert shown
        save_screenshot(desktop, tmp_path / "tray-overlay-on.png")
        for expected in (False, True):
            subprocess.run(["xdotool", "mousemove", "--window", window, "8", "8", "click", "1"], check=True,
                           env={**os.environ, "DISPLAY": desktop}, timeout=10)
            run.running.wait_state(lambda s: s.overlay is expected)
            wait_until(lambda: (yellow_pixels(tray_strip(desktop)) > 100) is expected,
                       message=f"the {'colour' if expected else 'grey'} icon")
            if not expected:
                save_screenshot(desktop, tmp_path / "tray-overlay-off.png")
        assert engine.state.overlay
        # The camera unplugged: a red badge on the icon, the problem in its tooltip.
        engine.set_camera(str(tmp_path / "unplugged.mp4"))
        state = run.running.wait_state(lambda s: not s.camera_ok and "does not exist" in s.camera_message)
        wait_until(lambda: red_pixels(tray_strip(desktop)) > 20, message="the red badge")
        save_screenshot(desktop, tmp_path / "tray-camera-lost.png")
        assert "camera: unplugged.mp4 does not exist" in tray_title(state)
    print(f"tray screenshots: {tmp_path}")


def find(menu, text: str):
    for item in menu.items:
        if item.text == text:
            return item
    raise AssertionError(f"no menu item {text!r} in {[item.text for item in menu.items]}")


def test_each_menu_item_drives_the_engine(desktop: str, media: Path, tmp_path: Path) -> None:
    photo = str(media / "two_people.jpg")
    with TrayRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        icon, menu, wait = run.app.icon, run.app.icon.menu, run.running.wait_state
        wait(lambda s: s.camera_ok)
        find(menu, "Overlay")(icon)
        wait(lambda s: not s.overlay)
        assert find(menu, "Overlay").checked is False and find(menu, "Overlay").default
        find(find(menu, "Placement").submenu, "Badge beside the head")(icon)
        wait(lambda s: s.placement == "badge")
        assert find(find(menu, "Placement").submenu, "Badge beside the head").checked
        find(find(menu, "Detector").submenu, "Near — one person at the desk (faster)")(icon)
        wait(lambda s: s.detector == "short")
        assert run.running.engine.pipeline.detector.kind == "short"
        run.app.cameras.append(photo)
        find(find(menu, "Camera").submenu, "two_people.jpg")(icon)
        wait(lambda s: s.camera == photo and s.camera_ok)
        assert [item.text for item in find(menu, "Camera").submenu.items] == ["Camera 0", "Camera 1",
                                                                             "two_people.jpg"]
        find(menu, "Pause")(icon)
        wait(lambda s: s.paused)
        assert find(menu, "Pause").checked
        find(menu, "Pause")(icon)
        wait(lambda s: not s.paused)
        find(menu, "Start at login")(icon)
        assert run.autostart.is_enabled() and find(menu, "Start at login").checked
        assert "tray" in (tmp_path / ".config/autostart/vcam.desktop").read_text()
        find(menu, "Start at login")(icon)
        assert not run.autostart.is_enabled()
        find(menu, "Open preview")(icon)
        assert run.previews == run.browsed == ["http://127.0.0.1:8765/"]
        find(menu, "Quit")(icon)
        run._thread.join(30)
        assert not run._thread.is_alive(), "Quit ends the tray's event loop"
    saved = load_config(tmp_path / "config.toml")
    assert (saved.overlay, saved.placement, saved.detector, saved.camera) == (False, "badge", "short", photo)


def test_without_a_virtual_camera_driver_the_tray_says_so_and_keeps_running(desktop: str, media: Path,
                                                                            tmp_path: Path) -> None:
    run = TrayRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path)
    from vcam.virtual_camera import VirtualCameraSink

    # The real v4l2loopback backend, on a kernel without the module.
    run.running.sink = VirtualCameraSink(backend="v4l2loopback", on_status=run.running.engine.report_virtual_camera)
    with run:
        state = run.running.wait_state(lambda s: s.virtual_camera_error is not None and s.camera_ok)
        processed = run.running.engine.frames_processed
        wait_until(lambda: run.running.engine.frames_processed > processed + 10, message="frames still processed")
        status = find(run.app.icon.menu, "No virtual camera — run vcam doctor")
        assert not status.enabled
    assert "modprobe v4l2loopback" in state.virtual_camera_error
    assert "vcam doctor" in tray_title(state)


def test_the_icon_differs_for_overlay_off_lost_camera_and_pause() -> None:
    base = EngineState(running=True, camera_ok=True, virtual_camera="/dev/video10")
    images = {name: np.asarray(tray_image(state)) for name, state in {
        "on": base, "off": EngineState(**{**base.__dict__, "overlay": False}),
        "lost": EngineState(**{**base.__dict__, "camera_ok": False}),
        "paused": EngineState(**{**base.__dict__, "paused": True}),
        "no virtual camera": EngineState(**{**base.__dict__, "virtual_camera": None})}.items()}
    names = list(images)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not np.array_equal(images[first], images[second]), f"{first} and {second} look the same"
    assert yellow_pixels(images["on"][..., :3]) > 500 and yellow_pixels(images["off"][..., :3]) == 0


def signal_once_shown(process: subprocess.Popen, env: dict, signum: int, timeout: float = 30) -> tuple[str, str]:
    """Send `signum` to a `vcam tray` process once its icon's window exists; its output."""
    try:
        wait_until(lambda: subprocess.run(["xdotool", "search", "--name", "^vcam"], env=env, capture_output=True,
                                          timeout=10).returncode == 0 or process.poll() is not None,
                   message="the tray's window")
        assert process.poll() is None, process.communicate()
        process.send_signal(signum)
        return process.communicate(timeout=timeout)
    finally:
        process.kill()


def run_vcam(*args: str, env: dict, config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vcam", "--config", str(config), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_plain_vcam_starts_the_tray_and_quits_cleanly_on_sigterm(desktop: str, media: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'camera = "{media / "short_hamilton_clip.mp4"}"\n')
    with session_bus() as bus:  # a session bus without a StatusNotifierWatcher: pystray's X11 icon
        env = {**os.environ, "DISPLAY": desktop, "DBUS_SESSION_BUS_ADDRESS": bus}
        process = run_vcam(env=env, config=config)
        out, err = signal_once_shown(process, env, signal.SIGTERM)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "click the icon to switch the overlay" in err  # X11 tray without menus
    assert err.strip().endswith("vcam: stopped")


def test_without_a_desktop_the_tray_gives_one_line_and_status_2(media: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process = run_vcam("tray", "--source", str(media / "short_hamilton_clip.mp4"), env=env, config=config)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.count("\n") == 1 and err.startswith("vcam: error: no system tray") and "vcam web" in err
