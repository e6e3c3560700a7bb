"""Sandbox-only admin endpoints under ``/__sandbox/`` (the kernel's, ``kernel.admin``).

Same bearer (sub-account) token as the API. ``GET /__sandbox/stats`` adds to the kernel's
counters: ``documents`` (``{kind: n}``) and ``rate_limits`` (location, burst limit, window,
burst requests left, daily limit and what is left of it).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from flit_sandboxes.highlevel.context import HighLevelContext
from flit_sandboxes.kernel.admin import admin_routes


def _stats(ctx: HighLevelContext) -> dict[str, Any]:
    settings = ctx.settings
    snapshot = ctx.limiter.snapshot(settings.location_id)
    return {
        "documents": ctx.store.counts(),
        "rate_limits": {
            "location_id": settings.location_id,
            "burst_limit": settings.burst_limit,
            "window_seconds": settings.window_seconds,
            "burst_remaining": snapshot.remaining,
            "daily_limit": snapshot.daily_limit,
            "daily_remaining": snapshot.daily_remaining,
        },
    }


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return admin_routes(_stats)
