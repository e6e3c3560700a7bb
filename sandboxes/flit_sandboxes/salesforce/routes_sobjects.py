"""sObject REST calls (notes §2.1, §2.5, §4): describe, create, read, update, delete, upsert by external ID.

- ``GET  /sobjects`` -> 200 global describe; ``GET /sobjects/{name}`` -> 200 ``{"objectDescribe", "recentItems"}``;
  ``GET /sobjects/{name}/describe`` -> 200 (``describe``). Unknown/invisible object -> 404 ``NOT_FOUND``.
- ``POST /sobjects/{name}`` (also ``/sobjects/{name}/Id``) JSON -> 201 ``{"id", "success": true, "errors": []}``;
  a failed record -> 400 ``[{"message", "errorCode", "fields"}]``. ContentVersion also accepts multipart
  (``routes_files``).
- ``GET /sobjects/{name}/{id}[?fields=A,B]`` -> 200 ``{"attributes": {"type", "url"}, <fields>}``; unknown Id -> 404
  ``NOT_FOUND``; base64 fields show their blob URL.
- ``PATCH /sobjects/{name}/{id}`` -> 204; ``DELETE /sobjects/{name}/{id}`` -> 204. Unknown Id -> 404 ``NOT_FOUND``
  "Provided external ID field does not exist or is not accessible: <id>"; deleted -> 404 ``ENTITY_IS_DELETED``.
- ``GET /sobjects/{name}/{extField}/{value}`` -> 200 the record (404 if none; 300 list of URLs if several);
  ``GET /sobjects/ContentVersion/{id}/VersionData`` -> the bytes (``routes_files``).
- ``PATCH /sobjects/{name}/{extField}/{value}`` upsert (notes §2.1): created -> 201 ``{"id", "success": true,
  "errors": [], "created": true}``; updated -> 200 same with ``"created": false`` (v46+; 200-vs-204 is
  UNCONFIRMED, notes §9); several matches -> 300 ``["/services/data/vXX.X/sobjects/Contact/003...", ...]``;
  unknown field -> 404 ``NOT_FOUND``; a field that is not External ID/idLookup -> 400 ``INVALID_FIELD``;
  ``?updateOnly=true`` with no match -> 404 ``NOT_FOUND``. The body should not hold the key field; if it does
  with another value -> 400 ``INVALID_FIELD`` (UNCONFIRMED).
- ``DELETE /sobjects/{name}/{extField}/{value}`` -> 204 (404/300 as above).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce import describe as describing
from flit_sandboxes.salesforce import routes_files
from flit_sandboxes.salesforce.context import SalesforceContext
from flit_sandboxes.salesforce.dml import Row, SaveResult
from flit_sandboxes.salesforce.errors import SfError, not_found
from flit_sandboxes.salesforce.ids import normalize
from flit_sandboxes.salesforce.payload import to_row, typed
from flit_sandboxes.salesforce.schema import SObject
from flit_sandboxes.salesforce.store import Txn
from flit_sandboxes.salesforce.values import to_json
from flit_sandboxes.salesforce.web import API, ctx_of, json_body, json_response, no_content, table


def visible_object(ctx: SalesforceContext, name: str) -> SObject:
    """The object called ``name`` if the integration user can see it; else 404 ``NOT_FOUND``."""
    sobject = ctx.schema.get(name)
    if sobject is None or not ctx.perms.can_see(sobject):
        raise not_found()
    return sobject


def render(ctx: SalesforceContext, sobject: SObject, record: dict[str, Any], version: str,
           only: list[str] | None = None) -> dict[str, Any]:
    """A record as ``GET /sobjects/{name}/{id}`` answers it."""
    url = f"/services/data/v{version}/sobjects/{sobject.name}/{record['Id']}"
    out: dict[str, Any] = {"attributes": {"type": sobject.name, "url": url}}
    fields = ctx.perms.visible_fields(sobject)
    if only is not None:
        wanted = {name.strip().lower() for name in only}
        unknown = wanted - {f.name.lower() for f in fields}
        if unknown:
            raise SfError(400, "INVALID_FIELD", f"No such column '{sorted(unknown)[0]}' on sobject of type "
                                                f"{sobject.name}", [])
        fields = [f for f in fields if f.name.lower() in wanted]
    for field in fields:
        if field.type == "base64":
            out[field.name] = f"{url}/{field.name}" if record.get("ContentSize") is not None else None
        else:
            out[field.name] = to_json(field, record.get(field.name))
    return out


def live_record(ctx: SalesforceContext, sobject: SObject, raw_id: str) -> tuple[str, dict[str, Any]]:
    """``(id, record)`` of a live record of ``sobject``; 404 otherwise (module docstring)."""
    record_id = normalize(raw_id)
    record = ctx.tables.get(record_id) if record_id else None
    if record is None or ctx.tables.type_of.get(record_id or "") != sobject.name:
        raise SfError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw_id}")
    if record.get("IsDeleted"):
        raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return record_id, record  # type: ignore[return-value]


def single(results: list[SaveResult]) -> SaveResult:
    """The only result; a failure becomes the request's 400 error."""
    result = results[0]
    if not result.success:
        raise SfError.from_row(result.errors[0])
    return result


