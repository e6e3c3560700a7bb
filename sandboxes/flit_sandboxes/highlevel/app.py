"""Starlette app factory of the HighLevel sandbox (notes/highlevel.md §8 is the checklist)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.highlevel import (
    admin,
    routes_activity,
    routes_associations,
    routes_calendars,
    routes_contacts,
    routes_custom_fields,
    routes_forms,
    routes_location,
    routes_medias,
    routes_objects,
    routes_opportunities,
    routes_users,
)
from flit_sandboxes.highlevel.context import HighLevelContext, HighLevelSettings
from flit_sandboxes.highlevel.errors import ApiError, error_response
from flit_sandboxes.highlevel.gateway import HighLevelGateway
from flit_sandboxes.highlevel.routing import Operation, endpoint
from flit_sandboxes.serving import assemble_app


def all_operations() -> list[Operation]:
    """Every implemented vendor operation, literal paths before templated ones."""
    return (routes_contacts.operations() + routes_activity.operations() + routes_calendars.operations()
            + routes_location.operations() + routes_users.operations() + routes_objects.operations()
            + routes_custom_fields.operations() + routes_associations.operations() + routes_medias.operations()
            + routes_opportunities.operations() + routes_forms.operations())


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route/method: NestJS-style ``{"statusCode": 404, "message": "Cannot GET /x",
    "error": "Not Found"}`` (HighLevel's exact text UNCONFIRMED; the path is echoed, never the query)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"Cannot {request.method} {request.url.path}" if status in (404, 405) else "Request failed"
    return error_response(ApiError(404 if status == 405 else status, message))


def create_app(
    state_path: str | Path,
    token: str,
    *,
    location_id: str = "loc_sandbox",
    agency_token: str | None = None,
    burst_limit: int = 100,
    window_seconds: float = 10.0,
    daily_limit: int = 200_000,
    users: list[dict[str, Any]] | None = None,
    validate: bool = True,
    allow_duplicate_contact: bool = False,
    duplicate_priority: Sequence[str] = ("email", "phone"),
    pipelines: list[dict[str, Any]] | None = None,
    allow_duplicate_opportunity: bool = False,
    company_id: str = "company_sandbox",
    timezone: str = "UTC",
    location_name: str = "Sandbox Clinic",
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """Build a vendor-faithful HighLevel (LeadConnector API v2) emulator for one sub-account.

    Args:
        state_path: SQLite file holding the location's data (created if missing; survives restarts).
        token: the only accepted private integration token (``Authorization: Bearer <token>``).
        location_id: the sub-account the token is bound to; other ``locationId`` values get 403.
        agency_token: optional agency private integration token, the only token accepted by
            Agency-Access operations (``POST /objects/``) and refused by all others (notes §4.4).
            None: creating custom object schemas is impossible, as with a sub-account PIT.
        burst_limit: requests per ``window_seconds`` per location (notes §2: 100 / 10 s).
        window_seconds: rolling burst window in seconds.
        daily_limit: requests per UTC day per location (notes §2: 200,000).
        users: ``[{"email", "firstName"?, "lastName"?, "name"?, "id"?, "phone"?, "role"?, "deleted"?}]``
            listed by ``GET /users/``. None seeds one admin user on a new state file.
        validate: validate requests against the bundled OpenAPI documents (openapi-core).
        allow_duplicate_contact: the location's "Allow Duplicate Contact" setting; False (default)
            makes a create matching an existing email/phone fail with the documented 400.
        duplicate_priority: order in which ``email``/``phone`` are matched (UNCONFIRMED default).
        pipelines: opportunity pipelines to seed (the API has no pipeline-create operation):
            ``[{"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]}]``;
            a stage may be ``{"name", "id"?}`` and a pipeline may carry ``"id"``. Ids default to
            values derived from the names (stable across restarts). Seeded pipelines are upserted
            by id; None keeps whatever the state file holds (none on a new one).
        allow_duplicate_opportunity: the location's "Allow Duplicate Opportunity" setting; False
            (default) refuses a second opportunity for a contact in the same pipeline (400).
        company_id: the agency (company) id: ``location.companyId`` and the ``companyId`` that
            ``GET /users/search`` requires.
        timezone: ``location.timezone`` (IANA name).
        location_name: ``location.name``.
        clock: monotonic seconds for the rate-limit windows; tests inject a manual clock instead of sleeping.

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``HighLevelContext``. The state file is
        closed by the app's lifespan shutdown (or ``app.state.sandbox.close()``).

    Raises:
        ValueError: empty token/location/company/timezone, invalid limits, priority, users or pipelines.
    """
    settings = HighLevelSettings(
        token=token, location_id=location_id, agency_token=agency_token, burst_limit=burst_limit,
        window_seconds=window_seconds,
        daily_limit=daily_limit, validate=validate, allow_duplicate_contact=allow_duplicate_contact,
        duplicate_priority=tuple(duplicate_priority), allow_duplicate_opportunity=allow_duplicate_opportunity,
        company_id=company_id, timezone=timezone, location_name=location_name, clock=clock,
    )
    ctx = HighLevelContext(state_path, settings, users, pipelines)
    operations = all_operations()
    routes = ([Route(op.path, endpoint(op), methods=[op.method]) for op in operations] + routes_forms.routes()
              + admin.routes())

    return assemble_app(ctx, routes, gateway=HighLevelGateway, gateway_options={"operations": operations},
                        http_error=_http_error)
