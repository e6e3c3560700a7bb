"""The client-side rate limiter every client shares between its threads (sources and destinations).

Two jobs:

* **Stay under the vendor's ceiling**: at most ``limit`` requests in any ``window_seconds``
  (a sliding-window log: pyrate-limiter's ``InMemoryBucket``, the policy of Airbyte's
  ``MovingWindowCallRatePolicy``). Why the window is held longer than the vendor's: a slot is taken
  when a request is *sent*, but the server counts it when it *arrives*, anywhere up to a round trip
  later. Against a sandbox on a loaded 2-core machine round trips reached 0.3-1.1 s and a fixed
  100 ms margin gave 7-23 429s per 240 requests; holding each slot for ``window + worst recent
  round trip`` (``observe_latency``) closes that gap.
* **Honour the vendor's waits**: ``on_429(wait)`` pauses every thread for the wait the vendor
  asked for (``Retry-After``, a reset header), or, when it named none, for an exponential backoff
  over the consecutive 429s (0.5, 1, 2 ... ``max_backoff`` s). Each pause is charged to the wave's
  :class:`~flit_pipelines.http.patience.Patience`, by how much it extends the pause already in force.
  A pause is at least ``min_pause`` (50 ms), so even a vendor answering "wait 0" forever uses up
  the patience instead of spinning without end.

Vendor specifics (which headers carry the limit, the reset, the daily budget) stay in each client,
which calls ``set_limit`` / ``set_window`` / ``hold_if_exhausted`` / ``on_429`` with the values.
Time comes from a :class:`~flit_pipelines.http.clock.Clock`, so tests advance it instead of sleeping.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import cast

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.patience import Patience
from flit_pipelines.http.stats import ClientStats

__all__ = ["MIN_RATE_LIMIT_PAUSE", "RateLimiter", "SharedLimiters"]

log = logging.getLogger(__name__)

MIN_RATE_LIMIT_PAUSE = 0.05  # seconds: the least a 429 holds every thread
_LATENCY_SAMPLES = 100  # round trips remembered for the safety margin


class RateLimiter:
    """At most ``limit`` requests per ``window_seconds`` across all threads, plus vendor-ordered pauses.

    Args:
        limit: requests allowed per window (>= 1).
        window_seconds: the vendor's rolling window (> 0).
        safety_ms: the least margin added to the window; default 5 % of it, at least 100 ms.
        adaptive: widen the margin to the worst recent round trip (``observe_latency``).
        clock: time source (tests pass a manual clock).
        patience: the wave's rate-limit budget; None: 429 pauses are not bounded.
        stats: counters to add ``rate_limit_wait_seconds`` to (optional).
        backoff_initial / max_backoff: the 429 backoff when the vendor names no wait (seconds).
        min_pause: the least pause after a 429 (seconds).
        name: label used in log lines ("burst", "search", "practicehub").

    Thread-safe. ``acquire`` blocks (on ``clock.sleep``); every other method returns at once,
    except that ``on_429`` raises ``PatienceExhausted`` when the pause would exceed the patience.

    Raises:
        ValueError: ``limit < 1`` or ``window_seconds <= 0``.
    """

    def __init__(self, limit: int, window_seconds: float, *, safety_ms: int | None = None, adaptive: bool = True,
                 clock: Clock = SYSTEM_CLOCK, patience: Patience | None = None, stats: ClientStats | None = None,
                 backoff_initial: float = 0.5, max_backoff: float = 10.0, min_pause: float = MIN_RATE_LIMIT_PAUSE,
                 name: str = "burst"):
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.name = name
        self.clock = clock
        self.patience = patience
        self.stats = stats
        self.backoff_initial = backoff_initial
        self.max_backoff = max_backoff
        self.min_pause = min_pause
        self._adaptive = adaptive
        self._lock = threading.Lock()
        self._limit = int(limit)
        self._window_ms = round(window_seconds * 1000)
        self._safety_ms = safety_ms
        self._base_margin_ms = self._default_margin()
        self._margin_ms = self._base_margin_ms
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._bucket = InMemoryBucket([self._rate()])
        self._resume_at = 0.0  # clock.monotonic() before which no request may start
        self._sent: deque[float] = deque()  # our own send times within the last window (+ margin)
        self._consecutive_429 = 0

    # ------------------------------------------------------------------ properties
    @property
    def limit(self) -> int:
        """The current requests-per-window limit."""
        return self._limit

    @property
    def window_seconds(self) -> float:
        """The current window length in seconds."""
        return self._window_ms / 1000

    def _default_margin(self) -> int:
        return self._safety_ms if self._safety_ms is not None else max(100, self._window_ms // 20)

    def _rate(self) -> Rate:
        return Rate(self._limit, self._window_ms + self._margin_ms)

    # ------------------------------------------------------------------ acquiring
    def acquire(self) -> None:
        """Block until one request may be sent: first any vendor-ordered pause, then a window slot."""
        while True:
            with self._lock:
                now = self.clock.monotonic()
                wait = self._resume_at - now
                if wait <= 0:
                    now_ms = math.floor(now * 1000)
                    self._bucket.leak(now_ms)
                    item = RateItem(self.name, now_ms)
                    if self._bucket.put(item):
                        self._sent.append(now)
                        self._trim(now)
                        return
                    wait = max(1, cast(int, self._bucket.waiting(item))) / 1000  # in-memory: synchronous
            self.clock.sleep(wait)

    def _trim(self, now: float) -> None:
        horizon = now - (self._window_ms + self._margin_ms) / 1000
        while self._sent and self._sent[0] < horizon:
            self._sent.popleft()

    def own_in_window(self) -> int:
        """How many requests this limiter let through during the last window (plus margin)."""
        with self._lock:
            self._trim(self.clock.monotonic())
            return len(self._sent)

    # ------------------------------------------------------------------ vendor-ordered waits
    def pause(self, seconds: float, *, charge: bool = False, patience: Patience | None = None,
              stats: ClientStats | None = None) -> None:
        """Hold every thread's next ``acquire`` for ``seconds`` from now (extends, never shortens).

        ``charge``: take the extension from the patience first (429 pauses) and add it to the
        stats' ``rate_limit_wait_seconds``; ``patience`` / ``stats`` replace the limiter's own (a
        limiter shared by readers of different waves charges the caller's).

        Raises:
            PatienceExhausted: ``charge`` and the extension does not fit the patience (no pause set).
        """
        seconds = max(0.0, seconds)
        patience = patience or self.patience
        stats = stats if stats is not None else self.stats
        with self._lock:
            now = self.clock.monotonic()
            extension = max(0.0, now + seconds - max(now, self._resume_at))
            if charge and extension and patience is not None:
                patience.charge(extension)
            if charge and extension and stats is not None:
                stats.add("rate_limit_wait_seconds", extension)
            self._resume_at = max(self._resume_at, now + seconds)

    def on_429(self, wait: float | None, *, patience: Patience | None = None, stats: ClientStats | None = None) -> float:
        """A 429 arrived: hold every thread for ``wait`` seconds (what the vendor asked for), or, if
        None, for the backoff of the consecutive 429s; never less than ``min_pause``. Returns the
        pause. ``patience`` / ``stats``: as ``pause``.

        Raises:
            PatienceExhausted: the pause would exceed the wave's patience.
        """
        with self._lock:
            self._consecutive_429 += 1
            step = self._consecutive_429
        if wait is None:
            wait = min(self.max_backoff, self.backoff_initial * 2 ** min(step - 1, 30))
        wait = max(float(wait), self.min_pause)
        self.pause(wait, charge=True, patience=patience, stats=stats)
        log.debug("%s limiter: 429, every thread holds %.2f s", self.name, wait)
        return wait

    def on_success(self) -> None:
        """An answer that was not a 429: the backoff of ``on_429`` starts from its first step again."""
        with self._lock:
            self._consecutive_429 = 0

    def hold_if_exhausted(self, remaining: int | None, reset_seconds: float | None) -> None:
        """The vendor reports ``remaining`` requests left in its window: at 0, while this limiter's
        own window is not full, someone else shares the budget, so every thread holds
        ``reset_seconds`` (default: one window). When our own burst explains the 0 the limiter already
        holds the next request, and a pause on top would idle a whole window after every burst
        (measured: 13-19 % below the allowed rate). Not charged to the patience (pacing, not a 429)."""
        if remaining == 0 and self.own_in_window() < self._limit:
            self.pause(self.window_seconds if reset_seconds is None else reset_seconds)

    # ------------------------------------------------------------------ adapting
    def set_limit(self, limit: int) -> bool:
        """Adopt a new per-window ``limit`` (from a response header); True if it changed. The
        requests already in the window keep counting."""
        if limit < 1 or limit == self._limit:
            return False
        with self._lock:
            if limit == self._limit:
                return False
            self._limit = int(limit)
            self._bucket.rates = [self._rate()]
        log.info("%s limiter: %d requests per %.1f s (from the server's limit header)", self.name, limit,
                 self.window_seconds)
        return True

    def set_window(self, window_seconds: float) -> bool:
        """Adopt a new window length (from a response header); True if it changed."""
        window_ms = round(window_seconds * 1000)
        if window_ms <= 0 or window_ms == self._window_ms:
            return False
        with self._lock:
            self._window_ms = window_ms
            self._base_margin_ms = self._default_margin()
            self._margin_ms = max(self._base_margin_ms, min(self._margin_ms, window_ms))
            self._bucket.rates = [self._rate()]
        log.info("%s limiter: %d requests per %.1f s (from the server's interval header)", self.name, self._limit,
                 window_seconds)
        return True

    def observe_latency(self, seconds: float) -> None:
        """Widen (or slowly narrow) the safety margin to the recent worst round trip.

        The server counts a request somewhere between our send and our receipt of the answer, so
        holding each slot for ``window + max recent round trip`` keeps any two requests that the
        server could see in one window inside one client window too. Grows at once (50 ms steps, at
        most one extra window), shrinks only when the worst of the last 100 round trips has fallen
        below half the margin. No-op unless ``adaptive``.
        """
        if not self._adaptive:
            return
        with self._lock:
            self._latencies.append(seconds)
            worst_ms = max(self._latencies) * 1000
            wanted = min(self._window_ms, max(self._base_margin_ms, 50 * math.ceil(worst_ms / 50)))
            grow = wanted > self._margin_ms
            shrink = len(self._latencies) == self._latencies.maxlen and wanted <= self._margin_ms // 2
            if grow or shrink:
                self._margin_ms = wanted
                self._bucket.rates = [self._rate()]
        if grow or shrink:
            log.debug("%s limiter: safety margin %d ms (worst recent round trip)", self.name, wanted)

    def close(self) -> None:
        """Nothing to release (no background thread); kept so clients close every resource alike."""


class SharedLimiters:
    """Process-wide limiters by key (e.g. an account's host and rate), reference counted: every
    client of one account shares one limiter, so together they never exceed the account's rate,
    and a 429 holds all of them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: dict[Hashable, tuple[RateLimiter, int]] = {}

    def acquire(self, key: Hashable, make: Callable[[], RateLimiter]) -> RateLimiter:
        """The limiter of ``key``, made with ``make()`` for its first user."""
        with self._lock:
            limiter, users = self._limiters.get(key) or (make(), 0)
            self._limiters[key] = (limiter, users + 1)
            return limiter

    def release(self, key: Hashable) -> None:
        """One user of ``key`` is done; the last one drops the limiter (KeyError if never acquired)."""
        with self._lock:
            limiter, users = self._limiters[key]
            if users > 1:
                self._limiters[key] = (limiter, users - 1)
            else:
                del self._limiters[key]
