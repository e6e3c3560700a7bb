"""Sandbox snapshots for rollback tests: every live record of every entity, read through the vendor API.

Business fields only: timestamps the vendor sets on every write (``update_time``, ``updatedAt``,
``LastModifiedDate``, ``SystemModstamp`` ...) are dropped, everything else (IDs included, so a restored
record must be the same record) is kept, empty values all read as None; records are sorted, so two
snapshots compare with ``==``.
"""

from __future__ import annotations

import json
from typing import Any

from flit_pipelines.destinations.base import DailyLimitError, FatalLoadError

PIPEDRIVE_ENTITIES = ("person", "organization", "deal", "activity", "note", "file")
VOLATILE = {"update_time", "updatedAt", "dateUpdated", "lastUpdated", "LastModifiedDate", "LastModifiedById",
            "SystemModstamp", "LastViewedDate", "LastReferencedDate", "attributes"}


def _clean(value: Any) -> Any:
    """Volatile keys dropped; empty values ("", [], {}, an object whose values are all empty) read as None,
    as a person reading the CRM sees them (e.g. an address cleared to ``{"value": ""}`` is no address)."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in sorted(value.items()) if k not in VOLATILE}
        out = {k: v for k, v in out.items() if v is not None}
        return out or None
    if isinstance(value, list):  # order carries no meaning in these CRMs' lists (tags, e-mails, custom fields)
        return sorted((_clean(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str)) or None
    return None if value == "" else value


def _record(value: dict) -> dict:
    """One record: volatile keys dropped, empty values dropped (an absent key and an empty one read alike)."""
    out = {k: _clean(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    return {k: v for k, v in out.items() if v is not None}


def _sorted(records: list[dict]) -> list[dict]:
    return sorted((_record(r) for r in records), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def pipedrive_snapshot(client) -> dict[str, list[dict]]:
    """Entity -> live records (deleted ones left out: v2 ``is_deleted``, v1 ``active_flag`` false)."""
    out = {}
    for entity in PIPEDRIVE_ENTITIES:
        live = [r for r in client.list(entity) if not r.get("is_deleted") and r.get("active_flag") is not False]
        out[entity] = _sorted(live)
    return out


def highlevel_snapshot(client, object_keys: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """Every contact (full record), its notes, tasks and appointments, every opportunity, every calendar
    event, the records of ``object_keys`` and their relations, and the media library, through the
    LeadConnector v2 API (``HighLevelClient``; the sandbox's search is immediately consistent)."""
    contacts = [client.get_contact(c["id"]) for c in client.search_contacts()]
    out = {"contact": _sorted([c for c in contacts if c]),
           "note": _sorted([n for c in contacts if c for n in client.list_notes(c["id"])]),
           "task": _sorted([t for c in contacts if c for t in client.list_tasks(c["id"])]),
           "opportunity": _sorted(list(client.search_opportunities())),
           "event": _sorted([e for cal in client.list_calendars()
                             for e in client.list_events(cal["id"], 0, 4_102_444_800_000)]),  # up to 2100
           "media": _sorted(client.request("GET", "/medias/files", params={
               "altId": client.location_id, "altType": "location", "type": "file", "sortBy": "createdAt",
               "sortOrder": "asc"}).get("files") or [])}
    for key in object_keys:
        records = list(client.search_records(key))
        out[key] = _sorted(records)
        out[f"{key}:relations"] = _sorted([r for rec in records for r in client.list_relations(rec["id"])])
    return out


# Account set-up, not records: permission sets and their grants (schema deployment), the org itself.
SALESFORCE_SKIP = {"PermissionSet", "FieldPermissions", "ObjectPermissions", "PermissionSetAssignment", "Organization"}


def salesforce_snapshot(base_url: str, token: str, version: str = "62.0",
                        fields_of: dict[str, set[str]] | None = None) -> dict[str, list[dict]]:
    """sObject -> every live record, every described field (compound address/location fields aside),
    read with REST describe + SOQL (``nextRecordsUrl`` followed). Custom objects included.

    ``fields_of`` (sObject -> field names, e.g. ``salesforce_fields`` before a run deployed its custom
    fields) limits each object to those fields: a checkbox field created later reads false on every
    existing record, which is the schema's doing, not a record change."""
    import requests

    headers = {"Authorization": f"Bearer {token}"}
    api = f"{base_url}/services/data/v{version}"

    def get(url: str, **params) -> dict:
        resp = requests.get(url, headers=headers, params=params or None, timeout=30)
        resp.raise_for_status()
        return resp.json()

    out: dict[str, list[dict]] = {}
    # ContentDocumentLink must be filtered by document (or linked record): queried after the documents
    names = sorted(o["name"] for o in get(f"{api}/sobjects")["sobjects"])
    for obj in sorted(names, key=lambda n: n == "ContentDocumentLink"):
        if obj in SALESFORCE_SKIP:
            continue
        fields = [f["name"] for f in get(f"{api}/sobjects/{obj}/describe")["fields"]
                  if f["type"] not in ("address", "location") and f["name"] not in VOLATILE]
        if fields_of is not None:
            fields = [f for f in fields if f in fields_of.get(obj, {"Id"})]
        where = ""
        if obj == "ContentDocumentLink":
            docs = [d["Id"] for d in out.get("ContentDocument", [])]
            if not docs:
                out[obj] = []
                continue
            where = " WHERE ContentDocumentId IN (" + ", ".join(f"'{d}'" for d in docs) + ")"
        page = get(f"{api}/query", q=f"SELECT {', '.join(fields)} FROM {obj}{where}")
        records = list(page["records"])
        while page.get("nextRecordsUrl"):
            page = get(f"{base_url}{page['nextRecordsUrl']}")
            records += page["records"]
        out[obj] = _sorted(records)
    return out


def salesforce_fields(base_url: str, token: str, version: str = "62.0") -> dict[str, set[str]]:
    """sObject -> its described field names now (see ``salesforce_snapshot(fields_of=...)``)."""
    import requests

    headers = {"Authorization": f"Bearer {token}"}
    api = f"{base_url}/services/data/v{version}"
    objs = requests.get(f"{api}/sobjects", headers=headers, timeout=30).json()["sobjects"]
    return {o["name"]: {f["name"] for f in requests.get(f"{api}/sobjects/{o['name']}/describe", headers=headers,
                                                          timeout=30).json()["fields"]}
            for o in objs if o["name"] not in SALESFORCE_SKIP}


def snapshot_diff(a: dict[str, list[dict]], b: dict[str, list[dict]]) -> list[str]:
    """Readable differences (entity, record id, key) between two snapshots, for assertion messages."""
    out = []
    for entity in sorted(set(a) | set(b)):
        ra = {str(r.get("id") or r.get("Id")): r for r in a.get(entity, [])}
        rb = {str(r.get("id") or r.get("Id")): r for r in b.get(entity, [])}
        for rid in sorted(set(ra) | set(rb)):
            if rid not in ra or rid not in rb:
                out.append(f"{entity} {rid}: only in {'second' if rid in rb else 'first'}")
                continue
            for k in sorted(set(ra[rid]) | set(rb[rid])):
                if ra[rid].get(k) != rb[rid].get(k):
                    out.append(f"{entity} {rid} {k}: {ra[rid].get(k)!r} != {rb[rid].get(k)!r}")
    return out


class CrashingDestination:
    """Wraps a destination; ``delete`` deletes one record at a time and raises FatalLoadError right after
    the ``crash_after``-th record was deleted remotely (so that one is deleted but not in the ledger)."""

    def __init__(self, inner, crash_after: int, error: type[Exception] = FatalLoadError):
        self.inner, self.crash_after, self.error, self.deleted = inner, crash_after, error, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, target_name, target, dest_ids):
        import pandas as pd

        frames = []
        for d in dest_ids:
            frames.append(self.inner.delete(target_name, target, [d]))
            self.deleted += 1
            if self.deleted >= self.crash_after:
                raise self.error("simulated crash after a remote delete")
        return pd.concat(frames, ignore_index=True) if frames else self.inner.delete(target_name, target, [])


__all__ = ["CrashingDestination", "DailyLimitError", "highlevel_snapshot", "pipedrive_snapshot", "salesforce_fields",
           "salesforce_snapshot",
           "snapshot_diff"]
