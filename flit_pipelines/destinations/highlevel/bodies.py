"""Payload row -> HighLevel request body, per entity (notes/highlevel.md §4; spec:contacts,
spec:calendars, spec:objects, spec:opportunities).

The payload frame is destination-shaped already (``flit_pipelines.transform.payload``): one column
per ``fields`` key, ``cf:<name>`` per custom field, ``fk:<lookup>`` resolved by ``load_target`` into
``resolved_fks``. This module only types values (HighLevel is strict: numbers for NUMERICAL and
MONETORY, string lists for CHECKBOX/MULTIPLE_OPTIONS, booleans for ``completed``), resolves custom
field names to the location's field ids, and adds the source key.

Bodies may carry *routing keys* that are not sent as such: ``contactId`` of notes, tasks and files
(a path parameter), and of custom object records (the relation to the contact). They are part of
the body so that the body hash changes when the parent changes; ``strip_routing`` removes them
before sending. ``locationId`` is never in a body (the client adds it to creates only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from flit_pipelines.destinations import values as shared
from flit_pipelines.destinations.values import BodyError, source_key
from flit_pipelines.transform.payload import CF_PREFIX, FK_PREFIX

__all__ = [
    "BodyError", "FieldRef", "FOOTER_RE", "SHARED_TAG", "CONTACT_PROPERTIES", "add_footer", "build_body",
    "key_from_text", "source_key", "strip_routing",
]

FOOTER_RE = re.compile(r"Source record: ([A-Za-z0-9_]+:\S+)")
SHARED_TAG = "shared-contact-info"
NUMERIC_TYPES = frozenset({"NUMERICAL", "MONETORY"})
LIST_TYPES = frozenset({"CHECKBOX", "MULTIPLE_OPTIONS"})
OPTION_TYPES = frozenset({"SINGLE_OPTIONS", "RADIO", "CHECKBOX", "MULTIPLE_OPTIONS"})
UNSETTABLE_TYPES = frozenset({"FILE_UPLOAD", "TEXTBOX_LIST"})
LIST_SEPARATOR = ";"  # CHECKBOX / MULTIPLE_OPTIONS payload values: "Option A;Option B"

# Writable CreateContactDto properties (spec:contacts) a spec may map; ``assignedTo`` is a lookup.
CONTACT_PROPERTIES = frozenset({
    "firstName", "lastName", "name", "email", "phone", "dateOfBirth", "address1", "city", "state", "postalCode",
    "country", "gender", "source", "companyName", "timezone", "website", "tags", "dnd",
})
# ``fields`` keys per entity (everything else in a target's fields is a spec error, caught in prepare()).
ENTITY_FIELDS: dict[str, frozenset[str]] = {
    "contact": CONTACT_PROPERTIES,
    "appointment": frozenset({"title", "startTime", "endTime", "appointmentStatus", "address", "description",
                              "meetingLocationType"}),
    "task": frozenset({"title", "body", "dueDate", "completed"}),
    "note": frozenset({"body", "title"}),
    "file": frozenset({"file_path", "file_name", "url", "size", "mime"}),
    "opportunity": frozenset({"name", "status", "monetaryValue", "stage"}),
}
ENTITY_LOOKUPS: dict[str, frozenset[str]] = {
    "contact": frozenset({"assignedTo"}),
    "appointment": frozenset({"contactId", "assignedUserId"}),
    "task": frozenset({"contactId", "assignedTo"}),
    "note": frozenset({"contactId", "userId"}),
    "file": frozenset({"contactId"}),
    "opportunity": frozenset({"contactId", "assignedTo"}),
}
ROUTING_KEYS = {"note": ("contactId",), "task": ("contactId",), "file": ("contactId",),
                "custom_object_record": ("contactId",)}
APPOINTMENT_FLAGS = {"ignoreFreeSlotValidation": True, "ignoreDateRange": True, "toNotify": False}
APPOINTMENT_STATUSES = frozenset({"new", "confirmed", "cancelled", "showed", "noshow", "invalid"})
OPPORTUNITY_STATUSES = frozenset({"open", "won", "lost", "abandoned"})
_FALSE = shared.FALSE_WORDS | {""}  # a blank text is False here (Salesforce refuses it)


@dataclass(frozen=True)
class FieldRef:
    """A resolved HighLevel custom field (location field, or a Custom Fields V2 object field).

    ``id``: the field id (sent as ``customFields[].id``); ``key``: the fieldKey (``contact.x`` or
    ``custom_objects.plan.x``; record properties use the part after the object key); ``data_type``:
    HighLevel ``dataType``; ``options``: option labels; ``option_keys``: label -> option key (V2
    object fields, whose record values are option *keys*, notes §4.4).
    """

    id: str
    name: str
    key: str
    data_type: str
    options: tuple[str, ...] = ()
    option_keys: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def property_key(self) -> str:
        """The record property name: the fieldKey without its ``custom_objects.<object>.`` prefix."""
        return self.key.rsplit(".", 1)[-1]


def add_footer(text: str | None, key: str) -> str:
    """``text`` plus a last line ``Source record: <key>`` (notes, tasks, appointment descriptions)."""
    text = (text or "").rstrip()
    return f"{text}\n\nSource record: {key}" if text else f"Source record: {key}"


def key_from_text(text: Any) -> str | None:
    """The source key of a footer written by ``add_footer``, or None."""
    if not isinstance(text, str):
        return None
    found = FOOTER_RE.findall(text)
    return found[-1] if found else None


def present(value: Any) -> bool:
    """False for None/NA/NaN and empty or blank strings (``values.present``); lists and dicts are present."""
    return isinstance(value, (list, dict)) or shared.present(value)


def plain(value: Any) -> Any:
    """numpy/pandas scalars -> JSON types; Timestamps -> ISO strings."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return shared.scalar(value)


