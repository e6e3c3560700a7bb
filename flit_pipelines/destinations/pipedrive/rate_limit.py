"""The client-side burst limiter shared by every thread that uses one ``PipedriveClient``.

Pipedrive limits each API token to N requests per rolling 2-second window (notes §8; N = 20 on the
lowest plan, 10 for search endpoints) and reports the state in ``x-ratelimit-limit``,
``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds). The aim is to run *at* that ceiling
without crossing it, so 429s stay near zero: a moving-window limiter (pyrate-limiter's
``InMemoryBucket``, a sliding log like Airbyte's ``MovingWindowCallRatePolicy``, notes §10) admits at
most N acquisitions in any window, the limit follows the server's header, and a
``remaining == 0`` answer pauses every thread until the server's window resets.

The pause matters as much as the window: a slot is taken when a request is scheduled, but the
server counts it on arrival, and under load the gap varies by 100+ ms (measured against the
sandbox). The server's own ``remaining``/``reset`` answer already includes that gap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from pyrate_limiter import InMemoryBucket, Limiter, Rate

__all__ = ["BurstLimiter", "header_float", "header_int"]

log = logging.getLogger(__name__)


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """``int`` value of a response header, or None when absent or malformed."""
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    """``float`` value of a response header, or None when absent or malformed."""
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class BurstLimiter:
    """At most ``limit`` requests per ``window_seconds``, across all threads (blocking).

    Args:
        limit: requests allowed per window (the plan's burst limit, notes §8).
        window_seconds: the server's rolling window (2.0 s for Pipedrive).
        safety_ms: added to the window client-side. A slot is taken when a request is *scheduled*;
            the server counts it when it *arrives*, and the two differ by a few ms of thread and
            network jitter. Without the margin a request that left late and one that left early
            can land in the same server window. Default: 5 % of the window, at least 100 ms.
        name: label used in log lines ("burst", "search").

    Thread-safe. ``acquire`` blocks; the other methods never block.
    """

    def __init__(self, limit: int, window_seconds: float = 2.0, *, safety_ms: int | None = None, name: str = "burst"):
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.name = name
        self.window_seconds = window_seconds
        window_ms = round(window_seconds * 1000)
        self._interval_ms = window_ms + (safety_ms if safety_ms is not None else max(100, window_ms // 20))
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic() before which no request may start
        self._limit = limit
        self._bucket = InMemoryBucket([Rate(limit, self._interval_ms)])
        self._limiter = Limiter(self._bucket)

    @property
    def limit(self) -> int:
        """The current requests-per-window limit."""
        return self._limit

    def acquire(self) -> None:
        """Block until one request may be sent: first any server-ordered pause, then a window slot."""
        self._wait_out_pause()
        if not self._limiter.try_acquire(self.name, blocking=True):  # only False if weight > limit
            raise RuntimeError(f"{self.name} limiter refused a weight-1 request")
        # A thread may have slept inside try_acquire while another thread's response ordered a
        # pause; the server's window is the truth, so honour it before sending.
        self._wait_out_pause()

    def _wait_out_pause(self) -> None:
        while (wait := self._resume_at - time.monotonic()) > 0:
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every thread's next ``acquire`` for ``seconds`` from now (extends, never shortens)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + max(0.0, seconds))

    def set_limit(self, limit: int) -> bool:
        """Rebuild the limiter for a new per-window ``limit``; returns True if it changed.

        The recent acquisitions are carried over so the new limiter still sees the current
        window's traffic (a fresh empty bucket would allow a second full burst at once).
        """
        if limit < 1:
            return False
        with self._lock:
            if limit == self._limit:
                return False
            old_limiter, old_bucket = self._limiter, self._bucket
            bucket = InMemoryBucket([Rate(limit, self._interval_ms)])
            with old_bucket._lock:  # the bucket's own item lock; items are sorted RateItems
                bucket.items = list(old_bucket.items)
            self._bucket, self._limiter, self._limit = bucket, Limiter(bucket), limit
        old_limiter.close()
        log.info("%s limiter: %d requests per %.1f s (from x-ratelimit-limit)", self.name, limit, self.window_seconds)
        return True

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to a response's ``x-ratelimit-*`` headers (notes §8); absent headers are ignored.

        ``x-ratelimit-limit`` differing from the current limit rebuilds the limiter;
        ``x-ratelimit-remaining == 0`` pauses all threads for ``x-ratelimit-reset`` seconds
        (default: one window).
        """
        limit = header_int(headers, "x-ratelimit-limit")
        if limit is not None:
            self.set_limit(limit)
        if header_int(headers, "x-ratelimit-remaining") == 0:
            reset = header_float(headers, "x-ratelimit-reset")
            self.pause(self.window_seconds if reset is None else reset)

    def close(self) -> None:
        """Stop the limiter's background leak thread."""
        self._limiter.close()
