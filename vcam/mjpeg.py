"""The MJPEG broadcaster: the engine's frames as one JPEG stream that any number of browsers watch.

    engine ──publish(frame)──▶ encoder thread ──one JPEG per frame──▶ client 1, client 2, …

`publish` only swaps a reference and wakes the encoder, so the pipeline never waits for a
browser. Each frame is encoded once, whatever the number of clients, and each client is handed
the newest JPEG when it is ready for one: a slow client skips frames instead of queueing them,
and never holds up the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.frames import FrameResult, PlaceholderFrame

log = logging.getLogger("vcam")

BOUNDARY = "frame"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


@dataclass(frozen=True)
class EncodedFrame:
    jpeg: bytes
    number: int
    """The number of the published frame it was encoded from (1, 2, …)."""


def multipart_chunk(jpeg: bytes) -> bytes:
    """One part of a multipart/x-mixed-replace stream."""
    header = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode("ascii")
    return header + jpeg + b"\r\n"


class JpegBroadcaster:
    """A sink that serves the engine's frames as MJPEG:
    `with JpegBroadcaster() as broadcaster: engine.add_sink(broadcaster); ... broadcaster.stream()`."""

    def __init__(self, quality: int = 80, mirror: bool = True, resend_after: float = 1.0) -> None:
        """`mirror` flips the camera's picture left–right, as people expect of their own preview
        (never vcam's own placeholder, whose text would read backwards).
        `resend_after`: with no new frame for that long, clients are sent the newest one again,
        which keeps the picture alive and shows a vanished client up at its next write."""
        self.quality = quality
        self.mirror = mirror
        self._resend_after = resend_after
        self._frame: np.ndarray | None = None
        self._frame_mirrored = False
        self._frame_number = 0
        self._new_frame = threading.Condition()
        self._encoded: EncodedFrame | None = None
        self._new_jpeg = threading.Condition()
        self._clients = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vcam-mjpeg-encoder", daemon=True)
        self.encodes = 0
        """JPEGs encoded so far (one per published frame at most, never one per client)."""

    # --- the sink side ---------------------------------------------------------------------------

    def publish(self, result: FrameResult) -> None:
        with self._new_frame:
            self._frame = result.frame
            self._frame_mirrored = self.mirror and not isinstance(result, PlaceholderFrame)
            self._frame_number += 1
            self._new_frame.notify()

    @property
    def frames_published(self) -> int:
        return self._frame_number

    # --- the client side -------------------------------------------------------------------------

    @property
    def clients(self) -> int:
        """Streams open now."""
        return self._clients

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def stream(self) -> Iterator[bytes]:
        """The multipart stream for one client, newest frame first. It ends when the broadcaster
        closes; a client that goes away closes the generator, which unregisters it."""
        self._register()
        try:
            seen = self._stale_number()
            while not self._stop.is_set():
                encoded = self._next_after(seen)
                if encoded is None:
                    return
                seen = encoded.number
                yield multipart_chunk(encoded.jpeg)
        finally:
            self._unregister()

    def _register(self) -> None:
        with self._new_jpeg:
            self._clients += 1
        with self._new_frame:
            self._new_frame.notify()  # a frame that came while nobody watched is encoded now

    def _unregister(self) -> None:
        with self._new_jpeg:
            self._clients -= 1
            self._new_jpeg.notify_all()

    def _stale_number(self) -> int:
        """The JPEG there is now is worth sending at once only if it shows the newest frame;
        otherwise the client waits for the encoder to catch up."""
        encoded = self._encoded
        if encoded is not None and encoded.number < self._frame_number:
            return encoded.number
        return 0

    def _next_after(self, seen: int) -> EncodedFrame | None:
        """The newest JPEG newer than number `seen`; the same one again after `resend_after`
        seconds without a new one; None when the broadcaster closes."""
        with self._new_jpeg:
            while True:
                fresh = self._new_jpeg.wait_for(
                    lambda: self._stop.is_set() or (self._encoded is not None and self._encoded.number > seen),
                    timeout=self._resend_after)
                if self._stop.is_set():
                    return None
                if fresh or self._encoded is not None:
                    return self._encoded

    def wait_for_clients(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until exactly `count` streams are open (tests and shutdown use this)."""
        with self._new_jpeg:
            return self._new_jpeg.wait_for(lambda: self._clients == count, timeout)

    # --- the encoder thread ----------------------------------------------------------------------

    def start(self) -> JpegBroadcaster:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def close(self) -> None:
        """End every stream and the encoder thread."""
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        with self._new_jpeg:
            self._new_jpeg.notify_all()
        if self._thread.is_alive():
            self._thread.join(5)

    def __enter__(self) -> JpegBroadcaster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        encoded_number = 0
        while True:
            with self._new_frame:
                # Encode only what someone will see: a new frame, and at least one client.
                self._new_frame.wait_for(lambda: self._stop.is_set() or (
                    self._frame_number > encoded_number and self._clients > 0))
                if self._stop.is_set():
                    return
                frame, mirrored, number = self._frame, self._frame_mirrored, self._frame_number
            jpeg = self._encode(frame, mirrored)
            encoded_number = number
            if jpeg is None:
                continue
            with self._new_jpeg:
                self._encoded = EncodedFrame(jpeg, number)
                self.encodes += 1
                self._new_jpeg.notify_all()

    def _encode(self, frame: np.ndarray, mirrored: bool) -> bytes | None:
        picture = cv2.flip(frame, 1) if mirrored else frame  # a copy: the published frame stays as it is
        ok, buffer = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            log.warning("a preview frame could not be encoded as JPEG; skipping it")
            return None
        return buffer.tobytes()
