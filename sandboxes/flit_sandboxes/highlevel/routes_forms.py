"""Files into a contact's FILE_UPLOAD custom field: ``POST /forms/upload-custom-files``
(spec:forms, operationId ``upload-to-custom-fields``, ``Version: 2021-07-28``; notes §4.3, §4.7).

Request: query ``contactId``* and ``locationId``* (403 if foreign), ``multipart/form-data`` whose
file parts are named ``<custom_field_id>_<file_id>`` (file id: any random id/uuid; several parts
allowed, also for several fields). Non-file parts are ignored (UNCONFIRMED).

Checks, each 400 (the spec documents only 400/401; wordings UNCONFIRMED): unknown contact
(``"Contact with id … not found"``), no file part, a part name without ``_``, a field id that is
not a contact custom field of type ``FILE_UPLOAD``, an extension outside the documented list (PDF
DOCX DOC JPG JPEG PNG GIF CSV XLSX XLS MP4 MPEG ZIP RAR TXT SVG), a file above 50 MB, more files
than the field's ``maxFileLimit`` (multi-file fields) or more than one file for a single-file field.

Effect: each file is kept in the state (``document`` + blob) and the field's value becomes the
FILE_UPLOAD object form of notes §4.3, keyed by the part's file id::

    {"<file_id>": {"meta": {"fieldname": "<part name>", "originalname": "<filename>", "encoding": "7bit",
                            "mimetype": "<content type>", "size": n, "uuid": "<file_id>"},
                   "url": "<sandbox base>/documents/download/<documentId>", "documentId": "<documentId>"}}

A field with ``isMultiFileAllowed`` accumulates files across uploads; a single-file field is
replaced. Response 200 ``{"contact": {...}}`` (the spec only says "will return the updated contact
object"; the envelope is UNCONFIRMED). The vendor's URLs are
``https://services.leadconnectorhq.com/documents/download/<docId>``; the sandbox's point at itself.

``GET /documents/download/{documentId}`` (sandbox-only, not in any spec; bearer token required)
returns the stored bytes with the uploaded content type, or 404.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.highlevel import contacts, custom_fields
from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request, error_response, json_response
from flit_sandboxes.highlevel.multipart import read_form
from flit_sandboxes.highlevel.routing import Call, Operation

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES_PER_REQUEST = 10  # UNCONFIRMED
ALLOWED_EXTENSIONS = ("pdf", "docx", "doc", "jpg", "jpeg", "png", "gif", "csv", "xlsx", "xls", "mp4", "mpeg",
                      "zip", "rar", "txt", "svg")
DOCUMENT = "document"
DOWNLOAD_PATH = "/documents/download/{documentId}"


def _too_large() -> ApiError:
    return bad_request("File size is limited to 50 MB")


def _file_field(store: Any, field_id: str) -> dict[str, Any]:
    field = store.get(custom_fields.KIND, field_id)
    if field is None or field["model"] != "contact":
        raise bad_request(f"Custom field with id {field_id} not found")
    if field["dataType"] != "FILE_UPLOAD":
        raise bad_request(f"Custom field with id {field_id} is not a FILE_UPLOAD field")
    return field


async def _parts(call: Call) -> list[tuple[str, str, UploadFile, bytes]]:
    """``(field id, file id, upload, content)`` per file part, checked for name, extension, size."""
    form = await read_form(call, max_request_bytes=MAX_FILES_PER_REQUEST * MAX_FILE_BYTES, too_large=_too_large(),
                           max_files=MAX_FILES_PER_REQUEST)
    try:
        parts = []
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile):
                continue
            field_id, sep, file_id = name.partition("_")
            if not (field_id and sep and file_id):
                raise bad_request("file parts must be named <custom_field_id>_<file_id>")
            extension = PurePath(value.filename or "").suffix.lower().lstrip(".")
            if extension not in ALLOWED_EXTENSIONS:
                raise bad_request(f"File type not allowed; allowed: {', '.join(e.upper() for e in ALLOWED_EXTENSIONS)}")
            content = await value.read()
            if len(content) > MAX_FILE_BYTES:
                raise _too_large()
            parts.append((field_id, file_id, value, content))
    finally:
        await form.close()
    if not parts:
        raise bad_request("No files were uploaded")
    return parts


async def upload_custom_files(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("locationId"))
    store = call.ctx.store
    parts = await _parts(call)
    # no await below: the read-modify-write of the contact's file field is atomic on the event loop, so
    # concurrent uploads to one contact append instead of losing each other's files
    contact = contacts.get_or_400(store, query["contactId"])
    fields = {field_id: _file_field(store, field_id) for field_id, _, _, _ in parts}
    values: dict[str, Any] = contact.setdefault("customFieldValues", {})
    for field_id, field in fields.items():
        file_ids = {file_id for f_id, file_id, _, _ in parts if f_id == field_id}
        if not field.get("isMultiFileAllowed"):
            if len(file_ids) > 1:
                raise bad_request(f"Custom field with id {field_id} allows one file")
            values[field_id] = {}
        limit = field.get("maxFileLimit") or 0
        if limit and len(set(values.get(field_id) or {}) | file_ids) > limit:
            raise bad_request(f"Custom field with id {field_id} allows at most {limit} files")
    base = str(call.request.base_url).rstrip("/")
    for field_id, file_id, upload, content in parts:
        name = PurePath(upload.filename or "file").name
        mimetype = upload.content_type or "application/octet-stream"
        document = store.insert(DOCUMENT, {"contactId": contact["id"], "fieldId": field_id, "name": name,
                                           "contentType": mimetype, "size": len(content), "createdAt": now_iso()},
                                parent=contact["id"])
        store.put_blob(document["id"], content)
        meta = {"fieldname": f"{field_id}_{file_id}", "originalname": name, "encoding": "7bit", "mimetype": mimetype,
                "size": len(content), "uuid": file_id}
        values[field_id] = {**(values.get(field_id) or {}), file_id: {
            "meta": meta, "url": f"{base}/documents/download/{document['id']}", "documentId": document["id"]}}
    contact = contacts.update(store, contact, {})
    return json_response({"contact": contacts.render(contact)})


async def download_document(request: Request) -> Response:
    """``GET /documents/download/{documentId}`` (sandbox-only)."""
    store = request.app.state.sandbox.store
    document_id = request.path_params["documentId"]
    document = store.get(DOCUMENT, document_id)
    content = store.get_blob(document_id) if document else None
    if content is None:
        return error_response(ApiError(404, f"Document with id {document_id} not found"))
    filename = document["name"].encode("ascii", "replace").decode().replace('"', "'")
    return Response(content, media_type=document["contentType"],
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def operations() -> list[Operation]:
    """Forms operations."""
    return [Operation("POST", "forms", "/forms/upload-custom-files", upload_custom_files, "upload-to-custom-fields",
                      body="form")]


def routes() -> list[Route]:
    """Sandbox-only routes (not vendor operations)."""
    return [Route(DOWNLOAD_PATH, download_document, methods=["GET"])]
