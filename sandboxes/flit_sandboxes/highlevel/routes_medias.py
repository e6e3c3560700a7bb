"""Media library of spec:medias (``Version: 2021-07-28``, Location-Access; notes §4.7).

| route | operationId | success |
| --- | --- | --- |
| POST /medias/upload-file | upload-media-content | 200 ``{"fileId", "url"}`` |
| GET /medias/files?altType=location&altId=&sortBy=&sortOrder=&type= | fetch-media-content | 200 ``{"files": [...]}`` |
| DELETE /medias/{id}?altType=location&altId= | delete-media-content | 200 ``{"success": true}`` |

Upload: multipart ``file`` (binary, <= 25 MB) or ``hosted=true`` + ``fileUrl``; optional
``name`` and ``parentId`` (folder). 413 above 25 MB (status UNCONFIRMED), 422 when neither a
file nor a hosted URL is given. The file bytes are kept in the state file; ``url`` is a
``https://storage.googleapis.com/...``-style URL that the sandbox does not serve. A media item
is ``{id, altId, altType, name, parentId, url, path, type: "file", size, contentType,
createdAt}`` (the spec only gives the example ``{altId, altType, name, parentId, url, path}``;
the rest is UNCONFIRMED). ``GET /medias/files`` honours ``query`` (name substring), ``parentId``,
``sortBy`` (``name``/``createdAt``, else creation order), ``sortOrder`` (asc/desc), ``offset`` and
``limit``; folders are not implemented, so ``type=folder`` lists nothing.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request, json_response, unprocessable
from flit_sandboxes.highlevel.multipart import read_form
from flit_sandboxes.highlevel.routing import Call, Operation
from flit_sandboxes.highlevel.store import new_id
from flit_sandboxes.highlevel.validation import problems_error

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # notes §4.7
URL_BASE = "https://storage.googleapis.com/highlevel-sandbox"


def _too_large() -> ApiError:
    return ApiError(413, f"File size exceeds the maximum allowed size of {MAX_UPLOAD_BYTES} bytes")


async def upload_file(call: Call) -> Response:
    ctx = call.ctx
    form = await read_form(call, max_request_bytes=MAX_UPLOAD_BYTES, too_large=_too_large(), max_files=1)
    try:
        upload = form.get("file")
        fields: dict[str, Any] = {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
        if isinstance(upload, UploadFile):
            fields["file"] = b""
        if ctx.settings.validate:
            problems = ctx.validators["medias"].validate_form("POST", "/medias/upload-file", fields)
            if problems:
                raise problems_error(problems)
        content = await upload.read() if isinstance(upload, UploadFile) else None
        filename = PurePath(upload.filename or "file").name if isinstance(upload, UploadFile) else None
        content_type = upload.content_type if isinstance(upload, UploadFile) else None
    finally:
        await form.close()
    hosted = str(fields.get("hosted", "")).lower() == "true"
    if content is None and not (hosted and fields.get("fileUrl")):
        raise unprocessable(["file is required unless hosted is true and fileUrl is given"])
    if content is not None and len(content) > MAX_UPLOAD_BYTES:
        raise _too_large()
    location_id = ctx.settings.location_id
    media_id = new_id()
    name = fields.get("name") or filename or PurePath(str(fields.get("fileUrl", "file"))).name
    url = str(fields["fileUrl"]) if content is None else f"{URL_BASE}/location/{location_id}/media/{media_id}/{name}"
    media = {"altId": location_id, "altType": "location", "name": name, "parentId": fields.get("parentId"),
             "url": url, "path": f"location/{location_id}/media/{media_id}", "type": "file",
             "size": len(content) if content is not None else None, "contentType": content_type,
             "createdAt": now_iso()}
    media = ctx.store.insert("media", media, parent=location_id, doc_id=media_id)
    if content is not None:
        ctx.store.put_blob(media_id, content)
    return json_response({"fileId": media_id, "url": url})


def _check_alt(call: Call) -> None:
    call.check_location(call.request.query_params.get("altId"))


async def list_files(call: Call) -> Response:
    _check_alt(call)
    query = call.request.query_params
    if query.get("type") == "folder":
        return json_response({"files": []})
    files = call.ctx.store.list("media")
    if query.get("parentId"):
        files = [f for f in files if f.get("parentId") == query["parentId"]]
    if query.get("query"):
        files = [f for f in files if query["query"].lower() in f["name"].lower()]
    if query.get("sortBy") in ("name", "createdAt"):
        files.sort(key=lambda f: f[query["sortBy"]])
    if query.get("sortOrder") == "desc":
        files.reverse()
    try:
        offset = int(query.get("offset") or 0)
        limit = int(query.get("limit") or len(files) or 1)
    except ValueError:
        raise unprocessable(["offset and limit must be integers"]) from None
    return json_response({"files": files[offset:offset + limit]})


async def delete_file(call: Call) -> Response:
    _check_alt(call)
    media_id = call.path("id")
    if not call.ctx.store.delete("media", media_id):
        raise bad_request(f"File with id {media_id} not found")
    call.ctx.store.delete_blob(media_id)
    return json_response({"success": True})


def operations() -> list[Operation]:
    """Media operations."""
    return [
        Operation("POST", "medias", "/medias/upload-file", upload_file, "upload-media-content", body="form"),
        Operation("GET", "medias", "/medias/files", list_files, "fetch-media-content"),
        Operation("DELETE", "medias", "/medias/{id}", delete_file, "delete-media-content"),
    ]
