"""Everything one HighLevel sandbox app holds: settings, SQLite state, limiter, faults, counters.

Faults, counters and the limiter are the kernel's. HighLevel's limits (notes §2) map onto the
``RateLimiter`` as: key = location id, cost = 1 request, no search window, daily budget =
``daily_limit`` requests per UTC day (the vendor's day boundary is UNCONFIRMED).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flit_sandboxes.highlevel.store import ID_LENGTH, HighLevelStore
from flit_sandboxes.highlevel.validation import bundled_validators
from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState

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
    allow_duplicate_opportunity: bool = False
    company_id: str = "company_sandbox"
    timezone: str = "UTC"
    location_name: str = "Sandbox Clinic"
    clock: Callable[[], float] = time.monotonic


class HighLevelContext(SandboxState):
    """State and services of one app instance, shared by the gateway and the handlers.

    Raises:
        ValueError: empty token/location, invalid limits or duplicate priority, malformed users.
    """

    def __init__(self, state_path: str | Path, settings: HighLevelSettings, users: list[dict[str, Any]] | None,
                 pipelines: list[dict[str, Any]] | None = None):
        if not settings.token or not settings.location_id:
            raise ValueError("token and location_id must be non-empty strings")
        if settings.agency_token is not None and (not settings.agency_token or settings.agency_token == settings.token):
            raise ValueError("agency_token must be a non-empty string different from token")
        if not settings.duplicate_priority or set(settings.duplicate_priority) - {"email", "phone"}:
            raise ValueError("duplicate_priority must be a sequence of 'email'/'phone'")
        if not settings.company_id or not settings.timezone:
            raise ValueError("company_id and timezone must be non-empty strings")
        seeded_pipelines = [_pipeline(raw, settings.location_id) for raw in pipelines or []]
        self.settings = settings
        super().__init__(RateLimiter(burst_limit=settings.burst_limit, window_seconds=settings.window_seconds,
                                     daily_budget=settings.daily_limit, clock=settings.clock))
        self.store = HighLevelStore(state_path)
        self._seed_users(users)
        for pipeline in seeded_pipelines:
            self.store.upsert("pipeline", pipeline)
        self.limiter.load_usage(self.store.get_meta("daily_used"))
        self.validators = bundled_validators() if settings.validate else {}

    def _seed_users(self, users: list[dict[str, Any]] | None) -> None:
        if users is None and self.store.list("user"):
            return
        for raw in users if users is not None else DEFAULT_USERS:
            if not isinstance(raw, dict) or not isinstance(raw.get("email"), str):
                raise ValueError("each user needs at least an 'email' string")
            user = {
                "id": raw.get("id") or _stable_id(raw["email"]),
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

    def release(self) -> None:
        """Persist today's request count and close the state file (once, from ``close``)."""
        self.store.set_meta("daily_used", self.limiter.dump_usage())
        self.store.close()


def _pipeline(raw: Any, location_id: str) -> dict[str, Any]:
    """A stored ``pipeline`` document from a ``pipelines`` entry (see ``create_app``).

    Ids are derived from the names unless given, so re-seeding on restart is idempotent: the
    pipeline id is 20 hex characters, stage ids are UUIDs (the spec's examples:
    ``"VDm7RPYC2GLUvdpKmBfC"`` / ``"7915dedc-8f18-44d5-8bc3-77c04e994a10"``).

    Raises:
        ValueError: not ``{"name": str, "stages": [str | {"name": str, "id"?: str}, ...]}`` or
            duplicate stage names.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise ValueError("each pipeline needs a non-empty 'name' string")
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages:
        raise ValueError(f"pipeline {raw['name']!r} needs a non-empty 'stages' list")
    pipeline_id = raw.get("id") or _stable_id(f"pipeline:{raw['name']}")
    rendered: list[dict[str, Any]] = []
    for position, stage in enumerate(stages):
        stage = {"name": stage} if isinstance(stage, str) else stage
        if not isinstance(stage, dict) or not isinstance(stage.get("name"), str) or not stage["name"].strip():
            raise ValueError(f"pipeline {raw['name']!r}: each stage is a name or {{'name': ..., 'id'?: ...}}")
        if any(existing["name"] == stage["name"] for existing in rendered):
            raise ValueError(f"pipeline {raw['name']!r}: duplicate stage name {stage['name']!r}")
        rendered.append({"id": stage.get("id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pipeline_id}:{stage['name']}")),
                         "name": stage["name"], "position": position, "showInFunnel": True, "showInPieChart": True})
    return {"id": pipeline_id, "name": raw["name"], "stages": rendered, "showInFunnel": True,
            "showInPieChart": True, "locationId": location_id}


def _stable_id(text: str) -> str:
    """Stable id for a seeded user/pipeline without one, so re-seeding on restart is idempotent."""
    return hashlib.sha256(text.lower().encode()).hexdigest()[:ID_LENGTH]
