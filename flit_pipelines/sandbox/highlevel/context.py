"""Everything one HighLevel sandbox app holds: settings, SQLite state, limiter, faults, counters.

Reused from the Pipedrive sandbox: ``FaultInjector`` (fault rules), ``RequestStats`` (counters)
and ``RateLimiter`` (rolling burst window + daily budget). HighLevel's limits (notes §2) map onto
it as: key = location id, cost = 1 request, search window = the burst window, daily budget =
``daily_limit`` requests per UTC day (the vendor's day boundary is UNCONFIRMED).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flit_pipelines.sandbox.highlevel.store import ID_LENGTH, HighLevelStore
from flit_pipelines.sandbox.highlevel.validation import bundled_validators
from flit_pipelines.sandbox.pipedrive.context import RequestStats
from flit_pipelines.sandbox.pipedrive.faults import FaultInjector
from flit_pipelines.sandbox.pipedrive.ratelimit import RateLimiter

DEFAULT_USERS = [{"name": "Sandbox Admin", "firstName": "Sandbox", "lastName": "Admin",
                  "email": "admin@sandbox.example"}]


@dataclass(frozen=True)
class HighLevelSettings:
    """Knobs of ``create_app`` (see its docstring)."""

    token: str
    location_id: str = "loc_sandbox"
    agency_token: str | None = None
    burst_limit: int = 100
    window_seconds: float = 10.0
    daily_limit: int = 200_000
    validate: bool = True
    allow_duplicate_contact: bool = False
    duplicate_priority: tuple[str, ...] = ("email", "phone")


class HighLevelContext:
    """State and services of one app instance, shared by the gateway and the handlers.

    Raises:
        ValueError: empty token/location, invalid limits or duplicate priority, malformed users.
    """

    def __init__(self, state_path: str | Path, settings: HighLevelSettings, users: list[dict[str, Any]] | None):
        if not settings.token or not settings.location_id:
            raise ValueError("token and location_id must be non-empty strings")
        if settings.agency_token is not None and (not settings.agency_token or settings.agency_token == settings.token):
            raise ValueError("agency_token must be a non-empty string different from token")
        if not settings.duplicate_priority or set(settings.duplicate_priority) - {"email", "phone"}:
            raise ValueError("duplicate_priority must be a sequence of 'email'/'phone'")
        self.settings = settings
        self.limiter = RateLimiter(burst_limit=settings.burst_limit, search_burst_limit=settings.burst_limit,
                                   window_seconds=settings.window_seconds, daily_budget=settings.daily_limit)
        self.store = HighLevelStore(state_path)
        self._seed_users(users)
        day, _, used = (self.store.get_meta("daily_used") or "").partition("|")
        if used.isdigit():
            self.limiter.restore_usage(day, int(used))
        self.validators = bundled_validators() if settings.validate else {}
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self._closed = False

    def _seed_users(self, users: list[dict[str, Any]] | None) -> None:
        if users is None and self.store.list("user"):
            return
        for raw in users if users is not None else DEFAULT_USERS:
            if not isinstance(raw, dict) or not isinstance(raw.get("email"), str):
                raise ValueError("each user needs at least an 'email' string")
            user = {
                "id": raw.get("id") or _user_id(raw["email"]),
                "name": raw.get("name") or f"{raw.get('firstName', '')} {raw.get('lastName', '')}".strip(),
                "firstName": raw.get("firstName", ""),
                "lastName": raw.get("lastName", ""),
                "email": raw["email"],
                "phone": raw.get("phone", ""),
                "extension": raw.get("extension", ""),
                "permissions": raw.get("permissions", {}),
                "roles": {"type": "account", "role": raw.get("role", "admin"),
                          "locationIds": [self.settings.location_id], "restrictSubAccount": False},
                "deleted": bool(raw.get("deleted", False)),
            }
            self.store.upsert("user", user)

    def close(self) -> None:
        """Persist today's request count and close the state file; idempotent."""
        if self._closed:
            return
        self._closed = True
        day, used = self.limiter.used_today
        self.store.set_meta("daily_used", f"{day}|{used}")
        self.store.close()


def _user_id(email: str) -> str:
    """Stable id for a user fixture without one, so re-seeding on restart is idempotent."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:ID_LENGTH]
