"""JSON record bodies (REST single-record calls and Collections) to ``dml.Row`` (notes §2.1, §1.4).

- Keys are field API names (any case); ``attributes`` is skipped. An unknown or invisible field fails the
  whole request: 400 ``INVALID_FIELD`` "No such column 'F' on sobject of type Contact".
- A value of the wrong JSON type fails the whole request: 400 ``JSON_PARSER_ERROR`` "Cannot deserialize
  instance of date from VALUE_STRING value 05/01/2024 or request may be missing a required field"
  (UNCONFIRMED wording and whole-request scope for Collections).
- A parent by external ID is a nested object under the relationship name:
  ``"Patient__r": {"Source_System_ID__c": "P-1"}``; polymorphic relationships (``Who``, ``What``) need
  ``"attributes": {"type": "Contact"}`` inside, otherwise the **whole request** fails with
  ``JSON_PARSER_ERROR`` (notes §1.4). The nested key must be an External ID / idLookup field.
- Base64 fields (ContentVersion ``VersionData``) over JSON are limited to ``json_blob_max_base64_bytes``
  of base64 text (37.5 MB, notes §4): larger -> 400 ``EXCEEDED_MAX_SIZE_REQUEST`` (code UNCONFIRMED); use
  multipart.
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.salesforce.dml import Ref, Row
from flit_sandboxes.salesforce.errors import SfError, json_parser_error, no_such_column
from flit_sandboxes.salesforce.perms import Permissions
from flit_sandboxes.salesforce.schema import Field, Schema, SObject
from flit_sandboxes.salesforce.values import TypeProblem, from_json

_JSON_TYPES = {"string": "string", "boolean": "boolean", "double": "double", "currency": "double", "int": "int",
               "date": "date", "datetime": "datetime", "percent": "double", "base64": "base64"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def typed(field: Field, value: Any) -> Any:
    """``values.from_json`` with the whole-request ``JSON_PARSER_ERROR``."""
    try:
        return from_json(field, value)
    except TypeProblem:
        shown = value if not isinstance(value, (dict, list)) else ""
        raise json_parser_error(f"Cannot deserialize instance of {_JSON_TYPES.get(field.type, 'string')} from "
                                f"{_kind(value)} value {shown} or request may be missing a required field") from None


def to_row(schema: Schema, perms: Permissions, sobject: SObject, body: Any, *, blob_limit: int,
           id_as_target: bool = False) -> Row:
    """A ``Row`` from one JSON record; ``id_as_target`` moves ``Id`` to ``record_id`` (updates)."""
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize instance of SObject from a non-object value")
    row = Row()
    for key, value in body.items():
        if key == "attributes":
            continue
        field = perms.visible_field(sobject, key)
        if field is None:
            ref = sobject.relationship(key)
            if ref is not None and perms.field_access(sobject, ref)[0] and (isinstance(value, dict) or value is None):
                if value is None:
                    row.values[ref.name] = None
                else:
                    row.refs.append(_nested(schema, perms, ref, key, value))
                continue
            raise no_such_column(key, sobject.name)
        if field.type == "id" and id_as_target:
            row.record_id = value if isinstance(value, str) else None
            continue
        if field.type == "base64" and isinstance(value, str) and len(value) > blob_limit:
            raise SfError(400, "EXCEEDED_MAX_SIZE_REQUEST", f"Maximum size of base64-encoded data over JSON is "
                                                            f"{blob_limit} bytes; use a multipart request")
        row.values[field.name] = typed(field, value)
    return row


def _nested(schema: Schema, perms: Permissions, ref: Field, key: str, value: dict[str, Any]) -> Ref:
    attributes = value["attributes"] if isinstance(value.get("attributes"), dict) else {}
    type_name = attributes.get("type")
    targets = schema.targets(ref)
    if type_name is None and len(targets) != 1:
        raise json_parser_error(f"Cannot deserialize instance of {key}: a polymorphic relationship needs "
                                "\"attributes\": {\"type\": ...}")
    target = schema.get(type_name or targets[0])
    if target is None or target.name not in targets or not perms.can_see(target):
        raise json_parser_error(f"Invalid type {type_name} for the relationship {key}")
    keys = [k for k in value if k != "attributes"]
    if len(keys) != 1:
        raise SfError(400, "INVALID_FIELD", f"A foreign key for {key} must name exactly one External ID field", [])
    key_field = perms.visible_field(target, keys[0])
    if key_field is None or not key_field.indexed:
        raise SfError(400, "INVALID_FIELD", f"{keys[0]} is not an External ID or indexed field for {target.name}", [])
    return Ref(ref, target, key_field, typed(key_field, value[keys[0]]))
