"""Everything one FHIR sandbox app holds: settings, the state file, export jobs, tokens, limits, faults.

Limits (a FHIR server's own choice; none is standard): ``rate_per_second`` requests per rolling
second per access token (or per client address for unauthenticated discovery), over it 429 with
``Retry-After`` and an OperationOutcome (``throttled``). Tokens issued by the SMART token endpoint
live ``token_ttl_seconds``; ``expire_tokens_after`` (admin) makes every issued token expire after
that many more API requests, so a test can have a token die in the middle of an export.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flit_sandboxes.fhir.jobs import Jobs
from flit_sandboxes.fhir.store import FhirStore
from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState
from flit_sandboxes.kernel.tokens import TokenStore

log = logging.getLogger("flit_sandboxes.fhir")

UNLIMITED_DAILY = 10 ** 12
DEFAULT_ADMIN_TOKEN = "fhir-sandbox-admin"
LOADED_AGE_SECONDS = 86_400.0


@dataclass(frozen=True)
class FhirSettings:
    """Knobs of ``create_app`` (see its docstring)."""

    data_dir: Path | None = None
    token: str | None = None
    admin_token: str = DEFAULT_ADMIN_TOKEN
    clients: dict[str, Any] = field(default_factory=dict)  # client_id -> JWKS dict
    token_ttl_seconds: float = 300.0
    export_delay_seconds: float = 1.0
    retry_after_seconds: int = 1
    file_resources: int = 50_000
    rate_per_second: float = 50.0
    page_size_default: int = 50
    page_size_max: int = 1000
    bulk: bool = True


class FhirContext(SandboxState):
    """State and services of one app instance, shared by the gateway and the handlers.

    Opens (or creates) the state file and loads ``settings.data_dir`` into it once (a file that
    already holds resources is served as is).

    Raises:
        ValueError: a bad data directory or an unreadable resource line in it; bad limits.
    """

    def __init__(self, state_path: str | Path, settings: FhirSettings):
        if settings.rate_per_second <= 0 or settings.page_size_default < 1:
            raise ValueError("rate_per_second and page sizes must be positive")
        limit = max(1, round(settings.rate_per_second))
        super().__init__(RateLimiter(burst_limit=limit, window_seconds=1.0, daily_budget=UNLIMITED_DAILY))
        self.settings = settings
        self.store = FhirStore(state_path)
        try:
            if self.store.loaded() is None and settings.data_dir is not None:
                # stamped a day before the sandbox started, as resources a server has held for a while;
                # an edit through the admin endpoint is then always newer than anything loaded
                counts = self.store.load_directory(settings.data_dir, time.time() - LOADED_AGE_SECONDS)
                log.info("loaded %d resources of %d types", sum(counts.values()), len(counts))
        except BaseException:
            self.store.close()
            raise
        self.jobs = Jobs(self.store, Path(state_path).parent / (Path(state_path).stem + "-exports"),
                         delay=settings.export_delay_seconds, file_resources=settings.file_resources)
        self.tokens = TokenStore(settings.token_ttl_seconds)
        self.jti_seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._expire_after: int | None = None
        self.counters = {"tokens_issued": 0, "assertions_refused": 0, "search_pages": 0}

    def expire_tokens_after(self, requests: int) -> None:
        """Every issued token expires once ``requests`` more API requests have been authenticated."""
        with self._lock:
            self._expire_after = requests

    def authenticated(self) -> None:
        """Count one authenticated API request toward ``expire_tokens_after``."""
        with self._lock:
            if self._expire_after is None:
                return
            self._expire_after -= 1
            if self._expire_after < 0:
                self._expire_after = None
                self.tokens.expire_all()

    def first_use_of(self, jti: str, expires: float, horizon: float) -> bool:
        """Record an assertion's ``jti`` until it ``expires``; False when it was seen before (a replay).
        Entries that expired before ``horizon`` are forgotten."""
        with self._lock:
            self.jti_seen = {j: e for j, e in self.jti_seen.items() if e > horizon}
            if jti in self.jti_seen:
                return False
            self.jti_seen[jti] = expires
            return True

    def count(self, name: str, n: int = 1) -> None:
        """Add to one of ``counters``."""
        with self._lock:
            self.counters[name] += n

    def release(self) -> None:
        """Close the state file (once, from ``close``)."""
        self.store.close()
