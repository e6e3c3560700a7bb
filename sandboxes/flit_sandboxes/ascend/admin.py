"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of the vendor API).

They need a valid bearer token from the token endpoint (no ``Organization-ID``), are not rate
limited, not counted and never faulted. All but ``expire-tokens`` are the kernel's (``kernel.admin``):

- ``POST /__sandbox/faults``   register a fault rule -> ``{"success": true, "data": rule}``; body
  ``{status?, count=1, path_prefix="/", method?, delay_seconds=0, drop_connection=false, after=0}``;
  ``path_prefix`` is below ``/ascend-gateway`` (``/v1/patients`` or ``/api/v1/patients``), or
  ``/oauth/`` for the token endpoint
- ``GET /__sandbox/faults``    pending rules; ``DELETE /__sandbox/faults`` remove all
- ``POST /__sandbox/reset-rate-limits`` forget the rolling window and today's count
- ``POST /__sandbox/expire-tokens`` make every issued access token expired (refresh tests)
- ``GET /__sandbox/stats``     request counters, 429s, faults fired, tokens issued, rows per resource,
  limits
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.ascend.context import AscendContext
from flit_sandboxes.ascend.errors import json_response
from flit_sandboxes.kernel.admin import PREFIX, admin_routes


async def _stats(ctx: AscendContext) -> dict[str, Any]:
    """What ``GET /__sandbox/stats`` adds to the kernel's counters (module docstring)."""
    settings = ctx.settings
    snapshot = ctx.limiter.snapshot(settings.client_id)
    return {
        "tokens_issued": ctx.tokens.issued,
        "tokens_active": ctx.tokens.active(),
        "resources": await run_in_threadpool(ctx.practice.counts),
        "rate_limits": {
            "rate_per_second": settings.rate_per_second,
            "remaining_this_second": snapshot.remaining,
            "daily_limit": snapshot.daily_limit,
            "daily_remaining": snapshot.daily_remaining,
        },
        "page_size_max": settings.page_size_max,
    }


async def expire_tokens(request: Request) -> Response:
    """``POST /__sandbox/expire-tokens``: every issued token now answers 401 expired."""
    ctx: AscendContext = request.app.state.sandbox
    return json_response({"success": True, "data": {"expired": ctx.tokens.expire_all()}})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return admin_routes(_stats, Route(f"{PREFIX}/expire-tokens", expire_tokens, methods=["POST"]))
