"""Payload row -> Pipedrive request body (v2 entities, v1 notes), per notes/pipedrive.md section 4.

The payload frame is destination-shaped already (see ``flit_pipelines.transform.payload``); this
module only nests dotted paths, resolves custom-field names to the account's keys and option labels to
option ids, shapes v2 custom-field values by type (notes 4.9), and appends the source marker to the
HTML of activities and notes (they take no custom fields).
"""

from __future__ import annotations

import json
import re
from typing import Any


from flit_pipelines.destinations import values as shared
from flit_pipelines.destinations.pipedrive.client import FieldRef
from flit_pipelines.destinations.values import BodyError, source_key
from flit_pipelines.files import FILE_PATH
from flit_pipelines.transform.payload import CF_PREFIX, FK_PREFIX

MARKER_RE = re.compile(r"Source record: ([A-Za-z0-9_]+:[^<\s]+)")
VARCHAR_MAX = 255
TEXT_MAX = 65_000
JSON_FIELDS = {"emails", "phones"}
FILE_LOCAL_COLUMNS = {FILE_PATH, "size", "title", "mime"}  # used to read the file, not sent
INT_FIELDS = {"person_id", "org_id", "owner_id", "user_id", "deal_id", "pipeline_id", "stage_id"}


def marker_html(key: str) -> str:
    """Footer that lets a crashed load find records that take no custom fields (activities, notes)."""
    return f"<p><small>Source record: {key}</small></p>"


def file_description(key: str) -> str:
    """A file's ``description`` (v1 updateFile): the source marker, read back like a note footer."""
    return f"Source record: {key}"


def _present(v: Any) -> bool:
    """``values.present``, except that every string (even blank) and every list/dict is present."""
    return isinstance(v, (list, dict, str)) or shared.present(v)


_plain = shared.scalar  # numpy/pandas scalars -> JSON types


def custom_value(ref: FieldRef, value: Any, currency: str) -> Any:
    """A v2 ``custom_fields`` value for ``ref``'s type; None clears the field (notes 4.9)."""
    if not _present(value):
        return None
    value = _plain(value)
    t = ref.field_type
    if t == "enum":
        label = str(value)
        if label not in ref.options:
            raise BodyError(f"custom field {ref.name!r}: value is not one of its options")
        return ref.options[label]
    if t == "set":
        labels = [x.strip() for x in str(value).split(";") if x.strip()]
        missing = [x for x in labels if x not in ref.options]
        if missing:
            raise BodyError(f"custom field {ref.name!r}: {len(missing)} value(s) are not options")
        return [ref.options[x] for x in labels] or None
    if t == "monetary":
        return {"value": round(float(value), 2), "currency": currency}
    if t == "double":
        return float(value)
    text = str(value)
    return text[:VARCHAR_MAX] if t == "varchar" else text[:TEXT_MAX]


def build_body(row: dict[str, Any], *, entity: str, target: str, fields: dict[str, FieldRef],
               source_key_field: FieldRef | None, resolved_fks: dict[str, Any], currency: str,
               pipeline_id: int | None, stages: dict[str, int]) -> dict[str, Any]:
    """One request body. ``row`` is a payload row (dict); ``resolved_fks`` maps lookup field -> dest ID.

    Standard fields that are null are omitted; custom fields that are null are sent as null so an
    update clears them. Raises BodyError naming the field (never the value).
    """
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    key = source_key(target, str(row["source_id"]))
    for col, value in row.items():
        if col == "source_id" or col.startswith(FK_PREFIX) or col == "match_value":
            continue
        if entity == "file" and col in FILE_LOCAL_COLUMNS:
            continue
        if col.startswith(CF_PREFIX):
            name = col[len(CF_PREFIX):]
            ref = fields[name]
            custom[ref.key] = custom_value(ref, value, currency)
            continue
        if not _present(value):
            continue
        value = _plain(value)
        if col in JSON_FIELDS:
            value = json.loads(value)
        if col == "stage":
            if value not in stages:
                raise BodyError("field stage: not a stage of the pipeline")
            body["stage_id"] = stages[value]
            continue
        node = body
        parts = col.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    for fk, dest in resolved_fks.items():
        if dest is None:
            continue
        if fk == "participants":
            body["participants"] = [{"person_id": int(dest), "primary": True}]
        elif fk in INT_FIELDS:
            body[fk] = int(dest)
        else:
            body[fk] = dest
    if pipeline_id is not None:
        body["pipeline_id"] = pipeline_id
    if entity in ("person", "organization", "deal"):
        if source_key_field is not None:
            custom[source_key_field.key] = key
        if custom:
            body["custom_fields"] = custom
    elif entity == "activity":
        body["note"] = (body.get("note") or "") + marker_html(key)
    elif entity == "note":
        body["content"] = (body.get("content") or "") + marker_html(key)
    elif entity == "file":  # v1 updateFile sets it after the upload (the upload's name carries the key too)
        body["description"] = file_description(key)
    if entity == "deal" and body.get("status") != "won":
        body.pop("won_time", None)  # won_time only with status won (notes 4.4)
    return body
