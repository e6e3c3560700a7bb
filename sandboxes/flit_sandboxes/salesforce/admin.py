"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of the Salesforce API).

They need a valid bearer token from the token endpoint; no limits, faults or stats. Kernel ones
(``kernel.admin``): ``POST/GET/DELETE /__sandbox/faults`` (``path_prefix`` below ``/services/data/vXX.X``, e.g.
``/jobs/ingest``, or ``/services/oauth2/token``), ``GET /__sandbox/stats``, ``POST /__sandbox/reset-rate-limits``
(also resets the Bulk counters). Salesforce ones (bodies in ``rules``), each answering
``{"success": true, "data": ...}`` or 400 ``{"success": false, "error"}``:

- ``POST /__sandbox/row-faults`` ``{"object", "count"=1, "errorCode"="UNABLE_TO_LOCK_ROW", "message"?, "field"?,
  "values"?}``; ``GET``/``DELETE`` list/clear.
- ``POST /__sandbox/job-faults`` ``{"object"?, "count"=1, "in_progress_polls"?, "fail"?}``; ``GET``/``DELETE``.
- ``POST /__sandbox/validation-rules`` ``{"object", "field", "pattern"?, "required"?, "message"}``; ``GET``/``DELETE``.
- ``POST /__sandbox/expire-tokens`` [``{"access_token"}``] -> ``{"expired": n}`` (all tokens, or just that one).
- ``POST /__sandbox/api-usage`` ``{"used": n}``: set today's DailyApiRequests usage (limit tests).

``GET /__sandbox/stats`` adds ``records`` (live rows per object), ``limits`` (the ``/limits`` body),
``tokens_issued``, ``bulk_jobs`` (ingest jobs per state).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.kernel.admin import PREFIX, admin_routes
from flit_sandboxes.kernel.responses import json_response
from flit_sandboxes.salesforce.routes_auth import limits_body


def _stats(ctx: Any) -> dict[str, Any]:
    with ctx.tables.lock:
        records = {o.name: ctx.tables.count(o.name) for o in ctx.schema if ctx.tables.count(o.name)}
    return {"records": records, "limits": limits_body(ctx), "tokens_issued": ctx.tokens.issued,
            "bulk_jobs": dict(Counter(j["state"] for j in list(ctx.ingest.jobs.values())))}


def _registry_routes(name: str, attribute: str) -> list[Route]:
    async def add(request: Request) -> Response:
        try:
            rule = getattr(request.app.state.sandbox, attribute).add(json.loads(await request.body() or b"null"))
        except ValueError as error:
            return json_response({"success": False, "error": str(error)}, status=400)
        return json_response({"success": True, "data": rule})

    async def listing(request: Request) -> Response:
        return json_response({"success": True, "data": getattr(request.app.state.sandbox, attribute).list()})

    async def clear(request: Request) -> Response:
        getattr(request.app.state.sandbox, attribute).clear()
        return json_response({"success": True, "data": None})

    path = f"{PREFIX}/{name}"
    return [Route(path, add, methods=["POST"]), Route(path, listing, methods=["GET"]),
            Route(path, clear, methods=["DELETE"])]


async def expire_tokens(request: Request) -> Response:
    """``POST /__sandbox/expire-tokens`` (optional body ``{"access_token": "..."}``: only that one)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    only = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(body, dict) or (only is not None and not isinstance(only, str)):
        return json_response({"success": False, "error": "body must be {} or {\"access_token\": \"...\"}"},
                             status=400)
    return json_response({"success": True, "data": {"expired": request.app.state.sandbox.tokens.expire_all(only)}})


async def api_usage(request: Request) -> Response:
    """``POST /__sandbox/api-usage`` ``{"used": n}``."""
    ctx = request.app.state.sandbox
    try:
        used = json.loads(await request.body() or b"null").get("used")
        if not isinstance(used, int) or isinstance(used, bool) or used < 0:
            raise ValueError
    except (ValueError, AttributeError):
        return json_response({"success": False, "error": "body must be {\"used\": <integer >= 0>}"}, status=400)
    day, _ = ctx.limiter.used_today
    ctx.limiter.restore_usage(day, used)
    return json_response({"success": True, "data": {"used": used}})


async def reset_limits(request: Request) -> Response:
    """``POST /__sandbox/reset-rate-limits`` (kernel behaviour + the Bulk counters)."""
    ctx = request.app.state.sandbox
    ctx.limiter.reset()
    ctx.batches.reset()
    ctx.query_jobs_counter.reset()
    return json_response({"success": True, "data": None})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints (ours first, so reset-rate-limits is the extended one)."""
    extra = [*_registry_routes("row-faults", "row_faults"), *_registry_routes("job-faults", "job_faults"),
             *_registry_routes("validation-rules", "rules"),
             Route(f"{PREFIX}/expire-tokens", expire_tokens, methods=["POST"]),
             Route(f"{PREFIX}/api-usage", api_usage, methods=["POST"])]
    return [Route(f"{PREFIX}/reset-rate-limits", reset_limits, methods=["POST"]), *admin_routes(_stats, *extra)]
