"""Payload row -> Salesforce record body, and body -> Bulk CSV cells / REST JSON.

A body is a flat dict keyed exactly as the Bulk CSV header (notes/salesforce.md §1.2, §1.4):

* field API names (``LastName``, ``Birthdate``, ``Balance__c``) -> typed values: ``str``, ``int``/
  ``float``, ``bool``, or ``None`` = "mapped but empty in this row";
* the external ID field (``Source_System_ID__c``) -> ``<prefix><source id>``;
* lookups to a ``user`` target (``OwnerId``, a custom ``X__c`` Lookup(User)) -> the resolved
  User Id (Users carry no external ID; notes §5.3 "resolve User Ids once, then write OwnerId");
* lookups to an ``sobject`` target -> a **relationship column** holding the parent's external ID:
  ``Patient__r.Source_System_ID__c`` for a custom lookup, ``Account.Source_System_ID__c`` for a
  standard one, ``Contact:Who.Source_System_ID__c`` for polymorphic ``WhoId``/``WhatId``
  (notes §1.4). The value is the row's ``fk:<lookup>`` source ID (with the parent target's
  prefix), sent only when ``load_target`` resolved the parent through the crosswalk (so the parent
  was loaded in an earlier job);
* keys starting with ``_`` are routing data, never sent (file path and size of ``file`` targets).

Rendering: :func:`csv_cell` (Bulk CSV: ``true``/``false``, plain decimals, ``yyyy-MM-dd``,
``yyyy-MM-ddTHH:mm:ss.SSSZ``; ``None`` -> empty on create (keep/default) or ``#N/A`` on update
(set null), notes §1.2) and :func:`rest_record` (sObject Collections: nested relationship objects
with ``attributes.type``, notes §1.4/§2.2; ``None`` omitted on create, ``null`` on update).
Lookups left empty are omitted (a lookup emptied at the source is not cleared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from flit_pipelines.destinations import values as shared
from flit_pipelines.destinations.values import BodyError, present
from flit_pipelines.transform.payload import CF_PREFIX, FK_PREFIX

__all__ = ["BodyError", "FieldInfo", "LookupInfo", "TargetInfo", "build_body", "csv_cell", "rest_record",
           "present", "NULL_CSV", "TEXT_TYPES"]

NULL_CSV = "#N/A"
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "encryptedstring", "combobox", "picklist",
                        "multipicklist", "id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})


@dataclass(frozen=True)
class FieldInfo:
    """What ``build_body`` needs to know about one field of the target's sObject.

    ``sf_type`` is the describe type (``string``, ``double``, ``date``, ``datetime``, ``boolean``,
    ``picklist`` ...); ``length`` the maximum text length (0: unknown); ``scale`` decimals of
    numbers; ``options`` the allowed pick-list values when the list is restricted (empty: any);
    ``required`` true when describe says ``nillable=false, createable, not defaultedOnCreate``.
    """

    name: str
    sf_type: str = "string"
    length: int = 0
    scale: int | None = None
    options: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class LookupInfo:
    """How one lookup is sent: ``kind`` ``"id"`` (column = field name, value = resolved Id) or
    ``"relationship"`` (column = ``Rel.ExtField`` or ``Type:Rel.ExtField``, value = parent prefix +
    parent source ID); ``parent_object`` for the REST ``attributes.type`` of the nested object."""

    name: str
    kind: str
    column: str
    parent_object: str | None = None
    parent_prefix: str = ""


@dataclass
class TargetInfo:
    """A prepared ``sobject``/``file`` target: its sObject, external ID, fields and lookups."""

    name: str
    sobject: str
    external_id: str
    prefix: str = ""
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    lookups: dict[str, LookupInfo] = field(default_factory=dict)
    time_zone: str | None = None
    operation: str = "upsert"  # upsert | insert_update

    def ext_value(self, source_id: Any) -> str:
        """The external ID value of a source ID."""
        return f"{self.prefix}{source_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return shared.scalar(value)


def as_bool(value: Any, name: str) -> bool:
    """A checkbox value from a bool, number or text (true/1/yes, false/0/no; blank is refused)."""
    return shared.as_bool(value, name)


def as_number(value: Any, name: str, *, scale: int | None = None, integer: bool = False) -> int | float:
    """A finite number (rounded to ``scale`` decimals; ``integer`` for int fields)."""
    number = shared.as_float(value, name)
    if integer:
        if not number.is_integer():
            raise BodyError(f"field {name}: not a whole number")
        return int(number)
    if scale is not None:
        number = round(number, scale)
    return int(number) if number.is_integer() and abs(number) < 2**53 and scale == 0 else number


def as_date(value: Any, name: str) -> str:
    """``yyyy-MM-dd`` (notes §1.2: no offset on dates)."""
    value = _plain(value)
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    return shared.as_date(value, name)


def as_datetime(value: Any, name: str, tz: str | None) -> str:
    """UTC ``yyyy-MM-ddTHH:mm:ss.SSSZ`` (notes §1.2, §5.2: stored and sent in UTC). Values with an
    offset are converted; naive ones are wall-clock times of ``tz`` (settings ``time_zone``, UTC
    when unset)."""
    value = _plain(value)
    try:
        moment = pd.Timestamp(value if not isinstance(value, str) else value.strip())
    except (ValueError, TypeError):
        raise BodyError(f"field {name}: not a date-time") from None
    if pd.isna(moment):
        raise BodyError(f"field {name}: not a date-time")
    if moment.tzinfo is None:
        moment = moment.tz_localize(ZoneInfo(tz or "UTC"), ambiguous=False, nonexistent="shift_forward")
    moment = moment.tz_convert("UTC")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def typed_value(info: FieldInfo, value: Any, tz: str | None) -> Any:
    """``value`` typed for ``info`` (None when empty). Raises BodyError naming the field."""
    if not present(value):
        return None
    t = info.sf_type
    name = info.name
    if t == "boolean":
        return as_bool(value, name)
    if t == "int":
        return as_number(value, name, integer=True)
    if t in NUMBER_TYPES:
        return as_number(value, name, scale=info.scale if info.scale is not None else (2 if t == "currency" else None))
    if t == "date":
        return as_date(value, name)
    if t == "datetime":
        return as_datetime(value, name, tz)
    value = _plain(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if t == "multipicklist":
        parts = [p.strip() for p in text.split(";") if p.strip()]
        if info.options:
            bad = [p for p in parts if p not in info.options]
            if bad:
                raise BodyError(f"field {name}: {len(bad)} value(s) are not pick-list values of the field")
        text = ";".join(dict.fromkeys(parts))
    elif t == "picklist" and info.options and text not in info.options:
        raise BodyError(f"field {name}: value is not a pick-list value of the field")
    if info.length and len(text) > info.length:
        raise BodyError(f"field {name}: longer than {info.length} characters")
    return text


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in ("source_id", "match_value") or k.startswith(FK_PREFIX):
            continue
        out[k[len(CF_PREFIX):] if k.startswith(CF_PREFIX) else k] = v
    return out


def build_body(row: dict[str, Any], info: TargetInfo, resolved_fks: dict[str, Any], *,
               skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One record body (see module docstring) for a payload row of a prepared target.

    ``skip``: payload columns that are routing data of the entity (file targets' ``file_path``).

    Raises:
        BodyError: a required field is empty, a value cannot be typed, is too long or not a
            pick-list value; names the field, never the value.
    """
    body: dict[str, Any] = {}
    for name, value in _row_fields(row).items():
        if name in skip:
            continue
        finfo = info.fields.get(name) or FieldInfo(name)
        typed = typed_value(finfo, value, info.time_zone)
        if typed is None and finfo.required:
            raise BodyError(f"{info.sobject} field {name}: empty (required)")
        if typed is None and finfo.sf_type == "boolean":
            continue  # a checkbox cannot be null: an empty value leaves it as it is
        body[name] = typed
    for name, lk in info.lookups.items():
        resolved = resolved_fks.get(name)
        if resolved is None or not present(resolved):
            continue
        if lk.kind == "id":
            body[lk.column] = str(resolved)
        else:
            parent_sid = row.get(FK_PREFIX + name)
            if not present(parent_sid):
                continue
            body[lk.column] = f"{lk.parent_prefix}{_plain(parent_sid)}"
    if info.sobject == "Event":
        _check_event(body)
    body[info.external_id] = info.ext_value(row["source_id"])
    return body


