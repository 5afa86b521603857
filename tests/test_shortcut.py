"""vcam.shortcut: the overlay key, pressed for real on an X server (Xvfb, xdotool) and through a
GlobalShortcuts portal written in the tests on a real session bus."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from shortcuts_portal import ShortcutsPortal
from sni_host import session_bus
from test_engine import Running, is_placeholder
from waiting import wait_until
from x_display import virtual_display

from vcam.cli import main
from vcam.choices import PixelFormat
from vcam.config import Config, load_config
from vcam.doctor import check_shortcut
from vcam.errors import VcamError
from vcam.media import read_image
from vcam.app import key_bindings
from vcam.shortcut import Binding, Modifier, Shortcut, ShortcutUnavailable, parse_shortcut, reaction_keys
from vcam.shortcut_listener import start_shortcuts
from vcam.shortcut_portal import PortalShortcut
from vcam.virtual_camera import fit_frame, to_pixel_format


@pytest.mark.parametrize(("text", "shortcut", "shown"), [
    ("Ctrl+Alt+E", Shortcut((Modifier.CTRL, Modifier.ALT), "e"), "Ctrl+Alt+E"),
    (" alt + control + e ", Shortcut((Modifier.CTRL, Modifier.ALT), "e"), "Ctrl+Alt+E"),
    ("Super+Shift+f9", Shortcut((Modifier.SHIFT, Modifier.SUPER), "F9"), "Shift+Super+F9"),
    ("F8", Shortcut((), "F8"), "F8"),
])
def test_a_key_is_read_in_any_spelling_and_shown_one_way(text: str, shortcut: Shortcut, shown: str) -> None:
    assert parse_shortcut(text) == shortcut and str(shortcut) == shown
    assert parse_shortcut("") is None


@pytest.mark.parametrize(("text", "complaint"), [
    ("Ctrl+Alt", "toggle_key must be modifiers and a key joined by +"),
    ("Hyper+E", "toggle_key must be modifiers and a key joined by +"),
    ("Ctrl+Ctrl+E", "toggle_key must be modifiers and a key joined by +"),
    ("Ctrl+Alt+Enter", "toggle_key must be modifiers and a key joined by +"),
    ("Shift+E", "would take a key away from typing; add Ctrl, Alt or Super"),
    ("e", "would take a key away from typing"),
])
def test_a_bad_key_is_one_line_naming_the_setting_and_exit_2(tmp_path: Path, capsys, text: str,
                                                              complaint: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'toggle_key = "{text}"\n')
    with pytest.raises(VcamError, match=complaint):
        load_config(config)
    assert main(["--config", str(config), "doctor"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vcam: error: config file {config}: toggle_key") and complaint in err
    assert err.count("\n") == 1
    with pytest.raises(VcamError, match="toggle_key must be"):
        Config(toggle_key=3)


def test_without_a_display_or_session_the_key_says_why_and_nothing_stops() -> None:
    heard = []
    listener = start_shortcuts([Binding("toggle-overlay", parse_shortcut("Ctrl+Alt+E"), "", lambda: None)],
                               lambda *status: heard.append(status), env={}, platform="linux")
    listener.close()
    assert heard == [(None, "no X display and no Wayland session to take a key from")]
    check = check_shortcut(Config(), env={}, platform="linux")
    assert not check.ok and "no X display" in check.message and "GlobalShortcuts portal" in check.fix


def bindings(run: Running) -> list[Binding]:
    """The app's keys on the running engine, the overlay key's press going through `run.on_press`."""
    toggle, *reactions = key_bindings(run.engine)
    return [Binding(toggle.name, toggle.shortcut, toggle.description, lambda: run.on_press()), *reactions]


def test_each_desktop_gets_the_key_in_its_own_spelling() -> None:
    key, function_key = parse_shortcut("Ctrl+Alt+E"), parse_shortcut("Super+Shift+F9")
    assert (key.xdg_trigger, function_key.xdg_trigger) == ("CTRL+ALT+e", "SHIFT+LOGO+F9")  # the portal's
    assert (key.pynput_hotkey, function_key.pynput_hotkey) == ("<ctrl>+<alt>+e", "<shift>+<cmd>+<f9>")


def test_the_reaction_keys_are_the_overlay_keys_modifiers_with_digits() -> None:
    keys = reaction_keys(parse_shortcut("Ctrl+Alt+E"))
    assert [str(key) for key in keys.values()] == [f"Ctrl+Alt+{n}" for n in range(1, 8)]
    assert list(keys)[:3] == ["happy", "surprise", "sad"]
    assert len(reaction_keys(parse_shortcut("Super+3"))) == 6 and reaction_keys(None) == {}


def reacts(run: Running, press, emotion: str) -> None:
    """`press()` presses a reaction key: the reaction reaches the pipeline."""
    reaction = run.engine.pipeline.reaction
    wait_until(lambda: reaction.current is None, message="an earlier reaction to end")
    press()
    wait_until(lambda: reaction.current == emotion, message=f"the {emotion} reaction")


def toggles_within_two_frames(run: Running, plain: np.ndarray, press) -> None:
    """`press()` presses the key twice, waiting between; the overlay goes off and on again, each
    time by the second frame published after the press reached vcam."""
    heard: list[int] = []
    pressed = threading.Event()

    def on_press() -> None:
        heard.append(run.sent())  # the frames published when the key reached vcam
        run.engine.toggle_overlay()
        pressed.set()

    run.on_press = on_press
    run.recorder.wait_for(lambda r: len(r.frames) > 2 and not is_placeholder(r.frames[-1].data))
    # The still photo's faces settled, its frames published again without the pipeline: what is
    # measured is the key's way to the published frame, not a first detection still running.
    repeated = run.engine.frames_repeated
    wait_until(lambda: run.engine.frames_repeated > repeated + 3, message="the still picture to settle")
    for overlay in (False, True):
        pressed.clear()
        press()
        assert pressed.wait(10), "the key press did not reach vcam"
        run.wait_sent(heard[-1] + 2)
        second = run.recorder.frames[heard[-1] + 1].data
        assert np.array_equal(second, plain) != overlay, f"overlay {overlay} not shown by the second frame"
        wait_until(lambda: run.engine.state.overlay == overlay, message="the state to follow")


@pytest.fixture
def photo_run(media: Path) -> Iterator[tuple[Running, np.ndarray]]:
    photo = str(media / "two_people.jpg")
    plain = to_pixel_format(fit_frame(read_image(Path(photo)), 1280, 720), PixelFormat.BGR)
    with Running(Config(camera=photo)) as run:
        yield run, plain


@pytest.mark.slow
def test_the_key_pressed_on_x11_switches_the_overlay_within_two_frames(photo_run) -> None:
    run, plain = photo_run
    with virtual_display() as display:
        env = {"DISPLAY": display}
        statuses = []
        listener = start_shortcuts(bindings(run), lambda *status: statuses.append(status), env=env, platform="linux")
        try:
            assert statuses == [("Ctrl+Alt+E", None)]
            # Another app asking for the same key is told it is taken.
            with pytest.raises(ShortcutUnavailable, match="Ctrl\\+Alt\\+E is already taken by another app"):
                from vcam.shortcut_x11 import X11Shortcut

                X11Shortcut(bindings(run)[:1], display)
            toggles_within_two_frames(run, plain, lambda: subprocess.run(
                ["xdotool", "key", "ctrl+alt+e"], env=env, check=True, timeout=30))
            # Another key, or the same without Alt, does nothing.
            sent = len(run.recorder.frames)
            subprocess.run(["xdotool", "key", "ctrl+e", "ctrl+alt+r"], env=env, check=True, timeout=30)
            run.wait_sent(sent + 5)
            assert run.engine.state.overlay is True
            reacts(run, lambda: subprocess.run(["xdotool", "key", "ctrl+alt+2"], env=env, check=True, timeout=30),
                   "surprise")
        finally:
            listener.close()
        assert check_shortcut(Config(), env=env, platform="linux").ok, "let go: the doctor can take it again"


@pytest.fixture
def bus(monkeypatch) -> Iterator[str]:
    with session_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address


@pytest.mark.slow
def test_the_key_through_the_portal_switches_the_overlay_within_two_frames(photo_run, bus: str) -> None:
    run, plain = photo_run
    portal = ShortcutsPortal(bus)
    statuses = []
    told = threading.Event()
    listener = start_shortcuts(bindings(run), lambda *status: (statuses.append(status), told.set()),
                               env={"WAYLAND_DISPLAY": "wayland-0", "DBUS_SESSION_BUS_ADDRESS": bus}, platform="linux")
    try:
        assert isinstance(listener, PortalShortcut)
        bound = portal.wait_bound()
        assert bound[0] == ("toggle-overlay", {"description": "Switch the vcam overlay on and off",
                                               "preferred_trigger": "CTRL+ALT+e"})
        assert bound[2] == ("react-surprise", {"description": "vcam reaction 😮 Surprised for 3 s",
                                               "preferred_trigger": "CTRL+ALT+2"})
        assert told.wait(20) and statuses == [("Ctrl+Alt+E", None)]
        toggles_within_two_frames(run, plain, portal.press)
        reacts(run, lambda: portal.press("react-surprise"), "surprise")
    finally:
        listener.close()
        portal.close()


def test_a_portal_the_user_refuses_or_none_at_all_is_said_in_one_line(bus: str) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "DBUS_SESSION_BUS_ADDRESS": bus}
    check = check_shortcut(Config(), env=env, platform="linux")
    assert not check.ok and "no GlobalShortcuts portal on the session bus" in check.message
    portal = ShortcutsPortal(bus, answer=1)
    try:
        check = check_shortcut(Config(), env=env, platform="linux")
        assert not check.ok and check.message == ("Ctrl+Alt+E cannot work here: the desktop's shortcut request "
                                                  "was cancelled by the user")
    finally:
        portal.close()


def test_the_tray_names_the_keys_while_they_work_and_says_when_they_do_not() -> None:
    from vcam.engine import Engine
    from vcam.tray_menu import TrayControls, find_entry

    engine = Engine(Config(detector="short"))
    controls = TrayControls(engine, cameras=[])
    label = lambda key: find_entry(controls.entries(), key).label()  # noqa: E731
    assert (label("shortcut"), label("react/surprise")) == ("No overlay key (toggle_key)", "😮 Surprised")
    engine.report_shortcut("Ctrl+Alt+E", None)
    assert (label("shortcut"), label("react/surprise")) == ("Ctrl+Alt+E switches the overlay", "😮 Surprised  Ctrl+Alt+2")
    engine.report_shortcut(None, "no X display and no Wayland session to take a key from")
    assert (label("shortcut"), label("react/surprise")) == ("No overlay key — run vcam doctor", "😮 Surprised")


def test_no_key_of_typing_is_taken_by_the_overlay_key_or_the_reaction_keys() -> None:
    for typing in ("F", "Shift+F", "e", "Shift+1"):
        with pytest.raises(VcamError, match="would take a key away from typing"):
            parse_shortcut(typing)
    assert parse_shortcut("F9") is not None  # a function key alone types nothing
    assert reaction_keys(parse_shortcut("F9")) == {} == reaction_keys(parse_shortcut("Shift+F9"))
    assert len(reaction_keys(parse_shortcut("Ctrl+Alt+E"))) == 7
