"""Client-side rate limiting for one HighLevel location (notes/highlevel.md §2).

HighLevel allows **100 requests per 10 seconds** and **200,000 per day** per app and location, and
reports both on every response: ``X-RateLimit-Max`` (requests per interval),
``X-RateLimit-Interval-Milliseconds`` (the interval), ``X-RateLimit-Remaining`` (left in the current
interval), ``X-RateLimit-Limit-Daily`` and ``X-RateLimit-Daily-Remaining``. No reset header and no
``Retry-After`` are documented (UNCONFIRMED whether 429s carry one; honoured if present).

The burst window reuses the generic ``BurstLimiter`` of ``destinations/rate_limit.py`` (a pyrate-limiter moving
window shared by all worker threads, whose slot is held for ``window + worst recent round trip`` so
requests that arrive late at the server never make a window overflow). What is HighLevel-specific
lives here: the header names, adopting a different interval (a new ``BurstLimiter`` is swapped in),
the pause on ``X-RateLimit-Remaining: 0`` when our own traffic does not explain it (another client
shares the location's budget), the 429 backoff without a reset header, and the daily floor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping

from flit_pipelines.destinations.rate_limit import BurstLimiter, header_float, header_int

__all__ = ["DEFAULT_BURST_LIMIT", "DEFAULT_WINDOW_SECONDS", "HighLevelRateLimiter", "header_float", "header_int"]

log = logging.getLogger(__name__)

DEFAULT_BURST_LIMIT = 100  # notes §2: 100 requests per 10 s per location
DEFAULT_WINDOW_SECONDS = 10.0
_OWN_HORIZON_SLACK = 1.0  # seconds added to the window when counting our own recent sends
_MAX_429_PAUSE = 10.0


class HighLevelRateLimiter:
    """Burst window + daily budget of one (token, location), shared by every worker thread.

    Args:
        limit: requests per window to start from (100); replaced by ``X-RateLimit-Max``.
        window_seconds: the interval to start from (10 s); replaced by
            ``X-RateLimit-Interval-Milliseconds``.

    Attributes (read-only, updated from headers): ``daily_remaining``, ``daily_limit`` (None
    until seen), ``limit``, ``window_seconds``.

    Thread-safe. ``acquire`` blocks; everything else returns at once.
    """

    def __init__(self, limit: int = DEFAULT_BURST_LIMIT, window_seconds: float = DEFAULT_WINDOW_SECONDS):
        self._lock = threading.Lock()
        self._burst = BurstLimiter(limit, window_seconds, name="highlevel")
        self._retired: list[BurstLimiter] = []
        self._sent: deque[float] = deque()
        self._consecutive_429 = 0
        self.daily_remaining: int | None = None
        self.daily_limit: int | None = None

    @property
    def limit(self) -> int:
        """Current requests-per-window limit."""
        return self._burst.limit

    @property
    def window_seconds(self) -> float:
        """Current window length in seconds."""
        return self._burst.window_seconds

    def acquire(self) -> None:
        """Block until one request may be sent (server-ordered pause first, then a window slot)."""
        self._burst.acquire()
        now = time.monotonic()
        with self._lock:
            self._sent.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        horizon = now - self._burst.window_seconds - _OWN_HORIZON_SLACK
        while self._sent and self._sent[0] < horizon:
            self._sent.popleft()

    def own_recent(self) -> int:
        """Requests this limiter let through during the last window (+1 s slack for latency)."""
        with self._lock:
            self._trim(time.monotonic())
            return len(self._sent)

    def observe(self, headers: Mapping[str, str], latency_seconds: float | None = None) -> None:
        """Adapt to a response's ``X-RateLimit-*`` headers (absent headers are ignored).

        * ``X-RateLimit-Interval-Milliseconds`` different from the current window: a new limiter
          with that window (and ``X-RateLimit-Max``) is swapped in;
        * ``X-RateLimit-Max`` different from the current limit: the limiter is rebuilt;
        * ``X-RateLimit-Remaining: 0`` while fewer than ``limit`` of our own requests were sent in
          the last window: someone else uses the location's budget, so every thread pauses one
          window (when our own burst explains the 0, the limiter already holds the next request);
        * ``X-RateLimit-Daily-Remaining`` / ``-Limit-Daily`` are recorded for the daily floor.
        """
        burst = self._burst
        if latency_seconds is not None:
            burst.observe_latency(latency_seconds)
        limit = header_int(headers, "x-ratelimit-max")
        interval_ms = header_int(headers, "x-ratelimit-interval-milliseconds")
        if interval_ms is not None and interval_ms > 0 and abs(interval_ms / 1000 - burst.window_seconds) > 1e-3:
            self._swap(limit or burst.limit, interval_ms / 1000)
        elif limit is not None and limit >= 1:
            burst.set_limit(limit)
        remaining = header_int(headers, "x-ratelimit-remaining")
        if remaining == 0 and self.own_recent() < self._burst.limit:
            self._burst.pause(self._burst.window_seconds)
        daily = header_int(headers, "x-ratelimit-daily-remaining")
        if daily is not None:
            self.daily_remaining = daily
        daily_limit = header_int(headers, "x-ratelimit-limit-daily")
        if daily_limit is not None:
            self.daily_limit = daily_limit

    def _swap(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            if abs(window_seconds - self._burst.window_seconds) <= 1e-3:
                return
            old = self._burst
            self._burst = BurstLimiter(max(1, limit), window_seconds, name="highlevel")
            self._retired.append(old)  # threads may still be waiting in it; closed with the client
        log.info("highlevel limiter: %d requests per %.1f s (from X-RateLimit-* headers)", limit, window_seconds)

    def on_429(self, headers: Mapping[str, str]) -> float:
        """Pause every thread after a 429; returns the pause in seconds.

        ``Retry-After`` (seconds) if the response has one (UNCONFIRMED for HighLevel), else an
        exponential step per consecutive 429 without a success in between: 0.5, 1, 2, 4, 8, 10 s.
        """
        retry_after = header_float(headers, "retry-after")
        with self._lock:
            self._consecutive_429 += 1
            step = self._consecutive_429
        seconds = retry_after if retry_after is not None else min(_MAX_429_PAUSE, 0.5 * 2 ** (step - 1))
        self._burst.pause(seconds)
        return seconds

    def on_success(self) -> None:
        """A non-429 answer: the 429 backoff starts from its first step again."""
        with self._lock:
            self._consecutive_429 = 0

    def close(self) -> None:
        """Stop the limiters' background threads."""
        for limiter in (*self._retired, self._burst):
            limiter.close()
