"""v1 routes: notes, files, users, activityTypes, currencies and v1 field definitions
(notes/pipedrive.md §1: only v1 exists for these; §4.6-§4.9).

v1 conventions reproduced here:
- timestamps ``YYYY-MM-DD HH:MM:SS`` (UTC);
- offset pagination ``start``/``limit`` with ``additional_data.pagination``;
- an empty list comes back as ``"data": null`` (integrators report it: supaglue-labs/supaglue
  PR #846, amp-labs/connectors PR #1192 [3P]);
- errors ``{"success": false, "error", "error_info", "data": null, "additional_data": null}``.
"""

from __future__ import annotations

import mimetypes
import secrets
from pathlib import PurePath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from flit_sandboxes.pipedrive import fixtures
from flit_sandboxes.pipedrive.clock import now_v2, parse_rfc3339, parse_v1_datetime, v2_to_v1
from flit_sandboxes.pipedrive.custom_fields import FIELD_ROUTES, render_field_v1
from flit_sandboxes.pipedrive.errors import ApiError, bad_request
from flit_sandboxes.pipedrive.routing import Call, Operation, offset_page_params, ok, v1_pagination
from flit_sandboxes.pipedrive.store import RecordQuery
from flit_sandboxes.pipedrive.validation import problems_error

NOTE_TARGETS = ("deal_id", "person_id", "org_id", "lead_id", "project_id", "task_id")
PIN_FLAGS = {
    "pinned_to_lead_flag": "lead_id",
    "pinned_to_deal_flag": "deal_id",
    "pinned_to_organization_flag": "org_id",
    "pinned_to_person_flag": "person_id",
    "pinned_to_project_flag": "project_id",
    "pinned_to_task_flag": "task_id",
}
FILE_TARGETS = ("deal_id", "person_id", "org_id", "product_id", "activity_id", "lead_id", "project_id")
FILES_MAX_LIMIT = 100  # "Please note that a maximum value of 100 is allowed" (v1 GET /files).
MULTIPART_OVERHEAD = 64 * 1024  # slack for boundaries and small form fields when pre-checking length
FILE_TYPES = {
    ".jpg": "img", ".jpeg": "img", ".png": "img", ".gif": "img", ".bmp": "img", ".tif": "img", ".tiff": "img",
    ".pdf": "pdf", ".doc": "doc", ".docx": "doc", ".xls": "xls", ".xlsx": "xls", ".csv": "csv",
    ".txt": "txt", ".ppt": "ppt", ".pptx": "ppt", ".zip": "zip",
}
REFERENCE_KINDS = {"deal_id": "deal", "person_id": "person", "org_id": "organization", "activity_id": "activity"}


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def _v1_list(items: list[Any], start: int, limit: int, more: bool) -> Response:
    return ok(items or None, v1_pagination(start, limit, more))


