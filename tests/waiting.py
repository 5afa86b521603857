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
