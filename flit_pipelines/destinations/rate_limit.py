"""The client-side burst limiter shared by every thread of one destination client (Pipedrive, HighLevel).

Pipedrive limits each API token to N requests per rolling 2-second window (notes §8; N = 20 on the
lowest plan, 10 for search endpoints) and reports the state in ``x-ratelimit-limit``,
``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds). The aim is to run *at* that ceiling
without crossing it, so 429s stay near zero: a moving-window limiter (pyrate-limiter's
``InMemoryBucket``, a sliding log like Airbyte's ``MovingWindowCallRatePolicy``, notes §10) admits at
most N acquisitions in any window, the limit follows the server's header, and a
``remaining == 0`` answer pauses every thread until the server's window resets.

Why a margin that follows latency: a slot is taken when a request is sent, but the server counts
it when it arrives, anywhere up to a round trip later. Against the sandbox on a loaded 2-core
machine round trips reached 0.3-1.1 s and a fixed 100 ms margin gave 7-23 429s per 240
requests; holding each slot for ``window + worst recent round trip`` closes that gap.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping

from pyrate_limiter import InMemoryBucket, Limiter, Rate

__all__ = ["BurstLimiter", "header_float", "header_int"]

log = logging.getLogger(__name__)

_LATENCY_SAMPLES = 100  # round trips remembered for the safety margin


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
        safety_ms: the minimum margin added to the window client-side. A slot is taken when a
            request is *sent*; the server counts it when it *arrives*, and the gap varies
            (network, thread scheduling, server queueing). Without a margin a request that
            arrived late and one that arrived early can land in the same server window.
            Default: 5 % of the window, at least 100 ms; ``observe_latency`` widens it to the
            worst recent round trip.
        name: label used in log lines ("burst", "search").

    Thread-safe. ``acquire`` blocks; the other methods never block.
    """

    def __init__(self, limit: int, window_seconds: float = 2.0, *, safety_ms: int | None = None, name: str = "burst"):
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.name = name
        self.window_seconds = window_seconds
        self._window_ms = round(window_seconds * 1000)
        self._base_margin_ms = safety_ms if safety_ms is not None else max(100, self._window_ms // 20)
        self._margin_ms = self._base_margin_ms
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic() before which no request may start
        self._limit = limit
        self._bucket = InMemoryBucket([Rate(limit, self._window_ms + self._margin_ms)])
        self._limiter = Limiter(self._bucket)
        self._sent: deque[float] = deque()  # monotonic send times of this limiter's own window

    def own_in_window(self) -> int:
        """How many requests this limiter let through during the last window."""
        horizon = time.monotonic() - self.window_seconds
        with self._lock:
            while self._sent and self._sent[0] < horizon:
                self._sent.popleft()
            return len(self._sent)

    @property
    def limit(self) -> int:
        """The current requests-per-window limit."""
        return self._limit

    def acquire(self) -> None:
        """Block until one request may be sent: first any server-ordered pause, then a window slot."""
        self._wait_out_pause()
        while True:
            limiter = self._limiter
            if not limiter.try_acquire(self.name, blocking=True):  # only False if weight > limit
                raise RuntimeError(f"{self.name} limiter refused a weight-1 request")
            if limiter is self._limiter:
                break
            # Rebuilt meanwhile: our slot may have missed the copy into the new bucket, so take one
            # there too (counting it twice for one window is the safe side).
        # A thread may have slept inside try_acquire while another thread's response ordered a
        # pause; the server's window is the truth, so honour it before sending.
        self._wait_out_pause()
        now = time.monotonic()
        with self._lock:
            self._sent.append(now)
            while self._sent and self._sent[0] < now - self.window_seconds:
                self._sent.popleft()

    def _wait_out_pause(self) -> None:
        while (wait := self._resume_at - time.monotonic()) > 0:
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every thread's next ``acquire`` for ``seconds`` from now (extends, never shortens)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + max(0.0, seconds))

    def set_limit(self, limit: int) -> bool:
        """Rebuild the limiter for a new per-window ``limit``; returns True if it changed."""
        if limit < 1 or limit == self._limit:
            return False
        with self._lock:
            if limit == self._limit:
                return False
            self._rebuild(limit, self._margin_ms)
        log.info("%s limiter: %d requests per %.1f s (from the server's limit header)", self.name, limit,
                 self.window_seconds)
        return True

    def observe_latency(self, seconds: float) -> None:
        """Widen (or slowly narrow) the safety margin to the recent worst round trip.

        The server counts a request somewhere between our send and our receipt of the answer, so
        holding each slot for ``window + max recent round trip`` keeps any two requests that the
        server could see in one window inside one client window too. Grows at once (50 ms
        steps, at most one extra window), shrinks only when the worst of the last
        ``_LATENCY_SAMPLES`` round trips has fallen below half the margin.
        """
        with self._lock:
            self._latencies.append(seconds)
            worst_ms = max(self._latencies) * 1000
            wanted = min(self._window_ms, max(self._base_margin_ms, 50 * math.ceil(worst_ms / 50)))
            grow = wanted > self._margin_ms
            shrink = len(self._latencies) == self._latencies.maxlen and wanted <= self._margin_ms // 2
            if grow or shrink:
                self._rebuild(self._limit, wanted)
        if grow or shrink:
            log.debug("%s limiter: safety margin %d ms (worst recent round trip)", self.name, wanted)

    def _rebuild(self, limit: int, margin_ms: int) -> None:
        """Swap in a new pyrate limiter; caller holds ``self._lock``.

        The recent acquisitions are carried over so the new limiter still sees the current
        window's traffic (a fresh empty bucket would allow a second full burst at once).
        """
        old_limiter, old_bucket = self._limiter, self._bucket
        bucket = InMemoryBucket([Rate(limit, self._window_ms + margin_ms)])
        with old_bucket._lock:  # the bucket's own item lock; items are RateItems sorted by time
            bucket.items = list(old_bucket.items)
        self._bucket, self._limiter, self._limit, self._margin_ms = bucket, Limiter(bucket), limit, margin_ms
        # Slots taken in the old bucket between the copy and the swap: merge them in. Slots
        # taken there after the swap are re-taken in the new one by `acquire`.
        with old_bucket._lock, bucket._lock:
            seen = {id(item) for item in bucket.items}
            late = [item for item in old_bucket.items if id(item) not in seen]
            if late:
                bucket.items = sorted(bucket.items + late, key=lambda item: item.timestamp)
        old_limiter.close()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to a response's Pipedrive-style ``x-ratelimit-*`` headers (notes §8); absent headers are
        ignored. (HighLevel's differently named headers are read by ``HighLevelRateLimiter``.)

        ``x-ratelimit-limit`` differing from the current limit rebuilds the limiter;
        ``x-ratelimit-remaining == 0`` pauses all threads for ``x-ratelimit-reset`` seconds
        (default: one window), unless this limiter's own window is full: then the limiter already
        holds the next request back, and a pause on top would idle a whole window after every
        burst (measured: 13-19 % below the allowed rate). An empty server window that our own
        count can't explain means someone else shares the token, and then we do pause.
        """
        limit = header_int(headers, "x-ratelimit-limit")
        if limit is not None:
            self.set_limit(limit)
        if header_int(headers, "x-ratelimit-remaining") == 0 and self.own_in_window() < self._limit:
            reset = header_float(headers, "x-ratelimit-reset")
            self.pause(self.window_seconds if reset is None else reset)

    def close(self) -> None:
        """Stop the limiter's background leak thread."""
        self._limiter.close()
