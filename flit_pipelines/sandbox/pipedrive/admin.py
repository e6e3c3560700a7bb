"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of the vendor API).

They need the same API token as the API, are not rate limited, not counted in the request
statistics and never faulted:

- ``POST /__sandbox/faults``   register a fault rule (body: see ``FaultInjector.add``) -> the rule
- ``GET /__sandbox/faults``    pending rules
- ``DELETE /__sandbox/faults`` remove all rules
- ``GET /__sandbox/stats``     request counters, 429s sent, faults fired, records per kind,
  current rate-limit state
- ``POST /__sandbox/reset-rate-limits`` forget burst windows and today's token spending
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_pipelines.sandbox.pipedrive.context import SandboxContext
from flit_pipelines.sandbox.pipedrive.errors import json_response

PREFIX = "/__sandbox"


def _ctx(request: Request) -> SandboxContext:
    return request.app.state.sandbox


async def add_fault(request: Request) -> Response:
    try:
        spec = json.loads(await request.body() or b"null")
        rule = _ctx(request).faults.add(spec)
    except ValueError as error:  # includes JSONDecodeError
        return json_response({"success": False, "error": str(error)}, status=400)
    return json_response({"success": True, "data": rule.as_dict()})


async def list_faults(request: Request) -> Response:
    return json_response({"success": True, "data": _ctx(request).faults.list()})


async def clear_faults(request: Request) -> Response:
    _ctx(request).faults.clear()
    return json_response({"success": True, "data": None})


async def stats(request: Request) -> Response:
    ctx = _ctx(request)
    snapshot = ctx.limiter.snapshot(ctx.settings.token)
    data = {
        **ctx.stats.snapshot(),
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
    return json_response({"success": True, "data": data})


async def reset_rate_limits(request: Request) -> Response:
    _ctx(request).limiter.reset()
    return json_response({"success": True, "data": None})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return [
        Route(f"{PREFIX}/faults", add_fault, methods=["POST"]),
        Route(f"{PREFIX}/faults", list_faults, methods=["GET"]),
        Route(f"{PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{PREFIX}/reset-rate-limits", reset_rate_limits, methods=["POST"]),
    ]
