"""Record writes: insert, update, upsert, delete, hardDelete, shared by REST, Collections and Bulk.

Callers hand over ``Row`` objects whose values are already in the stored form (``values``): field names
are canonical and checked to exist; ``refs`` are parents given by external ID (``Patient__r.Ext__c``
columns, nested JSON objects). ``Org.save`` runs each row and answers one ``SaveResult`` per row, in
order. Per-record checks, first failure wins (codes from notes §2.2, §7; texts partly UNCONFIRMED):

1. object access (``INSUFFICIENT_ACCESS_OR_READONLY``; ``INVALID_TYPE_FOR_OPERATION`` for read-only objects);
2. writable fields: not createable/updateable or no FLS edit -> ``INVALID_FIELD_FOR_INSERT_UPDATE``
   ("Unable to create/update fields: X. Please check the security settings ..."); audit fields are
   writable on insert only with ``set_audit_fields`` and never on upsert (notes §5.4);
3. parents by external ID -> ``INVALID_FIELD`` "Foreign key external ID: v not found for field F in entity
   E" (notes §1.4); with ``isolate`` (Bulk) records created by the same call are not seen;
4. ``REQUIRED_FIELD_MISSING`` "Required fields are missing: [LastName]";
5. values: ``STRING_TOO_LONG``, ``INVALID_EMAIL_ADDRESS``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``,
   ``NUMBER_OUTSIDE_VALID_RANGE``, ``MALFORMED_ID``, ``FIELD_INTEGRITY_EXCEPTION`` (Id of the wrong
   type), ``INVALID_CROSS_REFERENCE_KEY`` (no such record), ``INACTIVE_OWNER_OR_USER``;
6. object rules (``dml_hooks``: names, Event times, files, permission records);
7. unique fields -> ``DUPLICATE_VALUE`` "duplicate value found: F duplicates value on record with id: X";
8. sandbox validation rules -> ``FIELD_CUSTOM_VALIDATION_EXCEPTION``; sandbox row faults (e.g.
   ``UNABLE_TO_LOCK_ROW``).

Upsert (notes §2.1, §1.1): no match -> insert (``created: true``), one -> update, several ->
``DUPLICATE_EXTERNAL_ID``; a key repeated within one call fails every row sharing it with
``DUPLICATE_VALUE`` "Duplicate external id specified: v"; a missing key -> ``MISSING_ARGUMENT``.
``allOrNone``: one failure rolls back all, innocent rows get ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
Deletes cascade master-detail/``Cascade`` children and activities/links, refuse on ``Restrict`` lookups
(``DELETE_FAILED``) and null other lookups (UNCONFIRMED per-standard-field choices in ``CASCADE``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flit_sandboxes.salesforce import dml_hooks
from flit_sandboxes.salesforce.errors import RowError, RowFailure, fail
from flit_sandboxes.salesforce.ids import IdSequence, normalize
from flit_sandboxes.salesforce.perms import PERMISSION_OBJECTS, Permissions
from flit_sandboxes.salesforce.rules import RowFaults, ValidationRules
from flit_sandboxes.salesforce.schema import AUDIT_FIELDS, NUMBER_TYPES, Field, Schema, SObject
from flit_sandboxes.salesforce.store import Record, Tables, Txn, norm
from flit_sandboxes.salesforce.values import format_datetime

ROLLED_BACK = RowError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid "
                                                             "and the request was using AllOrNone header")
CASCADE = {("task", "whoid"), ("task", "whatid"), ("event", "whoid"), ("event", "whatid"),
           ("contentdocumentlink", "linkedentityid"), ("contentdocumentlink", "contentdocumentid"),
           ("contentversion", "contentdocumentid"), ("fieldpermissions", "parentid"),
           ("objectpermissions", "parentid"), ("permissionsetassignment", "permissionsetid")}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SETTINGS_META = "id_seq"


def _written(row: Row, skip_id: bool = False) -> dict[str, Any]:
    """The fields a row writes: its values and the reference fields of its parents by external ID."""
    names = {name: None for name in row.values if not (skip_id and name == "Id")}
    names.update({ref.field.name: None for ref in row.refs})
    return names


@dataclass
class Ref:
    """A parent given by external ID: set ``field`` to the ``target`` record whose ``key`` equals ``value``."""

    field: Field
    target: SObject
    key: Field
    value: Any


@dataclass
class Row:
    """One record to write (see module docstring); ``record_id`` for update/delete/upsert-by-Id."""

    values: dict[str, Any] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    record_id: str | None = None


@dataclass
class SaveResult:
    """The outcome of one record."""

    id: str | None
    success: bool
    errors: list[RowError] = field(default_factory=list)
    created: bool | None = None

    def as_json(self, *, with_created: bool = False) -> dict[str, Any]:
        """``{"id", "success", "errors": [{"statusCode", "message", "fields"}], "created"?}``."""
        body: dict[str, Any] = {"id": self.id, "success": self.success,
                                "errors": [e.as_save_error() for e in self.errors]}
        if self.id is None:
            del body["id"]
        if with_created and self.success:
            body["created"] = bool(self.created)
        return body


class Org:
    """The write engine over one org's schema and records (module docstring)."""

    def __init__(self, schema: Schema, tables: Tables, perms: Permissions, ids: IdSequence, *, user_id: str,
                 set_audit_fields: bool, row_faults: RowFaults, rules: ValidationRules,
                 clock: Callable[[], datetime]):
        self.schema = schema
        self.tables = tables
        self.perms = perms
        self.ids = ids
        self.user_id = user_id
        self.set_audit_fields = set_audit_fields
        self.row_faults = row_faults
        self.rules = rules
        self.clock = clock

    def now(self) -> str:
        """Now, in the stored dateTime form."""
        return format_datetime(self.clock())

    # ------------------------------------------------------------------ entry point
    def save(self, op: str, sobject: SObject, rows: list[Row], *, ext_field: Field | None = None,
             all_or_none: bool = False, isolate: bool = False) -> list[SaveResult]:
        """Write ``rows`` (op: insert | update | upsert | delete | hardDelete); one result per row."""
        return self.save_items(op, [(sobject, row) for row in rows], ext_field=ext_field, all_or_none=all_or_none,
                               isolate=isolate)

    def save_items(self, op: str, items: list[tuple[SObject, Row] | RowError], *, ext_field: Field | None = None,
                   all_or_none: bool = False, isolate: bool = False) -> list[SaveResult]:
        """``save`` for rows of mixed objects (Collections); a ``RowError`` item is a record already refused."""
        with self.tables.lock:
            txn = Txn(self.tables)
            created_here: set[str] | None = set() if isolate else None
            rows = [item[1] for item in items if not isinstance(item, RowError)]
            repeated = self._repeated_keys(rows, ext_field) if op == "upsert" else set()
            results = []
            for item in items:
                if isinstance(item, RowError):
                    results.append(SaveResult(None, False, [item]))
                    continue
                try:
                    results.append(self._one(txn, op, item[0], item[1], ext_field, repeated, created_here))
                except RowFailure as failure:
                    results.append(SaveResult(failure.record_id, False, [failure.error]))
            if all_or_none and any(not r.success for r in results):
                return [r if not r.success else SaveResult(None, False, [ROLLED_BACK]) for r in results]
            self.commit(txn)
            return results

    def commit(self, txn: Txn) -> None:
        """Persist a transaction: records, the Id counter, file bytes; purge hard-deleted records."""
        touched = {obj for obj, _ in txn.staged.values()}
        txn.meta[SETTINGS_META] = str(self.ids.value)
        blobs, purge = txn.blobs, txn.purge
        txn.commit()
        for key, content in blobs.items():
            self.tables.store.put_blob(key, content)
        if purge:
            self.tables.purge(purge)
        if touched & PERMISSION_OBJECTS:
            self.perms.invalidate()

    @staticmethod
    def _repeated_keys(rows: list[Row], ext_field: Field | None) -> set[Any]:
        if ext_field is None or ext_field.type == "id":
            return set()
        counts = Counter(norm(row.values.get(ext_field.name), ext_field.case_sensitive) for row in rows
                         if row.values.get(ext_field.name) is not None)
        return {key for key, count in counts.items() if count > 1}

    def _one(self, txn: Txn, op: str, sobject: SObject, row: Row, ext_field: Field | None,
             repeated: set[Any], created_here: set[str] | None) -> SaveResult:
        if op == "insert":
            return self.insert(txn, sobject, row, created_here=created_here)
        if op == "update":
            return self.update(txn, sobject, row, created_here=created_here)
        if op in ("delete", "hardDelete"):
            return self.delete(txn, sobject, row.record_id, hard=op == "hardDelete")
        assert ext_field is not None
        if ext_field.type == "id":
            target = row.record_id or row.values.pop("Id", None)
            if not target:
                return self.insert(txn, sobject, row, created_here=created_here, upsert=True)
            row.record_id = target
            return self.update(txn, sobject, row, created_here=created_here)
        value = row.values.get(ext_field.name)
        if value is None:
            raise fail("MISSING_ARGUMENT", f"{ext_field.name} not specified", [ext_field.name])
        if norm(value, ext_field.case_sensitive) in repeated:
            raise fail("DUPLICATE_VALUE", f"Duplicate external id specified: {value}", [ext_field.name])
        matches = txn.find(sobject.name, ext_field.name, value, ext_field.case_sensitive)
        if not matches:
            return self.insert(txn, sobject, row, created_here=created_here, upsert=True)
        if len(matches) > 1:
            raise fail("DUPLICATE_EXTERNAL_ID", f"{ext_field.name}: more than one record found for external id "
                                                f"field: {matches}", [ext_field.name])
        row.record_id = matches[0]
        return self.update(txn, sobject, row, created_here=created_here)

    # ----------------------------------------------------------------------- insert
    def insert(self, txn: Txn, sobject: SObject, row: Row, *, created_here: set[str] | None = None,
               upsert: bool = False) -> SaveResult:
        """Create one record (raises ``RowFailure``)."""
        if not sobject.createable:
            raise fail("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {sobject.name}")
        if "create" not in self.perms.object_access(sobject):
            raise fail("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        audit_ok = self.set_audit_fields and not upsert
        self._writable(sobject, _written(row), lambda f: f.createable or (audit_ok and f.name in AUDIT_FIELDS))
        values = dict(row.values)
        self._resolve(txn, row.refs, values, created_here)
        record: Record = {}
        for candidate in sobject.fields.values():
            if candidate.name in values:
                record[candidate.name] = values[candidate.name]
            elif candidate.default is not None and candidate.createable:
                record[candidate.name] = candidate.default
        if sobject.field("OwnerId") is not None and record.get("OwnerId") is None:
            record["OwnerId"] = self.user_id
        record_id = self.ids.new(sobject.prefix)
        record["Id"] = record_id
        dml_hooks.before_write(self, txn, sobject, record, None)
        self._required(sobject, record, list(sobject.fields))
        self._check_values(txn, sobject, record, [f for f in values if f in record])
        now = self.now()
        record.setdefault("CreatedDate", now)
        record.setdefault("CreatedById", self.user_id)
        record.setdefault("LastModifiedDate", record["CreatedDate"])
        record.setdefault("LastModifiedById", record["CreatedById"])
        record["IsDeleted"] = False
        record["SystemModstamp"] = now
        dml_hooks.after_audit(self, sobject, record)
        self._unique(txn, sobject, record, list(record))
        self._last_checks(sobject, record, record_id)
        txn.put(sobject.name, record)
        dml_hooks.after_insert(self, txn, sobject, record)
        if created_here is not None:
            created_here.add(record_id)
        return SaveResult(record_id, True, [], created=True)

    # ----------------------------------------------------------------------- update
    def update(self, txn: Txn, sobject: SObject, row: Row, *, created_here: set[str] | None = None) -> SaveResult:
        """Change one record (raises ``RowFailure``)."""
        record_id = self._existing_id(txn, sobject, row.record_id)
        try:
            if not sobject.updateable:
                raise fail("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {sobject.name}")
            if "edit" not in self.perms.object_access(sobject):
                raise fail("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
            values = {k: v for k, v in row.values.items() if k != "Id"}
            self._writable(sobject, _written(row, skip_id=True), lambda f: f.updateable)
            self._resolve(txn, row.refs, values, created_here)
            old = txn.get(record_id) or {}
            record = {**old, **values}
            dml_hooks.before_write(self, txn, sobject, record, old)
            self._required(sobject, record, [f for f in values])
            self._check_values(txn, sobject, record, list(values))
            now = self.now()
            record["LastModifiedDate"] = record["SystemModstamp"] = now
            record["LastModifiedById"] = self.user_id
            self._unique(txn, sobject, record, list(values))
            self._last_checks(sobject, record, record_id)
        except RowFailure as failure:
            failure.record_id = record_id
            raise
        txn.put(sobject.name, record)
        return SaveResult(record_id, True, [], created=False)

    # ----------------------------------------------------------------------- delete
    def delete(self, txn: Txn, sobject: SObject, raw_id: str | None, *, hard: bool = False) -> SaveResult:
        """Delete one record and its cascade (raises ``RowFailure``)."""
        record_id = self._existing_id(txn, sobject, raw_id)
        try:
            if not sobject.deletable:
                raise fail("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {sobject.name}")
            if "delete" not in self.perms.object_access(sobject):
                raise fail("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
            plan: list[tuple[str, str]] = []
            nulls: list[tuple[str, str, str]] = []
            self._plan_delete(txn, sobject, record_id, plan, nulls, set())
        except RowFailure as failure:
            failure.record_id = record_id
            raise
        now = self.now()
        for child_object, child_id, child_field in nulls:
            child = dict(txn.get(child_id) or {})
            child[child_field] = None
            child["SystemModstamp"] = now
            txn.put(child_object, child)
        for object_name, doomed in plan:
            record = dict(txn.get(doomed) or {})
            record["IsDeleted"] = True
            record["SystemModstamp"] = now
            txn.put(object_name, record)
            if hard:
                txn.purge.append(doomed)
        return SaveResult(record_id, True, [])

    def _plan_delete(self, txn: Txn, sobject: SObject, record_id: str, plan: list[tuple[str, str]],
                     nulls: list[tuple[str, str, str]], seen: set[str]) -> None:
        if record_id in seen:
            return
        seen.add(record_id)
        plan.append((sobject.name, record_id))
        for child_object in self.schema:
            for ref_field in child_object.fields.values():
                if ref_field.type != "reference" or ref_field.name in AUDIT_FIELDS:
                    continue
                if sobject.name not in self.schema.targets(ref_field):
                    continue
                children = txn.find(child_object.name, ref_field.name, record_id, True)
                if not children:
                    continue
                key = (child_object.name.lower(), ref_field.name.lower())
                if ref_field.master_detail or ref_field.delete_constraint == "Cascade" or key in CASCADE:
                    for child in children:
                        self._plan_delete(txn, child_object, child, plan, nulls, seen)
                elif ref_field.delete_constraint == "Restrict":
                    raise fail("DELETE_FAILED", f"Your attempt to delete {record_id} could not be completed because "
                                                f"it is associated with the following {child_object.label_plural}.: "
                                                f"{', '.join(children[:3])}")
                else:
                    nulls.extend((child_object.name, child, ref_field.name) for child in children)

    # ----------------------------------------------------------------------- checks
    def _existing_id(self, txn: Txn, sobject: SObject, raw_id: str | None) -> str:
        if not raw_id:
            raise fail("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        record_id = normalize(raw_id)
        if record_id is None:
            raise fail("MALFORMED_ID", f"{sobject.label} ID: id value of incorrect type: {raw_id}", ["Id"])
        record = txn.get(record_id)
        if record is None or txn.type_of(record_id) != sobject.name:
            raise RowFailure(RowError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []), record_id)
        if record.get("IsDeleted"):
            raise RowFailure(RowError("ENTITY_IS_DELETED", "entity is deleted", []), record_id)
        return record_id

    def _writable(self, sobject: SObject, values: dict[str, Any], allowed: Callable[[Field], bool]) -> None:
        bad = []
        for name in values:
            target = sobject.field(name)
            if target is None or not allowed(target) or not self.perms.field_access(sobject, target)[1]:
                bad.append(name)
        if bad:
            raise fail("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {', '.join(bad)}. Please "
                       "check the security settings of this field and verify that it is read/write for your user "
                       "or profile.", bad)

    def _resolve(self, txn: Txn, refs: list[Ref], values: dict[str, Any], created_here: set[str] | None) -> None:
        for ref in refs:
            if ref.value is None:
                values[ref.field.name] = None
                continue
            matches = txn.find(ref.target.name, ref.key.name, ref.value, ref.key.case_sensitive or ref.key.type == "id")
            if created_here:
                matches = [m for m in matches if m not in created_here]
            if not matches:
                raise fail("INVALID_FIELD", f"Foreign key external ID: {ref.value} not found for field {ref.key.name} "
                                            f"in entity {ref.target.name}")
            if len(matches) > 1:
                raise fail("DUPLICATE_EXTERNAL_ID", f"Foreign key external ID: {ref.value} matched more than one "
                                                    f"record for field {ref.key.name} in entity {ref.target.name}")
            values[ref.field.name] = matches[0]

    def _required(self, sobject: SObject, record: Record, names: list[str]) -> None:
        missing = []
        for name in names:
            target = sobject.field(name)
            if target is not None and target.required and record.get(target.name) in (None, ""):
                missing.append(target.name)
        if missing:
            raise fail("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)

    def _check_values(self, txn: Txn, sobject: SObject, record: Record, names: list[str]) -> None:
        for name in names:
            target = sobject.field(name)
            if target is None or record.get(target.name) is None:
                continue
            value = record[target.name]
            error = self._value_error(txn, sobject, target, value)
            if isinstance(error, RowError):
                raise RowFailure(error)
            if error is not None:
                record[target.name] = error  # the canonical form (18-character Id)

    def _value_error(self, txn: Txn, sobject: SObject, target: Field, value: Any) -> Any:
        label, kind = target.label, target.type
        if kind == "reference":
            return self._reference_error(txn, sobject, target, value)
        too_long = isinstance(value, str) and target.length and len(value) > target.length
        if too_long and kind not in ("date", "datetime", "id"):
            shown = value if len(value) <= 100 else value[:100] + "..."
            return RowError("STRING_TOO_LONG", f"{label}: data value too large: {shown} (max length={target.length})",
                            [target.name])
        if kind == "email" and not _EMAIL.match(value):
            return RowError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [target.name])
        if kind in ("picklist", "multipicklist") and target.restricted:
            for item in value.split(";") if kind == "multipicklist" else [value]:
                if item not in target.picklist:
                    return RowError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                    f"{label}: bad value for restricted picklist field: {item}", [target.name])
        if kind in NUMBER_TYPES and target.precision:
            whole = abs(int(value)) if isinstance(value, (int, float)) else 0
            if len(str(whole)) > target.precision - target.scale and whole:
                return RowError("NUMBER_OUTSIDE_VALID_RANGE",
                                f"{label}: value outside of valid range on numeric field: {value}", [target.name])
        return None

    def _reference_error(self, txn: Txn, sobject: SObject, target: Field, value: Any) -> Any:
        record_id = normalize(value) if isinstance(value, str) else None
        if record_id is None:
            return RowError("MALFORMED_ID", f"{target.label} ID: id value of incorrect type: {value}", [target.name])
        parent_type = self.schema.object_of_id(record_id)
        if parent_type is None or parent_type.name not in self.schema.targets(target):
            return RowError("FIELD_INTEGRITY_EXCEPTION", f"{target.label} ID: id value of incorrect type: {value}",
                            [target.name])
        parent = txn.live(record_id)
        if parent is None or (parent_type.custom and not self.perms.can_see(parent_type)):
            return RowError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if target.name == "OwnerId" and not parent.get("IsActive") and not self.set_audit_fields:
            return RowError("INACTIVE_OWNER_OR_USER", f"operation performed with inactive user [{record_id}] as owner "
                                                      f"of {sobject.name.lower()}", [])
        return record_id if record_id != value else None

    def _unique(self, txn: Txn, sobject: SObject, record: Record, names: list[str]) -> None:
        for name in names:
            target = sobject.field(name)
            if target is None or not target.unique or record.get(target.name) is None:
                continue
            others = [i for i in txn.find(sobject.name, target.name, record[target.name], target.case_sensitive)
                      if i != record["Id"]]
            if others:
                raise fail("DUPLICATE_VALUE", f"duplicate value found: {target.name} duplicates value on record with "
                                              f"id: {others[0]}", [])

    def _last_checks(self, sobject: SObject, record: Record, record_id: str) -> None:
        broken = self.rules.check(sobject.name, record)
        if broken is not None:
            raise RowFailure(broken)
        parent = next((record[f.name] for f in sobject.fields.values() if f.type == "reference" and record.get(f.name)
                       and f.name not in ("OwnerId", *AUDIT_FIELDS)), record_id)
        faulted = self.row_faults.take(sobject.name, record, parent)
        if faulted is not None:
            raise RowFailure(faulted)
