"""Sandbox-only admin endpoints under ``/__sandbox/`` (the kernel's, ``kernel.admin``).

Same API token as the API. ``GET /__sandbox/stats`` adds to the kernel's counters:
``entities`` (``{kind: {"active": n, "deleted": m}}``) and ``rate_limits`` (burst and search
limits, window, burst requests left, daily token budget and what is left of it).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from flit_sandboxes.kernel.admin import admin_routes
from flit_sandboxes.pipedrive.context import SandboxContext


def _stats(ctx: SandboxContext) -> dict[str, Any]:
    snapshot = ctx.limiter.snapshot(ctx.settings.token)
    return {
        "entities": ctx.store.count_records(),
        "rate_limits": {
            "burst_limit": ctx.settings.burst_limit,
            "search_burst_limit": ctx.settings.search_burst_limit,
            "window_seconds": ctx.settings.window_seconds,
            "burst_remaining": snapshot.remaining,
            "daily_budget": snapshot.daily_limit,
            "daily_remaining": snapshot.daily_remaining,
        },
    }


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return admin_routes(_stats)
