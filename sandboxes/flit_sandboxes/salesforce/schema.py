"""The org's data model: sObject types and their fields, looked up case-insensitively.

Standard objects come from ``standard_objects``; custom objects and fields are added by the Tooling API
(``metadata``, notes §3). Field ``type`` values are the describe types (notes §2.5): ``id``, ``string``,
``textarea``, ``email``, ``phone``, ``url``, ``picklist``, ``multipicklist``, ``combobox``, ``boolean``,
``date``, ``datetime``, ``double``, ``currency``, ``percent``, ``int``, ``reference``, ``base64``.

A reference field has two relationship names (SOQL and SOSL Reference, "Understanding Relationship Names, Custom
Objects, and Custom Fields"): ``relationship_name`` is the child-to-parent name used in paths (``Patient__r`` of
``Patient__c``, ``Owner`` of ``OwnerId``), ``child_relationship`` the parent-to-child name listed in the parent's
describe ``childRelationships`` and used in sub-queries (``Treatment_Records__r``; standard ones such as
``Contacts``); a child relationship name is unique on its parent, or None (real orgs list some children unnamed).

A reference field's targets are ``reference_to``; ``("*",)`` means any object (e.g.
``ContentDocumentLink.LinkedEntityId``), and Task/Event ``WhatId`` is rebuilt whenever a custom object with
activities is added (Account + custom objects with ``enableActivities``, notes §3.2, UNCONFIRMED rule).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ANY_OBJECT = "*"
AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
SYSTEM_FIELDS = ("Id", "IsDeleted", *AUDIT_FIELDS, "SystemModstamp")
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
                        "encryptedstring"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})


@dataclass
class Field:
    """One field of an sObject (the describe keys, notes §2.5)."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted: bool = False  # defaultedOnCreate
    default: Any = None  # value applied on insert when the field is not given
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None
    picklist: tuple[str, ...] = ()
    picklist_default: str | None = None
    restricted: bool = False
    custom: bool = False
    calculated: bool = False
    auto_number: bool = False
    name_field: bool = False
    master_detail: bool = False
    delete_constraint: str | None = None
    tooling_id: str | None = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.name[:-2] if self.name.endswith("Id") and self.type == "reference" else self.name

    @property
    def groupable(self) -> bool:
        """May appear in GROUP BY (describe ``groupable``): not long text, blobs, numbers with decimals or
        dateTimes (UNCONFIRMED per-type rule)."""
        return self.type not in ("textarea", "base64", "double", "currency", "percent", "datetime")

    @property
    def required(self) -> bool:
        """Must be given on insert: not nillable, createable and not defaulted (notes §7)."""
        return not self.nillable and self.createable and not self.defaulted and self.type != "boolean"

    @property
    def indexed(self) -> bool:
        """Usable for upsert and relationship columns (notes §1.4): Id, External ID or idLookup."""
        return self.type == "id" or self.external_id or self.id_lookup

    @property
    def polymorphic(self) -> bool:
        """A reference to more than one object type."""
        return len(self.reference_to) > 1 or ANY_OBJECT in self.reference_to


@dataclass
class SObject:
    """One sObject type."""

    name: str
    label: str
    label_plural: str
    prefix: str
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    fields: dict[str, Field] = field(default_factory=dict)  # lower-case name -> Field, in describe order
    enable_activities: bool = False
    tooling_id: str | None = None
    metadata: dict[str, Any] | None = None

    def add(self, new: Field) -> Field:
        """Append a field."""
        self.fields[new.name.lower()] = new
        return new

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (any case), or None."""
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship name is ``name`` (``Patient__r``, ``Owner``), or None."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None

    @property
    def is_detail(self) -> bool:
        """Has a master-detail field (then there is no OwnerId, notes §3.2)."""
        return any(f.master_detail for f in self.fields.values())


class Schema:
    """All sObject types of the org; thread-safe for the add operations."""

    def __init__(self, objects: list[SObject]):
        self._lock = threading.RLock()
        self._objects: dict[str, SObject] = {o.name.lower(): o for o in objects}
        self.refresh_dynamic()

    def get(self, name: str) -> SObject | None:
        """The object called ``name`` (any case), or None."""
        return self._objects.get(name.lower()) if isinstance(name, str) else None

    def by_prefix(self, prefix: str) -> SObject | None:
        """The object whose key prefix is ``prefix``, or None."""
        for candidate in self._objects.values():
            if candidate.prefix == prefix:
                return candidate
        return None

    def object_of_id(self, record_id: str) -> SObject | None:
        """The object an Id belongs to (by its prefix), or None."""
        return self.by_prefix(record_id[:3]) if isinstance(record_id, str) and len(record_id) >= 3 else None

    def __iter__(self) -> Iterator[SObject]:
        return iter(list(self._objects.values()))

    def custom_objects(self) -> list[SObject]:
        """Custom objects in creation order."""
        return [o for o in self._objects.values() if o.custom]

    def add_object(self, sobject: SObject) -> None:
        """Register a (custom) object."""
        with self._lock:
            self._objects[sobject.name.lower()] = sobject
            self.refresh_dynamic()

    def remove_object(self, name: str) -> None:
        """Forget a (custom) object."""
        with self._lock:
            self._objects.pop(name.lower(), None)
            self.refresh_dynamic()

    def add_field(self, object_name: str, new: Field) -> None:
        """Append a (custom) field to an object."""
        with self._lock:
            target = self._objects[object_name.lower()]
            target.add(new)
            if new.master_detail and target.field("OwnerId") is not None:
                del target.fields["ownerid"]
            self.refresh_dynamic()

    def children(self, parent: SObject) -> list[tuple[SObject, Field]]:
        """``(child object, reference field)`` of every reference field that can point at ``parent`` (the
        audit lookups ``CreatedById``/``LastModifiedById`` left out), in schema order."""
        out = []
        for other in self:
            for candidate in other.fields.values():
                if candidate.type == "reference" and candidate.name not in ("CreatedById", "LastModifiedById") \
                        and (parent.name in candidate.reference_to or ANY_OBJECT in candidate.reference_to):
                    out.append((other, candidate))
        return out

    def child_relationship(self, parent: SObject, name: str) -> tuple[SObject, Field] | None:
        """The child object and reference field whose child relationship on ``parent`` is ``name`` (any case)."""
        lowered = name.lower()
        for child, ref in self.children(parent):
            if ref.child_relationship and ref.child_relationship.lower() == lowered:
                return child, ref
        return None

    def targets(self, ref: Field) -> list[str]:
        """Object names a reference field may point to (``*`` expanded)."""
        if ANY_OBJECT in ref.reference_to:
            return [o.name for o in self._objects.values()]
        return list(ref.reference_to)

    def refresh_dynamic(self) -> None:
        """Recompute Task/Event ``WhatId`` targets (Account + custom objects allowing activities)."""
        what = ("Account", *(o.name for o in self._objects.values() if o.custom and o.enable_activities))
        for activity in ("task", "event"):
            owner = self._objects.get(activity)
            if owner is not None and owner.field("WhatId") is not None:
                owner.field("WhatId").reference_to = what  # type: ignore[union-attr]
