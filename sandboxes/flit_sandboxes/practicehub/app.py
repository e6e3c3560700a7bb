"""Starlette app factory of the PracticeHub API sandbox (notes/sources.md §3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.practicehub import admin
from flit_sandboxes.practicehub.context import PracticeHubContext, PracticeHubSettings
from flit_sandboxes.practicehub.gateway import PracticeHubGateway, error_response
from flit_sandboxes.practicehub.routes import routes_and_operations
from flit_sandboxes.serving import assemble_app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route or method in the error body shape (UNCONFIRMED)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found", 405: "Method not allowed"}.get(status, "Request failed")
    return error_response(status, message)


def create_app(
    state_path: str | Path,
    *,
    api_key: str,
    account: str = "demo",
    patients: int = 200,
    seed: int = 7,
    rate_per_second: float = 1.0,
    page_size_max: int = 100,
    default_page_size: int = 100,
    require_app_details: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build a PracticeHub API emulator serving one demo practice (read-only API).

    Args:
        state_path: SQLite state file; created and seeded with a demo practice of ``patients``
            patients (``builder.build_practicehub``, deterministic in ``seed``) when it holds none.
            A file that already holds a practice is served as is.
        api_key: the only key accepted in ``x-practicehub-key`` (or ``Authorization: Bearer``).
        account: the account subdomain this server stands for (``{account}.neptune.practicehub.io``);
            the rate limit is per account.
        rate_per_second: API requests per rolling window per account (issue: 1; UNCONFIRMED by any
            public source). Over it -> 429 with ``Retry-After`` (seconds).
        page_size_max / default_page_size: notes §3: default and maximum 100.
        require_app_details: refuse API requests without a valid ``x-app-details`` (400).
        clock: monotonic seconds for the rate-limit window; tests inject a manual clock instead of sleeping.

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``PracticeHubContext``, closed by the lifespan
        shutdown. API base = ``<server>/api``.

    Raises:
        ValueError: empty key/account, non-positive rate, bad page sizes, ``patients < 1``.
    """
    settings = PracticeHubSettings(
        api_key=api_key, account=account, patients=patients, seed=seed, rate_per_second=float(rate_per_second),
        page_size_max=page_size_max, default_page_size=min(default_page_size, page_size_max),
        require_app_details=require_app_details, clock=clock,
    )
    ctx = PracticeHubContext(state_path, settings)
    routes, operations = routes_and_operations()
    return assemble_app(ctx, routes + admin.routes(), gateway=PracticeHubGateway,
                        gateway_options={"operations": operations}, http_error=_http_error)
