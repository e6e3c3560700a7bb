"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of the vendor API).

They need the API key (``x-practicehub-key``; no ``x-app-details``), are not rate limited, not
counted and never faulted. All but ``touch`` are the kernel's (``kernel.admin``):

- ``POST /__sandbox/faults``   register a fault rule -> ``{"success": true, "data": rule}``; body
  ``{status?, count=1, path_prefix="/", method?, delay_seconds=0, drop_connection=false, after=0}``
  with ``path_prefix`` like ``/api/patients``
- ``GET /__sandbox/faults``    pending rules; ``DELETE /__sandbox/faults`` remove all
- ``POST /__sandbox/reset-rate-limits`` forget the account's rolling window
- ``GET /__sandbox/stats``     request counters, 429s, faults fired, plus ``resources`` (rows per
  path), ``practice`` (``{"patients", "seed", "counts"}``), ``rate_limits`` and ``pages_served``
  (``"<path>?page=N&page_size=M[&updated=...]" -> times served``: the proof that no page was
  requested twice)
- ``POST /__sandbox/touch``    body ``{"resource": "patients", "ids": [1, 2], "updated_at"?: ISO}``:
  set those rows' ``updated_at`` (default: now, UTC seconds) to simulate edits for delta tests ->
  ``{"success": true, "data": {"updated": <rows>, "updated_at": "<ts>"}}``; 400 on a bad body
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.kernel.admin import PREFIX, admin_routes
from flit_sandboxes.kernel.responses import json_response
from flit_sandboxes.practicehub.context import PracticeHubContext
from flit_sandboxes.practicehub.resources import BY_NAME
from flit_sandboxes.practicehub.routes import to_timestamp


def _stats(ctx: PracticeHubContext) -> dict[str, Any]:
    """What ``GET /__sandbox/stats`` adds to the kernel's counters (module docstring)."""
    settings = ctx.settings
    snapshot = ctx.limiter.snapshot(settings.account)
    return {
        "resources": ctx.store.counts(),
        "practice": ctx.practice,
        "rate_limits": {"account": settings.account, "rate_per_second": settings.rate_per_second,
                        "remaining_in_window": snapshot.remaining},
        "page_size_max": settings.page_size_max,
        "pages_served": ctx.pages.snapshot(),
    }


def _bad(message: str) -> Response:
    return json_response({"success": False, "error": message}, status=400)


async def touch(request: Request) -> Response:
    """``POST /__sandbox/touch`` (module docstring)."""
    ctx: PracticeHubContext = request.app.state.sandbox
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _bad("body must be JSON")
    if not isinstance(body, dict) or body.get("resource") not in BY_NAME:
        return _bad(f"resource must be one of {sorted(BY_NAME)}")
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return _bad("ids must be a list of integers")
    try:
        stamp = to_timestamp(body["updated_at"]) if body.get("updated_at") else \
            datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return _bad("updated_at must be an ISO 8601 timestamp")
    changed = await run_in_threadpool(ctx.store.touch, BY_NAME[body["resource"]], ids, stamp)
    return json_response({"success": True, "data": {"updated": changed, "updated_at": stamp}})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return admin_routes(_stats, Route(f"{PREFIX}/touch", touch, methods=["POST"]))
