"""Everything one sandbox app instance holds: settings, state, limits, faults and counters.

Limits, faults and counters are the kernel's; the limiter is keyed by API token and charges each
request its ``x-token-cost`` (``ratelimit``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flit_sandboxes.kernel.faults import path_alias
from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState
from flit_sandboxes.pipedrive import fixtures
from flit_sandboxes.pipedrive.clock import now_v2
from flit_sandboxes.pipedrive.custom_fields import FieldRegistry
from flit_sandboxes.pipedrive.ratelimit import TokenCosts
from flit_sandboxes.pipedrive.store import SandboxStore
from flit_sandboxes.pipedrive.validation import bundled_validators

# The legacy /v1/... alias is served as /api/v1/... (notes §1); fault rules match that form too.
canonical_path = path_alias("/v1", "/api/v1")


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
    clock: Callable[[], float] = time.monotonic


class SandboxContext(SandboxState):
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
        super().__init__(RateLimiter(burst_limit=settings.burst_limit, window_seconds=settings.window_seconds,
                                     daily_budget=settings.daily_budget,
                                     search_burst_limit=settings.search_burst_limit, clock=settings.clock),
                         canonical_path)
        self.limiter.load_usage(self.store.get_meta("budget_used"))

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
    def release(self) -> None:
        """Persist today's token spending and close the state file (once, from ``close``)."""
        self.store.set_meta("budget_used", self.limiter.dump_usage())
        self.store.close()
