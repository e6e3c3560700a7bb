"""The clock every rate limiter and retry wait reads and sleeps on, so tests can advance time.

Production code uses ``SYSTEM_CLOCK`` (``time.monotonic`` / ``time.sleep`` / UTC now). A test passes
its own object with the same three methods (``flit_pipelines_tests.http_clock.ManualClock``), whose
``sleep`` moves time forward at once instead of waiting: a rate-limit window is then "waited out"
in microseconds, and what was waited can be asserted.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """Time source of the HTTP layer (seconds as floats)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences are meaningful)."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` (>= 0)."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware UTC (for ``Retry-After`` HTTP dates)."""


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.sleep`` and ``datetime.now(timezone.utc)``."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(max(0, seconds))``."""
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> datetime:
        """``datetime.now(timezone.utc)``."""
        return datetime.now(timezone.utc)


SYSTEM_CLOCK = SystemClock()
