"""Everything one Ascend sandbox app holds: settings, the practice, issued tokens, limiter, faults, counters.

Faults, counters and the limiter are the kernel's. Ascend's limits (notes/sources.md §2 "Limits",
all unverified) map onto the ``RateLimiter`` as: key = OAuth client id, cost = 1 request, window = 1 s with
``rate_per_second`` requests (the architecture doc's sandbox claim: 15 req/s), daily budget =
``daily_limit`` requests per UTC day (its claim: 50,000). Whether the vendor's spike arrest smooths
or windows, and its day boundary, are UNCONFIRMED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flit_sandboxes.ascend.practice import PracticeData
from flit_sandboxes.kernel.faults import path_alias
from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState
from flit_sandboxes.kernel.tokens import TokenStore


@dataclass(frozen=True)
class AscendSettings:
    """Knobs of ``create_app`` (see its docstring)."""

    client_id: str
    client_secret: str
    organization_id: str
    page_size_max: int = 500
    default_page_size: int = 100
    rate_per_second: int = 15
    daily_limit: int = 50_000
    token_ttl_seconds: float = 3600.0
    location_name: str = "Sandbox Dental"
    timezone: str = "America/New_York"
    clock: Callable[[], float] = time.monotonic


class AscendContext(SandboxState):
    """State and services of one app instance, shared by the gateway and the handlers.

    Raises:
        ValueError: empty credentials/organisation, bad limits, or not a practice database.
        FileNotFoundError: the practice database does not exist.
    """

    def __init__(self, practice_db: str | Path, settings: AscendSettings):
        if not (settings.client_id and settings.client_secret and settings.organization_id):
            raise ValueError("client_id, client_secret and organization_id must be non-empty strings")
        if settings.page_size_max < 1 or not 1 <= settings.default_page_size <= settings.page_size_max:
            raise ValueError("page_size_max must be >= 1 and default_page_size within 1..page_size_max")
        if settings.rate_per_second < 1 or settings.daily_limit < 1 or settings.token_ttl_seconds <= 0:
            raise ValueError("rate_per_second, daily_limit and token_ttl_seconds must be positive")
        self.settings = settings
        self.practice = PracticeData(practice_db)
        self.tokens = TokenStore(settings.token_ttl_seconds, clock=settings.clock)
        # Fault rules match paths below /ascend-gateway; "/v1/patients" is short for "/api/v1/patients".
        super().__init__(RateLimiter(burst_limit=settings.rate_per_second, window_seconds=1.0,
                                     daily_budget=settings.daily_limit, clock=settings.clock), path_alias("/v1", "/api/v1"))

    def release(self) -> None:
        """Close the practice connection (once, from ``close``)."""
        self.practice.close()
