"""Start at login: the Linux entry for real in temporary folders, the macOS and Windows layouts
with the same code pointed at a temporary home and a dict standing in for the registry."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vcam.autostart import LAUNCH_AGENT_LABEL, Autostart, desktop_exec, tray_command
from vcam.errors import VcamError


def read_desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def exec_argv(value: str) -> list[str]:
    """An Exec value back to its argv, undoing the string-level escapes before the quoting."""
    return shlex.split(value.replace("%%", "%").replace("\\\\", "\\"))


def test_linux_entry_runs_vcam_tray_and_goes_away(tmp_path: Path) -> None:
    autostart = Autostart("linux", home=tmp_path, env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert not autostart.is_enabled()

    written = autostart.enable(["/usr/bin/vcam", "tray"])

    assert written == tmp_path / "config" / "autostart" / "vcam.desktop"
    entry = read_desktop_entry(written)
    assert entry["Type"] == "Application" and entry["Name"] == "vcam" and entry["Comment"]
    assert exec_argv(entry["Exec"]) == ["/usr/bin/vcam", "tray"]
    assert entry["X-GNOME-Autostart-enabled"] == "true" and entry["Terminal"] == "false"
    assert autostart.is_enabled()
    assert list(written.parent.iterdir()) == [written]  # no .partial left behind

    autostart.disable()
    assert not written.exists() and not autostart.is_enabled()
    autostart.disable()  # twice is fine


def test_linux_entry_defaults_to_dot_config(tmp_path: Path) -> None:
    for env in ({}, {"XDG_CONFIG_HOME": ""}, {"XDG_CONFIG_HOME": "relative/dir"}):
        assert Autostart("linux", home=tmp_path, env=env).location == tmp_path / ".config" / "autostart" / "vcam.desktop"


def test_linux_exec_quotes_paths_with_spaces(tmp_path: Path) -> None:
    command = [str(tmp_path / "My Apps" / "vcam"), "tray"]
    written = Autostart("linux", home=tmp_path, env={}).enable(command)

    value = read_desktop_entry(written)["Exec"]
    assert value == f'"{command[0]}" tray'
    assert exec_argv(value) == command


def test_desktop_exec_escapes_reserved_characters() -> None:
    assert desktop_exec(["/opt/a b/vcam", "tray"]) == '"/opt/a b/vcam" tray'
    assert desktop_exec(['/x/say "hi"$']) == r'"/x/say \\"hi\\"\\$"'
    assert desktop_exec(["/x/100%/vcam"]) == "/x/100%%/vcam"
    assert exec_argv(desktop_exec(['/a b/c"d\\e', "tray"])) == ['/a b/c"d\\e', "tray"]


def test_entry_blocked_by_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "autostart").write_text("not a folder")
    autostart = Autostart("linux", home=tmp_path, env={"XDG_CONFIG_HOME": str(tmp_path / "config")})

    with pytest.raises(VcamError) as caught:
        autostart.enable(["vcam", "tray"])

    message = str(caught.value)
    assert "\n" not in message
    assert str(autostart.location) in message and "writable" in message


@pytest.mark.linux("sysfs stands in for a folder no one may write")
def test_read_only_folder_is_a_one_line_error() -> None:
    # sysfs refuses new files to everyone, root included (a chmod-ed tmp folder would not stop root).
    autostart = Autostart("linux", home=Path("/nonexistent"), env={"XDG_CONFIG_HOME": "/sys/kernel"})

    with pytest.raises(VcamError) as caught:
        autostart.enable(["vcam", "tray"])

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot write /sys/kernel/autostart/vcam.desktop")
    assert "make /sys/kernel/autostart writable" in message
    assert not autostart.is_enabled()


def test_macos_launch_agent_layout(tmp_path: Path) -> None:
    autostart = Autostart("darwin", home=tmp_path)
    command = ["/Applications/vcam app/bin/vcam", "tray"]

    written = autostart.enable(command)

    assert written == tmp_path / "Library" / "LaunchAgents" / "io.github.vcam.tray.plist"
    agent = plistlib.loads(written.read_bytes())
    assert agent == {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": command, "RunAtLoad": True,
                     "ProcessType": "Interactive"}
    assert autostart.is_enabled()
    autostart.disable()
    autostart.disable()
    assert not written.exists() and not autostart.is_enabled()


def test_windows_run_value_in_a_stand_in_registry(tmp_path: Path) -> None:
    run_key = {"OneDrive": r'"C:\Program Files\OneDrive\OneDrive.exe" /background'}
    autostart = Autostart("win32", home=tmp_path, run_key=run_key)
    command = [r"C:\Program Files\Python311\pythonw.exe", "-m", "vcam", "tray"]

    where = autostart.enable(command)

    assert where == r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run\vcam"
    assert run_key["vcam"] == r'"C:\Program Files\Python311\pythonw.exe" -m vcam tray'
    assert autostart.is_enabled()
    autostart.disable()
    autostart.disable()
    assert run_key == {"OneDrive": r'"C:\Program Files\OneDrive\OneDrive.exe" /background'}
    assert not autostart.is_enabled()
    assert list(tmp_path.iterdir()) == []  # nothing written to disk on Windows


def test_windows_registry_failure_is_a_one_line_error(tmp_path: Path) -> None:
    class LockedKey(dict):
        def __setitem__(self, name: str, value: str) -> None:
            raise PermissionError(5, "Access is denied")

    with pytest.raises(VcamError, match=r"^cannot change the registry value HKCU\\.*\\Run\\vcam \(.*denied"):
        Autostart("win32", home=tmp_path, run_key=LockedKey()).enable(["vcam", "tray"])


def test_tray_command_prefers_the_installed_script(tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.write_text("")
    assert tray_command("linux", str(python)) == [str(python), "-m", "vcam", "tray"]

    (tmp_path / "bin" / "vcam").write_text("")
    assert tray_command("linux", str(python)) == [str(tmp_path / "bin" / "vcam"), "tray"]

    (tmp_path / "bin" / "pythonw.exe").write_text("")
    assert tray_command("win32", str(python)) == [str(tmp_path / "bin" / "pythonw.exe"), "-m", "vcam", "tray"]


def test_tray_command_of_this_installation_starts_vcam() -> None:
    command = tray_command()
    assert command[-1] == "tray"
    # Everything before "tray" is a working vcam: ask it for its version.
    result = subprocess.run([*command[:-1], "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("vcam "), result.stderr
    assert Path(command[0]).parent == Path(sys.executable).parent
