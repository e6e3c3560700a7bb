"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of any vendor API).

The gateway authenticates them like the API (each vendor's own credentials) and then lets them
through: not rate limited, not counted in the statistics, never faulted. Every answer is
``{"success": true, "data": ...}``; a bad fault body gives 400 ``{"success": false, "error": "<why>"}``.

- ``POST /__sandbox/faults``   register a fault rule (body: ``FaultInjector.add``) -> the rule
- ``GET /__sandbox/faults``    pending rules; ``DELETE /__sandbox/faults`` remove all
- ``GET /__sandbox/stats``     ``RequestStats.snapshot()`` keys, then the vendor's own (records,
  limits, ...)
- ``POST /__sandbox/reset-rate-limits`` forget burst windows and today's spending
- ``GET /__sandbox/requests``  every API request served: start, end, method, route template, status,
  client (User-Agent); ``RequestStats.request_log``

The handlers use ``request.app.state.sandbox`` (a ``SandboxState``: ``faults``, ``stats``, ``limiter``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.kernel.responses import json_response

PREFIX = "/__sandbox"

StatsExtra = Callable[[Any], dict[str, Any] | Awaitable[dict[str, Any]]]


async def add_fault(request: Request) -> Response:
    """``POST /__sandbox/faults``."""
    try:
        spec = json.loads(await request.body() or b"null")
        rule = request.app.state.sandbox.faults.add(spec)
    except ValueError as error:  # includes JSONDecodeError
        return json_response({"success": False, "error": str(error)}, status=400)
    return json_response({"success": True, "data": rule.as_dict()})


async def list_faults(request: Request) -> Response:
    """``GET /__sandbox/faults``."""
    return json_response({"success": True, "data": request.app.state.sandbox.faults.list()})


async def clear_faults(request: Request) -> Response:
    """``DELETE /__sandbox/faults``."""
    request.app.state.sandbox.faults.clear()
    return json_response({"success": True, "data": None})


async def reset_rate_limits(request: Request) -> Response:
    """``POST /__sandbox/reset-rate-limits``."""
    request.app.state.sandbox.limiter.reset()
    return json_response({"success": True, "data": None})


async def request_log(request: Request) -> Response:
    """``GET /__sandbox/requests``."""
    return json_response({"success": True, "data": request.app.state.sandbox.stats.request_log()})


def admin_routes(stats_extra: StatsExtra, *extra: Route) -> list[Route]:
    """The admin routes, plus a vendor's ``extra`` ones.

    Args:
        stats_extra: ``ctx -> {key: value}`` appended to the counters in ``GET /__sandbox/stats``;
            a coroutine function if it must wait (e.g. on a worker thread for slow queries).
    """

    async def stats(request: Request) -> Response:
        ctx = request.app.state.sandbox
        counters = ctx.stats.snapshot()
        more = stats_extra(ctx)
        data = {**counters, **(await more if inspect.isawaitable(more) else more)}
        return json_response({"success": True, "data": data})

    return [
        Route(f"{PREFIX}/faults", add_fault, methods=["POST"]),
        Route(f"{PREFIX}/faults", list_faults, methods=["GET"]),
        Route(f"{PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{PREFIX}/requests", request_log, methods=["GET"]),
        Route(f"{PREFIX}/reset-rate-limits", reset_rate_limits, methods=["POST"]),
        *extra,
    ]
