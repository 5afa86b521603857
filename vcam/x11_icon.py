"""pystray's plain X11 icon with one thread on its X connection.

pystray's xorg backend runs its event loop in a blocking `next_event()` and hands each change made
from another thread (picture, tooltip, show, stop) to that loop as a ClientMessage sent over the
same connection, then waits for the loop's answer with no timeout. python-xlib shares the
connection between the two threads; under load the loop now and then never answers, and the
caller, or Quit, hangs for good (seen under Xvfb: about one run in fifteen with both cores busy).

This subclass keeps the backend's drawing and docking code and changes only the hand-over: a
change from another thread goes into a queue and a byte into a pipe; the loop waits on the X
socket and the pipe with `select`, runs the queued changes itself, and never blocks a caller.
It also asks X for button presses, which the backend forgets, so that a click reaches the icon.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("vcam")


def is_x11_backend(icon_class: type) -> bool:
    return icon_class.__module__.rsplit(".", 1)[-1] == "_xorg"


def single_thread_x11_icon(base: type) -> type:
    """A subclass of pystray's xorg `Icon` class `base` whose X connection only its loop uses."""
    from Xlib import X

    class Icon(base):  # type: ignore[misc, valid-type]
        def _rewrite_implementation(self, *methods: Callable[[], None]) -> None:
            # Called by the base class's __init__ with the methods that must run on the loop.
            self._posted: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_read, False)
            os.set_blocking(self._wake_write, False)
            self._stopping = False
            self._pipe_lock = threading.Lock()  # the loop closes the pipe while others may write
            for method in methods:
                setattr(self, method.__name__, self._poster(method))
            self._window.change_attributes(event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)

        def _poster(self, method: Callable[[], None]) -> Callable[[], None]:
            def post() -> None:
                if threading.current_thread() is getattr(self, "_thread", None):
                    method()
                    return
                self._posted.put(method)
                with self._pipe_lock:
                    if self._wake_write < 0:
                        return  # the loop has ended: nothing would run it
                    try:
                        os.write(self._wake_write, b"\0")
                    except BlockingIOError:
                        pass  # the pipe is full: a wake is already pending
            return post

        def _stop(self) -> None:
            self._stopping = True
            try:
                self._window.destroy()
                self._display.flush()
            except Exception as err:  # noqa: BLE001 - the display is gone: the loop ends anyway
                log.debug("closing the tray window: %s", err)

        def _run_posted(self) -> None:
            while not self._stopping:  # after stop, the window is gone: later changes have nothing to change
                try:
                    method = self._posted.get_nowait()
                except queue.Empty:
                    return
                try:
                    method()
                except Exception as err:  # noqa: BLE001 - one failed change must not end the loop
                    log.warning("the tray icon could not be updated: %s", err)

        def _events(self) -> Iterator[Any]:
            display = self._display
            try:
                while True:
                    self._run_posted()
                    if self._stopping:
                        return
                    if display.pending_events():
                        yield display.next_event()
                        continue
                    display.flush()  # requests of the changes just made, before waiting
                    with selectors.DefaultSelector() as waiting:
                        waiting.register(display.fileno(), selectors.EVENT_READ)
                        waiting.register(self._wake_read, selectors.EVENT_READ)
                        waiting.select(1.0)
                    try:
                        while os.read(self._wake_read, 512):
                            pass
                    except BlockingIOError:
                        pass
            finally:
                self._stopping = True
                with self._pipe_lock:
                    os.close(self._wake_read)
                    os.close(self._wake_write)
                    self._wake_read = self._wake_write = -1

    Icon.__name__ = Icon.__qualname__ = "SingleThreadX11Icon"
    return Icon
