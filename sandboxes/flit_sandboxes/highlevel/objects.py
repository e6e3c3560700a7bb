"""Custom object schemas and records (spec:objects; notes §4.4).

Stored documents:

- ``object``: ``{id, standard: false, key ("custom_objects.<name>"), labels {singular, plural},
  description, locationId, primaryDisplayProperty ("custom_objects.<name>.<prop>"), dateAdded,
  dateUpdated, type: "USER_DEFINED", fields: [{id, name, fieldKey, dataType, objectKey, locationId}]}``
  (``fields`` is rendered separately by ``GET /objects/{key}?fetchProperties=true``).
- ``record``: ``{id, owner [userId] (<=1), followers [ids] (<=10), properties {}, dateAdded,
  dateUpdated, locationId, objectKey}``; parent = the object key.

The standard objects ``contact``, ``opportunity`` and ``business`` are listed but cannot take
records here (their records live in their own APIs).

Record ``properties`` use the field key without the ``custom_objects.<obj>.`` prefix (notes §4.4).
The primary display property is type-checked (TEXT: string, NUMERICAL: number); other property
keys are accepted unchecked, also those of fields defined through Custom Fields V2
(``object_fields``): UNCONFIRMED whether the vendor rejects unknown keys or mistyped values.
"""

from __future__ import annotations

import re
from typing import Any

from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request, unprocessable
from flit_sandboxes.highlevel.store import HighLevelStore, new_id

PREFIX = "custom_objects."
STANDARD_KEYS = ("contact", "opportunity", "business")
PRIMARY_TYPES = ("TEXT", "NUMERICAL")
MAX_OWNERS = 1
MAX_FOLLOWERS = 10
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _full_key(key: str) -> str:
    return key if key.startswith(PREFIX) else PREFIX + key


def find(store: HighLevelStore, key: str) -> dict[str, Any] | None:
    """The custom object with ``key`` (with or without the ``custom_objects.`` prefix)."""
    full = _full_key(key)
    return next((obj for obj in store.list("object") if obj["key"] == full), None)


def get_or_400(store: HighLevelStore, key: str) -> dict[str, Any]:
    """The custom object, or 400 (vendor status/text UNCONFIRMED)."""
    obj = find(store, key)
    if obj is None:
        raise bad_request(f"Object with key {key} not found")
    return obj


def standard(key: str, location_id: str) -> dict[str, Any]:
    """The listing entry of a standard object."""
    return {"id": key, "standard": True, "key": key, "labels": {"singular": key.title(), "plural": key.title() + "s"},
            "locationId": location_id, "primaryDisplayProperty": f"{key}.name", "type": "SYSTEM_DEFINED"}


def render(obj: dict[str, Any]) -> dict[str, Any]:
    """``ICustomObjectSchema`` view (without ``fields``)."""
    return {key: value for key, value in obj.items() if key != "fields"}


def create_schema(store: HighLevelStore, body: dict[str, Any]) -> dict[str, Any]:
    """Create a schema from ``CreateCustomObjectSchemaDTO`` (validated).

    Raises:
        ApiError 422: key not lowercase_underscore; primary property key not under the object
            key or dataType not TEXT/NUMERICAL.
        ApiError 400: an object with that key exists (vendor text UNCONFIRMED).
    """
    key = _full_key(body["key"])
    name = key[len(PREFIX):]
    problems = []
    if not _NAME.match(name):
        problems.append("key must be lowercase and underscore separated")
    details = body["primaryDisplayPropertyDetails"]
    prop_key = details["key"] if details["key"].startswith(PREFIX) else f"{key}.{details['key']}"
    if not prop_key.startswith(key + ".") or not _NAME.match(prop_key[len(key) + 1:]):
        problems.append(f"primaryDisplayPropertyDetails.key must look like {key}.<name>")
    if details["dataType"] not in PRIMARY_TYPES:
        problems.append("primaryDisplayPropertyDetails.dataType must be one of: TEXT, NUMERICAL")
    if problems:
        raise unprocessable(problems)
    if find(store, key) is not None:
        raise bad_request(f"Object with key {key} already exists")
    stamp = now_iso()
    field = {"id": new_id(), "name": details["name"], "fieldKey": prop_key, "dataType": details["dataType"],
             "objectKey": key, "locationId": body["locationId"]}
    obj = {"standard": False, "key": key, "labels": body["labels"], "description": body.get("description", ""),
           "locationId": body["locationId"], "primaryDisplayProperty": prop_key, "dateAdded": stamp,
           "dateUpdated": stamp, "type": "USER_DEFINED", "fields": [field]}
    return store.insert("object", obj, parent=body["locationId"])


def check_record_body(obj: dict[str, Any], body: dict[str, Any], user_ids: set[str], *, partial: bool) -> None:
    """Check ``owner``/``followers``/``properties`` of a record create (``partial=False``) or update.

    Raises:
        ApiError 422: wrong types, too many owners/followers, unknown owner, primary property
            missing on create or of the wrong type.
    """
    problems: list[str] = []
    owner = body.get("owner", [])
    followers = body.get("followers", [])
    if not isinstance(owner, list) or len(owner) > MAX_OWNERS or not all(isinstance(o, str) for o in owner):
        problems.append(f"owner must be an array of at most {MAX_OWNERS} user id")
    elif any(o not in user_ids for o in owner):
        problems.append("owner must be a user of the location")
    if not isinstance(followers, list) or len(followers) > MAX_FOLLOWERS:
        problems.append(f"followers must be an array of at most {MAX_FOLLOWERS} ids")
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        problems.append("properties must be an object")
    else:
        primary = obj["primaryDisplayProperty"].rsplit(".", 1)[1]
        data_type = obj["fields"][0]["dataType"]
        if primary not in properties and not partial:
            problems.append(f"properties.{primary} is required")
        elif primary in properties and not _primary_ok(data_type, properties[primary]):
            problems.append(f"properties.{primary} must match dataType {data_type}")
    if problems:
        raise unprocessable(problems)


def _primary_ok(data_type: str, value: Any) -> bool:
    if data_type == "NUMERICAL":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str) and value != ""


def record_not_found(record_id: str) -> ApiError:
    """400 for an unknown record id (status/text UNCONFIRMED, modelled on contacts)."""
    return bad_request(f"Record with id {record_id} not found")
