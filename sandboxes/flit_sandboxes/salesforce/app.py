"""Starlette app factory of the Salesforce sandbox (notes/salesforce.md, cited as notes §N)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce import (
    admin,
    routes_auth,
    routes_bulk,
    routes_composite,
    routes_query,
    routes_sobjects,
    routes_tooling,
)
from flit_sandboxes.salesforce.context import SalesforceContext, SalesforceSettings
from flit_sandboxes.salesforce.errors import error_response
from flit_sandboxes.salesforce.gateway import SalesforceGateway
from flit_sandboxes.serving import assemble_app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route -> 404 ``NOT_FOUND``; wrong method -> 405 ``METHOD_NOT_ALLOWED`` (Salesforce array bodies)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(404, "NOT_FOUND", "The requested resource does not exist")
    if status == 405:
        return error_response(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed")
    return error_response(status, "UNKNOWN_EXCEPTION" if status >= 500 else "BAD_REQUEST", "Request failed")


def create_app(
    state_path: str | Path,
    *,
    client_id: str,
    client_secret: str,
    users: list[dict[str, Any]] | None = None,
    api_daily_limit: int = 100_000,
    bulk_delay_seconds: float = 0.2,
    **settings: Any,
) -> Starlette:
    """Build a Salesforce org emulator (REST, Tooling, Bulk 2.0, Files) whose state lives in ``state_path``.

    Args:
        state_path: SQLite state file (created if missing; survives restarts: records, custom objects and
            fields, jobs, files, today's API usage).
        client_id / client_secret: the connected app accepted by ``POST /services/oauth2/token``
            (client-credentials flow, notes §0).
        users: extra Users ``[{"Email", "FirstName"?, "LastName", "IsActive"?, "Username"?, "Title"?}]`` (seeded
            or refreshed by Username, default = Email); the integration (run-as) user is always present.
        api_daily_limit: ``DailyApiRequests`` Max (each ``/services/data/vXX.X`` request costs 1; then 403
            ``REQUEST_LIMIT_EXCEEDED``).
        bulk_delay_seconds: minimum time a closed Bulk job stays ``InProgress``.
        **settings: the other ``SalesforceSettings`` fields: ``bulk_batches_daily_limit`` (15,000),
            ``bulk_query_jobs_daily_limit`` (10,000), ``query_page_size`` (2,000), ``token_ttl_seconds`` (7,200),
            ``enforce_fls`` (True, notes §3.3), ``set_audit_fields`` (False, notes §5.4), ``min_api_version``
            (31.0, the oldest version real orgs serve) / ``max_api_version`` (67.0), ``shuffle_bulk_results``
            (True), ``bulk_max_upload_bytes``
            (150 MB base64 = 112.5 MB raw), ``json_blob_max_base64_bytes`` (37.5 MB), ``json_body_max_bytes``
            (50 MB), ``multipart_blob_max_bytes`` (2 GB), ``org_name``, ``integration_username``,
            ``data_storage_mb``, ``file_storage_mb``.

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``SalesforceContext`` (closed on shutdown). The server
        URL is the instance URL: REST base ``<url>/services/data/v60.0/``, token URL
        ``<url>/services/oauth2/token``.

    Raises:
        ValueError: empty credentials, bad limits, malformed users, or an unknown setting.
    """
    unknown = set(settings) - set(SalesforceSettings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown Salesforce sandbox settings: {sorted(unknown)}")
    config = SalesforceSettings(client_id=client_id, client_secret=client_secret, api_daily_limit=api_daily_limit,
                                bulk_delay_seconds=bulk_delay_seconds, **settings)
    ctx = SalesforceContext(state_path, config, users)
    routes, operations = [], []
    for family in (routes_auth, routes_sobjects, routes_composite, routes_query, routes_tooling, routes_bulk):
        family_routes, family_operations = family.routes()
        routes.extend(family_routes)
        operations.extend(family_operations)
    return assemble_app(ctx, routes + admin.routes(), gateway=SalesforceGateway,
                        gateway_options={"operations": operations}, http_error=_http_error)