def _check_event(body: dict[str, Any]) -> None:
    """Event needs StartDateTime and, unless all-day, EndDateTime or DurationInMinutes (notes §5.2)."""
    all_day = body.get("IsAllDayEvent") is True
    if all_day:
        if body.get("ActivityDate") is None and body.get("StartDateTime") is None:
            raise BodyError("Event field ActivityDate: empty (an all-day event needs ActivityDate or StartDateTime)")
        return
    if body.get("StartDateTime") is None:
        raise BodyError("Event field StartDateTime: empty (required)")
    if body.get("EndDateTime") is None and body.get("DurationInMinutes") is None:
        raise BodyError("Event field EndDateTime: empty (EndDateTime or DurationInMinutes is required)")


def _number_text(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def csv_cell(value: Any, *, update: bool) -> str:
    """A Bulk CSV cell (notes §1.2): None -> ``#N/A`` on update (set null) or empty on create."""
    if value is None:
        return NULL_CSV if update else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    return str(value)


def sendable(body: dict[str, Any]) -> dict[str, Any]:
    """The body without routing keys (``_``-prefixed)."""
    return {k: v for k, v in body.items() if not k.startswith("_")}


def rest_record(body: dict[str, Any], info: TargetInfo, *, update: bool, record_id: str | None = None
                ) -> dict[str, Any]:
    """A Collections record: ``attributes.type``, plain fields, relationship columns as nested
    objects ``{"Patient__r": {"attributes": {"type": "Contact"}, "Source_System_ID__c": "P1"}}``
    (polymorphic ``Contact:Who.X`` -> ``"Who": {...type Contact...}``; notes §1.4); None omitted
    on create and ``null`` on update; ``record_id`` adds ``Id`` (update by Id)."""
    rec: dict[str, Any] = {"attributes": {"type": info.sobject}}
    relationship = {lk.column: lk for lk in info.lookups.values() if lk.kind == "relationship"}
    for key, value in sendable(body).items():
        lk = relationship.get(key)
        if lk is not None:
            path = key.split(":", 1)[-1]
            rel, ext = path.split(".", 1)
            rec[rel] = {"attributes": {"type": lk.parent_object}, ext: value}
            continue
        if value is None and not update:
            continue
        rec[key] = value
    if record_id:
        rec["Id"] = record_id
    return rec
