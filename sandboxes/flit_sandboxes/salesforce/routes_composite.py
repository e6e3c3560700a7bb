"""sObject Collections (notes §2.2): up to 200 records per call, one result per record in input order.

- ``POST /composite/sobjects`` ``{"allOrNone": false, "records": [{"attributes": {"type": "Contact"}, ...}]}``
  (mixed types allowed) -> 200 ``[{"id", "success": true, "errors": []} | {"success": false, "errors":
  [{"statusCode", "message", "fields"}]}]``.
- ``PATCH /composite/sobjects`` (each record with ``Id`` and ``attributes.type``) -> 200 results.
- ``DELETE /composite/sobjects?ids=a,b&allOrNone=false`` -> 200 results (unconfirmed URL form, notes §2.2).
- ``GET /composite/sobjects/{name}?ids=a,b&fields=F,G`` -> 200 ``[record | null, ...]``.
- ``PATCH /composite/sobjects/{name}/{extField}`` upsert (v46+): every record needs ``attributes.type`` = the
  URL's object and the key field, and no ``Id`` -> 200 results with ``"created"``.

Whole-request errors: more than 200 records -> 400 ``EXCEEDED_ID_LIMIT`` "record limit reached. cannot
submit more than 200 records into this call"; malformed JSON, unknown fields or wrong value types -> 400
``JSON_PARSER_ERROR`` / ``INVALID_FIELD`` (``payload``). Per-record: a missing or unknown ``attributes.type``
-> ``INVALID_TYPE`` (UNCONFIRMED), everything from ``dml``; with ``allOrNone`` the innocent records get
``ALL_OR_NONE_OPERATION_ROLLED_BACK``. The "at most 10 type chunks" rule is not enforced.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce.context import SalesforceContext
from flit_sandboxes.salesforce.dml import Row
from flit_sandboxes.salesforce.errors import RowError, SfError
from flit_sandboxes.salesforce.ids import normalize
from flit_sandboxes.salesforce.payload import to_row
from flit_sandboxes.salesforce.routes_sobjects import render, visible_object
from flit_sandboxes.salesforce.schema import SObject
from flit_sandboxes.salesforce.web import API, ctx_of, json_body, json_response, table

MAX_RECORDS = 200


def _too_many() -> SfError:
    return SfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


async def _records(request: Request, ctx: SalesforceContext) -> tuple[list[Any], bool]:
    body = await json_body(request, limit=ctx.settings.json_body_max_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SfError(400, "JSON_PARSER_ERROR", "The request body needs a 'records' array")
    if len(body["records"]) > MAX_RECORDS:
        raise _too_many()
    return body["records"], _flag(body.get("allOrNone", False))


def _items(ctx: SalesforceContext, records: list[Any], *, fixed: SObject | None = None,
           update: bool = False) -> list[tuple[SObject, Row] | RowError]:
    items: list[tuple[SObject, Row] | RowError] = []
    for record in records:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        sobject = ctx.schema.get(type_name) if isinstance(type_name, str) else None
        if sobject is None or not ctx.perms.can_see(sobject) or (fixed is not None and sobject is not fixed):
            items.append(RowError("INVALID_TYPE", "Must send a concrete entity type." if type_name is None else
                                  f"sObject type '{type_name}' is not supported here."))
            continue
        row = to_row(ctx.schema, ctx.perms, sobject, record, blob_limit=ctx.settings.json_blob_max_base64_bytes,
                     id_as_target=update)
        if fixed is not None and "Id" in row.values:
            items.append(RowError("INVALID_FIELD", "Cannot specify Id in an upsert call with an external ID", ["Id"]))
            continue
        items.append((sobject, row))
    return items


async def create(request: Request) -> Response:
    """``POST /composite/sobjects``."""
    ctx = ctx_of(request)
    records, all_or_none = await _records(request, ctx)
    items = _items(ctx, records)
    results = await run_in_threadpool(ctx.org.save_items, "insert", items, all_or_none=all_or_none)
    return json_response([r.as_json() for r in results])


async def update(request: Request) -> Response:
    """``PATCH /composite/sobjects``."""
    ctx = ctx_of(request)
    records, all_or_none = await _records(request, ctx)
    items = _items(ctx, records, update=True)
    results = await run_in_threadpool(ctx.org.save_items, "update", items, all_or_none=all_or_none)
    return json_response([r.as_json() for r in results])


async def delete(request: Request) -> Response:
    """``DELETE /composite/sobjects?ids=...&allOrNone=...``."""
    ctx = ctx_of(request)
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise SfError(400, "MISSING_ARGUMENT", "The ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise _too_many()
    items: list[tuple[SObject, Row] | RowError] = []
    for raw in ids:
        normal = normalize(raw)
        sobject = ctx.schema.object_of_id(normal) if normal else None
        if sobject is None or not ctx.perms.can_see(sobject):
            items.append(RowError("MALFORMED_ID" if normal is None else "INVALID_CROSS_REFERENCE_KEY",
                                  f"malformed id {raw}" if normal is None else "invalid cross reference id"))
        else:
            items.append((sobject, Row(record_id=raw)))
    results = await run_in_threadpool(ctx.org.save_items, "delete", items,
                                      all_or_none=_flag(request.query_params.get("allOrNone")))
    return json_response([r.as_json() for r in results])


async def retrieve(request: Request) -> Response:
    """``GET /composite/sobjects/{name}?ids=...&fields=...``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if not ids or not fields:
        raise SfError(400, "MISSING_ARGUMENT", "The ids and fields parameters are required")
    if len(ids) > 2000:
        raise _too_many()
    out: list[dict[str, Any] | None] = []
    for raw in ids:
        normal = normalize(raw)
        record = ctx.tables.get(normal) if normal else None
        if record is None or record.get("IsDeleted") or ctx.tables.type_of.get(normal or "") != sobject.name:
            out.append(None)
        else:
            out.append(render(ctx, sobject, record, request.path_params["version"], ["Id", *fields]))
    return json_response(out)


async def upsert(request: Request) -> Response:
    """``PATCH /composite/sobjects/{name}/{field}``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    field = ctx.perms.visible_field(sobject, request.path_params["field"])
    if field is None:
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
    if not field.indexed or field.type == "id":
        raise SfError(400, "INVALID_FIELD", f"Field {field.name} is not an External ID or indexed field for "
                                            f"{sobject.name}", [])
    records, all_or_none = await _records(request, ctx)
    items = _items(ctx, records, fixed=sobject)
    results = await run_in_threadpool(ctx.org.save_items, "upsert", items, ext_field=field, all_or_none=all_or_none)
    return json_response([r.as_json(with_created=True) for r in results])


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family."""
    base = f"{API}/composite/sobjects"
    return table(
        ("POST", base, create),
        ("PATCH", base, update),
        ("DELETE", base, delete),
        ("GET", f"{base}/{{name}}", retrieve),
        ("PATCH", f"{base}/{{name}}/{{field}}", upsert),
    )
