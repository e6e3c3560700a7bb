"""Custom Fields V2 (spec:custom-fields; notes §4.3): fields and folders of custom objects and
of the Company (Business) object — "Only supports Custom Objects and Company (Business) today".

Object keys: the spec's examples say ``custom_object.pet`` / ``custom_object.pet.name`` while
spec:objects and the path parameter's description use ``custom_objects.`` (notes §4.3, UNCONFIRMED
which one is enforced). The sandbox accepts both prefixes (and a bare object name) and stores the
``custom_objects.`` form, the one ``/objects`` returns; ``business`` is the Company object. Any other
key (``contact``, ``opportunity``, an unknown object) -> 400.

Stored documents:

- ``field_folder``: ``ICustomFieldFolder`` ``{id, objectKey, locationId, name}``.
- ``object_field``: ``ICustomField`` ``{id, locationId, name, description, placeholder, showInForms,
  options, acceptedFormats, objectKey, dataType, parentId, fieldKey, allowCustomOption,
  maxFileLimit, dateAdded, dateUpdated}``.

Field create checks: ``fieldKey`` must be ``<objectKey>.<lowercase_name>`` (422), unique within the
location (400, also against the object's primary display property), ``parentId`` (required by the
spec) must be a folder of the same object (400; strictness UNCONFIRMED — no default folder exists
in the sandbox, create one with ``POST /custom-fields/folder``).
"""

from __future__ import annotations

import re
from typing import Any

from flit_sandboxes.highlevel import objects
from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import bad_request, unprocessable
from flit_sandboxes.highlevel.store import HighLevelStore

FIELD = "object_field"
FOLDER = "field_folder"
BUSINESS = "business"
_SINGULAR = "custom_object."
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FIELD_PROPERTIES = ("name", "description", "placeholder", "showInForms", "options", "acceptedFormats", "dataType",
                    "allowCustomOption", "maxFileLimit")


def object_key(store: HighLevelStore, key: str) -> str:
    """The canonical key of a V2-capable object (see module docstring), or 400."""
    if key == BUSINESS:
        return key
    name = key[len(_SINGULAR):] if key.startswith(_SINGULAR) else key
    obj = objects.find(store, name)
    if obj is None:
        raise bad_request(f"Object with key {key} not found; Custom Fields V2 only supports Custom Objects "
                          "and Company (Business)")
    return obj["key"]


def _canonical_field_key(field_key: str) -> str:
    return objects.PREFIX + field_key[len(_SINGULAR):] if field_key.startswith(_SINGULAR) else field_key


def primary_field(store: HighLevelStore, key: str) -> dict[str, Any] | None:
    """The custom object's primary display property in ``ICustomField`` form (UNCONFIRMED filler:
    ``showInForms`` true, ``parentId`` null)."""
    obj = objects.find(store, key) if key != BUSINESS else None
    if obj is None:
        return None
    field = obj["fields"][0]
    return {**field, "showInForms": True, "parentId": None, "dateAdded": obj["dateAdded"],
            "dateUpdated": obj["dateUpdated"]}


def fields_of(store: HighLevelStore, key: str) -> list[dict[str, Any]]:
    """Every field of the object: the primary display property first, then V2 fields."""
    primary = primary_field(store, key)
    return ([primary] if primary else []) + [f for f in store.list(FIELD, parent=key)]


def folders_of(store: HighLevelStore, key: str) -> list[dict[str, Any]]:
    """The object's folders, in creation order."""
    return store.list(FOLDER, parent=key)


def create_folder(store: HighLevelStore, body: dict[str, Any]) -> dict[str, Any]:
    """Store a folder from a validated ``CreateFolder`` body."""
    key = object_key(store, body["objectKey"])
    return store.insert(FOLDER, {"objectKey": key, "locationId": body["locationId"], "name": body["name"]}, parent=key)


def create_field(store: HighLevelStore, body: dict[str, Any]) -> dict[str, Any]:
    """Store a field from a validated ``CreateCustomFieldsDTO`` body (checks in the module docstring)."""
    key = object_key(store, body["objectKey"])
    field_key = _canonical_field_key(body["fieldKey"])
    suffix = field_key[len(key) + 1:] if field_key.startswith(key + ".") else ""
    if not _NAME.match(suffix):
        raise unprocessable([f"fieldKey must look like {key}.<lowercase_name>"])
    if any(f["fieldKey"] == field_key for f in fields_of(store, key)):
        raise bad_request(f"Custom field with key {field_key} already exists")
    folder = store.get(FOLDER, body["parentId"])
    if folder is None or folder["objectKey"] != key:
        raise bad_request(f"Folder with id {body['parentId']} not found for {key}")
    stamp = now_iso()
    doc = {"locationId": body["locationId"], **{name: body[name] for name in FIELD_PROPERTIES if name in body},
           "objectKey": key, "parentId": folder["id"], "fieldKey": field_key, "dateAdded": stamp, "dateUpdated": stamp}
    doc.setdefault("name", suffix)
    return store.insert(FIELD, doc, parent=key)
