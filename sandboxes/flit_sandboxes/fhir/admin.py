"""Sandbox-only admin endpoints under ``/__sandbox/`` (not part of FHIR), with the admin token.

The kernel's (``kernel.admin``): faults, stats, reset-rate-limits. This sandbox adds:

- ``PATCH /__sandbox/resources/{type}/{id}``  body: a JSON merge patch (RFC 7386) -> the edited
  resource (``meta.versionId`` and ``meta.lastUpdated`` bumped: what a delta read picks up); 404 unknown
- ``DELETE /__sandbox/resources/{type}/{id}`` tombstone it (exports with ``_since`` list it in
  ``deleted``; reads answer 410) -> ``{"deleted": true}``; 404 unknown
- ``POST /__sandbox/export-errors``  ``{"resources": ["Patient/<id>", ...], "unattributed": 0}``: from
  now on exports put those resources in the error file instead of the output, plus ``unattributed``
  errors naming no resource (``{"resources": []}`` clears)
- ``POST /__sandbox/fail-exports``  ``{"count": 1}``: the next kicked-off jobs fail
- ``POST /__sandbox/tokens/expire``  ``{"after_requests": 0}``: every issued token expires after that
  many more authenticated API requests (a token dying mid-export)
- ``GET /__sandbox/stats`` adds ``resources`` (live per type), ``exports`` (kicked off, completed,
  failed, deleted, files served, active), ``tokens_issued``, ``assertions_refused``, ``search_pages``
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.fhir.context import FhirContext
from flit_sandboxes.kernel.admin import PREFIX, admin_routes
from flit_sandboxes.kernel.responses import json_response


def _stats(ctx: FhirContext) -> dict[str, Any]:
    return {"resources": ctx.store.types(), "exports": {**ctx.jobs.counters, "active": ctx.jobs.active()},
            **ctx.counters}


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"success": False, "error": message}, status=status)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


async def edit(request: Request) -> Response:
    """``PATCH /__sandbox/resources/{type}/{id}``."""
    ctx: FhirContext = request.app.state.sandbox
    patch = await _body(request)
    if not isinstance(patch, dict):
        return _bad("body must be a JSON object (a merge patch)")
    res = await run_in_threadpool(ctx.store.update, request.path_params["type"], request.path_params["id"], patch,
                                  time.time())
    return _bad("resource not found", 404) if res is None else json_response({"success": True, "data": res})


async def remove(request: Request) -> Response:
    """``DELETE /__sandbox/resources/{type}/{id}``."""
    ctx: FhirContext = request.app.state.sandbox
    done = await run_in_threadpool(ctx.store.delete, request.path_params["type"], request.path_params["id"],
                                   time.time())
    return json_response({"success": True, "data": {"deleted": True}}) if done else _bad("resource not found", 404)


async def export_errors(request: Request) -> Response:
    """``POST /__sandbox/export-errors``."""
    ctx: FhirContext = request.app.state.sandbox
    body = await _body(request)
    refs = body.get("resources") if isinstance(body, dict) else None
    loose = body.get("unattributed", 0) if isinstance(body, dict) else None
    if not isinstance(refs, list) or not all(isinstance(r, str) and "/" in r for r in refs) \
            or not isinstance(loose, int) or loose < 0:
        return _bad('body must be {"resources": ["Type/id", ...], "unattributed": n}')
    ctx.jobs.error_resources = set(refs)
    ctx.jobs.unattributed_errors = loose
    return json_response({"success": True, "data": {"resources": sorted(refs), "unattributed": loose}})


async def fail_exports(request: Request) -> Response:
    """``POST /__sandbox/fail-exports``."""
    ctx: FhirContext = request.app.state.sandbox
    body = await _body(request)
    count = body.get("count", 1) if isinstance(body, dict) else None
    if not isinstance(count, int) or count < 0:
        return _bad('body must be {"count": n}')
    ctx.jobs.fail_next = count
    return json_response({"success": True, "data": {"count": count}})


async def expire_tokens(request: Request) -> Response:
    """``POST /__sandbox/tokens/expire``."""
    ctx: FhirContext = request.app.state.sandbox
    body = await _body(request)
    after = body.get("after_requests", 0) if isinstance(body, dict) else None
    if not isinstance(after, int) or after < 0:
        return _bad('body must be {"after_requests": n}')
    ctx.expire_tokens_after(after)
    return json_response({"success": True, "data": {"after_requests": after}})


def routes() -> list[Route]:
    """Starlette routes of the admin endpoints."""
    return admin_routes(
        _stats,
        Route(f"{PREFIX}/resources/{{type}}/{{id}}", edit, methods=["PATCH"]),
        Route(f"{PREFIX}/resources/{{type}}/{{id}}", remove, methods=["DELETE"]),
        Route(f"{PREFIX}/export-errors", export_errors, methods=["POST"]),
        Route(f"{PREFIX}/fail-exports", fail_exports, methods=["POST"]),
        Route(f"{PREFIX}/tokens/expire", expire_tokens, methods=["POST"]),
    )
