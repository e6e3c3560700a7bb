"""What a Salesforce target writes, in one comparable shape: read-back views and restore bodies.

The sample-wave diff compares ``normalise_body(build_body(row))`` with ``read_fields(...)[dest_id]``
key by key; the rollback writes a ``read_fields`` value back with ``restore``. Both sides use the
keys of ``bodies.build_body`` (field API names, lookup columns, the external-ID field):

* every mapped field is present, ``None`` when empty (build_body sends empties as null); ``""``
  reads as ``None``; checkboxes are never empty on a record, so the read-back has them even where
  a body left an empty one out;
* date-times as UTC ``yyyy-MM-ddTHH:mm:ss.SSSZ`` (Salesforce answers ``...+0000``, notes §1.2);
  multi-select pick-lists with their values sorted (the org returns them in pick-list order);
* lookups as sent: Id lookups (users, files) under the field name; lookups to another target under
  the relationship column (``Patient__r.Source_System_ID__c``) with the parent's external ID, read
  by resolving the record's Id field through the parent object. A parent without our external ID
  (a pre-existing record) is kept as its Id under the field name (``Patient__c``), so ``restore``
  can put it back. Empty lookups are absent (build_body omits them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from flit_pipelines.destinations.salesforce.bodies import TargetInfo

__all__ = ["MATCH_TYPES", "WRITE_ONLY_FIELDS", "canonical_value", "restore_body"]

# Sent but never part of a record's fields: the file body (ContentVersion.VersionData is a blob read
# from its own URL, not a SOQL value) and the routing keys of file bodies.
WRITE_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "sobject": frozenset(), "user": frozenset(), "file": frozenset({"VersionData", "_file", "_size"}),
}
# Describe types ``options.match_existing`` may name: filterable text compared case-insensitively.
MATCH_TYPES = frozenset({"email", "string", "phone"})


def canonical_value(sf_type: str | None, value: Any) -> Any:
    """One value in the comparable form (module docstring); ``sf_type`` is the describe type."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if sf_type == "datetime" and isinstance(value, str):
        try:
            moment = pd.Timestamp(value)
        except (ValueError, TypeError):
            return value
        if moment.tzinfo is None:
            moment = moment.tz_localize("UTC")
        moment = moment.tz_convert("UTC")
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if sf_type == "date" and isinstance(value, str):
        return value[:10]
    if sf_type == "multipicklist" and isinstance(value, str):
        return ";".join(sorted(p for p in value.split(";") if p))
    return value


def restore_body(info: TargetInfo, prior: Mapping[str, Any]) -> dict[str, Any]:
    """The update (by Id) that makes a record read as ``prior`` again.

    Fields take ``prior``'s value or null (the migration filled them); checkboxes absent from
    ``prior`` are left alone (never null); the external-ID field goes back to ``prior``'s (null for a
    pre-existing record: the source key is removed). Lookups: the relationship column when ``prior``
    has the parent's external ID, else the Id field (``prior``'s Id, or null to clear it).
    """
    body: dict[str, Any] = {}
    for name, finfo in info.fields.items():
        if name in prior:
            body[name] = prior[name]
        elif finfo.sf_type != "boolean":
            body[name] = None
    for name, lk in info.lookups.items():
        if lk.kind == "relationship" and prior.get(lk.column) is not None:
            body[lk.column] = prior[lk.column]
        else:
            body[name] = prior.get(lk.column if lk.kind == "id" else name)
    body[info.external_id] = prior.get(info.external_id)
    return body


