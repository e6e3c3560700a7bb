"""What a HighLevel target writes, in one comparable shape: read-back views, restore bodies, matching.

The sample-wave diff compares ``normalise_body(build_body(row))`` with ``read_fields(...)[dest_id]``
key by key; the rollback writes a ``read_fields`` value back with ``restore``. Both sides go through
``canonical`` here, which reduces a request body *or* a live record (mapped by ``live_view``) to the
keys the target writes (``WrittenFields``), in one representation:

* ``customFields`` (contacts, opportunities) is a dict ``{field id: value}`` instead of the request's
  ``[{id, field_value}]`` / the read-back's ``[{id, value}]`` / ``[{id, fieldValue}]`` lists (notes
  §4.3: read-back items carry only ``{id, value}``); only the target's fields and the source key.
* date-times (appointment ``startTime``/``endTime``, task ``dueDate``) as UTC ``YYYY-MM-DDTHH:MM:SSZ``:
  we send the practice's offset and which offset HighLevel echoes is UNCONFIRMED (notes §4.6), so
  the same instant compares equal; ``dateOfBirth`` as ``YYYY-MM-DD``.
* empty values (None, "", [], {}) are absent, as ``bodies.build_body`` omits them.
* custom object records: ``properties`` limited to the properties the target writes.
* contacts in shared form (a family member whose e-mail/phone another contact holds, see
  ``destination.py``): the "Shared Email"/"Shared Phone" value is read as ``email``/``phone`` and the
  ``shared-contact-info`` tag is left out, i.e. the view of what was sent, not of where it landed.

``WRITE_ONLY_FIELDS`` lists what we send that HighLevel never returns.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flit_pipelines.destinations.highlevel.bodies import APPOINTMENT_FLAGS, SHARED_TAG

__all__ = ["CLEARABLE", "MATCH_FIELDS", "WRITE_ONLY_FIELDS", "WrittenFields", "canonical", "custom_dict",
           "restore_items", "unshare", "utc_text"]

# Sent but never returned (the diff reports them as "not readable"): the appointment flags
# (spec:calendars AppointmentCreateSchema only), an upload's local path and its bytes.
WRITE_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "contact": frozenset(), "note": frozenset(), "task": frozenset(), "opportunity": frozenset(),
    "custom_object_record": frozenset(), "user": frozenset(),
    "appointment": frozenset(APPOINTMENT_FLAGS),
    "file": frozenset({"file_path", "file"}),
}
# ``options.match_existing`` per entity -> the ``POST /contacts/search`` filter field (notes §4.1).
MATCH_FIELDS: dict[str, dict[str, str]] = {"contact": {"email": "email"}}
# Standard keys a restore may send as null when ``prior`` lacks them. UpdateContactDto declares every
# property optional and nullable (spec:contacts, notes §4.1); for the other entities only optional
# texts and owners are emptied, never what the vendor requires (title, dueDate, startTime, name...).
CLEARABLE: dict[str, frozenset[str]] = {
    "contact": frozenset({"firstName", "lastName", "name", "email", "phone", "dateOfBirth", "address1", "city",
                          "state", "postalCode", "country", "gender", "source", "companyName", "timezone", "website",
                          "dnd", "assignedTo"}),
    "note": frozenset({"title", "userId"}),
    "task": frozenset({"body", "assignedTo"}),
    "appointment": frozenset({"title", "address", "meetingLocationType", "assignedUserId"}),
    "opportunity": frozenset({"monetaryValue", "assignedTo"}),
}
TIME_FIELDS = ("startTime", "endTime", "dueDate")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class WrittenFields:
    """The keys one target writes: top-level body keys, custom field ids (``customFields``) and, for
    custom object records, the property keys inside ``properties``."""

    keys: tuple[str, ...]
    custom_ids: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def utc_text(value: Any) -> Any:
    """An ISO 8601 date-time with an offset as UTC ``YYYY-MM-DDTHH:MM:SSZ``; other values unchanged."""
    if not isinstance(value, str) or "T" not in value:
        return value
    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError):
        return value
    if moment.tzinfo is None:
        return value
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def custom_dict(items: Any) -> dict[str, Any]:
    """``[{id, field_value | fieldValue | value}]`` (request or read-back) -> ``{id: value}``; a dict
    is taken as already in that form."""
    if isinstance(items, Mapping):
        return dict(items)
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, Mapping) and item.get("id") is not None:
            out[str(item["id"])] = next((item[k] for k in ("field_value", "fieldValue", "value") if k in item), None)
    return out


def unshare(contact: dict[str, Any], shared_ids: Mapping[str, str]) -> dict[str, Any]:
    """A live contact as it was sent: a contact tagged ``shared-contact-info`` gets ``email``/``phone``
    from the Shared Email/Phone values when it has none of its own; the tag is dropped.
    ``shared_ids``: ``{"email": <Shared Email field id>, "phone": ...}`` (provisioned ones only)."""
    tags = list(contact.get("tags") or [])
    if SHARED_TAG not in tags:
        return contact
    out = dict(contact)
    values = custom_dict(contact.get("customFields"))
    for name, field_id in shared_ids.items():
        if _empty(out.get(name)) and not _empty(values.get(field_id)):
            out[name] = values[field_id]
    out["tags"] = [t for t in tags if t != SHARED_TAG]
    return out


def canonical(entity: str, data: Mapping[str, Any], written: WrittenFields) -> dict[str, Any]:
    """``data`` (a request body, or a live record mapped to body names) in the comparable shape
    described in the module docstring, limited to ``written``. Never mutates ``data``."""
    out: dict[str, Any] = {}
    for key in written.keys:
        if key == "customFields":
            values = custom_dict(data.get("customFields"))
            custom = {i: copy.deepcopy(values[i]) for i in written.custom_ids if not _empty(values.get(i))}
            if custom:
                out["customFields"] = custom
            continue
        if key == "properties":
            props = data.get("properties") or {}
            kept = {p: copy.deepcopy(props[p]) for p in written.properties if not _empty(props.get(p))}
            if kept:
                out["properties"] = kept
            continue
        value = copy.deepcopy(data.get(key))
        if key in TIME_FIELDS:
            value = utc_text(value)
        elif key == "dateOfBirth" and isinstance(value, str) and _DATE.match(value):
            value = value[:10]
        if not _empty(value):
            out[key] = value
    return out


def restore_items(entity: str, written: WrittenFields, prior: Mapping[str, Any],
                  extra_clear: Iterable[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """The update body that makes a record read as ``prior`` again, and the keys it cannot empty.

    Written keys take ``prior``'s value; absent ones are emptied: ``tags`` -> ``[]`` (a sent list
    replaces the stored one, notes §4.1), ``CLEARABLE`` keys -> null, custom fields (and
    ``extra_clear`` field ids, e.g. the Shared Email/Phone fields) -> ``field_value: null``, record
    properties -> null (clearing a custom value with null is UNCONFIRMED upstream; the sandbox and
    the patched spec accept it). Other absent keys are returned so the caller can report them.
    ``customFields`` is sent in the request form ``[{id, field_value}]``.
    """
    body: dict[str, Any] = {}
    stuck: list[str] = []
    clearable = CLEARABLE.get(entity, frozenset())
    for key in written.keys:
        if key == "customFields":
            given = custom_dict(prior.get("customFields"))
            ids = list(dict.fromkeys([*written.custom_ids, *extra_clear]))
            body["customFields"] = [{"id": i, "field_value": copy.deepcopy(given.get(i))} for i in ids]
        elif key == "properties":
            given = prior.get("properties") or {}
            body["properties"] = {p: copy.deepcopy(given.get(p)) for p in written.properties}
        elif key in prior:
            body[key] = copy.deepcopy(prior[key])
        elif key == "tags":
            body["tags"] = []
        elif key in clearable:
            body[key] = None
        else:
            stuck.append(key)
    return body, sorted(stuck)


