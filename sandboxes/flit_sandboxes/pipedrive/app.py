"""Starlette app factory of the Pipedrive sandbox (notes/pipedrive.md §7 is the checklist)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.pipedrive import admin, routes_merge, routes_search, routes_v1, routes_v2
from flit_sandboxes.pipedrive.context import SandboxContext, SandboxSettings
from flit_sandboxes.pipedrive.errors import ApiError, error_response
from flit_sandboxes.pipedrive.gateway import PipedriveGateway
from flit_sandboxes.pipedrive.routing import Operation, endpoint
from flit_sandboxes.serving import assemble_app

DEFAULT_FILE_SIZE_LIMIT = 50 * 1024 * 1024


def all_operations() -> list[Operation]:
    """Every implemented vendor operation, literal paths before templated ones."""
    return routes_search.operations() + routes_v2.operations() + routes_v1.operations() + routes_merge.operations()


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    api = "v2" if request.url.path.startswith("/api/v2") else "v1"
    message = {404: "Unknown method", 405: "Method not allowed"}.get(status, "Request failed")
    return error_response(api, ApiError(status, message))


def create_app(
    state_path: str | Path,
    token: str,
    *,
    burst_limit: int = 40,
    search_burst_limit: int = 10,
    window_seconds: float = 2.0,
    daily_budget: int = 1_000_000,
    file_size_limit: int = DEFAULT_FILE_SIZE_LIMIT,
    users: list[dict[str, Any]] | None = None,
    validate: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build a vendor-faithful Pipedrive API emulator over the SQLite state file ``state_path``.

    Args:
        state_path: SQLite file holding the account (created if missing; survives restarts).
        token: the only accepted API token (``x-api-token``, ``?api_token=`` or Bearer).
        burst_limit: requests per ``window_seconds`` per token (notes §8; 40 = Growth api_token).
        search_burst_limit: search requests per window (Search API: 10 / 2 s).
        window_seconds: rolling burst window, seconds.
        daily_budget: company token budget per UTC day; each request costs its ``x-token-cost``.
        file_size_limit: max upload size in bytes (real limit UNCONFIRMED, notes §4.7) -> 413.
        users: ``[{"id", "name", "email", "active_flag"}]``; the first is the token's own user.
            None seeds one admin user (id 1) on a new state file. Re-seeding is idempotent.
        validate: validate requests against the bundled OpenAPI documents (openapi-core).
        clock: monotonic seconds for the rate-limit windows; tests inject a manual clock instead of sleeping.

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``SandboxContext``. The state file is
        closed by the app's lifespan shutdown (or ``app.state.sandbox.close()``).

    Raises:
        ValueError: invalid limits, empty token or malformed users.
    """
    settings = SandboxSettings(
        token=token,
        burst_limit=burst_limit,
        search_burst_limit=search_burst_limit,
        window_seconds=window_seconds,
        daily_budget=daily_budget,
        file_size_limit=file_size_limit,
        validate=validate,
        clock=clock,
    )
    ctx = SandboxContext(state_path, settings, users)
    operations = all_operations()
    routes = [Route(op.path, endpoint(op), methods=[op.method]) for op in operations] + admin.routes()

    return assemble_app(ctx, routes, gateway=PipedriveGateway, gateway_options={"operations": operations},
                        http_error=_http_error)
