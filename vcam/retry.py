"""How long to wait before trying a lost device again (a webcam, a virtual camera)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Pauses between tries: `first`, then doubling, up to `longest`."""

    first: float = 0.5
    longest: float = 8.0

    def after(self, delay: float) -> float:
        """The pause after one of `delay` failed too."""
        return min(delay * 2, self.longest)