# -------------------------------------------------------------------------------------- describe
async def global_describe(request: Request) -> Response:
    """``GET /sobjects``."""
    ctx = ctx_of(request)
    return json_response(describing.global_describe(request.path_params["version"], ctx.schema, ctx.perms))


async def object_info(request: Request) -> Response:
    """``GET /sobjects/{name}``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    entry = describing.global_entry(request.path_params["version"], sobject, ctx.perms)
    return json_response({"objectDescribe": entry, "recentItems": []})


async def describe(request: Request) -> Response:
    """``GET /sobjects/{name}/describe``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    return json_response(describing.describe(request.path_params["version"], ctx.schema, sobject, ctx.perms))


# ----------------------------------------------------------------------------------------- create
async def create(request: Request) -> Response:
    """``POST /sobjects/{name}`` (JSON, or multipart for ContentVersion)."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        row = await routes_files.multipart_row(request, ctx, sobject)
    else:
        body = await json_body(request, limit=ctx.settings.json_body_max_bytes)
        row = to_row(ctx.schema, ctx.perms, sobject, body, blob_limit=ctx.settings.json_blob_max_base64_bytes)
    result = single(await run_in_threadpool(ctx.org.save, "insert", sobject, [row]))
    return json_response({"id": result.id, "success": True, "errors": []}, status=201)


async def create_with_id_path(request: Request) -> Response:
    """``POST /sobjects/{name}/Id`` (notes §2.1: upsert on Id with no value = create)."""
    if request.path_params["record_id"].lower() != "id":
        raise SfError(405, "METHOD_NOT_ALLOWED", "HTTP Method 'POST' not allowed. Allowed are GET,PATCH,DELETE")
    return await create(request)


# --------------------------------------------------------------------------- read / update / delete
async def read(request: Request) -> Response:
    """``GET /sobjects/{name}/{id}``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    record_id = normalize(request.path_params["record_id"])
    record = ctx.tables.get(record_id) if record_id else None
    if record is None or record.get("IsDeleted") or ctx.tables.type_of.get(record_id or "") != sobject.name:
        raise not_found()
    only = request.query_params.get("fields")
    return json_response(render(ctx, sobject, record, request.path_params["version"],
                                only.split(",") if only else None))


