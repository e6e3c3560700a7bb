"""Starlette app factory of the Dentrix Ascend API Exchange sandbox (notes/sources.md §2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.ascend import admin
from flit_sandboxes.ascend.context import AscendContext, AscendSettings
from flit_sandboxes.ascend.errors import ApiError, envelope_error
from flit_sandboxes.ascend.gateway import AscendGateway
from flit_sandboxes.ascend.routes import routes_and_operations
from flit_sandboxes.serving import assemble_app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route or method: envelope 404/405 (the vendor's exact body is UNCONFIRMED)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return envelope_error(ApiError(404, "NOT_FOUND", "Resource not found"))
    if status == 405:
        return envelope_error(ApiError(405, "METHOD_NOT_ALLOWED", "Method not allowed"))
    return envelope_error(ApiError(status, "SERVER_ERROR" if status >= 500 else "BAD_REQUEST", "Request failed"))


def create_app(
    practice_db: str | Path,
    *,
    client_id: str,
    client_secret: str,
    organization_id: str,
    page_size_max: int = 500,
    default_page_size: int = 100,
    rate_per_second: int = 15,
    daily_limit: int = 50_000,
    token_ttl_seconds: float = 3600,
    location_name: str = "Sandbox Dental",
    timezone: str = "America/New_York",
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build a Dentrix Ascend API Exchange emulator serving one demo practice (read-only).

    Args:
        practice_db: SQLite file from ``dentrix_practice.build_practice`` (attached read-only; never
            written). Derived tables (claims, plans) are built in memory at start-up.
        client_id / client_secret: the only OAuth client accepted by the token endpoint (notes §2).
        organization_id: the HS1 Organization ID the client is enabled for; every API call must send
            it as ``Organization-ID`` (missing -> 400, other -> 403; UNCONFIRMED statuses).
        page_size_max: largest ``pageSize`` accepted; larger -> 400 ``INVALID_PAGING`` (UNCONFIRMED
            cap and behaviour).
        default_page_size: ``pageSize`` when omitted (UNCONFIRMED).
        rate_per_second: API requests per rolling second per client (architecture doc claim for the
            vendor sandbox: 15; UNCONFIRMED). Over -> 429 with ``Retry-After`` seconds.
        daily_limit: API requests per UTC day per client (claim: 50,000; UNCONFIRMED).
        token_ttl_seconds: access token lifetime; ``expires_in`` in the token response (notes: "3600").
        location_name / timezone: the single ``/v1/locations`` row's name and IANA zone.
        clock: monotonic seconds for token lifetimes and rate-limit windows; tests inject a manual clock.

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``AscendContext``, closed by the lifespan
        shutdown. API base = ``<server>/ascend-gateway/api``; token URL =
        ``<server>/oauth/client_credential/accesstoken``.

    Raises:
        FileNotFoundError: ``practice_db`` does not exist.
        ValueError: empty credentials/organisation, non-positive limits, or not a practice database.
    """
    settings = AscendSettings(
        client_id=client_id, client_secret=client_secret, organization_id=organization_id,
        page_size_max=page_size_max, default_page_size=min(default_page_size, page_size_max),
        rate_per_second=rate_per_second, daily_limit=daily_limit, token_ttl_seconds=float(token_ttl_seconds),
        location_name=location_name, timezone=timezone, clock=clock,
    )
    ctx = AscendContext(practice_db, settings)
    routes, operations = routes_and_operations()
    return assemble_app(ctx, routes + admin.routes(), gateway=AscendGateway, gateway_options={"operations": operations},
                        http_error=_http_error)
