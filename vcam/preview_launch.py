"""Opening the preview in the user's browser without its secret on any command line.

The preview's URL carries the run's token (`web_access`). Handed to the browser launcher as an
argument (`webbrowser.open(url)`), it would sit in that browser's command line, which every local
user can read (`ps`, /proc/PID/cmdline), for as long as the browser runs. So, as Jupyter does, the
URL goes into a small page that forwards to it, in a file only this user can read (mode 0600, in
the user's runtime folder, itself 0700), and the browser is given that file's path.
"""

from __future__ import annotations

import atexit
import html
import os
import stat
import tempfile
import warnings
import webbrowser
from pathlib import Path

import platformdirs

from vcam.errors import VcamError

REDIRECT_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>vcam preview</title>
<meta http-equiv="refresh" content="0;url={url}"></head>
<body><p>Opening <a href="{url}">the vcam preview</a>…</p></body></html>
"""
_WRITTEN: set[Path] = set()
"""The redirect pages this process wrote, each removed when it ends."""


def private_folder() -> Path:
    """The user's runtime folder for vcam (Linux: $XDG_RUNTIME_DIR/vcam), made if need be, and
    checked to be this user's own and closed to everyone else."""
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: platformdirs warns, and uses /tmp/runtime-UID
        warnings.simplefilter("ignore")
        folder = Path(platformdirs.user_runtime_dir("vcam"))
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.lstat(folder)
        if not stat.S_ISDIR(status.st_mode) or (hasattr(os, "getuid") and status.st_uid != os.getuid()):
            raise VcamError(f"{folder} is not a folder of this user's; remove it so vcam can make its own")
        if status.st_mode & 0o077:
            os.chmod(folder, 0o700)
    except OSError as err:
        raise VcamError(f"cannot make the private folder {folder} ({err.strerror or err}); check its permissions") from None
    return folder


def redirect_file(url: str, name: str = "preview") -> Path:
    """A page only this user can read that forwards the browser to `url`: `<runtime>/NAME.html`,
    written whole (a temporary file renamed) and removed when vcam ends."""
    folder = private_folder()
    path = folder / f"{name}-{os.getpid()}.html"
    descriptor, partial = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=".partial")  # 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as page:
            page.write(REDIRECT_PAGE.format(url=html.escape(url, quote=True)))
        os.replace(partial, path)
    except OSError as err:
        Path(partial).unlink(missing_ok=True)
        raise VcamError(f"cannot write {path} ({err.strerror or err}); check the free space") from None
    if path not in _WRITTEN:
        _WRITTEN.add(path)
        atexit.register(path.unlink, missing_ok=True)
    return path


def open_in_browser(url: str) -> Path:
    """Open `url` in the user's browser, giving it only the path of a private page that forwards
    to `url`. Returns that page's path."""
    path = redirect_file(url)
    webbrowser.open(path.as_uri())
    return path