def as_bool(value: Any, name: str) -> bool:
    """``True``/``False`` from a bool, number or text ("true", "1", "yes"...; blank is False)."""
    return shared.as_bool(value, name, false_words=_FALSE)


def as_number(value: Any, name: str, *, money: bool = False) -> int | float:
    """A JSON number (money rounded to cents); BodyError if not numeric."""
    number = shared.as_float(value, name)
    if money:
        return round(number, 2)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def as_date(value: Any, name: str) -> str:
    """``YYYY-MM-DD`` from a date, timestamp or ISO text."""
    return shared.as_date(plain(value), name)


def as_iso_offset(value: Any, name: str, tz: str | None) -> str:
    """ISO 8601 with an offset (appointments, task due dates, notes §4.6). Text that already has a
    ``Z``/offset is sent as given (HighLevel keeps the offset; converting broke slot matching [code]);
    a naive value is localised to the ``time_zone`` setting (UTC when unset)."""
    value = plain(value)
    text = str(value).strip()
    if re.search(r"(Z|[+-]\d{2}:?\d{2})$", text) and "T" in text:
        return text
    try:
        moment = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise BodyError(f"field {name}: not a date-time") from None
    if moment.tzinfo is None:
        moment = moment.tz_localize(ZoneInfo(tz or "UTC"), ambiguous=False, nonexistent="shift_forward")
    return moment.isoformat()


def custom_value(ref: FieldRef, value: Any, *, record: bool = False) -> Any:
    """The value to send for ``ref`` (None when empty): location custom fields as ``field_value``
    (notes §4.3: string, number, string list), custom object record properties when ``record``
    (money as ``{"currency": "default", "value"}``, options as option keys, notes §4.4).

    Raises BodyError naming the field: a label that is not an option, a non-number for
    NUMERICAL/MONETORY, a value for FILE_UPLOAD/TEXTBOX_LIST (set by file targets / not supported).
    """
    if not present(value):
        return None
    value = plain(value)
    t = ref.data_type
    name = f"custom field {ref.name!r}"
    if t in UNSETTABLE_TYPES:
        raise BodyError(f"{name}: {t} values cannot be set from a payload column")
    if t in NUMERIC_TYPES:
        number = as_number(value, name, money=t == "MONETORY")
        if record and t == "MONETORY":
            return {"currency": "default", "value": number}
        return number
    if t in LIST_TYPES:
        labels = value if isinstance(value, list) else [x.strip() for x in str(value).split(LIST_SEPARATOR)]
        labels = [str(x) for x in labels if str(x).strip()]
        if ref.options:
            missing = [x for x in labels if x not in ref.options]
            if missing:
                raise BodyError(f"{name}: {len(missing)} value(s) are not options of the field")
        if not labels:
            return None
        return [ref.option_keys.get(x, x) for x in labels] if record else labels
    if t in ("SINGLE_OPTIONS", "RADIO"):
        label = str(value)
        if ref.options and label not in ref.options:
            raise BodyError(f"{name}: value is not one of the field's options")
        return ref.option_keys.get(label, label) if record else label
    if t == "DATE":
        return as_date(value, name)
    return str(value)


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The row's ``fields`` columns (not source_id, cf:, fk:, match_value)."""
    return {k: v for k, v in row.items()
            if k not in ("source_id", "match_value") and not k.startswith(CF_PREFIX) and not k.startswith(FK_PREFIX)}


