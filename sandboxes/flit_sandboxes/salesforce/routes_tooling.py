"""Tooling API routes (notes §3.1): custom objects/fields and existence queries (details in ``tooling``).

- ``POST /tooling/sobjects/CustomObject`` | ``/CustomField`` -> 201 SaveResult; 400 on bad metadata.
- ``GET`` / ``PATCH`` (-> 204) / ``DELETE`` (-> 204) ``/tooling/sobjects/{CustomObject|CustomField}/{id}``.
- ``GET /tooling/query?q=SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = 'Contact' AND
  DeveloperName = 'Source_System_ID'`` -> 200 ``{"size", "totalSize", "done": true, "queryLocator": null,
  "entityTypeName", "records"}`` (all rows in one page). Only ``CustomObject`` and ``CustomField`` are
  queryable here (others -> 400 ``INVALID_TYPE``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce import tooling
from flit_sandboxes.salesforce.errors import SfError, not_found
from flit_sandboxes.salesforce.query import Runner
from flit_sandboxes.salesforce.web import API, ctx_of, json_body, json_response, no_content, table

KINDS = {"customobject": "CustomObject", "customfield": "CustomField"}


def _kind(request: Request) -> str:
    kind = KINDS.get(request.path_params["kind"].lower())
    if kind is None:
        raise not_found()
    return kind


async def create(request: Request) -> Response:
    """``POST /tooling/sobjects/{kind}``."""
    ctx = ctx_of(request)
    kind = _kind(request)
    body = await json_body(request)
    creator = tooling.create_object if kind == "CustomObject" else tooling.create_field
    return json_response(await run_in_threadpool(creator, ctx, body), status=201)


async def read(request: Request) -> Response:
    """``GET /tooling/sobjects/{kind}/{id}``."""
    ctx = ctx_of(request)
    return json_response(tooling.get(ctx, _kind(request), request.path_params["record_id"],
                                     request.path_params["version"]))


async def update(request: Request) -> Response:
    """``PATCH /tooling/sobjects/{kind}/{id}``."""
    ctx = ctx_of(request)
    kind = _kind(request)
    body = await json_body(request)
    await run_in_threadpool(tooling.update, ctx, kind, request.path_params["record_id"], body)
    return no_content()


async def delete(request: Request) -> Response:
    """``DELETE /tooling/sobjects/{kind}/{id}``."""
    ctx = ctx_of(request)
    await run_in_threadpool(tooling.delete, ctx, _kind(request), request.path_params["record_id"])
    return no_content()


async def query(request: Request) -> Response:
    """``GET /tooling/query?q=``."""
    ctx = ctx_of(request)
    text = request.query_params.get("q")
    if text is None:
        raise SfError(400, "MALFORMED_QUERY", "A query string is required (parameter q)")

    def run() -> dict[str, Any]:
        with ctx.tables.lock:
            runner = Runner(ctx.source(request.path_params["version"], tooling=True), text)
            rows = runner.rows(False)
            records = [] if runner.query.count else [runner.render(r) for r in rows]
            return {"size": len(rows), "totalSize": len(rows), "done": True, "queryLocator": None,
                    "entityTypeName": runner.sobject.name, "records": records}  # type: ignore[union-attr]

    return json_response(await run_in_threadpool(run))


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family."""
    base = f"{API}/tooling"
    return table(
        ("GET", f"{base}/query", query),
        ("POST", f"{base}/sobjects/{{kind}}", create),
        ("GET", f"{base}/sobjects/{{kind}}/{{record_id}}", read),
        ("PATCH", f"{base}/sobjects/{{kind}}/{{record_id}}", update),
        ("DELETE", f"{base}/sobjects/{{kind}}/{{record_id}}", delete),
    )
