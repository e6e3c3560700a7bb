"""Pipedrive's token-based rate limits (notes/pipedrive.md §8, emulator checklist §7 item 8).

Two independent limits, as the vendor documents them:

- **Burst**: a rolling window (default 2 s) per API token allows ``burst_limit`` requests; the
  Search API has its own lower ``search_burst_limit`` (10 / 2 s on all plans). A search request
  counts against both windows (UNCONFIRMED: the docs only say search has its own limit).
- **Daily token budget** shared by the whole company: each request costs its operation's
  ``x-token-cost`` from the OpenAPI documents (default 10 when an operation has none). The budget
  resets at the next UTC midnight (the real reset is "start of the next day", zone UNCONFIRMED).

A request is admitted while the budget has any tokens left; the admitted request may overdraw
and the remaining budget is floored at 0, so ``x-daily-ratelimit-token-remaining: 0`` always
means "exhausted" (what Airbyte's client checks). UNCONFIRMED: the vendor may instead refuse a
request whose cost exceeds what is left.

A refused request (429) is not executed and costs nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from flit_pipelines.sandbox.openapi_validation import OpenAPIRequestValidator

DEFAULT_TOKEN_COST = 10


class TokenCosts:
    """``x-token-cost`` of every operation, read once from the bundled OpenAPI documents.

    Args:
        documents: api name ("v1"/"v2") -> validator over that document.
    """

    def __init__(self, documents: dict[str, OpenAPIRequestValidator]):
        self._costs: dict[tuple[str, str, str], int] = {}
        for api, validator in documents.items():
            for method, template, operation in validator.iter_operations():
                cost = operation.get("x-token-cost")
                if isinstance(cost, int):
                    self._costs[(api, method, template)] = cost

    def cost(self, api: str, method: str, spec_path: str) -> int:
        """Token cost of ``METHOD spec_path`` in ``api``; DEFAULT_TOKEN_COST if undocumented."""
        return self._costs.get((api, method.upper(), spec_path), DEFAULT_TOKEN_COST)


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one admission check, with the values for the response headers.

    Attributes:
        allowed: False -> answer 429 without executing the request.
        limit / remaining: burst window size and requests left in it (after this request).
        reset_seconds: whole seconds until the window frees a slot (>= 1).
        daily_limit / daily_remaining: company token budget and tokens left (after this request).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    daily_limit: int
    daily_remaining: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The five rate-limit headers every response carries (notes §8)."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_seconds).encode()),
            (b"x-daily-ratelimit-token-limit", str(self.daily_limit).encode()),
            (b"x-daily-ratelimit-token-remaining", str(self.daily_remaining).encode()),
        ]


class RateLimiter:
    """Burst windows per token plus the company's daily token budget (see module docstring).

    Args:
        burst_limit: requests per window per token (Pipedrive Growth/"Advanced" api_token: 40).
        search_burst_limit: search requests per window per token (10).
        window_seconds: rolling window length in seconds (2.0).
        daily_budget: tokens per UTC day for the whole account.
        clock: monotonic seconds; injectable for tests.

    Thread-safe.
    """

    def __init__(
        self,
        *,
        burst_limit: int,
        search_burst_limit: int,
        window_seconds: float,
        daily_budget: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        if burst_limit < 1 or search_burst_limit < 1 or window_seconds <= 0 or daily_budget < 0:
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

    def acquire(self, token: str, cost: int, *, search: bool = False) -> RateDecision:
        """Admit or refuse one request of ``cost`` tokens; admitted requests are charged."""
        with self._lock:
            now = self._clock()
            self._roll_day()
            general = self._window(token, "all", now)
            windows = [(general, self.burst_limit)]
            if search:
                windows.append((self._window(token, "search", now), self.search_burst_limit))
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

    def snapshot(self, token: str | None = None) -> RateDecision:
        """Current header values without charging anything (for injected 429s and stats)."""
        with self._lock:
            now = self._clock()
            self._roll_day()
            window = self._window(token or "", "all", now)
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
        """Carry over tokens spent earlier on UTC ``day`` (ISO date); ignored for other days."""
        with self._lock:
            self._roll_day()
            if day == self._day:
                self._used = max(0, used)

    @property
    def used_today(self) -> tuple[str, int]:
        """``(UTC date ISO, tokens spent)`` for persisting across restarts."""
        with self._lock:
            self._roll_day()
            return self._day, self._used

    def _window(self, token: str, name: str, now: float) -> deque[float]:
        window = self._windows.setdefault((token, name), deque())
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
