"""Location custom fields (``/locations/{locationId}/customFields``, spec:locations) and custom
field *values* on contacts (notes §4.3).

Definitions are stored as ``custom_field`` documents::

    {id, name, fieldKey ("contact.<snake_name>"), placeholder, dataType, position,
     picklistOptions[], picklistImageOptions[], isAllowedCustomOption, isMultiFileAllowed,
     maxFileLimit, locationId, model ("contact"|"opportunity"), parentId?}

Values sent on a contact are items ``{id | key, field_value | fieldValue | value}``; ``key`` may
be the full fieldKey (``contact.call_notes``) or the part after ``contact.``. Which spellings the
vendor accepts is UNCONFIRMED (notes §4.3), so all of them are. Values are stored by field id and
read back as ``[{"id", "value"}]`` (no key; issue#177).
"""

from __future__ import annotations

import re
from typing import Any

from flit_sandboxes.highlevel.errors import bad_request, unprocessable
from flit_sandboxes.highlevel.store import HighLevelStore

# Enumerated for Custom Fields V2 in spec:custom-fields; assumed for location fields (UNCONFIRMED).
DATA_TYPES = ("TEXT", "LARGE_TEXT", "NUMERICAL", "PHONE", "MONETORY", "CHECKBOX", "SINGLE_OPTIONS",
              "MULTIPLE_OPTIONS", "DATE", "TEXTBOX_LIST", "FILE_UPLOAD", "RADIO", "EMAIL")
NUMERIC_TYPES = ("NUMERICAL", "MONETORY")
LIST_TYPES = ("CHECKBOX", "MULTIPLE_OPTIONS")
OBJECT_TYPES = ("FILE_UPLOAD", "TEXTBOX_LIST")
KIND = "custom_field"
_SLUG = re.compile(r"[^a-z0-9]+")


def create_definition(store: HighLevelStore, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create a field from a ``CreateCustomFieldsDTO`` body.

    Raises:
        ApiError 422: ``dataType`` not one of DATA_TYPES.
        ApiError 400: a field with the same fieldKey exists (vendor behaviour UNCONFIRMED).
    """
    data_type = body["dataType"]
    if data_type not in DATA_TYPES:
        raise unprocessable([f"dataType must be one of: {', '.join(DATA_TYPES)}"])
    model = body.get("model") or "contact"
    slug = _SLUG.sub("_", body["name"].lower()).strip("_") or "field"
    field_key = f"{model}.{slug}"
    if any(field["fieldKey"] == field_key for field in store.list(KIND)):
        raise bad_request(f"Custom field with key {field_key} already exists")
    options = body.get("options") or []
    definition = {
        "name": body["name"],
        "fieldKey": field_key,
        "placeholder": body.get("placeholder", ""),
        "dataType": data_type,
        "position": body.get("position", 0),
        "picklistOptions": [str(option) for option in options],
        "picklistImageOptions": [],
        "isAllowedCustomOption": False,
        "isMultiFileAllowed": bool(body.get("isMultipleFile", False)),
        "maxFileLimit": body.get("maxNumberOfFiles", 1 if data_type == "FILE_UPLOAD" else 0),
        "locationId": location_id,
        "model": model,
    }
    if body.get("acceptedFormat"):
        definition["acceptedFormat"] = body["acceptedFormat"]
    if body.get("textBoxListOptions"):
        definition["textBoxListOptions"] = body["textBoxListOptions"]
    if body.get("parentId"):
        definition["parentId"] = body["parentId"]
    return store.insert(KIND, definition, parent=location_id)


def list_definitions(store: HighLevelStore, model: str | None) -> list[dict[str, Any]]:
    """Fields of ``model`` (``contact``/``opportunity``; ``all`` or None = every field)."""
    fields = store.list(KIND)
    if model and model != "all":
        fields = [field for field in fields if field["model"] == model]
    return fields


def resolve_values(store: HighLevelStore, items: list[Any], *, model: str = "contact") -> dict[str, Any]:
    """Turn request ``customFields`` items into ``{field id: value}``.

    Raises:
        ApiError 422: an item is not an object, names no field, or its value has the wrong type
            for the field's ``dataType`` (number for NUMERICAL/MONETORY, string list for
            CHECKBOX/MULTIPLE_OPTIONS, object for FILE_UPLOAD/TEXTBOX_LIST, else string).
        ApiError 400: an id/key that is not a field of the location (vendor text UNCONFIRMED).
    """
    fields = [field for field in store.list(KIND) if field["model"] == model]
    by_id = {field["id"]: field for field in fields}
    by_key = {field["fieldKey"]: field for field in fields}
    values: dict[str, Any] = {}
    for index, item in enumerate(items):
        label = f"customFields[{index}]"
        if not isinstance(item, dict):
            raise unprocessable([f"{label} must be an object"])
        field = None
        if item.get("id"):
            field = by_id.get(item["id"])
        elif item.get("key"):
            key = item["key"]
            field = by_key.get(key) or by_key.get(f"{model}.{key}")
        else:
            raise unprocessable([f"{label} needs id or key"])
        if field is None:
            raise bad_request(f"{label}: custom field not found")
        value = next((item[name] for name in ("field_value", "fieldValue", "value") if name in item), None)
        if value is not None and not _type_ok(field["dataType"], value):
            raise unprocessable([f"{label} value does not match dataType {field['dataType']}"])
        values[field["id"]] = value
    return values


def _type_ok(data_type: str, value: Any) -> bool:
    if data_type in NUMERIC_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if data_type in LIST_TYPES:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if data_type in OBJECT_TYPES:
        return isinstance(value, dict)
    return isinstance(value, str)


def render_values(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Stored ``{id: value}`` as the read-back ``[{"id", "value"}]`` (null values omitted)."""
    return [{"id": field_id, "value": value} for field_id, value in values.items() if value is not None]
