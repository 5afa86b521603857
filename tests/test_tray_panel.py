"""End to end with a real panel as the host: Debian's lxqt-panel (its status-notifier plugin only)
under Xvfb on a dbus-run-session bus shows vcam's StatusNotifierItem; a right-click opens its
dbusmenu as a real Qt menu, which is screenshotted (test-artifacts/tray-menu.png), and choosing an
item from it changes the engine's state and the icon in the panel."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sni_host import session_bus
from test_tray_sni import SniRun
from waiting import wait_until
from x_display import screenshot, start_client, virtual_display, yellow_pixels

from conftest import REPO
from vcam.config import Config
from vcam.tray_sni import watcher_present

pytestmark = pytest.mark.gui

PANEL_CONF = """\
[General]
__userfile__=true

[panel1]
plugins=statusnotifier
position=Top
desktop=0
panelSize=32
iconSize=22
width=100
width-percent=true
hidable=false

[statusnotifier]
type=statusnotifier
alignment=Right
"""
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def panel(tmp_path: Path, monkeypatch) -> Iterator[dict[str, str]]:
    """lxqt-panel on a virtual display and a session bus of its own; yields their environment."""
    assert shutil.which("lxqt-panel"), "lxqt-panel is missing: apt-get install lxqt-panel (.ci/run does)"
    (tmp_path / "xdg" / "lxqt").mkdir(parents=True)
    (tmp_path / "xdg" / "lxqt" / "panel.conf").write_text(PANEL_CONF)
    with session_bus() as bus, virtual_display() as display:
        # Without the Qt plugin path that importing OpenCV puts into this process's environment.
        env = {key: value for key, value in os.environ.items() if not key.startswith("QT_")}
        env.update(DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=bus, XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                   XDG_RUNTIME_DIR=str(tmp_path))
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
        # The panel's status-notifier plugin is the watcher too: it takes the name once it runs.
        process = start_client(["lxqt-panel"], env, watcher_present, "lxqt-panel's StatusNotifierWatcher",
                               timeout=60, log=tmp_path / "panel.log")
        try:
            yield env
        finally:
            process.terminate()
            process.wait(20)


def panel_strip(display: str) -> np.ndarray:
    return screenshot(display)[:32]


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)


def showing(picture: np.ndarray, condition) -> list[np.ndarray]:
    """[picture] when it shows what `condition` looks for, else [] (for wait_until)."""
    return [picture] if condition(picture) else []


def menu_open(picture: np.ndarray) -> bool:
    """Whether a menu (a large light panel under the bar) is on the screen."""
    return int((picture[40:300].min(axis=2) > 200).sum()) > 20000


def test_lxqt_panel_shows_the_item_its_menu_opens_and_an_item_drives_the_engine(panel: dict[str, str], media: Path,
                                                                                tmp_path: Path) -> None:
    display = panel["DISPLAY"]
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        run.running.wait_state(lambda s: s.camera_ok and s.virtual_camera)
        [strip] = wait_until(lambda: showing(panel_strip(display), lambda p: yellow_pixels(p) > 100), timeout=30,
                             message="vcam's icon in the panel")
        rows, columns = np.nonzero((strip[..., 0] > 200) & (strip[..., 1] > 150) & (strip[..., 2] < 90))
        x, y = int(columns.mean()), int(rows.mean())
        xdotool(panel, "mousemove", str(x), str(y), "click", "3")
        [shown] = wait_until(lambda: showing(screenshot(display), menu_open), message="the item's menu")
        ARTIFACTS.mkdir(exist_ok=True)
        Image.fromarray(shown).save(ARTIFACTS / "tray-menu.png")
        # The first item that can be chosen is Overlay (the status line above it is disabled).
        xdotool(panel, "key", "Down", "Return")
        run.running.wait_state(lambda s: not s.overlay)
        wait_until(lambda: yellow_pixels(panel_strip(display)) == 0, message="the grey icon in the panel")
        assert not menu_open(screenshot(display)), "the menu closed"
        Image.fromarray(screenshot(display)).save(ARTIFACTS / "tray-overlay-off.png")
        assert run.thread.is_alive() and run.running.engine.state.camera_ok
