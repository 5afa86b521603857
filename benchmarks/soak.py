"""`python -m benchmarks.bench --soak SECONDS`: the engine left running on a looping video, with the virtual
camera and the web preview attached and one browser-like client reading the MJPEG stream, sampled
at intervals: resident memory, threads, and frames processed, sent and received per second.

The virtual camera is a pyvirtualcam backend that takes each frame and drops it (this is the seam
where v4l2loopback would be; pass `backend=None` to use the real one where it exists); everything
in front of it — engine, pipeline, conversion, pacing, JPEG broadcast, HTTP — runs for real.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyvirtualcam

from vcam.app import LiveApp
from vcam.config import Config

DISCARD_BACKEND = "vcam-discard"


class DiscardBackend:
    """A pyvirtualcam backend that accepts frames and keeps none."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **_: Any) -> None:
        self._device = device or "discard"
        self._fourcc = fourcc

    def send(self, frame: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self._fourcc


pyvirtualcam.register_backend(DISCARD_BACKEND, DiscardBackend)


def resident_mib() -> float:
    """This process's resident memory (Linux /proc; elsewhere the peak from resource)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class StreamReader:
    """One client of /video_feed over loopback, reading frames as fast as they come."""

    def __init__(self, url: str) -> None:
        self.frames = 0
        self._url = urlsplit(url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vcam-soak-client", daemon=True)

    def start(self) -> StreamReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._url.hostname, self._url.port, timeout=10)
        try:
            connection.request("GET", f"/video_feed?{self._url.query}")  # the query carries the token
            response = connection.getresponse()
            while not self._stop.is_set():
                line = response.readline()
                if not line:
                    return
                if line.startswith(b"--frame"):
                    self.frames += 1
        finally:
            connection.close()


@dataclass
class SoakSample:
    second: float
    rss_mib: float
    threads: int
    processed_fps: float
    sent_fps: float
    received_fps: float


@dataclass
class SoakReport:
    seconds: float
    samples: list[SoakSample] = field(default_factory=list)

    @property
    def rss_growth(self) -> float:
        """Resident memory at the end over the first sample's, minus one."""
        return self.samples[-1].rss_mib / self.samples[0].rss_mib - 1

    @property
    def thread_growth(self) -> int:
        return self.samples[-1].threads - self.samples[0].threads

    @property
    def fps_trend(self) -> float:
        """Least-squares slope of processed fps over the samples, in fps per minute (0: no trend)."""
        if len(self.samples) < 2:
            return 0.0
        xs = [s.second / 60 for s in self.samples]
        ys = [s.processed_fps for s in self.samples]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "rss_growth": self.rss_growth, "thread_growth": self.thread_growth,
                "fps_trend_per_minute": self.fps_trend, "samples": [asdict(s) for s in self.samples]}

    def summary(self) -> str:
        first, last = self.samples[0], self.samples[-1]
        return (f"soak {self.seconds:.0f} s: resident {first.rss_mib:.1f} → {last.rss_mib:.1f} MiB "
                f"({100 * self.rss_growth:+.1f} %), threads {first.threads} → {last.threads}, "
                f"processed {min(s.processed_fps for s in self.samples):.1f}–{max(s.processed_fps for s in self.samples):.1f}"
                f" fps (trend {self.fps_trend:+.2f} fps/min), virtual camera {last.sent_fps:.1f} fps, "
                f"web client {last.received_fps:.1f} fps")


def soak(config: Config, seconds: float, interval: float = 60.0, backend: str | None = DISCARD_BACKEND,
         say=print) -> SoakReport:
    """Run the engine for `seconds`, sampling every `interval` seconds (the first sample is taken
    one interval in, after start-up has settled)."""
    report = SoakReport(seconds)
    with LiveApp(config, backend=backend, preview_port=0) as app:
        engine, sink = app.engine, app.virtual_camera
        reader = StreamReader(app.preview.ensure_started()).start()
        try:
            began = last_time = time.monotonic()
            last = (engine.frames_processed, sink.frames_sent, reader.frames)
            while True:
                time.sleep(max(0.0, min(began + interval * (len(report.samples) + 1), began + seconds) - time.monotonic()))
                now = time.monotonic()
                counts = (engine.frames_processed, sink.frames_sent, reader.frames)
                rates = [(b - a) / (now - last_time) for a, b in zip(last, counts)]
                report.samples.append(SoakSample(now - began, resident_mib(), os_threads(), *rates))
                say(f"  {now - began:6.0f} s  {report.samples[-1].rss_mib:7.1f} MiB  {os_threads():3d} threads  "
                    f"{rates[0]:5.1f} fps processed  {rates[1]:5.1f} sent  {rates[2]:5.1f} received")
                last, last_time = counts, now
                if now - began >= seconds - 1e-3:
                    break
        finally:
            reader.stop()
    return report
