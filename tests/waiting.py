"""Waiting in tests for what other threads and processes decide: the engine, the server, the X
server. Where there is an event to wait on, tests wait on it; `wait_until` is for the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 20.0, message: str = "condition") -> T:
    """Poll `condition` until it returns something true, and return that; AssertionError, naming
    `message`, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.02)


def with_default_signals() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: the child starts with Ctrl-C's and SIGHUP's default
    handling, as from a terminal, even when the tests run as a background job (which starts with
    SIGINT ignored, and Python then installs no Ctrl-C handler)."""
    import signal

    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
