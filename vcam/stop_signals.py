"""The signals that stop vcam, and the one way it takes them.

SIGINT (Ctrl-C), SIGTERM (a logout, a service manager, `kill`) and SIGHUP (the terminal closed)
all stop vcam the same way, whenever they come: `stopping()` turns each into `Terminated`, a
KeyboardInterrupt naming the signal, so that the same clean-up runs (partial outputs removed, the
camera let go, the virtual camera closed) and the command line reports it by one rule (cli.py);
the tray passes its Quit instead. A signal the process was started ignoring (`nohup`'s SIGHUP, a
background job's SIGINT) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Windows has no SIGHUP."""


class Terminated(KeyboardInterrupt):
    """A stop signal, raised like Ctrl-C's KeyboardInterrupt; its argument is the signal's name."""


def raise_terminated(name: str) -> None:
    raise Terminated(name)


def signal_name(stop: KeyboardInterrupt) -> str:
    """The signal that stopped vcam: Terminated's own, else Python's Ctrl-C."""
    return stop.args[0] if isinstance(stop, Terminated) and stop.args else "SIGINT"


@contextmanager
def stopping(on_stop: Callable[[str], None] = raise_terminated) -> Iterator[None]:
    """While the block runs, each of STOP_SIGNALS calls `on_stop` with the signal's name (by
    default: raises Terminated); the handlers before are put back after. Only the main thread can
    take signals; elsewhere (a test's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(number: int, _frame: object) -> None:
        on_stop(signal.Signals(number).name)

    saved = {number: signal.signal(number, handle) for number in STOP_SIGNALS
             if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
