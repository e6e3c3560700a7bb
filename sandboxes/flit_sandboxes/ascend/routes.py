"""Route handlers of the Ascend sandbox: the token endpoint and the v1 read operations.

Shapes (notes/sources.md §2; the rest UNCONFIRMED, see ``resources``):

* ``POST /oauth/client_credential/accesstoken?grant_type=client_credentials``, form ``client_id``,
  ``client_secret`` (HTTP Basic also accepted, as Apigee does) ->
  ``{"access_token", "token_type": "Bearer", "expires_in": "<seconds as text>", "issued_at": "<ms>"}``.
  Errors in Apigee's OAuth shape: 400 ``invalid_request`` (missing parameter),
  400 ``unsupported_grant_type``, 401 ``invalid_client`` (unknown id or wrong secret; the body
  does not say which).
* ``GET /v1/<collection>`` -> ``{"data": [...], "warnings": [], "errors": [],
  "meta": {"pagination": {"page", "pageSize", "totalCount", "totalPages"}}}`` (the pagination field
  names are UNCONFIRMED: the notes only say there is a total). ``filter``/``page``/``pageSize`` as in
  ``filters``. ``/v1/agingbalances/report`` wraps its rows as ``data.patientReports``.
* ``GET /v1/<collection>/{id}`` -> ``{"data": {...}, "warnings": [], "errors": [], "meta": {}}``;
  404 ``NOT_FOUND`` when absent.
* ``GET /v1/agingbalances?patientId=N`` -> ``data`` = the patient's account aging (400 without
  ``patientId``, notes §2 "patientId required"; 404 unknown patient).
* ``GET /v1/documents/{id}/content`` -> the document's bytes (``Content-Type`` from its type,
  ``Content-Length`` = ``fileSize``, ``Content-Disposition: attachment; filename=...``). The bytes are
  synthetic and deterministic: a type signature (``%PDF-1.4``, JPEG SOI, DICOM preamble) then
  SHAKE-256 output seeded by the document id. Endpoint name UNCONFIRMED.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.ascend.context import AscendContext
from flit_sandboxes.ascend.errors import ApiError, envelope_error, json_response, oauth_error
from flit_sandboxes.ascend.filters import paging, parse_filter, to_sql
from flit_sandboxes.ascend.gateway import API_PREFIX, TOKEN_PATH
from flit_sandboxes.ascend.resources import MIME_TYPES, RESOURCES, RenderContext, Resource
from flit_sandboxes.kernel.auth import basic_credentials
from flit_sandboxes.kernel.gateway import Operation


def _ctx(request: Request) -> AscendContext:
    return request.app.state.sandbox


def render_context(request: Request) -> RenderContext:
    """Reference URLs point at the host the client used, under the API prefix."""
    settings = _ctx(request).settings
    base = f"{request.url.scheme}://{request.url.netloc}{API_PREFIX}"
    return RenderContext(base, location_name=settings.location_name, timezone=settings.timezone)


def envelope(data: Any, meta: dict[str, Any] | None = None) -> Response:
    """The success envelope ``{data, warnings, errors, meta}`` (notes §2)."""
    return json_response({"data": data, "warnings": [], "errors": [], "meta": meta or {}})


# ------------------------------------------------------------------------------------------ token
async def token(request: Request) -> Response:
    """The OAuth client-credentials token endpoint (module docstring)."""
    ctx = _ctx(request)
    form = await request.form()
    grant = request.query_params.get("grant_type") or form.get("grant_type")
    if grant != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
    basic_id, basic_secret = basic_credentials(request.scope)
    client_id = form.get("client_id") or basic_id
    client_secret = form.get("client_secret") or basic_secret
    if not client_id:
        return oauth_error(400, "invalid_request", "The request is missing a required parameter : client_id")
    if not client_secret:
        return oauth_error(400, "invalid_request", "The request is missing a required parameter : client_secret")
    ok_id = hmac.compare_digest(str(client_id).encode(), ctx.settings.client_id.encode())
    ok_secret = hmac.compare_digest(str(client_secret).encode(), ctx.settings.client_secret.encode())
    if not (ok_id and ok_secret):
        return oauth_error(401, "invalid_client", "Client credentials are invalid")
    issued = ctx.tokens.issue()
    return json_response({"access_token": issued, "token_type": "Bearer",
                          "expires_in": str(int(ctx.settings.token_ttl_seconds)),
                          "issued_at": str(int(time.time() * 1000))},
                         headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------------------------------ reads
def list_endpoint(res: Resource):
    """Handler of ``GET <res.path>``."""

    async def handler(request: Request) -> Response:
        ctx = _ctx(request)
        try:
            query = dict(request.query_params)
            clauses = parse_filter(query.get("filter"))
            page, size = paging(query, clauses, default_size=ctx.settings.default_page_size,
                                max_size=ctx.settings.page_size_max)
            conds, params = to_sql(clauses, res.all_filters())
        except ApiError as error:
            return envelope_error(error)
        rows, total = await run_in_threadpool(ctx.practice.page, res, conds, params, page, size,
                                              render_context(request))
        pagination = {"page": page, "pageSize": size, "totalCount": total, "totalPages": math.ceil(total / size)}
        return envelope({res.wrap: rows} if res.wrap else rows, {"pagination": pagination})

    return handler


def get_endpoint(res: Resource):
    """Handler of ``GET <res.path>/{id}``."""

    async def handler(request: Request) -> Response:
        ctx = _ctx(request)
        obj = await run_in_threadpool(ctx.practice.get, res, request.path_params["id"], render_context(request))
        if obj is None:
            return envelope_error(ApiError(404, "NOT_FOUND", f"{res.type_name} not found"))
        return envelope(obj)

    return handler


async def aging_for_patient(request: Request) -> Response:
    """``GET /v1/agingbalances?patientId=N``: one account's aging."""
    ctx = _ctx(request)
    raw = request.query_params.get("patientId")
    if not raw:
        return envelope_error(ApiError(400, "BAD_REQUEST", "patientId is required"))
    try:
        patient_id = int(raw)
    except ValueError:
        return envelope_error(ApiError(400, "BAD_REQUEST", "patientId must be an integer"))
    obj = await run_in_threadpool(ctx.practice.aging_for_patient, patient_id, render_context(request))
    if obj is None:
        return envelope_error(ApiError(404, "NOT_FOUND", "PatientV1 not found"))
    return envelope(obj)


