"""Start the tray at login: an XDG autostart entry (Linux), a LaunchAgent (macOS) or a value under
the Run key (Windows). Each is what the platform's own "open at login" switch writes, so the user
can also see and remove it in the desktop's settings."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from vcam.errors import VcamError
from vcam.paths import write_atomically

ENTRY_NAME = "vcam"
LAUNCH_AGENT_LABEL = "io.github.vcam.tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key").
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def tray_command(platform: str = sys.platform, executable: str = sys.executable) -> list[str]:
    """The command that starts this installation's tray: the `vcam` script installed beside the
    Python that runs us, else that Python with `-m vcam`. On Windows pythonw.exe is preferred,
    because the console script would open a console window at every login."""
    folder = Path(executable).parent
    if platform == "win32":
        windowless = folder / "pythonw.exe"
        if windowless.is_file():
            return [str(windowless), "-m", "vcam", "tray"]
    script = folder / ("vcam.exe" if platform == "win32" else "vcam")
    if script.is_file():
        return [str(script), "tray"]
    return [executable, "-m", "vcam", "tray"]


def desktop_exec(command: list[str]) -> str:
    """`command` as the value of a .desktop Exec key: arguments with reserved characters in double
    quotes with `"`, `` ` ``, `$` and `\\` escaped, then the string-value escaping of backslashes,
    and `%` doubled so that it is not read as a field code."""
    def quoted(argument: str) -> str:
        if argument and not _DESKTOP_RESERVED & set(argument):
            return argument
        return '"' + "".join("\\" + c if c in '"`$\\' else c for c in argument) + '"'

    return " ".join(quoted(argument) for argument in command).replace("\\", "\\\\").replace("%", "%%")


class WindowsRunKey(MutableMapping[str, str]):
    """HKCU\\...\\Run as a mapping of value names to command lines. Everything else in this module
    sees the Run key only through a mapping, so tests stand a dict in for the registry."""

    def __init__(self) -> None:
        import winreg  # only on Windows

        self._winreg = winreg

    def _open(self, write: bool = False) -> Any:  # a winreg.HKEYType, a context manager
        access = self._winreg.KEY_READ | (self._winreg.KEY_SET_VALUE if write else 0)
        return self._winreg.CreateKeyEx(self._winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access)

    def __getitem__(self, name: str) -> str:
        with self._open() as key:
            try:
                return str(self._winreg.QueryValueEx(key, name)[0])
            except FileNotFoundError:
                raise KeyError(name) from None

    def __setitem__(self, name: str, command_line: str) -> None:
        with self._open(write=True) as key:
            self._winreg.SetValueEx(key, name, 0, self._winreg.REG_SZ, command_line)

    def __delitem__(self, name: str) -> None:
        with self._open(write=True) as key:
            try:
                self._winreg.DeleteValue(key, name)
            except FileNotFoundError:
                raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        with self._open() as key:
            count = self._winreg.QueryInfoKey(key)[1]
            names = [self._winreg.EnumValue(key, index)[0] for index in range(count)]
        return iter(names)

    def __len__(self) -> int:
        with self._open() as key:
            return int(self._winreg.QueryInfoKey(key)[1])


class Autostart:
    """The "Start at login" switch of the tray. `platform`, `home`, `env` and `run_key` default to
    this machine; tests point them at temporary folders and a dict."""

    def __init__(self, platform: str = sys.platform, home: Path | None = None, env: Mapping[str, str] | None = None,
                 run_key: MutableMapping[str, str] | None = None) -> None:
        if platform not in ("win32", "darwin") and not platform.startswith(("linux", "freebsd", "openbsd")):
            raise VcamError(f"starting at login is not supported on {platform}; start `vcam tray` yourself")
        self.platform = platform
        self.home = home if home is not None else Path.home()
        self.env = env if env is not None else os.environ
        self._run_key = run_key

    @property
    def location(self) -> Path | str:
        """Where the entry lives: a file, or on Windows the registry value's full name."""
        if self.platform == "win32":
            return f"HKCU\\{RUN_KEY}\\{ENTRY_NAME}"
        if self.platform == "darwin":
            return self.home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        # XDG Base Directory spec: an unset, empty or relative XDG_CONFIG_HOME means ~/.config.
        config_home = self.env.get("XDG_CONFIG_HOME", "")
        base = Path(config_home) if config_home and Path(config_home).is_absolute() else self.home / ".config"
        return base / "autostart" / f"{ENTRY_NAME}.desktop"

    def enable(self, command: list[str] | None = None) -> Path | str:
        """Start `command` (default: `tray_command()`) at every login; returns `location`."""
        command = command or tray_command(self.platform)
        location = self.location
        if isinstance(location, str):
            self._registry_change(lambda key: key.__setitem__(ENTRY_NAME, subprocess.list2cmdline(command)))
        elif self.platform == "darwin":
            _write_atomically(location, plistlib.dumps(launch_agent(command)))
        else:
            _write_atomically(location, desktop_entry(command).encode("utf-8"))
        return location

    def disable(self) -> None:
        """Stop starting at login; nothing to do when it was not enabled."""
        location = self.location
        if isinstance(location, str):
            self._registry_change(lambda key: key.pop(ENTRY_NAME, None))
            return
        try:
            location.unlink(missing_ok=True)
        except OSError as err:
            raise VcamError(f"cannot remove {location} ({err.strerror}); delete it by hand") from None

    def is_enabled(self) -> bool:
        location = self.location
        if isinstance(location, str):
            try:
                return ENTRY_NAME in self._registry()
            except OSError:
                return False
        return location.is_file()

    def _registry(self) -> MutableMapping[str, str]:
        if self._run_key is None:
            self._run_key = WindowsRunKey()
        return self._run_key

    def _registry_change(self, change: Callable[[MutableMapping[str, str]], object]) -> None:
        try:
            change(self._registry())
        except OSError as err:
            raise VcamError(f"cannot change the registry value {self.location} ({err}); "
                            "check that your account may edit HKEY_CURRENT_USER") from None


def desktop_entry(command: list[str]) -> str:
    """An XDG autostart .desktop file that runs `command` without a terminal."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=vcam",
        "Comment=Emotion-to-emoji virtual camera (tray)",
        f"Exec={desktop_exec(command)}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def launch_agent(command: list[str]) -> dict[str, object]:
    """A LaunchAgent that runs `command` once at login; Interactive keeps macOS from throttling
    the camera work as it would a background daemon."""
    return {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": list(command), "RunAtLoad": True,
            "ProcessType": "Interactive"}


def _write_atomically(path: Path, data: bytes) -> None:
    """The entry written whole or not at all (vcam.paths), or one line saying what to fix."""
    try:
        write_atomically(path, data)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise VcamError(f"cannot write {path} ({reason}); make {path.parent} writable by you and try again") from None
