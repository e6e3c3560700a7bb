"""Salesforce Files over REST (notes §4).

- ``POST /sobjects/ContentVersion`` JSON with base64 ``VersionData`` (``payload``: at most
  ``json_blob_max_base64_bytes`` = 37.5 MB of base64 text, then 400).
- ``POST /sobjects/ContentVersion`` multipart (``multipart/form-data``): part ``entity_content``
  (``application/json``: ``Title``, ``PathOnClient``, ``FirstPublishLocationId``, ...) and part ``VersionData``
  with a ``filename`` (the bytes; at most ``multipart_blob_max_bytes``, default 2 GB for ContentVersion) ->
  201 ``{"id", "success": true, "errors": []}``. The part names are UNCONFIRMED (notes §4, §9); a
  missing part or a ``VersionData`` part without ``filename`` -> 400 ``INVALID_MULTIPART_REQUEST``
  (UNCONFIRMED code). Only ContentVersion takes multipart here.
- ``GET /sobjects/ContentVersion/{id}/VersionData`` -> 200 the bytes, ``Content-Type: application/octetstream``
  (Salesforce's spelling, UNCONFIRMED); unknown Id -> 404 ``NOT_FOUND``.

Inserting a ContentVersion creates its ContentDocument (069) and ContentDocumentLinks (``dml_hooks``).
"""

from __future__ import annotations

import json

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce.context import SalesforceContext
from flit_sandboxes.salesforce.dml import Row
from flit_sandboxes.salesforce.errors import SfError, not_found
from flit_sandboxes.salesforce.ids import normalize
from flit_sandboxes.salesforce.payload import to_row
from flit_sandboxes.salesforce.schema import SObject

ENTITY_PART = "entity_content"
BLOB_PART = "VersionData"


def _bad(message: str) -> SfError:
    return SfError(400, "INVALID_MULTIPART_REQUEST", message, [])


async def multipart_row(request: Request, ctx: SalesforceContext, sobject: SObject) -> Row:
    """The ``Row`` of a multipart ContentVersion insert (module docstring)."""
    if sobject.name != "ContentVersion":
        raise _bad(f"Multipart requests are only supported for ContentVersion in this sandbox, not {sobject.name}")
    limit = ctx.settings.multipart_blob_max_bytes
    try:
        form = await request.form(max_files=2, max_fields=4, max_part_size=1024 * 1024)
    except Exception as error:  # python-multipart / starlette parse errors
        raise _bad(f"Could not parse the multipart body: {error}") from None
    try:
        entity = form.get(ENTITY_PART)
        blob = form.get(BLOB_PART)
        if isinstance(entity, UploadFile):
            entity = (await entity.read()).decode("utf-8")
        if not isinstance(entity, str):
            raise _bad(f"The multipart body needs a '{ENTITY_PART}' JSON part")
        if not isinstance(blob, UploadFile):
            raise _bad(f"The multipart body needs a '{BLOB_PART}' part with a filename")
        content = await blob.read()
    finally:
        await form.close()
    if len(content) > limit:
        raise SfError(400, "EXCEEDED_MAX_SIZE_REQUEST", f"Maximum size of a ContentVersion upload is {limit} bytes")
    try:
        body = json.loads(entity)
    except ValueError:
        raise SfError(400, "JSON_PARSER_ERROR", f"The '{ENTITY_PART}' part is not valid JSON") from None
    if isinstance(body, dict) and any(key.lower() == "versiondata" for key in body):
        raise _bad("VersionData goes in its own part, not in entity_content")
    row = to_row(ctx.schema, ctx.perms, sobject, body, blob_limit=ctx.settings.json_blob_max_base64_bytes)
    row.values["VersionData"] = content
    return row


async def blob(request: Request, ctx: SalesforceContext, sobject: SObject, raw_id: str, field_name: str) -> Response:
    """``GET /sobjects/{name}/{id}/{base64 field}``: the stored bytes."""
    record_id = normalize(raw_id)
    record = ctx.tables.get(record_id) if record_id else None
    if record is None or record.get("IsDeleted") or ctx.tables.type_of.get(record_id or "") != sobject.name:
        raise not_found()
    content = ctx.store.get_blob(f"cv:{record_id}")
    if content is None:
        raise not_found()
    return Response(content, media_type="application/octetstream")
