"""What a Pipedrive target writes, in ``build_body``'s shape: read-back, restore bodies, matching.

The field-level diff of the sample wave compares ``normalise_body(build_body(row))`` with
``read_fields(...)[dest_id]`` key by key; the rollback writes a ``read_fields`` result back. Both
need the set of body keys a *target* writes, which the spec fixes (``WrittenFields.of``):

* each ``fields`` entry (dotted names nest: ``postal_address.route`` is sub-key ``route`` of
  ``postal_address``; ``stage`` is sent as ``stage_id``); file-local columns are not sent;
* each lookup (``participants`` as ``[{person_id, primary}]``) and ``pipeline_id`` with a pipeline;
* ``custom_fields``: the target's custom fields and the source-key field, by account key;
* activities/notes: ``note``/``content`` (they carry the source marker).

Conventions shared with ``bodies.build_body``: standard fields that are empty are absent, custom
fields are always present (``None`` when empty); custom values in v2 form (enum: option id, set:
option ids, monetary: ``{value, currency}``; notes/pipedrive.md 4.9). Times ``HH:MM:SS`` that end
in ``:00`` read as ``HH:MM`` (the vendor's v2 example echoes seconds; we send ``HH:MM``, notes 4.5).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from flit_pipelines.destinations.pipedrive.bodies import FILE_LOCAL_COLUMNS
from flit_pipelines.spec.model import Target

__all__ = ["CLEAR_VALUES", "MATCH_FIELDS", "NOT_CLEARABLE", "WRITE_ONLY_FIELDS", "WrittenFields", "canonical",
           "live_view", "restore_body"]

# Fields we send that Pipedrive never returns, per entity: the diff reports them as "not readable".
# Files: the uploaded bytes (multipart ``file``, v1 addFile) are only downloadable, not part of getFile.
WRITE_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "person": frozenset(), "organization": frozenset(), "deal": frozenset(), "activity": frozenset(),
    "note": frozenset(), "file": frozenset({"file"}), "user": frozenset(),
}
# ``options.match_existing`` per entity -> the ``fields`` value of the vendor's exact search
# (v2 searchPersons / searchOrganization, exact_match is case-insensitive; notes 4.1, 6).
MATCH_FIELDS: dict[str, dict[str, str]] = {
    "person": {"email": "email", "name": "name"},
    "organization": {"name": "name"},
}
# Keys a restore leaves alone when ``prior`` lacks them: the vendor always keeps a value there
# (owner, author, type, status, required names, booleans), so an empty prior cannot happen.
NOT_CLEARABLE = frozenset({"owner_id", "user_id", "add_time", "currency", "type", "status", "name", "title",
                           "subject", "content", "done", "busy", "visible_to", "pipeline_id", "stage_id",
                           "value", "won_time"})
# How a restore empties a field the migration filled, per the v2/v1 OpenAPI documents: custom fields
# take null (documented), arrays are replaced by [] (a sent list replaces the stored one, notes 4.1),
# free text takes "", an address object keeps only its required ``value``, as "", and the few
# properties the documents mark ``nullable`` take null. Standard integer, date and time properties
# (org_id, person_id, birthday, due_date, due_time, duration...) are not nullable there: the API
# offers no way to empty them, so ``restore_body`` lists them for an admin.
CLEAR_VALUES: dict[str, Any] = {
    **{k: [] for k in ("emails", "phones", "im", "label_ids", "participants", "attendees")},
    **{k: "" for k in ("notes", "job_title", "note", "public_description")},
    **{k: {"value": ""} for k in ("postal_address", "address", "location")},
    **{k: None for k in ("website", "linkedin", "industry", "annual_revenue", "employee_count", "probability",
                         "lost_reason", "close_time")},
}
CONTACT_LISTS = ("emails", "phones", "im")
CLOCK_FIELDS = ("due_time", "duration")
_CLOCK_SECONDS = re.compile(r"^(\d{2}:\d{2}):00$")


@dataclass(frozen=True)
class WrittenFields:
    """The body keys one target writes.

    ``plain``: top-level keys sent as whole values; ``nested``: top-level key -> sub-keys (from
    dotted field names); ``custom``: custom-field account keys (inside ``custom_fields``).
    """

    plain: tuple[str, ...]
    nested: dict[str, tuple[str, ...]] = field(default_factory=dict)
    custom: tuple[str, ...] = ()

    @classmethod
    def of(cls, target: Target, custom_keys: dict[str, str], source_key: str | None) -> WrittenFields:
        """The keys of ``target``; ``custom_keys`` maps custom-field name -> account key, ``source_key``
        is the account key of the source-key field (None for entities without custom fields)."""
        plain: dict[str, None] = {}
        nested: dict[str, dict[str, None]] = {}
        for col in target.fields:
            if target.entity == "file" and col in FILE_LOCAL_COLUMNS:
                continue
            if col == "stage":
                plain["stage_id"] = None
            elif "." in col:
                head, rest = col.split(".", 1)
                nested.setdefault(head, {})[rest] = None
            else:
                plain[col] = None
        for fk in target.lookups:
            plain[fk] = None
        if target.pipeline is not None:
            plain["pipeline_id"] = None
        if target.entity == "activity":
            plain["note"] = None
        elif target.entity == "note":
            plain["content"] = None
        custom: list[str] = []
        if target.entity in ("person", "organization", "deal"):
            custom = [custom_keys[name] for name in target.custom_fields]
            if source_key is not None:
                custom.append(source_key)
        return cls(tuple(plain), {k: tuple(v) for k, v in nested.items()}, tuple(dict.fromkeys(custom)))

    def keys(self) -> list[str]:
        """Every top-level body key, ``custom_fields`` last when the target has any."""
        return [*self.plain, *self.nested, *(["custom_fields"] if self.custom else [])]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _dig(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _contact_list(items: Any) -> list[dict[str, Any]]:
    """``[{value, primary, label}]`` with the vendor's defaults: label ``work``, first entry primary
    when none is (migration guide, notes 4.1)."""
    out = [{"value": i.get("value"), "primary": bool(i.get("primary", False)), "label": i.get("label") or "work"}
           for i in items or [] if isinstance(i, dict)]
    if out and not any(i["primary"] for i in out):
        out[0]["primary"] = True
    return out


def _participants(items: Any) -> list[dict[str, Any]]:
    out = [{"person_id": i.get("person_id"), "primary": bool(i.get("primary", False))}
           for i in items or [] if isinstance(i, dict)]
    if out and not any(i["primary"] for i in out):
        out[0]["primary"] = True
    return out


def _plain_value(key: str, value: Any) -> Any:
    if key in CONTACT_LISTS:
        return _contact_list(value)
    if key == "participants":
        return _participants(value)
    if key in CLOCK_FIELDS and isinstance(value, str):
        m = _CLOCK_SECONDS.match(value)
        return m.group(1) if m else value
    return value


def canonical(entity: str, data: dict[str, Any], written: WrittenFields) -> dict[str, Any]:
    """``data`` (a live record or a request body) reduced to the written keys in body form.

    Empty standard values are dropped; nested objects keep only written, non-empty sub-keys;
    ``custom_fields`` has every written key (None when empty). A deal's ``won_time`` counts only
    when the deal is won (build_body drops it otherwise, notes 4.4). Never mutates ``data``.
    """
    out: dict[str, Any] = {}
    for key in written.plain:
        value = _plain_value(key, copy.deepcopy(data.get(key)))
        if not _empty(value):
            out[key] = value
    for key, subs in written.nested.items():
        node = {sub: copy.deepcopy(_dig(data.get(key), sub)) for sub in subs}
        node = {k: v for k, v in node.items() if not _empty(v)}
        if node:
            out[key] = _nest(node)
    if written.custom:
        live = data.get("custom_fields") or {}
        out["custom_fields"] = {k: copy.deepcopy(live.get(k)) for k in written.custom}
        out["custom_fields"] = {k: (None if _empty(v) else v) for k, v in out["custom_fields"].items()}
    if entity == "deal" and out.get("status") != "won":
        out.pop("won_time", None)
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` -> ``{"a": {"b": 1}, "c": 2}`` (deeper dotted field names)."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def live_view(entity: str, item: dict[str, Any]) -> dict[str, Any]:
    """A live record with vendor names mapped to body names: a file's uploaded name is ``name`` (the
    vendor stores a unique ``file_name``; v1 getFile example), sent as the multipart file name."""
    if entity == "file":
        return {**item, "file_name": item.get("name")}
    return item


def restore_body(written: WrittenFields, prior: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The PATCH/PUT body that makes a record read as ``prior`` again, and the keys it cannot empty.

    Every written key is sent: ``prior``'s value, or the key's ``CLEAR_VALUES`` entry to empty a
    field the migration filled (the source key and other custom fields: null). Keys absent from
    ``prior`` with no documented empty value are not sent and are returned (sorted) so the caller can
    report them; ``NOT_CLEARABLE`` keys are never empty on a live record and are skipped. Nested
    objects are sent whole (the vendor replaces them).
    """
    body: dict[str, Any] = {}
    stuck: list[str] = []
    for key in (*written.plain, *written.nested):
        if key in prior:
            body[key] = copy.deepcopy(prior[key])
        elif key in CLEAR_VALUES:
            body[key] = copy.deepcopy(CLEAR_VALUES[key])
        elif key not in NOT_CLEARABLE:
            stuck.append(key)
    if written.custom:
        given = prior.get("custom_fields") or {}
        body["custom_fields"] = {k: copy.deepcopy(given.get(k)) for k in written.custom}
    if body.get("status") not in (None, "won"):
        body.pop("won_time", None)  # won_time only with status won (notes 4.4)
    return body, sorted(stuck)


