"""Child relationship names of the custom lookups the schema step creates.

A custom lookup ``Patient__c`` on ``Treatment_Record__c`` has two relationship names (SOQL and SOSL Reference,
"Understanding Relationship Names, Custom Objects, and Custom Fields"): the child-to-parent path ``Patient__r``
(from the field name; what Bulk relationship columns use) and the *child relationship name* the Metadata/Tooling
``relationshipName`` key sets (``Treatment_Records``, listed as ``Treatment_Records__r`` in the parent's describe
``childRelationships`` and used by sub-queries such as ``SELECT Id, (SELECT Id FROM Treatment_Records__r) FROM
Contact``). The child relationship name must be unique on the *parent*: a real org refuses a second one with
"There is already a Child Relationship named Treatment_Records on Contact."

Names come from the spec: ``targets.<t>.options.lookup_fields.<field>.relationshipName`` when declared, else
derived from the lookup's ``relationshipLabel`` (default: the child object's plural label), ``Treatment Records``
-> ``Treatment_Records``. :func:`check_names` validates them (developer-name form, at most 40 characters, unique
per parent object) before any request. :func:`reconcile` then makes an existing org agree before new lookups are
created: it reads the names the org holds (parent describe ``childRelationships``, or the field's Tooling
``Metadata`` when the describe does not list it), refuses a name held by a field the spec does not manage, and
renames managed lookups whose name differs (an org deployed by an earlier run with other names) with Tooling
``PATCH /tooling/sobjects/CustomField/{id}`` (full ``Metadata``, ``relationshipName`` replaced), in an order that
frees a name before it is reused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flit_pipelines.destinations.salesforce.errors import SalesforceApiError, SchemaError

if TYPE_CHECKING:
    from flit_pipelines.destinations.salesforce.client import SalesforceClient
    from flit_pipelines.destinations.salesforce.wants import FieldWant

log = logging.getLogger(__name__)

MAX_LENGTH = 40
# letters, digits and single underscores; starts with a letter, does not end with an underscore
_DEVELOPER_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_DECLARE = "declare distinct names in targets.<target>.options.lookup_fields.<field>.relationshipName"


def derive(label: str) -> str:
    """A child relationship name from a label: ``Treatment Records`` -> ``Treatment_Records``.

    Raises:
        SchemaError: nothing usable is left (the label has no letter to start with).
    """
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]", "_", label)).strip("_")[:MAX_LENGTH].rstrip("_")
    if not name or not name[0].isalpha():
        raise SchemaError(f"no child relationship name can be derived from the label {label!r}: {_DECLARE}")
    return name


def check_names(lookups: Iterable[FieldWant]) -> None:
    """Every lookup's child relationship name is well formed and unique on its parent object.

    Raises:
        SchemaError: a malformed or too long name, or two lookups (on any child objects) sharing a name on one
            parent (case-insensitive), naming the fields and the fix.
    """
    seen: dict[tuple[str, str], str] = {}
    for want in lookups:
        name = str(want.child_relationship or "")
        if not _DEVELOPER_NAME.match(name) or len(name) > MAX_LENGTH:
            raise SchemaError(f"{want.full_name}: child relationship name {name!r} must be at most {MAX_LENGTH} "
                              "letters, digits and single underscores, start with a letter and not end with '_'")
        key = (str(want.reference_to).lower(), name.lower())
        if key in seen:
            raise SchemaError(f"{want.full_name} and {seen[key]} both name their child relationship on "
                              f"{want.reference_to} {name!r}; a child relationship name must be unique on its parent "
                              f"(Salesforce: 'There is already a Child Relationship named {name} on "
                              f"{want.reference_to}'): {_DECLARE}")
        seen[key] = want.full_name


def _held_names(client: SalesforceClient, parents: Iterable[str]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """``(parent lower, child relationship name lower without __r) -> (child object, field, name)`` from describe."""
    held: dict[tuple[str, str], tuple[str, str, str]] = {}
    for parent in parents:
        try:
            described = client.describe(parent)
        except SalesforceApiError as exc:
            if exc.status == 404:
                continue
            raise
        for child in described.get("childRelationships") or []:
            name = str(child.get("relationshipName") or "")
            if name.endswith("__r"):  # standard names (no suffix) cannot clash with custom ones
                held[(parent.lower(), name[:-3].lower())] = (str(child.get("childSObject")), str(child.get("field")),
                                                             name[:-3])
    return held


def reconcile(client: SalesforceClient, lookups: list[FieldWant], existing: dict[str, str]) -> list[dict[str, Any]]:
    """Bring the org's child relationship names to the spec's before new lookups are created (module docstring).

    Args:
        client: the org connection.
        lookups: the wanted Lookup/MasterDetail fields (names already checked by :func:`check_names`).
        existing: ``"object.field__c"`` (lower case) -> CustomField Id of the wanted fields the org already has.

    Returns:
        One entry per lookup: ``{"parent", "child_relationship" ("Treatment_Records__r"), "field", "status":
        "unchanged" | "renamed" | "new", "previous" (a renamed field's old name)}``.

    Raises:
        SchemaError: a wanted name is held on the parent by a field the spec does not manage, or renames wait on
            each other in a cycle.
        SalesforceApiError: the org refused a read or a rename (message names the field).
    """
    held = _held_names(client, sorted({str(w.reference_to) for w in lookups}))
    holder_of = {(c.lower(), f.lower()): name for c, f, name in held.values()}
    current: dict[str, str | None] = {}  # managed existing lookup -> its name in the org (no __r)
    for want in lookups:
        fid = existing.get(want.full_name.lower())
        if fid is None:
            continue
        found = holder_of.get((want.sobject.lower(), want.name.lower()))
        current[want.full_name] = found if found else _tooling_name(client, fid)
    managed = {(w.sobject.lower(), w.name.lower()) for w in lookups}
    for want in lookups:
        holder = held.get((str(want.reference_to).lower(), str(want.child_relationship).lower()))
        if holder is not None and (holder[0].lower(), holder[1].lower()) not in managed:
            raise SchemaError(f"{want.full_name}: the org already has a Child Relationship named "
                              f"{want.child_relationship} on {want.reference_to} (field {holder[0]}.{holder[1]}, not "
                              f"managed by this migration): {_DECLARE}")
    pending = [w for w in lookups if w.full_name in current
               and (current[w.full_name] or "").lower() != str(w.child_relationship).lower()]
    previous = {w.full_name: current[w.full_name] for w in pending}
    taken = {(str(w.reference_to).lower(), name.lower()) for w in lookups for name in [current.get(w.full_name)]
             if name}
    while pending:
        ready = [w for w in pending if (str(w.reference_to).lower(), str(w.child_relationship).lower()) not in taken]
        if not ready:
            raise SchemaError("child relationship renames wait on each other: " + ", ".join(
                f"{w.full_name} -> {w.child_relationship}" for w in pending) + "; rename one by hand in Setup first")
        for want in ready:
            _rename(client, want, existing[want.full_name.lower()])
            parent = str(want.reference_to).lower()
            taken.discard((parent, (previous[want.full_name] or "").lower()))
            taken.add((parent, str(want.child_relationship).lower()))
            pending.remove(want)
    report = []
    for want in lookups:
        status = "new" if want.full_name not in current else "renamed" if want.full_name in previous else "unchanged"
        entry = {"parent": want.reference_to, "child_relationship": f"{want.child_relationship}__r",
                 "field": want.full_name, "status": status}
        if status == "renamed":
            entry["previous"] = f"{previous[want.full_name]}__r" if previous[want.full_name] else None
        report.append(entry)
    return report


def _tooling_name(client: SalesforceClient, field_id: str) -> str | None:
    meta = (client.tooling("GET", f"sobjects/CustomField/{field_id}") or {}).get("Metadata") or {}
    name = meta.get("relationshipName")
    return str(name) if name else None


def _rename(client: SalesforceClient, want: FieldWant, field_id: str) -> None:
    """``PATCH /tooling/sobjects/CustomField/{id}``: the live metadata with the wanted name and label."""
    live = (client.tooling("GET", f"sobjects/CustomField/{field_id}") or {}).get("Metadata") or {}
    meta = {k: v for k, v in live.items() if v is not None}
    meta.update(relationshipName=want.child_relationship, relationshipLabel=want.relationship_label or want.label)
    try:
        client.tooling("PATCH", f"sobjects/CustomField/{field_id}", json={"FullName": want.full_name, "Metadata": meta})
    except SalesforceApiError as exc:
        raise SalesforceApiError(exc.status, exc.error_code, f"renaming the child relationship of {want.full_name} "
                                 f"to {want.child_relationship}: {exc.message}", method="PATCH",
                                 path="/tooling/sobjects/CustomField/{id}") from None
    log.info("renamed the child relationship of %s to %s", want.full_name, want.child_relationship)
