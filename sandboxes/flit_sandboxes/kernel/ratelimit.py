"""Rolling burst windows plus a daily budget: the rate limiter every sandbox uses.

- **Burst**: a rolling window of ``window_seconds`` per key (API token, location, OAuth client)
  allows ``burst_limit`` requests; an optional stricter ``search_burst_limit`` window applies on
  top to requests acquired with ``search=True`` (Pipedrive's Search API).
- **Daily budget** for the whole account, in cost units (Pipedrive: tokens per operation; others:
  1 per request); it resets at the next UTC midnight.

A request is admitted while the budget has anything left; the admitted request may overdraw and
the remaining budget is floored at 0, so ``daily_remaining == 0`` always means "exhausted".
A refused request is not executed and costs nothing. How a sandbox renders the decision
(header names, 429 body) is its own business.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one admission check, with the values for the response headers.

    Attributes:
        allowed: False -> answer 429 without executing the request.
        limit / remaining: burst window size and requests left in it (after this request).
        reset_seconds: whole seconds until the window frees a slot (>= 1).
        daily_limit / daily_remaining: daily budget and what is left of it (after this request).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    daily_limit: int
    daily_remaining: int

    def refused(self) -> RateDecision:
        """The same state as a refusal (nothing left in the window): headers of an injected 429."""
        return replace(self, allowed=False, remaining=0)


class RateLimiter:
    """Burst windows per key plus the account's daily budget (see module docstring).

    Args:
        burst_limit: requests per window per key.
        window_seconds: rolling window length in seconds.
        daily_budget: cost units per UTC day for the whole account.
        search_burst_limit: requests per window per key of ``acquire(..., search=True)`` requests,
            which count against both windows; None: no separate search window.
        clock: monotonic seconds; injectable for tests.

    Thread-safe.
    """

    def __init__(
        self,
        *,
        burst_limit: int,
        window_seconds: float,
        daily_budget: int,
        search_burst_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if burst_limit < 1 or (search_burst_limit is not None and search_burst_limit < 1) or window_seconds <= 0 \
                or daily_budget < 0:
            raise ValueError("rate limits must be positive")
        self.burst_limit = burst_limit
        self.search_burst_limit = search_burst_limit
        self.window_seconds = window_seconds
        self.daily_budget = daily_budget
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._day = _utc_day()
        self._used = 0

    def acquire(self, key: str, cost: int, *, search: bool = False) -> RateDecision:
        """Admit or refuse one request of ``cost`` units for ``key`` (API token, location, client);
        admitted requests are charged. The decision shows the search window when ``search``."""
        with self._lock:
            now = self._clock()
            self._roll_day()
            general = self._window(key, "all", now)
            windows = [(general, self.burst_limit)]
            if search and self.search_burst_limit is not None:
                windows.append((self._window(key, "search", now), self.search_burst_limit))
            shown_window, shown_limit = windows[-1]
            burst_full = any(len(window) >= limit for window, limit in windows)
            budget_left = self.daily_budget - self._used
            if burst_full or budget_left <= 0:
                blocking = [w for w, limit in windows if len(w) >= limit] or [shown_window]
                reset = max(self._reset_seconds(w, now) for w in blocking)
                return RateDecision(False, shown_limit, 0, reset, self.daily_budget, max(0, budget_left))
            for window, _ in windows:
                window.append(now)
            self._used += cost
            return RateDecision(
                True,
                shown_limit,
                max(0, shown_limit - len(shown_window)),
                self._reset_seconds(shown_window, now),
                self.daily_budget,
                max(0, self.daily_budget - self._used),
            )

    def snapshot(self, key: str | None = None) -> RateDecision:
        """Current header values without charging anything (for injected 429s and stats)."""
        with self._lock:
            now = self._clock()
            self._roll_day()
            window = self._window(key or "", "all", now)
            return RateDecision(
                True,
                self.burst_limit,
                max(0, self.burst_limit - len(window)),
                self._reset_seconds(window, now),
                self.daily_budget,
                max(0, self.daily_budget - self._used),
            )

    def reset(self) -> None:
        """Forget all burst windows and today's spending (sandbox admin endpoint)."""
        with self._lock:
            self._windows.clear()
            self._used = 0

    def restore_usage(self, day: str, used: int) -> None:
        """Carry over units spent earlier on UTC ``day`` (ISO date); ignored for other days."""
        with self._lock:
            self._roll_day()
            if day == self._day:
                self._used = max(0, used)

    @property
    def used_today(self) -> tuple[str, int]:
        """``(UTC date ISO, units spent)`` for persisting across restarts."""
        with self._lock:
            self._roll_day()
            return self._day, self._used

    def dump_usage(self) -> str:
        """``used_today`` as one string, ``"YYYY-MM-DD|units"``, for a state file's meta table."""
        day, used = self.used_today
        return f"{day}|{used}"

    def load_usage(self, saved: str | None) -> None:
        """Restore a ``dump_usage`` string; None, junk or another day's record is ignored."""
        day, _, used = (saved or "").partition("|")
        if used.isdigit():
            self.restore_usage(day, int(used))

    def _window(self, key: str, name: str, now: float) -> deque[float]:
        window = self._windows.setdefault((key, name), deque())
        horizon = now - self.window_seconds
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def _reset_seconds(self, window: deque[float], now: float) -> int:
        if not window:
            return max(1, math.ceil(self.window_seconds))
        return max(1, math.ceil(window[0] + self.window_seconds - now))

    def _roll_day(self) -> None:
        today = _utc_day()
        if today != self._day:
            self._day, self._used = today, 0


def _utc_day() -> str:
    return datetime.now(timezone.utc).date().isoformat()
