"""Files on disk as a user names them: inputs that must be readable files, outputs that must be
writable, and outputs that appear only when complete.

Every problem the operating system reports about a path (a name over the file system's limit, a
symlink loop, a folder where a file belongs, no permission) becomes one MediaError line that
names the path and the fix, instead of a traceback or a misleading "no such file".
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vcam.errors import MediaError

NAME_MAX = 255
"""Bytes in one file name on Linux, macOS and Windows file systems; what os.pathconf reports
where it can, this where it cannot."""
PARTIAL_MARK = ".partial"


def os_problem(path: Path, err: OSError) -> str:
    """One line naming what the operating system found wrong with `path`, and the fix."""
    reasons = {
        errno.ENOENT: "no such file; check the path",
        errno.ENAMETOOLONG: f"a name in the path is longer than {NAME_MAX} bytes; shorten it",
        errno.ELOOP: "the path is a symbolic link loop; point the link at a real file",
        errno.EACCES: "permission denied; check the file's permissions",
        errno.EPERM: "permission denied; check the file's permissions",
        errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
        errno.EISDIR: "is a folder; give a file",
        errno.ENOSPC: "no space left on the disk; free some space",
        errno.EROFS: "the disk is read-only; write somewhere else",
    }
    reason = reasons.get(err.errno, f"{err.strerror or err}; check the path, permissions and free space")
    return f"{path}: {reason}"


def require_file(path: Path, what: str = "a photo or a video") -> None:
    """`path` names a readable regular file (after following links)."""
    try:
        status = os.stat(path)
    except OSError as err:
        raise MediaError(os_problem(path, err)) from None
    if not stat.S_ISREG(status.st_mode):
        kind = "a folder" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        raise MediaError(f"{path}: {kind}, not a file; pass {what}")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied; check the file's permissions")


def require_folder(path: Path, what: str) -> None:
    """`path` names an existing folder (after following links); `what` says what it is for."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise MediaError(f"{what} {path} does not exist; check the path") from None
    except OSError as err:
        raise MediaError(f"{what} {os_problem(path, err)}") from None
    if not stat.S_ISDIR(status.st_mode):
        raise MediaError(f"{what} {path} is not a folder; pass a folder")


def name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # Windows has no pathconf
        return NAME_MAX


def require_output_folder(path: Path) -> None:
    """`path` can be created or replaced: its folder exists and is writable, its name fits the
    file system, and it is not a folder. Checked before any work starts."""
    folder = path.parent
    try:
        folder_status = os.stat(folder)
    except FileNotFoundError:
        raise MediaError(f"{path}: folder {folder} does not exist; create it or choose another output path") from None
    except OSError as err:
        raise MediaError(os_problem(folder, err)) from None
    if not stat.S_ISDIR(folder_status.st_mode):
        raise MediaError(f"{path}: {folder} is not a folder; choose another output path")
    if len(os.fsencode(path.name)) > name_max(folder):
        raise MediaError(f"{path}: the file name is longer than {name_max(folder)} bytes; shorten it")
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None  # a new file (or a link to nowhere, which the output replaces)
    except OSError as err:  # e.g. a symbolic link loop
        raise MediaError(os_problem(path, err)) from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise MediaError(f"{path}: is a folder; give a file name for the output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MediaError(f"{path}: folder {folder} is not writable; choose another output path")


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name the same file, links followed (never raising on a link loop)."""
    return os.path.realpath(one) == os.path.realpath(other)


def partial_path(path: Path) -> Path:
    """The hidden temporary name beside `path`: `.NAME.partial.SUFFIX`, the name shortened so
    that the whole stays within the file system's limit (a legal 250-byte output name must not
    fail because of its temporary name). The suffix stays: encoders choose the format by it."""
    suffix = path.suffix
    room = name_max(path.parent) - len(os.fsencode(f".{PARTIAL_MARK}{suffix}"))
    stem = os.fsencode(path.stem)[:room].decode(errors="ignore")  # never half a UTF-8 character
    return path.with_name(f".{stem}{PARTIAL_MARK}{suffix}")


@contextmanager
def replaced_when_done(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """The one way vcam writes a file whole or not at all: temporary paths beside `paths` to write
    to, renamed over them together when the block completes; all vanish if it fails or is
    interrupted (an exception, Ctrl-C, or SIGTERM turned into an exception by the caller), and no
    output is left changed when a later rename fails. OSErrors pass through."""
    partials = tuple(partial_path(path) for path in paths)
    done: list[Path] = []
    try:
        yield partials
        for partial, path in zip(partials, paths):
            os.replace(partial, path)
            done.append(path)
    except OSError:
        for path in done:  # both outputs or neither
            path.unlink(missing_ok=True)
        raise
    finally:
        for partial in partials:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass  # e.g. the folder is not writable: then no partial file was made either


@contextmanager
def atomic_outputs(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """`replaced_when_done` for the outputs a user names: each checked first, and OS errors (no
    space, no permission) turned into one-line MediaErrors naming the file that failed."""
    for path in paths:
        require_output_folder(path)
    try:
        with replaced_when_done(*paths) as partials:
            yield partials
    except OSError as err:
        named = {str(partial_path(path)): path for path in paths} | {str(path): path for path in paths}
        raise MediaError(os_problem(named.get(str(err.filename), paths[0]), err)) from None


def write_atomically(path: Path, data: bytes) -> None:
    """`data` as the whole of the file `path`, or the file as it was: written beside it, flushed to
    the disk (a power cut leaves one or the other), then renamed over it; its folder is made when
    missing. For files vcam keeps for the user (settings, the login entry); OSError for the caller
    to word."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_when_done(path) as (partial,), partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """`atomic_outputs` for one file."""
    with atomic_outputs(path) as (partial,):
        yield partial
