"""OAuth token endpoint, version list, resource directory and ``/limits`` (notes §0).

- ``POST /services/oauth2/token`` (form) ``grant_type=client_credentials`` with ``client_id`` + ``client_secret``
  in the form or HTTP Basic (simple-salesforce sends Basic) -> 200 ``{"access_token", "signature", "scope",
  "instance_url", "id", "token_type": "Bearer", "issued_at"}`` (``instance_url`` = the sandbox URL the client
  used; ``id`` = ``<instance>/id/<org id>/<user id>``; ``signature`` = base64 HMAC-SHA256 of id + issued_at with
  the client secret). Errors in Salesforce's OAuth shape ``{"error", "error_description"}``, all 400:
  ``unsupported_grant_type`` "grant type not supported", ``invalid_client_id`` "client identifier invalid"
  (unknown id), ``invalid_client`` "invalid client credentials" (wrong secret). Texts are Salesforce's usual
  ones, UNCONFIRMED; JWT bearer is not implemented.
- ``GET /services/data`` -> 200 ``[{"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}, ...,
  {"label": "Summer '26", ...}]`` for the served versions, oldest first (real orgs serve v31.0 and later since
  v21.0-v30.0 were retired in Summer '25, notes §0; shape as simple-salesforce and the REST API Developer Guide
  "Versions" resource show it).
- ``GET /services/data/vXX.X`` -> 200 the resource directory ``{"sobjects": url, "query": url, ...}``.
- ``GET /services/data/vXX.X/limits`` -> 200 ``{"DailyApiRequests": {"Max", "Remaining"}, "DailyBulkApiBatches",
  "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB", "DataStorageMB", "FileStorageMB",
  "DailyAsyncApexExecutions"}`` (this request already counted; storage: 2 KB per record, file bytes;
  key list beyond those UNCONFIRMED).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.kernel.auth import basic_credentials
from flit_sandboxes.salesforce.context import ORG_ID
from flit_sandboxes.salesforce.web import API, ctx_of, json_response, table

SEASONS = ("Spring", "Summer", "Winter")
RECORD_BYTES = 2048


def release_label(version: int) -> str:
    """``60`` -> ``"Spring '24"`` (three releases a year; v59 = Winter '24, v67 = Summer '26)."""
    offset = version - 60
    season = SEASONS[offset % 3]
    year = 24 + offset // 3 + (1 if season == "Winter" else 0)
    return f"{season} '{year:02d}"


def _oauth_error(code: str, description: str) -> Response:
    return json_response({"error": code, "error_description": description}, status=400)


async def token(request: Request) -> Response:
    """``POST /services/oauth2/token``."""
    ctx = ctx_of(request)
    form = await request.form()
    grant = form.get("grant_type") or request.query_params.get("grant_type")
    if grant != "client_credentials":
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    basic_id, basic_secret = basic_credentials(request.scope)
    client_id = form.get("client_id") or basic_id
    secret = form.get("client_secret") or basic_secret
    settings = ctx.settings
    if not isinstance(client_id, str) or not hmac.compare_digest(client_id.encode(), settings.client_id.encode()):
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), settings.client_secret.encode()):
        return _oauth_error("invalid_client", "invalid client credentials")
    instance = f"{request.url.scheme}://{request.url.netloc}"
    identity = f"{instance}/id/{ORG_ID}/{ctx.user_id}"
    issued = str(int(time.time() * 1000))
    signature = base64.b64encode(hmac.new(settings.client_secret.encode(), (identity + issued).encode(),
                                          hashlib.sha256).digest()).decode()
    return json_response({"access_token": ctx.tokens.issue(), "signature": signature, "scope": "api",
                          "instance_url": instance, "id": identity, "token_type": "Bearer", "issued_at": issued})


async def versions(request: Request) -> Response:
    """``GET /services/data``."""
    settings = ctx_of(request).settings
    served = range(int(settings.min_api_version), int(settings.max_api_version) + 1)
    return json_response([{"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                          for v in served])


async def resources(request: Request) -> Response:
    """``GET /services/data/vXX.X``."""
    base = f"/services/data/v{request.path_params['version']}"
    names = ("sobjects", "query", "queryAll", "limits", "tooling", "composite", "jobs")
    return json_response({name: f"{base}/{name}" for name in names})


def limits_body(ctx: Any) -> dict[str, Any]:
    """The ``/limits`` body."""
    snapshot = ctx.limiter.snapshot()
    records = sum(ctx.tables.count(o.name) for o in ctx.schema)
    data_used = records * RECORD_BYTES // (1024 * 1024)
    file_bytes = sum(r.get("ContentSize") or 0 for r in ctx.tables.rows("ContentVersion") if not r.get("IsDeleted"))
    settings = ctx.settings

    def pair(maximum: int, remaining: int) -> dict[str, int]:
        return {"Max": maximum, "Remaining": max(0, remaining)}

    return {
        "DailyApiRequests": pair(snapshot.daily_limit, snapshot.daily_remaining),
        "DailyAsyncApexExecutions": pair(250_000, 250_000),
        "DailyBulkApiBatches": pair(settings.bulk_batches_daily_limit, ctx.batches.remaining()),
        "DailyBulkV2QueryFileStorageMB": pair(976_562, 976_562),
        "DailyBulkV2QueryJobs": pair(settings.bulk_query_jobs_daily_limit, ctx.query_jobs_counter.remaining()),
        "DataStorageMB": pair(settings.data_storage_mb, settings.data_storage_mb - data_used),
        "FileStorageMB": pair(settings.file_storage_mb, settings.file_storage_mb - file_bytes // (1024 * 1024)),
    }


async def limits(request: Request) -> Response:
    """``GET /limits``."""
    return json_response(limits_body(ctx_of(request)))


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family."""
    return table(
        ("POST", "/services/oauth2/token", token),
        ("GET", "/services/data", versions),
        ("GET", API, resources),
        ("GET", f"{API}/limits", limits),
    )
