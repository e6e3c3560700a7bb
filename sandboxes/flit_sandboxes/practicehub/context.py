"""Everything one PracticeHub sandbox app holds: settings, the state file, limiter, faults, counters.

The limit (issue: "at most 1 request per second per account"; notes/sources.md §3: the figure
**could not be confirmed**, no headers documented) maps onto the kernel ``RateLimiter`` as: key =
the account, cost = 1 request, rolling window ``1 / rate_per_second`` seconds holding 1 request
when ``rate_per_second <= 1`` (so 1.0 = one request per rolling second), else ``round(rate)``
requests per second. No daily budget is known, so it is effectively unlimited (UNCONFIRMED).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState
from flit_sandboxes.practicehub.builder import seed_store
from flit_sandboxes.practicehub.store import PracticeHubStore

log = logging.getLogger("flit_sandboxes.practicehub")

UNLIMITED_DAILY = 10 ** 12


@dataclass(frozen=True)
class PracticeHubSettings:
    """Knobs of ``create_app`` (see its docstring)."""

    api_key: str
    account: str = "demo"
    patients: int = 200
    seed: int = 7
    rate_per_second: float = 1.0
    page_size_max: int = 100
    default_page_size: int = 100
    require_app_details: bool = True
    clock: Callable[[], float] = time.monotonic


def make_limiter(rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
    """The account limiter for ``rate_per_second`` (module docstring), its windows on ``clock`` (seconds).

    Raises:
        ValueError: ``rate_per_second <= 0``.
    """
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    if rate_per_second <= 1:
        return RateLimiter(burst_limit=1, window_seconds=1.0 / rate_per_second, daily_budget=UNLIMITED_DAILY,
                           clock=clock)
    return RateLimiter(burst_limit=round(rate_per_second), window_seconds=1.0, daily_budget=UNLIMITED_DAILY,
                       clock=clock)


class PageLog:
    """How often each page was served (200), keyed ``<path>?<page, page_size, updated, start>``.

    Only these paging/filter parameters make the key (timestamps and page numbers, never patient
    values), so tests can prove that no page of an extraction was requested twice.
    """

    KEYS = ("page", "page_size", "updated", "start")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: Counter[str] = Counter()

    def served(self, path: str, params: dict[str, str]) -> None:
        """Count one served page of ``path`` with the (already validated) paging ``params``."""
        query = "&".join(f"{k}={params[k]}" for k in self.KEYS if k in params)
        with self._lock:
            self._served[f"{path}?{query}"] += 1

    def snapshot(self) -> dict[str, int]:
        """Page key -> times served."""
        with self._lock:
            return dict(self._served)


class PracticeHubContext(SandboxState):
    """State and services of one app instance, shared by the gateway and the handlers.

    Opens (or creates) the state file and seeds the demo practice when it holds none; a file that
    already holds one is served as is (its own size and seed win over ``settings``).

    Raises:
        ValueError: empty key or account, bad limits, or ``patients < 1`` when seeding.
    """

    def __init__(self, state_path: str | Path, settings: PracticeHubSettings):
        if not settings.api_key or not settings.account:
            raise ValueError("api_key and account must be non-empty strings")
        if not 1 <= settings.default_page_size <= settings.page_size_max:
            raise ValueError("default_page_size must be within 1..page_size_max")
        super().__init__(make_limiter(settings.rate_per_second, settings.clock))
        self.settings = settings
        self.store = PracticeHubStore(state_path)
        self.pages = PageLog()
        try:
            seeded = self.store.seeded()
            if seeded is None:
                seed_store(self.store, patients=settings.patients, seed=settings.seed)
                seeded = self.store.seeded()
            elif (seeded["patients"], seeded["seed"]) != (settings.patients, settings.seed):
                log.info("state file holds a practice of %d patients (seed %d); serving it as is",
                         seeded["patients"], seeded["seed"])
        except BaseException:
            self.store.close()
            raise
        self.practice: dict = seeded  # {"patients", "seed", "counts"} of the served practice

    def release(self) -> None:
        """Close the state file (once, from ``close``)."""
        self.store.close()
