"""What the integration user may see and change (notes §3.3).

The integration ("run-as") user has full access to standard objects and standard fields (UNCONFIRMED:
it stands for an admin-like profile). **Custom fields** are visible only through a ``FieldPermissions``
row (``PermissionsRead``; ``PermissionsEdit`` to write) of a PermissionSet assigned to that user by a
``PermissionSetAssignment``; **custom objects** need an ``ObjectPermissions`` row (``PermissionsRead`` to
see the object at all, ``PermissionsCreate``/``Edit``/``Delete`` to write). Required custom fields are
always visible and editable (Salesforce does not let FLS hide them, UNCONFIRMED).

Without FLS a field behaves as if it did not exist: describe leaves it out, SOQL and REST answer
``INVALID_FIELD``, and Bulk fails the job with ``InvalidBatch : Field name not found : <field>`` (notes
§1.3, §3.3). ``enforce=False`` (``create_app(enforce_fls=False)``) grants everything.
"""

from __future__ import annotations

import threading

from flit_sandboxes.salesforce.schema import Field, SObject
from flit_sandboxes.salesforce.store import Tables

PERMISSION_OBJECTS = frozenset({"PermissionSet", "FieldPermissions", "ObjectPermissions", "PermissionSetAssignment"})
ALL = frozenset({"read", "create", "edit", "delete"})
_OBJECT_FLAGS = {"read": "PermissionsRead", "create": "PermissionsCreate", "edit": "PermissionsEdit",
                 "delete": "PermissionsDelete"}


class Permissions:
    """Cached FLS and object permissions of the integration user; ``invalidate`` after permission writes."""

    def __init__(self, tables: Tables, user_id: str, enforce: bool):
        self.tables = tables
        self.user_id = user_id
        self.enforce = enforce
        self._lock = threading.Lock()
        self._fields: dict[str, tuple[bool, bool]] | None = None
        self._objects: dict[str, set[str]] | None = None

    def invalidate(self) -> None:
        """Forget the cache (a permission record changed)."""
        with self._lock:
            self._fields = self._objects = None

    def _load(self) -> tuple[dict[str, tuple[bool, bool]], dict[str, set[str]]]:
        with self._lock:
            if self._fields is not None and self._objects is not None:
                return self._fields, self._objects
            live = [r for r in self.tables.rows("PermissionSetAssignment") if not r.get("IsDeleted")]
            sets = {r.get("PermissionSetId") for r in live if r.get("AssigneeId") == self.user_id}
            fields: dict[str, tuple[bool, bool]] = {}
            for row in self.tables.rows("FieldPermissions"):
                if row.get("IsDeleted") or row.get("ParentId") not in sets or not isinstance(row.get("Field"), str):
                    continue
                key = row["Field"].lower()
                read, edit = fields.get(key, (False, False))
                fields[key] = (read or bool(row.get("PermissionsRead")), edit or bool(row.get("PermissionsEdit")))
            objects: dict[str, set[str]] = {}
            for row in self.tables.rows("ObjectPermissions"):
                if row.get("IsDeleted") or row.get("ParentId") not in sets \
                        or not isinstance(row.get("SobjectType"), str):
                    continue
                granted = objects.setdefault(row["SobjectType"].lower(), set())
                granted.update(name for name, flag in _OBJECT_FLAGS.items() if row.get(flag))
            self._fields, self._objects = fields, objects
            return fields, objects

    def object_access(self, sobject: SObject) -> frozenset[str]:
        """``{"read", "create", "edit", "delete"}`` subset granted on an object."""
        if not self.enforce or not sobject.custom:
            return ALL
        return frozenset(self._load()[1].get(sobject.name.lower(), set()))

    def can_see(self, sobject: SObject) -> bool:
        """The object exists for the integration user."""
        return "read" in self.object_access(sobject)

    def field_access(self, sobject: SObject, field: Field) -> tuple[bool, bool]:
        """``(readable, editable)`` for the integration user."""
        if not self.enforce or not field.custom or (not field.nillable and field.type != "boolean"):
            return True, True
        return self._load()[0].get(f"{sobject.name}.{field.name}".lower(), (False, False))

    def visible_fields(self, sobject: SObject) -> list[Field]:
        """The object's fields the integration user can read, in describe order."""
        return [f for f in sobject.fields.values() if self.field_access(sobject, f)[0]]

    def visible_field(self, sobject: SObject, name: str) -> Field | None:
        """The readable field called ``name``, or None."""
        found = sobject.field(name)
        return found if found is not None and self.field_access(sobject, found)[0] else None
