"""vcam.tray_sni on a real session bus (dbus-run-session) with a StatusNotifierWatcher and host written
in tests/sni_host.py: the item registers, its properties and menu read right, every menu item drives
the engine, the icon, tooltip and check marks follow the engine, and no fault of the host or the bus
stops the engine."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dbus_fast import MessageType, Variant
from sni_host import Host, bus_environment, session_bus
from test_engine import Running
from waiting import wait_until

from conftest import REPO
from vcam.autostart import Autostart
from vcam.config import Config, load_config
from vcam.tray_protocol import TrayProtocol, tray_protocol
from vcam.tray_sni import ICON_SIZES, SniTray

pytestmark = pytest.mark.gui

@pytest.fixture
def bus(monkeypatch) -> Iterator[str]:
    with session_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address


@pytest.fixture
def host(bus: str) -> Iterator[Host]:
    host = Host(bus)
    host.start_watcher()
    yield host
    host.close()


class SniRun:
    """An SniTray over a Running engine, served on a thread as `vcam tray` serves it on the main one."""

    def __init__(self, config: Config, tmp: Path) -> None:
        self.running = Running(config, settings_file=tmp / "config.toml")
        self.autostart = Autostart(platform="linux", home=tmp, env={})
        self.browsed: list[str] = []
        self.app = SniTray(self.running.engine, autostart=self.autostart, open_preview=lambda: "http://127.0.0.1:8765/",
                           cameras=[0, 1], browse=self.browsed.append)
        self.thread = threading.Thread(target=self.app.run, daemon=True)

    def __enter__(self) -> SniRun:
        self.running.__enter__()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.on_quit()
        self.thread.join(10)
        self.running.__exit__()


def dbusmenu(host: Host, service: str, member: str, signature: str, body: list) -> object:
    """A com.canonical.dbusmenu call that must succeed; its one answer (or its answers, as a list)."""
    reply = host.call(service, "/MenuBar", "com.canonical.dbusmenu", member, signature, body)
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    return reply.body[0] if len(reply.body) == 1 else reply.body


def red_pixels(pixmap: list) -> int:
    width, height, data = pixmap
    argb = np.frombuffer(bytes(data), np.uint8).reshape(height, width, 4).astype(int)
    return int(((argb[..., 0] > 200) & (argb[..., 1] > 180) & (argb[..., 2] < 70) & (argb[..., 3] < 70)).sum())


def test_the_item_registers_and_shows_its_icon_tooltip_and_the_whole_menu(host: Host, media: Path,
                                                                            tmp_path: Path) -> None:
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        state = run.running.wait_state(lambda s: s.camera_ok and s.virtual_camera)
        service = host.wait_registered()
        assert service == run.app.bus_name
        item = host.properties(service)
        assert (item["Id"], item["Title"], item["Category"], item["Status"]) == ("vcam", "vcam", "ApplicationStatus",
                                                                               "Active")
        assert item["ItemIsMenu"] is False and item["Menu"] == "/MenuBar"
        assert [(w, h, len(data)) for w, h, data in item["IconPixmap"]] == [(s, s, s * s * 4) for s in ICON_SIZES]
        _, _, title, description = item["ToolTip"]
        assert title == "vcam - overlay on" and f"pick {state.virtual_camera} in Zoom" in description
        menu = host.menu(service)
        assert list(menu) == [f"Publishing as {state.virtual_camera}", "Overlay", "No overlay key (toggle_key)",
                              "Placement", "Faces", "React", "Camera", "Detector", "Open preview", "Pause",
                              "Start at login", "Quit"]
        assert menu["No overlay key (toggle_key)"][1]["enabled"] is False
        assert menu[f"Publishing as {state.virtual_camera}"][1]["enabled"] is False
        assert menu["Overlay"][1]["toggle-type"] == "checkmark" and menu["Overlay"][1]["toggle-state"] == 1
        placement = menu["Placement"]
        assert placement[1]["children-display"] == "submenu"
        assert {label: (p["toggle-type"], p["toggle-state"]) for label, (_, p, _) in placement[2].items()} == {
            "On the face": ("radio", 1), "Badge beside the head": ("radio", 0), "In the corner": ("radio", 0)}
        assert list(menu["Camera"][2]) == ["Camera 0", "Camera 1", "short_hamilton_clip.mp4"]
        assert menu["Camera"][2]["short_hamilton_clip.mp4"][1]["toggle-state"] == 1
        version = host.call(service, "/MenuBar", "org.freedesktop.DBus.Properties", "Get", "ss",
                            ["com.canonical.dbusmenu", "Version"])
        assert version.body[0].value == 3
        overlay = menu["Overlay"][0]
        [[number, properties]] = dbusmenu(host, service, "GetGroupProperties", "aias",
                                          [[overlay], ["label", "toggle-state"]])
        assert (number, {name: value.value for name, value in properties.items()}) == (
            overlay, {"label": "Overlay", "toggle-state": 1})
        assert dbusmenu(host, service, "GetProperty", "is", [overlay, "toggle-type"]).value == "checkmark"
        assert dbusmenu(host, service, "AboutToShow", "i", [menu["Camera"][0]]) is False
        assert dbusmenu(host, service, "AboutToShowGroup", "ai", [[0, 9999]]) == [[], [9999]]


def test_every_menu_item_drives_the_engine_and_the_icon_follows(host: Host, media: Path, tmp_path: Path) -> None:
    photo = str(media / "two_people.jpg")
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        wait = run.running.wait_state
        wait(lambda s: s.camera_ok and s.virtual_camera)
        service = host.wait_registered()
        menu = host.menu(service)
        icon_on = host.properties(service)["IconPixmap"]

        icons = host.signal_count("NewIcon")
        assert host.click(service, menu["Overlay"][0]).message_type == MessageType.METHOD_RETURN
        wait(lambda s: not s.overlay)
        host.wait(lambda: host.signal_count("NewIcon") > icons, message="NewIcon")
        host.wait(lambda: any(name == "ItemsPropertiesUpdated" and any(
            number == menu["Overlay"][0] and props["toggle-state"].value == 0 for number, props in body[0])
            for name, body in host.signals), message="the overlay's check mark cleared")
        item = host.properties(service)
        assert item["ToolTip"][2] == "vcam - overlay off" and item["IconPixmap"] != icon_on
        assert host.menu(service)["Overlay"][1]["toggle-state"] == 0

        layouts = host.signal_count("LayoutUpdated")
        run.app.controls.cameras.append(photo)  # a camera found: the host hears of it at the next change
        host.click(service, menu["Placement"][2]["Badge beside the head"][0])
        wait(lambda s: s.placement == "badge")
        host.wait(lambda: host.signal_count("LayoutUpdated") > layouts, message="LayoutUpdated for the new camera")
        host.click(service, menu["Detector"][2]["Near — one person at the desk (faster)"][0])
        wait(lambda s: s.detector == "short")
        assert run.running.engine.pipeline.detector.kind == "short"
        cameras = host.menu(service)["Camera"][2]
        assert list(cameras) == ["Camera 0", "Camera 1", "two_people.jpg", "short_hamilton_clip.mp4"]
        assert cameras["Camera 0"][0] == menu["Camera"][2]["Camera 0"][0], "items keep their numbers"
        host.click(service, cameras["two_people.jpg"][0])
        wait(lambda s: s.camera == photo and s.camera_ok)
        assert host.menu(service)["Camera"][2]["two_people.jpg"][1]["toggle-state"] == 1

        host.click(service, menu["Pause"][0])
        wait(lambda s: s.paused)
        host.click(service, menu["Pause"][0])
        wait(lambda s: not s.paused)
        host.click(service, menu["Start at login"][0])
        wait_until(run.autostart.is_enabled, message="start at login")
        wait_until(lambda: host.menu(service)["Start at login"][1]["toggle-state"] == 1, message="its check mark")
        host.click(service, menu["Open preview"][0])
        wait_until(lambda: run.browsed == ["http://127.0.0.1:8765/"], message="the preview opened")
        # A plain click on the icon runs the default item, the overlay switch.
        host.call(service, "/StatusNotifierItem", "org.kde.StatusNotifierItem", "Activate", "ii", [0, 0])
        wait(lambda s: s.overlay)
        host.click(service, menu["Faces"][2]["Only me"][0])
        wait(lambda s: s.faces == "only_me")
        host.click(service, menu["React"][2]["😮 Surprised"][0])
        wait_until(lambda: [face.emotion for face in run.running.engine.latest.faces] == ["surprise"],
                   message="the reaction on the user's face")
        host.click(service, menu["Quit"][0])
        run.thread.join(30)
        assert not run.thread.is_alive(), "Quit ends the tray"
        assert run.running.engine.state.running, "the engine is the app's to stop, after the tray"
    saved = load_config(tmp_path / "config.toml")
    assert (saved.overlay, saved.placement, saved.detector, saved.camera, saved.faces) == (
        True, "badge", "short", photo, "only_me")


def test_a_lost_camera_changes_status_icon_and_tooltip(host: Host, media: Path, tmp_path: Path) -> None:
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        run.running.wait_state(lambda s: s.camera_ok)
        service = host.wait_registered()
        assert red_pixels(host.properties(service)["IconPixmap"][-1]) == 0
        run.running.engine.set_camera(str(tmp_path / "unplugged.mp4"))
        run.running.wait_state(lambda s: not s.camera_ok and "does not exist" in s.camera_message)
        host.wait(lambda: ("NewStatus", ["NeedsAttention"]) in host.signals, message="NewStatus NeedsAttention")
        assert host.signal_count("NewToolTip") >= 1
        item = host.properties(service)
        assert item["Status"] == "NeedsAttention"
        assert "camera: unplugged.mp4 does not exist" in item["ToolTip"][3]
        assert red_pixels(item["IconPixmap"][-1]) > 50


def test_without_a_virtual_camera_and_when_paused_the_item_says_so(host: Host, media: Path, tmp_path: Path) -> None:
    from vcam.virtual_camera import VirtualCameraSink

    run = SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path)
    # The real v4l2loopback backend, on a kernel without the module.
    run.running.sink = VirtualCameraSink(backend="v4l2loopback", on_status=run.running.engine.report_virtual_camera)
    with run:
        run.running.wait_state(lambda s: s.virtual_camera_error is not None and s.camera_ok)
        service = host.wait_registered()
        wait_until(lambda: "no virtual camera" in host.properties(service)["ToolTip"][3], message="the tooltip")
        menu = host.menu(service)
        assert menu["No virtual camera — run vcam doctor"][1]["enabled"] is False
        host.click(service, menu["Pause"][0])
        run.running.wait_state(lambda s: s.paused)
        wait_until(lambda: host.menu(service)["Pause"][1]["toggle-state"] == 1, message="Pause checked")
        assert host.properties(service)["ToolTip"][2] == "vcam - paused"


def test_bad_host_calls_are_refused_logged_once_and_the_engine_goes_on(host: Host, media: Path, tmp_path: Path,
                                                                       caplog) -> None:
    caplog.set_level(logging.WARNING, logger="vcam")
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        run.running.wait_state(lambda s: s.camera_ok)
        service = host.wait_registered()
        cameras = host.menu(service)["Camera"][2]
        for _ in range(2):
            assert host.click(service, 9999).message_type == MessageType.ERROR
            assert host.click(service, host.menu(service)["Overlay"][0], "wiggled").message_type \
                == MessageType.METHOD_RETURN
        # A group of events: the one that exists runs, the other's number comes back.
        events = [[number, "clicked", Variant("i", 0), 0] for number in (host.menu(service)["Pause"][0], 9999)]
        assert dbusmenu(host, service, "EventGroup", "a(isvu)", [events]) == [9999]
        run.running.wait_state(lambda s: s.paused)
        run.app.controls.on_pause()
        # A submenu's item that is gone (the camera list shrank) asked for by a host with an old layout.
        run.app.controls.cameras.remove(1)
        run.app.controls.on_overlay()
        run.running.wait_state(lambda s: not s.overlay)
        wait_until(lambda: "Camera 1" not in host.menu(service)["Camera"][2], message="Camera 1 gone")
        for _ in range(2):
            assert host.layout(service, cameras["Camera 1"][0]).message_type == MessageType.ERROR
        processed = run.running.engine.frames_processed
        wait_until(lambda: run.running.engine.frames_processed > processed + 5, message="frames still processed")
        assert run.thread.is_alive() and run.running.engine.state.camera_ok
        assert host.menu(service)["Overlay"][1]["toggle-state"] == 0, "the item still answers"
    faults = [record.getMessage() for record in caplog.records if record.name == "vcam"]
    assert len([m for m in faults if "menu item 9999, which does not exist" in m]) == 1, faults
    assert len([m for m in faults if "unknown menu event 'wiggled'" in m]) == 1, faults
    assert len([m for m in faults if f"layout of menu item {cameras['Camera 1'][0]}, which no longer" in m]) == 1


def test_the_item_registers_again_when_the_watcher_restarts(host: Host, media: Path, tmp_path: Path,
                                                             caplog) -> None:
    caplog.set_level(logging.INFO, logger="vcam")
    with SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path) as run:
        run.running.wait_state(lambda s: s.camera_ok)
        service = host.wait_registered(1)
        for restart in (2, 3):
            host.stop_watcher()
            host.start_watcher()
            assert host.wait_registered(restart) == service
        assert host.properties(service)["Id"] == "vcam"
        processed = run.running.engine.frames_processed
        wait_until(lambda: run.running.engine.frames_processed > processed + 5, message="frames still processed")
    messages = [record.getMessage() for record in caplog.records if record.name == "vcam"]
    assert len([m for m in messages if "StatusNotifierWatcher left the session bus" in m]) == 1, messages
    assert len([m for m in messages if "StatusNotifierWatcher is back" in m]) == 2, messages


def test_the_bus_closing_leaves_the_engine_running_until_quit(media: Path, tmp_path: Path, monkeypatch,
                                                              caplog) -> None:
    caplog.set_level(logging.WARNING, logger="vcam")
    with session_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        host = Host(address)
        host.start_watcher()
        run = SniRun(Config(camera=str(media / "short_hamilton_clip.mp4")), tmp_path)
        run.__enter__()
        host.wait_registered()
        host.close()
    # dbus-run-session has ended the bus.
    try:
        wait_until(lambda: any("session bus closed" in r.getMessage() for r in caplog.records),
                   message="the closed bus noticed")
        processed = run.running.engine.frames_processed
        wait_until(lambda: run.running.engine.frames_processed > processed + 5, message="frames still processed")
        assert run.thread.is_alive() and run.running.engine.state.running
        run.app.on_quit()
        run.thread.join(20)
        assert not run.thread.is_alive()
    finally:
        run.__exit__()


def test_without_a_watcher_the_protocol_is_pystrays(bus: str) -> None:
    assert tray_protocol(env={"DISPLAY": ":99"}) is TrayProtocol.XEMBED
    assert tray_protocol(env={}) is TrayProtocol.NONE
    host = Host(bus)
    try:
        host.start_watcher()
        assert tray_protocol(env={}) is TrayProtocol.SNI
    finally:
        host.close()
    assert tray_protocol(platform="win32") is TrayProtocol.NATIVE


def run_vcam(*args: str, env: dict[str, str], config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vcam", "--config", str(config), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_plain_vcam_with_tray_flags_shows_the_sni_item_and_its_quit_ends_the_app(host: Host, media: Path,
                                                                                 tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'camera = "{media / "short_hamilton_clip.mp4"}"\n')
    env = {key: value for key, value in bus_environment(host.address).items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # No subcommand: `vcam --pixel-format I420` is `vcam tray --pixel-format I420`; no X display needed.
    process = run_vcam("--pixel-format", "I420", env=env, config=config)
    try:
        service = host.wait(lambda: host.registered or process.poll() is not None, timeout=60,
                            message="the item's registration")
        assert process.poll() is None, process.communicate()
        menu = host.menu(service[0])
        assert "No overlay key — run vcam doctor" in menu  # neither X nor Wayland here: the app runs on
        host.click(service[0], menu["Quit"][0])
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "as a StatusNotifierItem" in err
    assert err.strip().endswith("vcam: stopped")


def test_plain_vcam_without_a_watcher_takes_the_pystray_path(bus: str, media: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {key: value for key, value in bus_environment(bus).items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process = run_vcam("--pixel-format", "I420", "--source", str(media / "two_people.jpg"), env=env, config=config)
    out, err = process.communicate(timeout=60)
    # pystray's path, which on a machine without a desktop says so in one line.
    assert process.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("vcam: error: no system tray"), err

