"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of the vendor API).

Same bearer token as the API; not rate limited, not counted, never faulted. The fault and
rate-limit handlers are the Pipedrive sandbox's (they only use ``ctx.faults``/``ctx.limiter``):

- ``POST /__sandbox/faults``   register a fault rule -> ``{"success": true, "data": rule}``; body
  ``{status?, count=1, path_prefix="/", method?, delay_seconds=0, drop_connection=false, after=0}``
- ``GET /__sandbox/faults``    pending rules; ``DELETE /__sandbox/faults`` remove all
- ``POST /__sandbox/reset-rate-limits`` forget burst windows and today's count
- ``GET /__sandbox/stats``     request counters, 429s, faults fired, documents per kind, limits
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_pipelines.sandbox.highlevel.context import HighLevelContext
from flit_pipelines.sandbox.highlevel.errors import json_response
from flit_pipelines.sandbox.pipedrive.admin import PREFIX, add_fault, clear_faults, list_faults, reset_rate_limits


async def stats(request: Request) -> Response:
    ctx: HighLevelContext = request.app.state.sandbox
    settings = ctx.settings
    snapshot = ctx.limiter.snapshot(settings.location_id)
    data = {
        **ctx.stats.snapshot(),
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
    return json_response({"success": True, "data": data})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return [
        Route(f"{PREFIX}/faults", add_fault, methods=["POST"]),
        Route(f"{PREFIX}/faults", list_faults, methods=["GET"]),
        Route(f"{PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{PREFIX}/reset-rate-limits", reset_rate_limits, methods=["POST"]),
    ]