def _check_targets(call: Call, body: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key, kind in REFERENCE_KINDS.items():
        if key in keys and body.get(key) is not None:
            value = body[key]
            if not isinstance(value, int) or isinstance(value, bool) or not call.ctx.exists(kind, value):
                raise bad_request(f"{key} does not refer to an existing {kind}")


# --------------------------------------------------------------------------- notes
def _render_note(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    """v1 note (v1 spec addNote response): ids, content, flags, times, related names."""
    store, users = call.ctx.store, call.ctx.users
    person = store.get_record("person", doc["person_id"], include_deleted=True) if doc.get("person_id") else None
    org = store.get_record("organization", doc["org_id"], include_deleted=True) if doc.get("org_id") else None
    deal = store.get_record("deal", doc["deal_id"], include_deleted=True) if doc.get("deal_id") else None
    user = users.get(doc["user_id"])
    out = {key: value for key, value in doc.items() if key not in ("add_time", "update_time")}
    out.update({
        "add_time": v2_to_v1(doc["add_time"]),
        "update_time": v2_to_v1(doc["update_time"]),
        "person": {"name": person["name"]} if person else None,
        "organization": {"name": org["name"]} if org else None,
        "deal": {"title": deal["title"]} if deal else None,
        "user": {
            "email": user["email"], "icon_url": None, "is_you": user["id"] == call.ctx.me_id, "name": user["name"],
        } if user else None,
    })
    return out


def _apply_note(call: Call, doc: dict[str, Any], body: dict[str, Any], creating: bool) -> None:
    if "content" in body or creating:
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise bad_request("content is required")
        doc["content"] = content  # UNCONFIRMED: the vendor sanitises HTML; the sandbox stores it as sent
    for key in NOTE_TARGETS:
        if key in body:
            doc[key] = body[key]
    _check_targets(call, body, NOTE_TARGETS)
    if not any(doc.get(key) for key in NOTE_TARGETS):
        raise bad_request("One of deal_id, lead_id, person_id, org_id, project_id or task_id is required")
    if "user_id" in body:
        user_id = body["user_id"]
        if user_id not in call.ctx.users:
            raise bad_request("user_id refers to a user that does not exist")
        doc["user_id"] = user_id
    if body.get("add_time") is not None:
        try:
            doc["add_time"] = parse_v1_datetime(body["add_time"])
        except ValueError:
            raise bad_request("add_time must be in format YYYY-MM-DD HH:MM:SS") from None
    for flag, target in PIN_FLAGS.items():
        if flag in body:
            if body[flag] not in (0, 1) or isinstance(body[flag], bool):
                raise bad_request(f"{flag} must be 0 or 1")
            if body[flag] == 1 and not doc.get(target):
                raise bad_request(f"{flag} requires {target}")
            doc[flag] = body[flag] == 1
    doc["last_update_user_id"] = call.ctx.me_id


async def create_note(call: Call) -> Response:
    """POST /api/v1/notes (operationId addNote, cost 10)."""
    stamp = now_v2()
    doc: dict[str, Any] = {
        "user_id": call.ctx.me_id, "deal_id": None, "person_id": None, "org_id": None, "lead_id": None,
        "project_id": None, "task_id": None, "content": None, "add_time": stamp, "update_time": stamp,
        "active_flag": True, **{flag: False for flag in PIN_FLAGS}, "last_update_user_id": call.ctx.me_id,
    }
    _apply_note(call, doc, call.body_object(), True)
    return ok(_render_note(call, call.ctx.store.insert_record("note", doc)))


def _load_note(call: Call) -> dict[str, Any]:
    doc = call.ctx.store.get_record("note", call.path_int("id"))
    if doc is None:
        raise _not_found("Note")
    return doc


async def get_note(call: Call) -> Response:
    """GET /api/v1/notes/{id} (operationId getNote, cost 2)."""
    return ok(_render_note(call, _load_note(call)))


async def update_note(call: Call) -> Response:
    """PUT /api/v1/notes/{id} (operationId updateNote, cost 10)."""
    doc = _load_note(call)
    _apply_note(call, doc, call.body_object(), False)
    doc["update_time"] = now_v2()
    return ok(_render_note(call, call.ctx.store.update_record("note", doc)))


async def delete_note(call: Call) -> Response:
    """DELETE /api/v1/notes/{id} (operationId deleteNote, cost 6): ``{"success": true, "data": true}``."""
    doc = _load_note(call)
    doc["active_flag"] = False
    doc["update_time"] = now_v2()
    call.ctx.store.update_record("note", doc)
    return ok(True)


def _note_sort(call: Call, query: RecordQuery) -> None:
    raw = (call.query.get("sort") or "").split(",")[0].strip()
    if not raw:
        return
    field, _, direction = raw.partition(" ")
    if field not in ("id", "add_time", "update_time") or direction.strip().upper() not in ("", "ASC", "DESC"):
        raise bad_request("sort supports id, add_time, update_time with ASC or DESC")
    query.sort_by = field
    query.descending = direction.strip().upper() == "DESC"


async def list_notes(call: Call) -> Response:
    """GET /api/v1/notes (operationId getNotes, cost 20): filters + offset pagination."""
    start, limit = offset_page_params(call)
    query = RecordQuery(offset=start, limit=limit)
    for key in ("person_id", "deal_id", "org_id"):
        value = call.query_int(key)
        if value is not None:
            query.equals[key] = value
    if call.query_int("user_id") is not None:
        query.json_equals["$.user_id"] = call.query_int("user_id")
    if call.query.get("lead_id"):
        query.json_equals["$.lead_id"] = call.query["lead_id"]
    for flag in PIN_FLAGS:
        if call.query.get(flag) is not None:
            query.json_equals[f"$.{flag}"] = call.query_bool(flag)
    if call.query.get("updated_since"):
        try:
            query.updated_since = parse_rfc3339(call.query["updated_since"])
        except ValueError:
            raise bad_request("updated_since must be an RFC 3339 timestamp") from None
    _note_sort(call, query)
    rows = call.ctx.store.list_records("note", query)
    start_date, end_date = call.query.get("start_date"), call.query.get("end_date")
    items = [
        _render_note(call, doc) for doc in rows[:limit]
        if (not start_date or doc["add_time"][:10] >= start_date) and (not end_date or doc["add_time"][:10] <= end_date)
    ]
    return _v1_list(items, start, limit, len(rows) > limit)


# --------------------------------------------------------------------------- files
def _render_file(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    """v1 file (v1 spec addFile response)."""
    store = call.ctx.store
    names = {}
    for key, kind, name_key, label in (("person_id", "person", "name", "person_name"),
                                       ("org_id", "organization", "name", "org_name"),
                                       ("deal_id", "deal", "title", "deal_name")):
        record = store.get_record(kind, doc[key], include_deleted=True) if doc.get(key) else None
        names[label] = record[name_key] if record else ""
    out = dict(doc)
    out.update(names)
    out["add_time"] = v2_to_v1(doc["add_time"])
    out["update_time"] = v2_to_v1(doc["update_time"])
    out["url"] = f"{str(call.request.base_url).rstrip('/')}/v1/files/{doc['id']}/download"
    return out


def _file_too_large(call: Call) -> ApiError:
    # UNCONFIRMED (notes §4.7: the real limit and its error are unknown). 413 with the v1 error
    # envelope is the sandbox's choice; the limit is the `file_size_limit` setting.
    return ApiError(413, f"File size exceeds the maximum allowed size of {call.ctx.settings.file_size_limit} bytes")


async def upload_file(call: Call) -> Response:
    """POST /api/v1/files (operationId addFile, cost 10): multipart ``file`` + one target id."""
    request, ctx = call.request, call.ctx
    limit = ctx.settings.file_size_limit
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        async for _chunk in request.stream():  # drain, so the client can read the 413 cleanly
            pass
        raise _file_too_large(call)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request("request must be multipart/form-data")
    try:
        form = await request.form(max_files=1, max_fields=50)
    except (HTTPException, MultiPartException):
        raise bad_request("request body could not be parsed as multipart/form-data") from None
    try:
        upload = form.get("file")
        fields: dict[str, str | bytes] = {key: value for key, value in form.multi_items()
                                          if not isinstance(value, UploadFile)}
        if isinstance(upload, UploadFile):
            fields["file"] = b""
        if ctx.settings.validate:
            problems = ctx.validators["v1"].validate_form("POST", "/files", fields)
            if problems:
                raise problems_error(problems)
        if not isinstance(upload, UploadFile):
            raise bad_request("file is required")
        content = await upload.read()
        original_name = PurePath(upload.filename or "file").name
    finally:
        await form.close()
    if len(content) > limit:
        raise _file_too_large(call)
    body = {key: int(value) if key != "lead_id" and str(value).isdigit() else value
            for key, value in fields.items() if key in FILE_TARGETS}
    if not any(body.get(key) for key in FILE_TARGETS):
        raise bad_request(
            "One of deal_id, person_id, org_id, product_id, activity_id, lead_id or project_id is required"
        )
    _check_targets(call, body, FILE_TARGETS)
    stem, suffix = PurePath(original_name).stem, PurePath(original_name).suffix
    stamp = now_v2()
    doc = {
        "user_id": ctx.me_id, **{key: body.get(key) for key in FILE_TARGETS}, "log_id": None,
        "add_time": stamp, "update_time": stamp,
        # The vendor stores a unique file_name and keeps the upload's name in `name` (spec example).
        "file_name": f"{stem}_{secrets.token_hex(16)}{suffix}",
        "file_type": FILE_TYPES.get(suffix.lower(), "other"), "file_size": len(content), "active_flag": True,
        "inline_flag": False, "remote_location": "s3", "remote_id": None, "cid": "", "s3_bucket": "",
        "mail_message_id": "", "mail_template_id": "", "name": original_name, "description": "",
    }
    with ctx.store.transaction():
        doc = ctx.store.insert_record("file", doc)
        ctx.store.put_blob(doc["id"], content)
    return ok(_render_file(call, doc))


def _load_file(call: Call) -> dict[str, Any]:
    doc = call.ctx.store.get_record("file", call.path_int("id"))
    if doc is None:
        raise _not_found("File")
    return doc


async def get_file(call: Call) -> Response:
    """GET /api/v1/files/{id} (operationId getFile, cost 2)."""
    return ok(_render_file(call, _load_file(call)))


async def update_file(call: Call) -> Response:
    """PUT /api/v1/files/{id} (operationId updateFile, cost 10): form fields name, description."""
    doc = _load_file(call)
    try:
        form = await call.request.form(max_files=0)
    except (HTTPException, MultiPartException):
        raise bad_request("request body could not be parsed as a form") from None
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    await form.close()
    if call.ctx.settings.validate:
        problems = call.ctx.validators["v1"].validate_form(
            "PUT", "/files/{id}", fields, media_type="application/x-www-form-urlencoded"
        )
        if problems:
            raise problems_error(problems)
    for key in ("name", "description"):
        if key in fields:
            doc[key] = fields[key]
    doc["update_time"] = now_v2()
    return ok(_render_file(call, call.ctx.store.update_record("file", doc)))


async def delete_file(call: Call) -> Response:
    """DELETE /api/v1/files/{id} (operationId deleteFile, cost 6): marks the file deleted."""
    doc = _load_file(call)
    doc["active_flag"] = False
    doc["update_time"] = now_v2()
    call.ctx.store.update_record("file", doc)
    return ok({"id": doc["id"]})


async def download_file(call: Call) -> Response:
    """GET /api/v1/files/{id}/download (operationId downloadFile, cost 20): the stored bytes."""
    doc = _load_file(call)
    content = call.ctx.store.get_blob(doc["id"])
    if content is None:
        raise _not_found("File")
    media_type = mimetypes.guess_type(doc["name"])[0] or "application/octet-stream"
    safe_name = doc["name"].replace('"', "")
    return Response(content, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{safe_name}"'})


async def _list_files(call: Call, equals: dict[str, Any]) -> Response:
    start, limit = offset_page_params(call, max_limit=FILES_MAX_LIMIT)
    query = RecordQuery(offset=start, limit=limit, equals=equals)
    sort = (call.query.get("sort") or "").split(",")[0].strip()
    if sort:
        field, _, direction = sort.partition(" ")
        if field not in ("id", "update_time"):
            raise bad_request("sort supports id and update_time")
        query.sort_by, query.descending = field, direction.strip().upper() == "DESC"
    rows = call.ctx.store.list_records("file", query)
    return _v1_list([_render_file(call, doc) for doc in rows[:limit]], start, limit, len(rows) > limit)


async def list_files(call: Call) -> Response:
    """GET /api/v1/files (operationId getFiles, cost 20)."""
    return await _list_files(call, {})


async def list_person_files(call: Call) -> Response:
    """GET /api/v1/persons/{id}/files (operationId getPersonFiles, cost 20)."""
    person_id = call.path_int("id")
    if call.ctx.store.get_record("person", person_id) is None:
        raise _not_found("Person")
    return await _list_files(call, {"person_id": person_id})


# ------------------------------------------------------------- users and settings
def _user_list(call: Call, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [fixtures.render_user(user, call.ctx.me_id) for user in users]


async def list_users(call: Call) -> Response:
    """GET /api/v1/users (operationId getUsers, cost 20): all users, no paging (notes §4.8)."""
    return ok(_user_list(call, list(call.ctx.users.values())) or None)


async def current_user(call: Call) -> Response:
    """GET /api/v1/users/me (operationId getCurrentUser, cost 2): the token's user + company."""
    user = fixtures.render_user(call.ctx.users[call.ctx.me_id], call.ctx.me_id)
    return ok({**user, **fixtures.COMPANY})


async def get_user(call: Call) -> Response:
    """GET /api/v1/users/{id} (operationId getUser, cost 2)."""
    user = call.ctx.users.get(call.path_int("id"))
    if user is None:
        raise _not_found("User")
    return ok(fixtures.render_user(user, call.ctx.me_id))


async def find_users(call: Call) -> Response:
    """GET /api/v1/users/find (operationId findUsersByName, cost 40).

    Case-insensitive substring match on name, or on email with ``search_by_email=1``
    (the vendor's matching rule is UNCONFIRMED). No match -> ``data: null``.
    """
    term = (call.query.get("term") or "").strip().lower()
    if not term:
        raise bad_request("term is required")
    by_email = call.query_bool("search_by_email")
    found = [user for user in call.ctx.users.values()
             if term in (user["email"] if by_email else user["name"]).lower()]
    return ok(_user_list(call, found) or None)


async def list_activity_types(call: Call) -> Response:
    """GET /api/v1/activityTypes (operationId getActivityTypes, cost 20)."""
    return ok([dict(item) for item in fixtures.ACTIVITY_TYPES])


async def list_currencies(call: Call) -> Response:
    """GET /api/v1/currencies (operationId getCurrencies, cost 20); ``term`` filters code/name."""
    term = (call.query.get("term") or "").lower()
    items = [dict(item) for item in fixtures.CURRENCIES
             if not term or term in item["code"].lower() or term in item["name"].lower()]
    return ok(items or None)


# -------------------------------------------------------------------------- fields
def field_operations(route: str, entity: str) -> list[Operation]:
    """v1 ``GET /{route}`` (offset paged) and, except activityFields, ``POST /{route}``."""

    async def list_fields(call: Call) -> Response:
        start, limit = offset_page_params(call)
        definitions = call.ctx.fields.list(entity)
        page = [render_field_v1(item, call.ctx.me_id) for item in definitions[start:start + limit]]
        return _v1_list(page, start, limit, start + limit < len(definitions))

    async def create_field(call: Call) -> Response:
        body = call.body_object()
        definition = call.ctx.fields.create(
            entity,
            name=body.get("name"),
            field_type=body.get("field_type"),
            options=body.get("options"),
            add_visible_flag=body.get("add_visible_flag", True) is not False,
        )
        return ok(render_field_v1(definition, call.ctx.me_id))

    operations = [Operation("GET", "v1", f"/{route}", list_fields, body="none")]
    if entity != "activity":
        operations.append(Operation("POST", "v1", f"/{route}", create_field))
    return operations


def operations() -> list[Operation]:
    """Every v1 operation, in route-matching order (literal paths before ``{id}``)."""
    out = [
        Operation("GET", "v1", "/notes", list_notes, body="none"),
        Operation("POST", "v1", "/notes", create_note),
        Operation("GET", "v1", "/notes/{id}", get_note, body="none"),
        Operation("PUT", "v1", "/notes/{id}", update_note),
        Operation("DELETE", "v1", "/notes/{id}", delete_note, body="none"),
        Operation("GET", "v1", "/files", list_files, body="none"),
        Operation("POST", "v1", "/files", upload_file, body="form"),
        Operation("GET", "v1", "/files/{id}/download", download_file, body="none"),
        Operation("GET", "v1", "/files/{id}", get_file, body="none"),
        Operation("PUT", "v1", "/files/{id}", update_file, body="form"),
        Operation("DELETE", "v1", "/files/{id}", delete_file, body="none"),
        Operation("GET", "v1", "/persons/{id}/files", list_person_files, body="none"),
        Operation("GET", "v1", "/users", list_users, body="none"),
        Operation("GET", "v1", "/users/me", current_user, body="none"),
        Operation("GET", "v1", "/users/find", find_users, body="none"),
        Operation("GET", "v1", "/users/{id}", get_user, body="none"),
        Operation("GET", "v1", "/activityTypes", list_activity_types, body="none"),
        Operation("GET", "v1", "/currencies", list_currencies, body="none"),
    ]
    for route, entity in FIELD_ROUTES.items():
        out += field_operations(route, entity)
    return out