def _custom_fields(row: dict[str, Any], refs: dict[str, FieldRef]) -> list[dict[str, Any]]:
    out = []
    for col, value in row.items():
        if not col.startswith(CF_PREFIX):
            continue
        ref = refs[col[len(CF_PREFIX):]]
        v = custom_value(ref, value)
        if v is not None:
            out.append({"id": ref.id, "field_value": v})
    return out


def split_tags(value: Any) -> list[str]:
    """The spec's ``tags`` text, ``"A,B,C"``, as a list without blanks or repeats."""
    out: list[str] = []
    for tag in str(plain(value)).split(","):
        tag = tag.strip()
        if tag and tag not in out:
            out.append(tag)
    return out


def _require(body: dict[str, Any], name: str, entity: str) -> None:
    if not present(body.get(name)):
        raise BodyError(f"{entity} field {name}: empty (required)")


def build_body(row: dict[str, Any], *, entity: str, target: str, refs: dict[str, FieldRef],
               source_key_ref: FieldRef | None, resolved_fks: dict[str, Any], time_zone: str | None = None,
               calendar_id: str | None = None, pipeline_id: str | None = None,
               stages: dict[str, str] | None = None, record_refs: dict[str, FieldRef] | None = None,
               record_field_refs: dict[str, FieldRef] | None = None,
               source_key_property: str | None = None, contact_lookup: str | None = None,
               files_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request body (plus routing keys) for a payload row of ``entity``.

    Args:
        row: the payload row (dict); ``resolved_fks``: lookup name -> destination ID (or None).
        refs: custom field name -> FieldRef (contact/opportunity location fields).
        source_key_ref: the source-key TEXT field (contacts, opportunities).
        calendar_id / pipeline_id / stages: resolved in ``ensure_schema``/``prepare``.
        record_refs / record_field_refs / source_key_property / contact_lookup: custom object
            records (custom field name -> ref; ``fields`` property key -> ref).
        files_meta: file targets: ``{"mode", "file_id", "size"}`` computed by the destination.

    Empty standard values are omitted; empty custom values are omitted (clearing a value on
    update is not propagated; how HighLevel clears one is UNCONFIRMED).

    Raises:
        BodyError: a required field or lookup is empty, or a value cannot be typed; the message
            names the field, never the value.
    """
    key = source_key(target, str(row["source_id"]))
    values = {k: plain(v) for k, v in _row_fields(row).items() if present(v)}
    fks = {k: v for k, v in resolved_fks.items() if v is not None}
    if entity == "contact":
        body: dict[str, Any] = {}
        for name, value in values.items():
            if name == "tags":
                tags = split_tags(value)
                if tags:
                    body["tags"] = tags
            elif name == "dnd":
                body["dnd"] = as_bool(value, name)
            elif name == "dateOfBirth":
                body["dateOfBirth"] = as_date(value, name)
            else:
                body[name] = str(value)
        if "assignedTo" in fks:
            body["assignedTo"] = str(fks["assignedTo"])
        custom = _custom_fields(row, refs)
        if source_key_ref is not None:
            custom.append({"id": source_key_ref.id, "field_value": key})
        if custom:
            body["customFields"] = custom
        return body
    if entity == "note":
        _require(fks, "contactId", "note")
        body = {"contactId": str(fks["contactId"]), "body": add_footer(str(values.get("body", "")), key)}
        if values.get("title"):
            body["title"] = str(values["title"])
        if "userId" in fks:
            body["userId"] = str(fks["userId"])
        return body
    if entity == "task":
        _require(fks, "contactId", "task")
        _require(values, "title", "task")
        _require(values, "dueDate", "task")
        body = {"contactId": str(fks["contactId"]), "title": str(values["title"]),
                "body": add_footer(str(values.get("body", "")), key),
                "dueDate": as_iso_offset(values["dueDate"], "dueDate", time_zone),
                "completed": as_bool(values.get("completed", False), "completed")}
        if "assignedTo" in fks:
            body["assignedTo"] = str(fks["assignedTo"])
        return body
    if entity == "appointment":
        _require(fks, "contactId", "appointment")
        _require(values, "startTime", "appointment")
        body = {"calendarId": calendar_id, "contactId": str(fks["contactId"]),
                "startTime": as_iso_offset(values["startTime"], "startTime", time_zone)}
        if "endTime" in values:
            body["endTime"] = as_iso_offset(values["endTime"], "endTime", time_zone)
        for name in ("title", "address", "meetingLocationType"):
            if name in values:
                body[name] = str(values[name])
        if "appointmentStatus" in values:
            status = str(values["appointmentStatus"])
            if status not in APPOINTMENT_STATUSES:
                raise BodyError("appointment field appointmentStatus: not a HighLevel appointment status")
            body["appointmentStatus"] = status
        body["description"] = add_footer(str(values.get("description", "")), key)
        if "assignedUserId" in fks:
            body["assignedUserId"] = str(fks["assignedUserId"])
        body.update(APPOINTMENT_FLAGS)
        return body
    if entity == "opportunity":
        _require(fks, "contactId", "opportunity")
        _require(values, "name", "opportunity")
        body = {"pipelineId": pipeline_id, "name": str(values["name"]), "contactId": str(fks["contactId"]),
                "status": str(values.get("status", "open"))}
        if body["status"] not in OPPORTUNITY_STATUSES:
            raise BodyError("opportunity field status: not open, won, lost or abandoned")
        if "stage" in values:
            stage = str(values["stage"])
            if stages is None or stage not in stages:
                raise BodyError("opportunity field stage: not a stage of the pipeline")
            body["pipelineStageId"] = stages[stage]
        if "monetaryValue" in values:
            body["monetaryValue"] = as_number(values["monetaryValue"], "monetaryValue", money=True)
        if "assignedTo" in fks:
            body["assignedTo"] = str(fks["assignedTo"])
        custom = _custom_fields(row, refs)
        if source_key_ref is not None:
            custom.append({"id": source_key_ref.id, "field_value": key})
        body["customFields"] = custom
        return body
    if entity == "custom_object_record":
        record_refs = record_refs or {}
        properties: dict[str, Any] = {}
        for name, value in values.items():  # ``fields`` keys are property keys (TEXT unless provisioned)
            ref = (record_field_refs or {}).get(name)
            v = custom_value(ref, value, record=True) if ref else str(value)
            if v is not None:
                properties[name] = v
        for col, value in row.items():
            if col.startswith(CF_PREFIX):
                ref = record_refs[col[len(CF_PREFIX):]]
                v = custom_value(ref, value, record=True)
                if v is not None:
                    properties[ref.property_key] = v
        if source_key_property:
            properties[source_key_property] = str(row["source_id"])
        body = {"properties": properties}
        if "owner" in fks:
            body["owner"] = [str(fks["owner"])]
        if contact_lookup:
            _require(fks, contact_lookup, "custom object record")
            body["contactId"] = str(fks[contact_lookup])
        return body
    if entity == "file":
        _require(fks, "contactId", "file")
        meta = files_meta or {}
        body = {"contactId": str(fks["contactId"]), "file_name": str(values.get("file_name", "")) or None}
        if meta.get("mode") == "upload":
            body.update(file_path=str(values.get("file_path", "")), file_id=meta.get("file_id"),
                        size=meta.get("size"))
            return {k: v for k, v in body.items() if v is not None}
        url = str(values.get("url", ""))
        label = body["file_name"] or "document"
        body = {"contactId": body["contactId"], "body": add_footer(f"Document: {label}\n{url}", key)}
        return body
    raise BodyError(f"entity {entity!r} has no request body")


def strip_routing(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without its routing keys (``contactId`` of notes, tasks, files, records)."""
    drop = ROUTING_KEYS.get(entity, ())
    return {k: v for k, v in body.items() if k not in drop}
