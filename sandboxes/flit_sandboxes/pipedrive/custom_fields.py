"""Field definitions (standard + custom) and custom-field values (notes/pipedrive.md §4.9, §7 item 5).

- Custom field keys are random 40-hex strings generated per sandbox state, so a client that
  hard-codes keys fails here as it would against a second real account. The same key is the v1
  ``key`` and the v2 ``field_code``.
- Each entity type (person, organization, deal, activity) also lists a handful of standard fields
  (``is_custom_field: false`` / ``edit_flag: false``). activityFields are read-only (GET only).
- v2 values live in the entity's ``custom_fields`` object; the value format per ``field_type``
  follows the §4.9 table (v2 column). ``null`` clears a value; ``[]`` for a ``set`` is rejected
  (v2 spec, custom_fields description).
"""

from __future__ import annotations

import builtins  # annotations inside a class with a method named ``list``
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from flit_sandboxes.pipedrive.clock import now_v2, parse_clock_time, parse_date, v2_to_v1
from flit_sandboxes.pipedrive.errors import bad_request, not_found
from flit_sandboxes.pipedrive.store import SandboxStore

ENTITIES = ("person", "organization", "deal", "activity")
FIELD_ROUTES = {"personFields": "person", "organizationFields": "organization", "dealFields": "deal",
                "activityFields": "activity"}
