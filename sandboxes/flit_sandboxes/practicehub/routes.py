"""Route handlers of the PracticeHub sandbox: collections, single records, attachment bytes.

Shapes (notes/sources.md §3 "Pagination", "Incremental sync"; the rest UNCONFIRMED):

* ``GET /api/<collection>`` -> ``{"total_entries": N, "data": [...], "links": {...}}``. ``links`` has
  ``self`` always, ``previous`` from page 2, ``next`` while rows remain (notes §3: links appear only
  when relevant): absolute URLs on the host the client used, keeping the request's other query
  parameters. Query parameters:

  - ``page`` (1-based, default 1) and ``page_size`` (default 100, max 100; larger is clamped to 100,
    UNCONFIRMED whether the vendor clamps or refuses); non-integers or values < 1 -> 400;
  - ``updated=<ISO 8601>``: rows with ``updated_at >= updated`` (notes §3 shows it on appointments;
    the sandbox offers it on every collection, UNCONFIRMED). ``Z``, an offset or none (= UTC);
    second precision; a bad value -> 400;
  - appointments only: ``start=<op>:<ISO date or timestamp>`` with op ``gte``/``gt``/``lte``/``lt``/
    ``eq`` (public code sends ``start=gte:YYYY-MM-DD``, notes §3); repeatable;
  - other parameters are ignored (UNCONFIRMED).

  Rows are ordered by ``id``; a page past the end has ``data: []``.
* ``GET /api/<collection>/{id}`` -> ``{"data": {...}}``; 404 when absent (UNCONFIRMED shape).
* ``GET /api/attachments/{id}/download`` -> the file: ``Content-Type`` of the attachment,
  ``Content-Disposition: attachment; filename=...``, ``size_bytes`` synthetic bytes (a type
  signature, then SHAKE-256 output seeded by practice seed and id: deterministic). Path UNCONFIRMED.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.practicehub.context import PracticeHubContext
from flit_sandboxes.practicehub.gateway import Operation, error_response
from flit_sandboxes.practicehub.resources import DOWNLOAD_PATH, POLICY_DOWNLOAD_PATH, RESOURCES, Resource

_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "eq": "="}


class QueryError(ValueError):
    """A bad query parameter (400); the message names the parameter, never its value."""


def _ctx(request: Request) -> PracticeHubContext:
    return request.app.state.sandbox


def _server(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def to_timestamp(text: str) -> str:
    """ISO 8601 date or timestamp (``Z``/offset/naive = UTC) -> ``YYYY-MM-DDTHH:MM:SSZ`` (seconds).

    Raises:
        ValueError: not ISO 8601.
    """
    moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None
    if value < 1:
        raise QueryError(f"{name} must be >= 1")
    return value


def parse_query(request: Request, res: Resource) -> tuple[int, int, list[str], dict[str, Any], dict[str, str]]:
    """``(page, page_size, SQL conditions, SQL params, paging params for the page log)``.

    Raises:
        QueryError: bad ``page``/``page_size``/``updated``/filter value.
    """
    settings = _ctx(request).settings
    page = _positive_int(request, "page", 1)
    size = min(_positive_int(request, "page_size", settings.default_page_size), settings.page_size_max)
    conds: list[str] = []
    params: dict[str, Any] = {}
    logged = {"page": str(page), "page_size": str(size)}
    updated = request.query_params.get("updated")
    if updated is not None:
        try:
            params["updated"] = logged["updated"] = to_timestamp(updated)
        except ValueError:
            raise QueryError("updated must be an ISO 8601 timestamp") from None
        conds.append("updated_at >= :updated")
    for name, column in res.filters.items():
        values = request.query_params.getlist(name)
        for index, raw in enumerate(values):
            op, _, value = raw.partition(":")
            if op not in _OPS or not value:
                raise QueryError(f"{name} must be <gte|gt|lte|lt|eq>:<ISO date or timestamp>")
            try:
                params[f"{name}_{index}"] = to_timestamp(value)
            except ValueError:
                raise QueryError(f"{name} must be <gte|gt|lte|lt|eq>:<ISO date or timestamp>") from None
            conds.append(f"{column} {_OPS[op]} :{name}_{index}")
        if values:
            logged[name] = ",".join(values)
    return page, size, conds, params, logged


def links(request: Request, page: int, size: int, total: int) -> dict[str, str]:
    """``self``, and ``previous``/``next`` when relevant (notes §3)."""
    out = {"self": str(request.url.include_query_params(page=page))}
    if page > 1:
        out["previous"] = str(request.url.include_query_params(page=min(page - 1, max(1, -(-total // size)))))
    if page * size < total:
        out["next"] = str(request.url.include_query_params(page=page + 1))
    return out


def list_endpoint(res: Resource):
    """Handler of ``GET /api/<res.name>``."""

    async def handler(request: Request) -> Response:
        ctx = _ctx(request)
        try:
            page, size, conds, params, logged = parse_query(request, res)
        except QueryError as error:
            return error_response(400, str(error))
        rows, total = await run_in_threadpool(ctx.store.page, res, conds, params, offset=(page - 1) * size,
                                              limit=size, server=_server(request))
        ctx.pages.served(res.path, logged)
        body = (f'{{"total_entries":{total},"data":[{",".join(rows)}],'
                f'"links":{json.dumps(links(request, page, size, total), separators=(",", ":"))}}}')
        return Response(body.encode("utf-8"), media_type="application/json")

    return handler


def get_endpoint(res: Resource):
    """Handler of ``GET /api/<res.name>/{id}``."""

    async def handler(request: Request) -> Response:
        row = await run_in_threadpool(_ctx(request).store.get, res, request.path_params["id"], _server(request))
        if row is None:
            return error_response(404, f"{res.name} record not found")
        return Response(f'{{"data":{row}}}'.encode("utf-8"), media_type="application/json")

    return handler


_SIGNATURES = {"application/pdf": b"%PDF-1.4\n", "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"}


def attachment_bytes(seed: int, attachment_id: int, content_type: str, size: int) -> bytes:
    """Deterministic synthetic file content of ``size`` bytes (module docstring)."""
    head = _SIGNATURES.get(content_type, b"")[:size]
    rest = size - len(head)
    tail = hashlib.shake_256(f"practicehub-sandbox-attachment-{seed}-{attachment_id}".encode()).digest(rest)
    return head + (tail if rest else b"")


async def download(request: Request) -> Response:
    """``GET /api/attachments/{id}/download``."""
    ctx = _ctx(request)
    meta = await run_in_threadpool(ctx.store.attachment, request.path_params["id"])
    if meta is None:
        return error_response(404, "attachments record not found")
    body = await run_in_threadpool(attachment_bytes, ctx.practice["seed"], meta["id"], meta["content_type"],
                                   int(meta["size_bytes"]))
    return Response(body, media_type=meta["content_type"],
                    headers={"Content-Disposition": f'attachment; filename="{meta["file_name"]}"'})


async def policy_download(request: Request) -> Response:
    """``GET /api/policy_documents/{id}/download``: the signed copy, a deterministic synthetic PDF
    (4-12 KiB by ID; UNCONFIRMED route)."""
    ctx = _ctx(request)
    meta = await run_in_threadpool(ctx.store.policy_document, request.path_params["id"])
    if meta is None:
        return error_response(404, "policy_documents record not found")
    size = 4096 + (meta["id"] * 7919) % 8192
    body = await run_in_threadpool(attachment_bytes, ctx.practice["seed"], -meta["id"], "application/pdf", size)
    name = f"{meta['document_type']}_{meta['version']}.pdf"
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def routes_and_operations() -> tuple[list[Route], list[Operation]]:
    """Starlette routes of the API and the operations they implement (for stats and logs)."""
    routes: list[Route] = []
    ops: list[Operation] = []

    def add(path: str, handler: Any) -> None:
        routes.append(Route(path, handler, methods=["GET"]))
        ops.append(Operation("GET", path))

    add(DOWNLOAD_PATH, download)
    add(POLICY_DOWNLOAD_PATH, policy_download)
    for res in RESOURCES:
        add(res.path, list_endpoint(res))
        add(res.path + "/{id:int}", get_endpoint(res))
    return routes, ops