_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
_SIGNATURES = {"pdf": b"%PDF-1.4\n", "jpg": _JPEG, "jpeg": _JPEG, "dcm": b"\x00" * 128 + b"DICM"}


def document_bytes(document_id: int, file_type: str, size: int) -> bytes:
    """Deterministic synthetic content of ``size`` bytes for a document (see module docstring)."""
    head = _SIGNATURES.get(file_type.lower(), b"")[:size]
    rest = size - len(head)
    return head + (hashlib.shake_256(f"ascend-sandbox-document-{document_id}".encode()).digest(rest) if rest else b"")


async def document_content(request: Request) -> Response:
    """``GET /v1/documents/{id}/content``: the document's synthetic bytes."""
    ctx = _ctx(request)
    meta = await run_in_threadpool(ctx.practice.document, request.path_params["id"])
    if meta is None:
        return envelope_error(ApiError(404, "NOT_FOUND", "DocumentV1 not found"))
    file_type = str(meta["file_type"] or "")
    body = await run_in_threadpool(document_bytes, meta["document_id"], file_type, int(meta["file_size"] or 0))
    return Response(body, media_type=MIME_TYPES.get(file_type.lower(), "application/octet-stream"),
                    headers={"Content-Disposition": f'attachment; filename="{meta["file_name"]}"'})


# ------------------------------------------------------------------------------------------ table
def routes_and_operations() -> tuple[list[Route], list[Operation]]:
    """Starlette routes of the API and token endpoint, and the operations they implement."""
    routes: list[Route] = [Route(TOKEN_PATH, token, methods=["POST"])]
    ops: list[Operation] = [Operation("POST", TOKEN_PATH)]

    def add(path: str, handler: Any) -> None:
        routes.append(Route(API_PREFIX + path, handler, methods=["GET"]))
        ops.append(Operation("GET", API_PREFIX + path))

    add("/v1/agingbalances", aging_for_patient)
    add("/v1/documents/{id:int}/content", document_content)
    for res in RESOURCES:
        add(res.path, list_endpoint(res))
    for res in RESOURCES:
        if res.wrap is None:
            add(res.path + "/{id:int}", get_endpoint(res))
    return routes, ops