CUSTOM_FIELD_TYPES = (
    "varchar", "text", "double", "phone", "date", "daterange", "time", "timerange", "set", "enum",
    "varchar_auto", "address", "monetary", "org", "people", "user",
)
OPTION_TYPES = ("enum", "set")
# Types the search endpoints may match (v2 persons/search and itemSearch/field descriptions).
SEARCHABLE_TYPES = ("address", "varchar", "text", "varchar_auto", "double", "monetary", "phone")
ADDRESS_PARTS = ("value", "country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                 "route", "street_number", "subpremise", "postal_code", "formatted_address")

# (key, name, field_type, mandatory); keys double as v2 field_code (v2 spec example uses "name", "phone").
STANDARD_FIELDS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    "person": (
        ("name", "Name", "varchar", True),
        ("first_name", "First name", "varchar", False),
        ("last_name", "Last name", "varchar", False),
        ("owner_id", "Owner", "user", False),
        ("org_id", "Organization", "org", False),
        ("email", "Email", "varchar", False),
        ("phone", "Phone", "phone", False),
        ("visible_to", "Visible to", "visible_to", False),
        ("add_time", "Person created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "organization": (
        ("name", "Name", "varchar", True),
        ("owner_id", "Owner", "user", False),
        ("address", "Address", "address", False),
        ("visible_to", "Visible to", "visible_to", False),
        ("add_time", "Organization created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "deal": (
        ("title", "Title", "varchar", True),
        ("value", "Value", "monetary", False),
        ("currency", "Currency", "varchar_options", False),
        ("status", "Status", "status", False),
        ("pipeline_id", "Pipeline", "pipeline", False),
        ("stage_id", "Stage", "stage", False),
        ("person_id", "Contact person", "people", False),
        ("org_id", "Organization", "org", False),
        ("owner_id", "Owner", "user", False),
        ("expected_close_date", "Expected close date", "date", False),
        ("won_time", "Won time", "date", False),
        ("lost_time", "Lost time", "date", False),
        ("add_time", "Deal created", "date", False),
        ("update_time", "Update time", "date", False),
    ),
    "activity": (
        ("subject", "Subject", "varchar", True),
        ("type", "Type", "varchar_options", True),
        ("due_date", "Due date", "date", False),
        ("due_time", "Due time", "time", False),
        ("duration", "Duration", "time", False),
        ("busy", "Free/busy", "boolean", False),
        ("done", "Done", "boolean", False),
        ("owner_id", "Assigned to user", "user", False),
        ("deal_id", "Deal", "deal", False),
        ("person_id", "Contact person", "people", False),
        ("org_id", "Organization", "org", False),
        ("note", "Note", "text", False),
        ("public_description", "Public description", "text", False),
        ("location", "Location", "address", False),
        ("add_time", "Add time", "date", False),
        ("update_time", "Update time", "date", False),
    ),
}

ReferenceCheck = Callable[[str, int], bool]


class FieldRegistry:
    """All field definitions of the account, cached in memory and persisted in the store.

    A definition is a dict: ``id`` (v1 numeric id), ``key``, ``name``, ``field_type``,
    ``options`` (list of ``{id, label}`` or None), ``is_custom``, ``mandatory``,
    ``add_visible_flag``, ``description``, ``order_nr``, ``add_time``, ``update_time``.
    """

    def __init__(self, store: SandboxStore):
        self._store = store
        self._lock = threading.Lock()
        self._fields: dict[str, dict[str, dict[str, Any]]] = {entity: {} for entity in ENTITIES}
        for entity, definition in store.list_fields():
            self._fields.setdefault(entity, {})[definition["key"]] = definition
        if store.get_meta("standard_fields_seeded") is None:
            self._seed_standard_fields()
            store.set_meta("standard_fields_seeded", "1")

    def _seed_standard_fields(self) -> None:
        for entity, fields in STANDARD_FIELDS.items():
            for key, name, field_type, mandatory in fields:
                self._save(entity, {
                    "id": self._store.next_id("field"), "key": key, "name": name, "field_type": field_type,
                    "options": None, "is_custom": False, "mandatory": mandatory, "add_visible_flag": True,
                    "description": None, "order_nr": len(self._fields[entity]) + 1,
                    "add_time": now_v2(), "update_time": now_v2(),
                })

    def _save(self, entity: str, definition: dict[str, Any]) -> None:
        self._store.save_field(entity, definition)
        self._fields[entity][definition["key"]] = definition

    # ------------------------------------------------------------- reading
    def list(self, entity: str) -> list[dict[str, Any]]:
        """Definitions of ``entity`` in creation order (standard first)."""
        with self._lock:
            return list(self._fields[entity].values())

    def get(self, entity: str, key: str) -> dict[str, Any] | None:
        """Definition by key / field_code, or None."""
        with self._lock:
            return self._fields[entity].get(key)

    def custom(self, entity: str) -> builtins.list[dict[str, Any]]:
        """Custom definitions of ``entity``."""
        return [definition for definition in self.list(entity) if definition["is_custom"]]

    # ------------------------------------------------------------- writing
    def create(
        self,
        entity: str,
        *,
        name: Any,
        field_type: Any,
        options: Any = None,
        add_visible_flag: bool = True,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Create a custom field with a fresh random 40-hex key.

        Raises:
            ApiError(400): activity fields (read-only), bad name/type, enum/set without options.
        """
        if entity == "activity":
            raise bad_request("Activity fields cannot be created through the API")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise bad_request("field_name must be a non-empty string of at most 255 characters")
        if field_type not in CUSTOM_FIELD_TYPES:
            raise bad_request("field_type is not a supported custom field type")
        labels = _option_labels(options)
        if field_type in OPTION_TYPES and not labels:
            raise bad_request("options are required for enum and set fields")
        with self._lock:
            definition = {
                "id": self._store.next_id("field"),
                "key": secrets.token_hex(20),
                "name": name,
                "field_type": field_type,
                "options": [{"id": self._store.next_id("field_option"), "label": label} for label in labels]
                if field_type in OPTION_TYPES else None,
                "is_custom": True,
                "mandatory": False,
                "add_visible_flag": bool(add_visible_flag),
                "description": description,
                "order_nr": len(self._fields[entity]) + 1,
                "add_time": now_v2(),
                "update_time": now_v2(),
            }
            self._save(entity, definition)
        return definition

    def add_options(self, entity: str, key: str, options: Any) -> builtins.list[dict[str, Any]]:
        """Append options to an enum/set field; returns only the new ``{id, label}`` (v2 spec).

        Raises:
            ApiError(404): no such field. ApiError(400): not an option field, or no labels.
        """
        labels = _option_labels(options)
        with self._lock:
            definition = self._fields[entity].get(key)
            if definition is None:
                raise not_found("Field not found")
            if definition["field_type"] not in OPTION_TYPES:
                raise bad_request("Options can only be added to enum and set fields")
            if not labels:
                raise bad_request("At least one option with a label is required")
            added = [{"id": self._store.next_id("field_option"), "label": label} for label in labels]
            definition = dict(definition, options=(definition["options"] or []) + added, update_time=now_v2())
            self._save(entity, definition)
        return added

    # ------------------------------------------------------------- values
    def validate_values(self, entity: str, values: Any, exists: ReferenceCheck) -> dict[str, Any]:
        """Check a v2 ``custom_fields`` object and return it (values unchanged, nulls kept).

        Args:
            entity: person/organization/deal.
            values: the request's ``custom_fields`` (must be an object).
            exists: ``exists(kind, id)`` for user/org/people references.

        Raises:
            ApiError(400): not an object, unknown key, or a value of the wrong shape for the
            field's ``field_type``. Messages name the key and the expected shape, not the value.
        """
        if not isinstance(values, dict):
            raise bad_request("custom_fields must be an object")
        with self._lock:
            known = self._fields[entity]
            for key, value in values.items():
                definition = known.get(key)
                if definition is None or not definition["is_custom"]:
                    raise bad_request(f"Unknown custom field key '{_short(key)}'")
                if value is not None:
                    _check_value(definition, value, exists)
        return dict(values)

    def render_values(
        self,
        entity: str,
        stored: dict[str, Any] | None,
        *,
        only_keys: Iterable[str] | None = None,
        option_labels: bool = False,
    ) -> dict[str, Any]:
        """The v2 ``custom_fields`` object: every custom key of ``entity``, unset ones as null.

        ``only_keys`` limits the keys (the ``custom_fields=`` query parameter);
        ``option_labels`` renders enum/set values as ``{id, label}`` (``include_option_labels``).
        """
        stored = stored or {}
        wanted = set(only_keys) if only_keys is not None else None
        out: dict[str, Any] = {}
        for definition in self.custom(entity):
            key = definition["key"]
            if wanted is not None and key not in wanted:
                continue
            value = stored.get(key)
            if option_labels and value is not None and definition["field_type"] in OPTION_TYPES:
                labels = {option["id"]: option["label"] for option in definition["options"] or []}
                if definition["field_type"] == "enum":
                    value = {"id": value, "label": labels.get(value)}
                else:
                    value = [{"id": item, "label": labels.get(item)} for item in value]
            out[key] = value
        return out


# --------------------------------------------------------------------- renderers
def render_field_v2(definition: dict[str, Any], include: Iterable[str] = ()) -> dict[str, Any]:
    """v2 field shape (v2 spec GET /personFields): field_code, field_name, field_type, options..."""
    field_type = definition["field_type"]
    out: dict[str, Any] = {
        "field_code": definition["key"],
        "field_name": definition["name"],
        "description": definition.get("description"),
        "field_type": field_type,
        "options": definition["options"],
        "subfields": [
            {"field_code": part, "field_name": f"{part} of {definition['name']}", "field_type": "varchar"}
            for part in ADDRESS_PARTS
        ] if field_type == "address" else None,
        "is_custom_field": definition["is_custom"],
        "is_optional_response_field": False,
    }
    include = set(include)
    if "ui_visibility" in include:
        out["ui_visibility"] = {
            "add_visible_flag": definition["add_visible_flag"],
            "details_visible_flag": True,
            "show_in_add_deal_dialog": {"show": False, "order": None},
        }
    if "important_fields" in include:
        out["important_fields"] = {"enabled": False, "stage_ids": []}
    if "required_fields" in include:
        out["required_fields"] = {"enabled": definition["mandatory"]}
    return out


def render_field_v1(definition: dict[str, Any], me_id: int) -> dict[str, Any]:
    """v1 field shape (v1 spec GetField): id, key, name, field_type, options, edit_flag..."""
    custom = definition["is_custom"]
    return {
        "id": definition["id"],
        "key": definition["key"],
        "name": definition["name"],
        "order_nr": definition["order_nr"],
        "field_type": definition["field_type"],
        "add_time": v2_to_v1(definition["add_time"]),
        "update_time": v2_to_v1(definition["update_time"]),
        "last_updated_by_user_id": me_id if custom else None,
        "created_by_user_id": me_id if custom else None,
        "active_flag": True,
        "edit_flag": custom,
        "index_visible_flag": True,
        "details_visible_flag": True,
        "add_visible_flag": definition["add_visible_flag"],
        "important_flag": False,
        "bulk_edit_allowed": True,
        "searchable_flag": definition["field_type"] in SEARCHABLE_TYPES,
        "filtering_allowed": True,
        "sortable_flag": True,
        "mandatory_flag": definition["mandatory"],
        "options": definition["options"],
    }


# ---------------------------------------------------------------------- helpers
def _option_labels(options: Any) -> list[str]:
    if options is None:
        return []
    if not isinstance(options, list):
        raise bad_request("options must be an array of {label} objects")
    labels = []
    for option in options:
        label = option.get("label") if isinstance(option, dict) else None
        if not isinstance(label, str) or not label.strip():
            raise bad_request("every option needs a non-empty label")
        labels.append(label)
    return labels


def _short(key: Any) -> str:
    # Keys are 40-hex codes, not patient data; still cap the length of what we echo.
    return str(key)[:64]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(definition: dict[str, Any], value: Any, exists: ReferenceCheck) -> None:
    key, field_type = _short(definition["key"]), definition["field_type"]

    def fail(expected: str) -> None:
        raise bad_request(f"Custom field '{key}' of type {field_type} expects {expected}")

    option_ids = {option["id"] for option in definition.get("options") or []}
    if field_type in ("varchar", "varchar_auto", "phone"):
        if not isinstance(value, str) or len(value) > 255:
            fail("a string of at most 255 characters")
    elif field_type == "text":
        if not isinstance(value, str) or len(value) > 65535:
            fail("a string of at most 65535 characters")
    elif field_type == "double":
        if not _is_number(value):
            fail("a number")
    elif field_type == "date":
        try:
            parse_date(value)
        except ValueError:
            fail("a date YYYY-MM-DD")
    elif field_type == "enum":
        if not _is_int(value) or value not in option_ids:
            fail("the integer id of one of its options")
    elif field_type == "set":
        if isinstance(value, list) and not value:
            raise bad_request(
                f"Custom field '{key}' of type set cannot be cleared with an empty array; send null"
            )
        if not isinstance(value, list) or not all(_is_int(item) and item in option_ids for item in value):
            fail("an array of integer option ids")
    elif field_type == "monetary":
        if not isinstance(value, dict) or not _is_number(value.get("value")) or not isinstance(
            value.get("currency", ""), str
        ) or set(value) - {"value", "currency"}:
            fail('an object {"value": number, "currency": "ISO code"}')
    elif field_type == "daterange":
        try:
            if not isinstance(value, dict) or set(value) - {"value", "until"}:
                raise ValueError
            parse_date(value["value"])
            parse_date(value["until"])
        except (ValueError, KeyError, TypeError):
            fail('an object {"value": "YYYY-MM-DD", "until": "YYYY-MM-DD"}')
    elif field_type in ("time", "timerange"):
        allowed = {"value", "timezone_name", "timezone_id"} | ({"until"} if field_type == "timerange" else set())
        try:
            if not isinstance(value, dict) or set(value) - allowed:
                raise ValueError
            parse_clock_time(value["value"])
            if field_type == "timerange":
                parse_clock_time(value["until"])
            if "timezone_name" in value and not isinstance(value["timezone_name"], str):
                raise ValueError
            if "timezone_id" in value and not _is_int(value["timezone_id"]):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            fail('an object {"value": "HH:MM:SS", "timezone_name"?: str, "timezone_id"?: int}')
    elif field_type == "address":
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("value"), str)
            or set(value) - set(ADDRESS_PARTS)
            or not all(isinstance(part, str) or part is None for part in value.values())
        ):
            fail('an address object with at least {"value": str}')
    elif field_type in ("user", "org", "people"):
        kind = {"user": "user", "org": "organization", "people": "person"}[field_type]
        if not _is_int(value):
            fail("an integer id")
        if not exists(kind, value):
            raise bad_request(f"Custom field '{key}' does not refer to an existing {kind}")
