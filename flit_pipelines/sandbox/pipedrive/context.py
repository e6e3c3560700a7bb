"""Everything one sandbox app instance holds: settings, state, limits, faults and counters."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flit_pipelines.sandbox.pipedrive import fixtures
from flit_pipelines.sandbox.pipedrive.clock import now_v2
from flit_pipelines.sandbox.pipedrive.custom_fields import FieldRegistry
from flit_pipelines.sandbox.pipedrive.faults import FaultInjector
from flit_pipelines.sandbox.pipedrive.ratelimit import RateLimiter, TokenCosts
from flit_pipelines.sandbox.pipedrive.store import SandboxStore
from flit_pipelines.sandbox.pipedrive.validation import bundled_validators


@dataclass(frozen=True)
class SandboxSettings:
    """Knobs of ``create_app`` (see its docstring for units and defaults)."""

    token: str
    burst_limit: int = 40
    search_burst_limit: int = 10
    window_seconds: float = 2.0
    daily_budget: int = 1_000_000
    file_size_limit: int = 50 * 1024 * 1024
    validate: bool = True


class RequestStats:
    """Counters for ``GET /__sandbox/stats``; thread-safe. Paths are route templates, never raw
    paths or query strings (those can carry patient data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.rate_limited = 0
        self.faults_injected = 0

    def request(self, method: str, template: str) -> None:
        """Count one request to route ``template`` (``"<unmatched>"`` for unknown paths)."""
        with self._lock:
            self.by_path[template] += 1
            self.by_operation[f"{method} {template}"] += 1

    def status(self, status: int) -> None:
        """Count one response status."""
        with self._lock:
            self.by_status[status] += 1

    def limited(self) -> None:
        """Count one 429 sent by the rate limiter (injected 429s count as faults)."""
        with self._lock:
            self.rate_limited += 1

    def fault(self) -> None:
        """Count one request hit by an injected fault."""
        with self._lock:
            self.faults_injected += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy of all counters."""
        with self._lock:
            return {
                "requests_total": sum(self.by_path.values()),
                "requests_by_path": dict(self.by_path),
                "requests_by_operation": dict(self.by_operation),
                "responses_by_status": {str(key): value for key, value in self.by_status.items()},
                "rate_limited_429": self.rate_limited,
                "faults_injected": self.faults_injected,
            }


class SandboxContext:
    """State and services of one app instance, shared by the gateway and the handlers.

    Opening the context seeds a new state file (users, standard fields, default pipeline) and
    restores today's token spending from an existing one.

    Raises:
        ValueError: invalid settings or user fixtures.
    """

    def __init__(self, state_path: str | Path, settings: SandboxSettings, users: list[dict[str, Any]] | None):
        if not settings.token:
            raise ValueError("token must be a non-empty string")
        self.settings = settings
        self.store = SandboxStore(state_path)
        self._seed_users(users)
        self.fields = FieldRegistry(self.store)
        self._seed_default_pipeline()
        self.validators = bundled_validators()
        self.costs = TokenCosts(self.validators)
        self.limiter = RateLimiter(
            burst_limit=settings.burst_limit,
            search_burst_limit=settings.search_burst_limit,
            window_seconds=settings.window_seconds,
            daily_budget=settings.daily_budget,
        )
        day, _, used = (self.store.get_meta("budget_used") or "").partition("|")
        if used.isdigit():
            self.limiter.restore_usage(day, int(used))
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self._closed = False

    # ----------------------------------------------------------------- seeding
    def _seed_users(self, users: list[dict[str, Any]] | None) -> None:
        existing = self.store.list_users()
        if users is not None or not existing:
            fixture = fixtures.normalise_users(users)
            self.store.upsert_users(fixture)
            self.store.set_meta("me_user_id", str(fixture[0]["id"]))
        self.users = {user["id"]: user for user in self.store.list_users()}
        self.me_id = int(self.store.get_meta("me_user_id") or min(self.users))

    def _seed_default_pipeline(self) -> None:
        if self.store.get_meta("default_pipeline_seeded"):
            return
        stamp = now_v2()
        pipeline = self.store.insert_record("pipeline", {
            "name": fixtures.DEFAULT_PIPELINE, "order_nr": 1, "is_deleted": False,
            "is_deal_probability_enabled": False, "add_time": stamp, "update_time": stamp,
        })
        for order, name in enumerate(fixtures.DEFAULT_STAGES, start=1):
            self.store.insert_record("stage", {
                "name": name, "order_nr": order, "is_deleted": False, "deal_probability": 100,
                "pipeline_id": pipeline["id"], "is_deal_rot_enabled": False, "days_to_rotten": None,
                "add_time": stamp, "update_time": stamp,
            })
        self.store.set_meta("default_pipeline_seeded", "1")

    # ----------------------------------------------------------------- lookups
    def exists(self, kind: str, record_id: int) -> bool:
        """True if a live record (or a user) with this id exists."""
        if kind == "user":
            return record_id in self.users
        return self.store.get_record(kind, record_id) is not None

    # --------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Persist today's token spending and close the state file; idempotent."""
        if self._closed:
            return
        self._closed = True
        day, used = self.limiter.used_today
        self.store.set_meta("budget_used", f"{day}|{used}")
        self.store.close()