async def update(request: Request) -> Response:
    """``PATCH /sobjects/{name}/{id}``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    record_id, _ = live_record(ctx, sobject, request.path_params["record_id"])
    body = await json_body(request, limit=ctx.settings.json_body_max_bytes)
    row = to_row(ctx.schema, ctx.perms, sobject, body, blob_limit=ctx.settings.json_blob_max_base64_bytes)
    row.values.pop("Id", None)
    row.record_id = record_id
    single(await run_in_threadpool(ctx.org.save, "update", sobject, [row]))
    return no_content()


async def delete(request: Request) -> Response:
    """``DELETE /sobjects/{name}/{id}``."""
    ctx = ctx_of(request)
    sobject = visible_object(ctx, request.path_params["name"])
    record_id, _ = live_record(ctx, sobject, request.path_params["record_id"])
    single(await run_in_threadpool(ctx.org.save, "delete", sobject, [Row(record_id=record_id)]))
    return no_content()


# ------------------------------------------------------------------------------ by external ID
def _key_matches(ctx: SalesforceContext, sobject: SObject, field_name: str, raw: str,
                 version: str) -> tuple[Any, Any, list[str]]:
    field = ctx.perms.visible_field(sobject, field_name)
    if field is None:
        raise not_found()
    if not field.indexed:
        raise SfError(400, "INVALID_FIELD", f"Field {field.name} is not an External ID or indexed field for "
                                            f"{sobject.name}", [])
    value = typed(field, raw)
    if field.type == "id":
        found = normalize(raw)
        record = ctx.tables.get(found) if found else None
        matches = [found] if found and record is not None and not record.get("IsDeleted") \
            and ctx.tables.type_of.get(found) == sobject.name else []
    else:
        matches = Txn(ctx.tables).find(sobject.name, field.name, value, field.case_sensitive)
    if len(matches) > 1:
        raise SfError(300, "MULTIPLE_CHOICES", "", body=[f"/services/data/v{version}/sobjects/{sobject.name}/{m}"
                                                       for m in matches])
    return field, value, matches


async def read_by_key(request: Request) -> Response:
    """``GET /sobjects/{name}/{field}/{value}`` (or a blob: ``/sobjects/ContentVersion/{id}/VersionData``)."""
    ctx = ctx_of(request)
    params = request.path_params
    sobject = visible_object(ctx, params["name"])
    blob_field = sobject.field(params["value"])
    if blob_field is not None and blob_field.type == "base64" and normalize(params["field"]):
        return await routes_files.blob(request, ctx, sobject, params["field"], blob_field.name)
    _, _, matches = _key_matches(ctx, sobject, params["field"], params["value"], params["version"])
    if not matches:
        raise not_found()
    return json_response(render(ctx, sobject, ctx.tables.get(matches[0]) or {}, params["version"]))


async def upsert(request: Request) -> Response:
    """``PATCH /sobjects/{name}/{field}/{value}``."""
    ctx = ctx_of(request)
    params = request.path_params
    sobject = visible_object(ctx, params["name"])
    body = await json_body(request, limit=ctx.settings.json_body_max_bytes)
    field, value, matches = _key_matches(ctx, sobject, params["field"], params["value"], params["version"])
    row = to_row(ctx.schema, ctx.perms, sobject, body, blob_limit=ctx.settings.json_blob_max_base64_bytes)
    if field.name in row.values and row.values[field.name] != value:
        raise SfError(400, "INVALID_FIELD", f"The value of {field.name} in the body does not match the value in the "
                                            "URL", [field.name])
    if not matches and request.query_params.get("updateOnly", "").lower() == "true":
        raise not_found()
    if field.type == "id":
        row.values.pop("Id", None)
        row.record_id = matches[0] if matches else None
        if not matches and params["value"]:
            raise SfError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                            f"{params['value']}")
    else:
        row.values[field.name] = value
    result = single(await run_in_threadpool(ctx.org.save, "upsert", sobject, [row], ext_field=field))
    return json_response({"id": result.id, "success": True, "errors": [], "created": bool(result.created)},
                         status=201 if result.created else 200)


async def delete_by_key(request: Request) -> Response:
    """``DELETE /sobjects/{name}/{field}/{value}``."""
    ctx = ctx_of(request)
    params = request.path_params
    sobject = visible_object(ctx, params["name"])
    _, _, matches = _key_matches(ctx, sobject, params["field"], params["value"], params["version"])
    if not matches:
        raise not_found()
    single(await run_in_threadpool(ctx.org.save, "delete", sobject, [Row(record_id=matches[0])]))
    return no_content()


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family (more specific paths first)."""
    base = f"{API}/sobjects"
    return table(
        ("GET", base, global_describe),
        ("GET", f"{base}/{{name}}", object_info),
        ("POST", f"{base}/{{name}}", create),
        ("GET", f"{base}/{{name}}/describe", describe),
        ("POST", f"{base}/{{name}}/{{record_id}}", create_with_id_path),
        ("GET", f"{base}/{{name}}/{{record_id}}", read),
        ("PATCH", f"{base}/{{name}}/{{record_id}}", update),
        ("DELETE", f"{base}/{{name}}/{{record_id}}", delete),
        ("GET", f"{base}/{{name}}/{{field}}/{{value:path}}", read_by_key),
        ("PATCH", f"{base}/{{name}}/{{field}}/{{value:path}}", upsert),
        ("DELETE", f"{base}/{{name}}/{{field}}/{{value:path}}", delete_by_key),
    )
