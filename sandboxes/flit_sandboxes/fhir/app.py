"""Starlette app factory of the FHIR R4 sandbox (Bulk Data export, search, SMART Backend Services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.fhir import admin, bulk_routes, routes, smart
from flit_sandboxes.fhir.context import DEFAULT_ADMIN_TOKEN, FhirContext, FhirSettings
from flit_sandboxes.fhir.gateway import FhirGateway, outcome_response
from flit_sandboxes.serving import assemble_app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown route or method as an OperationOutcome."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not-found", 405: "not-supported"}.get(status, "exception")
    return outcome_response(status, code, {404: "Not found", 405: "Method not allowed"}.get(status, "Request failed"))


def create_app(state_path: str | Path, *, data_dir: str | Path | None = None, token: str | None = None,
               admin_token: str = DEFAULT_ADMIN_TOKEN, clients: dict[str, Any] | None = None,
               token_ttl_seconds: float = 300.0, export_delay_seconds: float = 1.0, retry_after_seconds: int = 1,
               file_resources: int = 50_000, rate_per_second: float = 50.0, page_size_default: int = 50,
               page_size_max: int = 1000, bulk: bool = True) -> Starlette:
    """Build a FHIR R4 server emulator serving the NDJSON files of ``data_dir``.

    Args:
        state_path: SQLite state file; ``data_dir`` is loaded into it when it holds no resources yet
            (``store.FhirStore.load_directory``: one ``<Type>.<n>.ndjson[.gz]`` file per type, as a Bulk
            export writes them; whatever types are present are served). A loaded file is served as is.
        data_dir: the NDJSON directory (e.g. the bundled ``flit_pipelines/sample_data/fhir_bulk_sample``).
        token: a static bearer token accepted on every FHIR request (servers that issue tokens directly).
        admin_token: the bearer token of the ``/__sandbox/`` admin endpoints (the static token works too).
        clients: SMART Backend Services clients: client_id -> JWKS (``{"keys": [...]}``, RS384/ES384 public keys).
        token_ttl_seconds: lifetime of an issued access token.
        export_delay_seconds / retry_after_seconds: the artificial export delay and the status ``Retry-After``.
        file_resources: resources per export file.
        rate_per_second: requests per rolling second before 429.
        page_size_default / page_size_max: search ``_count`` default and cap.
        bulk: offer Bulk Data export (False: a search-only server, ``metadata`` without ``export``).

    Returns:
        A Starlette app; ``app.state.sandbox`` is its ``FhirContext``. FHIR base ``<server>/fhir``.

    Raises:
        ValueError: an unreadable resource line in ``data_dir``, bad limits.
    """
    settings = FhirSettings(data_dir=Path(data_dir) if data_dir else None, token=token, admin_token=admin_token,
                            clients=dict(clients or {}), token_ttl_seconds=token_ttl_seconds,
                            export_delay_seconds=export_delay_seconds, retry_after_seconds=retry_after_seconds,
                            file_resources=file_resources, rate_per_second=rate_per_second,
                            page_size_default=page_size_default, page_size_max=page_size_max, bulk=bulk)
    ctx = FhirContext(state_path, settings)
    parts = [bulk_routes.routes_and_operations(), smart.routes_and_operations(), routes.routes_and_operations()]
    all_routes = [r for rs, _ in parts for r in rs]
    operations = [o for _, ops in parts for o in ops]
    return assemble_app(ctx, all_routes + admin.routes(), gateway=FhirGateway,
                        gateway_options={"operations": operations}, http_error=_http_error)
