"""Schema deployment: custom objects, custom fields, field-level security; idempotent.

Order of one deployment (notes/salesforce.md §3):

1. **Custom objects** (``settings.custom_objects``) through the Tooling API: existing ones are listed
   with ``SELECT Id, DeveloperName FROM CustomObject`` (Tooling query) and never created twice;
   missing ones are created with ``POST /tooling/sobjects/CustomObject``
   ``{"FullName": "Treatment_Record__c", "Metadata": {label, pluralLabel, nameField, deploymentStatus:
   "Deployed", sharingModel, description, enableActivities, enableReports}}`` (§3.1; the
   ``FullName``-at-top-level form is the practitioner form, §9 UNCONFIRMED).
2. **Custom fields** of every target's sObject: the external-ID field (Text(255), ``externalId``,
   ``unique``, case-insensitive; §7 "always create ext-ID fields with unique:true"), the target's
   ``custom_fields``, and custom lookups (``lookups`` named ``X__c``: Lookup to the parent target's
   sObject; its child relationship name, unique on the parent, is declared or derived and reconciled with
   the org by ``relationships.py``). Existing ones are listed with ``SELECT Id, DeveloperName,
   TableEnumOrId FROM CustomField WHERE TableEnumOrId IN (...)`` (standard objects by name, custom
   objects by their CustomObject Id) and compared with describe (a type clash raises
   :class:`SchemaError`); missing ones are created with ``POST /tooling/sobjects/CustomField``.
   Metadata keys per type follow §3.2 (Text ``length``; LongTextArea ``length``+``visibleLines``;
   Number/Currency/Percent ``precision``+``scale``; Checkbox ``defaultValue``; Picklist and
   MultiselectPicklist ``valueSet``; Lookup ``referenceTo``/``relationshipName``/``deleteConstraint``).
3. **Field-level security** (§3.3: API-created fields are invisible until granted): one permission
   set (``settings.permission_set.name``, default ``Flit_Migration_Access``) found or created as a
   ``PermissionSet`` row; ``ObjectPermissions`` (read/create/edit/delete/view all/modify all) for
   every custom object and ``FieldPermissions`` (read+edit) for every managed custom field (required
   fields excluded: their access cannot be restricted), created in sObject Collections of ≤ 200;
   the set is assigned to the integration user (``PermissionSetAssignment``) unless
   ``settings.assign_permission_set`` is false.

A second deployment against the same org only reads (the document's ``created`` counts are zero).

The returned **metadata document** (for the migration report) lists names, types, lengths,
precision/scale and pick-list values, and a **field-level-security checklist** of the HIPAA-sensitive
fields (a custom field is sensitive when its spec has ``args: {sensitive: true}`` or its ``category``
is in ``settings.sensitive_categories``): which permission set grants access, which *other*
permission sets/profiles already grant it (``FieldPermissions`` query), and the manual steps left.
No record values are read or written here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from flit_pipelines.destinations.salesforce import relationships
from flit_pipelines.destinations.salesforce.client import SalesforceClient
from flit_pipelines.destinations.salesforce.errors import SalesforceApiError, SalesforceTransportError, SchemaError
from flit_pipelines.destinations.salesforce.fls import FLS_STEPS, fls_checklist
from flit_pipelines.destinations.salesforce.soql_text import soql_list
from flit_pipelines.destinations.salesforce.wants import FIELD_TYPES, FieldWant, ObjectWant
from flit_pipelines.spec.model import MigrationSpec, Target

log = logging.getLogger(__name__)

DEFAULT_EXTERNAL_ID = "Source_System_ID__c"
DEFAULT_PERMISSION_SET = "Flit_Migration_Access"
_TYPE_ALIASES = {t.lower(): t for t in FIELD_TYPES} | {"multipicklist": "MultiselectPicklist",
                                                        "datetime": "DateTime", "longtext": "LongTextArea"}
# args keys of a custom field the destination reads (everything else in args is the formatters')
FIELD_ARGS = ("label", "length", "precision", "scale", "visible_lines", "restricted", "sensitive", "description",
              "help", "default", "unique", "external_id")
ACTIVITY_OBJECTS = ("Task", "Event")
SHARING_MODELS = ("Private", "Read", "ReadWrite", "ReadWriteTransfer", "FullAccess", "ControlledByParent")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")


def label_of(api_name: str) -> str:
    """``Source_Created_At__c`` -> ``Source Created At``."""
    base = api_name[:-3] if api_name.endswith("__c") else api_name
    return base.replace("_", " ").strip()


def spec_type(name: str) -> str:
    """A spec ``type`` (any case) as its Metadata API name; raises SchemaError when unknown."""
    found = _TYPE_ALIASES.get(str(name).replace(" ", "").lower())
    if found is None:
        raise SchemaError(f"custom field type {name!r} is not one of {sorted(FIELD_TYPES)}")
    return found


def target_sobject(target: Target) -> str:
    """The API name a target writes (``options.sobject``; ContentVersion for files; User for users)."""
    if target.entity == "file":
        return "ContentVersion"
    if target.entity == "user":
        return "User"
    name = target.options.get("sobject")
    if not name:
        raise SchemaError("an sobject target needs options.sobject (the object's API name)")
    return str(name)


def target_external_id(target: Target, settings: dict[str, Any]) -> str:
    """The target's external-ID field (``options.external_id``, else ``settings.external_id_field``)."""
    return str(target.options.get("external_id") or settings.get("external_id_field") or DEFAULT_EXTERNAL_ID)


def is_sensitive(args: dict[str, Any], category: str | None, settings: dict[str, Any]) -> bool:
    """``args.sensitive: true`` or a category listed in ``settings.sensitive_categories``."""
    if bool(args.get("sensitive")):
        return True
    cats = {str(c).lower() for c in settings.get("sensitive_categories") or []}
    return bool(category and category.lower() in cats)


def wanted_schema(spec: MigrationSpec, names: Iterable[str] | None = None
                  ) -> tuple[dict[str, ObjectWant], dict[str, FieldWant]]:
    """The custom objects and fields the spec's targets need (merged across targets).

    Raises:
        SchemaError: a malformed ``custom_objects`` entry, a custom field name without ``__c``,
            an unknown type, two targets wanting one field with different types or child relationship
            names, or lookups sharing a child relationship name on one parent (``relationships.check_names``).
    """
    settings = spec.destination.settings
    names = list(names) if names is not None else list(spec.targets)
    objects: dict[str, ObjectWant] = {}
    for obj_name, raw in (settings.get("custom_objects") or {}).items():
        objects[obj_name] = _object_want(obj_name, raw or {})
    fields: dict[str, FieldWant] = {}

    def want(f: FieldWant, target: str) -> None:
        key = f.full_name.lower()
        prev = fields.get(key)
        if prev is None:
            f.targets = [target]
            fields[key] = f
            return
        if prev.type != f.type:
            raise SchemaError(f"custom field {f.full_name}: target {target} wants {f.type}, targets "
                              f"{prev.targets} want {prev.type}")
        if (prev.child_relationship or "").lower() != (f.child_relationship or "").lower():
            raise SchemaError(f"lookup {f.full_name}: target {target} names its child relationship "
                              f"{f.child_relationship}, targets {prev.targets} name it {prev.child_relationship}")
        prev.options = list(dict.fromkeys(prev.options + f.options))
        prev.sensitive = prev.sensitive or f.sensitive
        prev.category = prev.category or f.category
        prev.targets.append(target)

    for tname in names:
        t = spec.targets[tname]
        if t.entity == "user":
            continue
        sobject = target_sobject(t)
        if sobject.endswith("__c"):
            if sobject not in objects:
                raise SchemaError(f"target {tname}: custom object {sobject} is not described in "
                                  "destination.settings.custom_objects")
            objects[sobject].targets.append(tname)
        ext = target_external_id(t, settings)
        keyed = str(t.options.get("operation", "upsert")) == "upsert"
        if ext.endswith("__c"):
            want(FieldWant(sobject, ext, "Text", label_of(ext), length=255, external_id=keyed, unique=keyed,
                           description="Source system record ID written by the Flit migration"), tname)
        for fname, cf in t.custom_fields.items():
            if not _API_NAME.match(fname):
                raise SchemaError(f"target {tname}: custom field {fname!r} must be an API name ending in __c")
            args = {k: v for k, v in cf.args.items() if k in FIELD_ARGS}
            ftype = spec_type(cf.type)
            if ftype in ("Lookup", "MasterDetail"):
                raise SchemaError(f"target {tname}: custom field {fname}: declare lookups under lookups, not "
                                  "custom_fields")
            want(FieldWant(sobject, fname, ftype, str(args.get("label") or label_of(fname)),
                           length=args.get("length"), precision=args.get("precision"), scale=args.get("scale"),
                           visible_lines=args.get("visible_lines"), options=list(cf.options or []),
                           restricted=bool(args.get("restricted", True)), category=cf.category,
                           sensitive=is_sensitive(cf.args, cf.category, settings),
                           description=args.get("description"), help=args.get("help"), default=args.get("default"),
                           unique=bool(args.get("unique", False)), external_id=bool(args.get("external_id", False))),
                 tname)
        lookup_opts = t.options.get("lookup_fields") or {}
        for fk, lk in t.lookups.items():
            if not fk.endswith("__c"):
                continue
            parent = spec.targets[lk.target]
            opts = dict(lookup_opts.get(fk) or {})
            kind = "MasterDetail" if str(opts.get("type", "Lookup")) == "MasterDetail" else "Lookup"
            rel_label = str(opts.get("relationshipLabel") or (
                objects[sobject].plural_label if sobject in objects else f"{sobject}s"))
            want(FieldWant(sobject, fk, kind, str(opts.get("label") or label_of(fk)),
                           reference_to=target_sobject(parent), relationship_label=rel_label,
                           child_relationship=str(opts.get("relationshipName") or relationships.derive(rel_label)),
                           delete_constraint=str(opts.get("deleteConstraint", "SetNull")),
                           category=opts.get("category"), sensitive=bool(opts.get("sensitive", False))), tname)
    relationships.check_names(f for f in fields.values() if f.type in ("Lookup", "MasterDetail"))
    return objects, fields


def _object_want(name: str, raw: dict[str, Any]) -> ObjectWant:
    if not _API_NAME.match(name):
        raise SchemaError(f"custom_objects: {name!r} must be an API name ending in __c")
    label = str(raw.get("label") or label_of(name))
    plural = str(raw.get("pluralLabel") or raw.get("plural_label") or label + "s")
    nf = raw.get("nameField") or raw.get("name_field") or {}
    if isinstance(nf, str):
        nf = {"label": nf}
    name_field: dict[str, Any] = {"label": str(nf.get("label") or f"{label} Name"), "type": str(nf.get("type", "Text"))}
    if name_field["type"] == "AutoNumber":
        if not nf.get("displayFormat"):
            raise SchemaError(f"custom_objects.{name}: an AutoNumber nameField needs displayFormat (e.g. 'TR-{{0000}}')")
        name_field["displayFormat"] = str(nf["displayFormat"])
        name_field["startingNumber"] = int(nf.get("startingNumber", 1))
    elif name_field["type"] != "Text":
        raise SchemaError(f"custom_objects.{name}: nameField type must be Text or AutoNumber")
    sharing = str(raw.get("sharing") or raw.get("sharingModel") or "ReadWrite")
    if sharing not in SHARING_MODELS:
        raise SchemaError(f"custom_objects.{name}: sharing must be one of {list(SHARING_MODELS)}")
    return ObjectWant(name, label, plural, name_field, sharing, raw.get("description"),
                      bool(raw.get("enableActivities", raw.get("enable_activities", True))))


class SchemaDeployer:
    """Deploys :func:`wanted_schema` into one org (see module docstring).

    Args:
        client: the org connection.
        settings: ``spec.destination.settings``.
    """

    def __init__(self, client: SalesforceClient, settings: dict[str, Any]):
        self.client = client
        self.settings = settings
        ps = settings.get("permission_set") or {}
        if isinstance(ps, str):
            ps = {"name": ps}
        self.ps_name = str(ps.get("name") or DEFAULT_PERMISSION_SET)
        self.ps_label = str(ps.get("label") or label_of(self.ps_name))
        self.assign = bool(settings.get("assign_permission_set", True))
        self.object_ids: dict[str, str] = {}

    # ------------------------------------------------------------------ entry
    def deploy(self, spec: MigrationSpec) -> dict[str, Any]:
        """Create what is missing; return the metadata document (module docstring).

        Raises:
            SchemaError: spec problems, or an existing field whose type differs from the spec's.
            SalesforceApiError: the org refused a schema call (message names the object/field).
        """
        objects, fields = wanted_schema(spec)
        created = {"custom_objects": 0, "custom_fields": 0, "permission_sets": 0, "object_permissions": 0,
                   "field_permissions": 0, "permission_set_assignments": 0}
        obj_docs = self._objects(objects, created)
        field_docs, children = self._fields(fields, created)
        ps = self._permissions(objects, fields, created)
        checklist = fls_checklist(self.client, self.settings, fields, ps, self._describe_fields)
        return {"api_version": self.client.api_version, "custom_objects": obj_docs, "custom_fields": field_docs,
                "child_relationships": children, "permission_set": ps,
                "fls_checklist": {"fields": checklist, "steps": FLS_STEPS if checklist else []}, "created": created,
                "updated": {"child_relationships": sum(c["status"] == "renamed" for c in children)}}

    # ------------------------------------------------------------------ objects
    def _existing_objects(self) -> dict[str, str]:
        rows = self.client.query("SELECT Id, DeveloperName, NamespacePrefix FROM CustomObject", tooling=True)
        out: dict[str, str] = {}
        for r in rows:
            dev = str(r.get("DeveloperName") or "")
            if r.get("NamespacePrefix"):
                continue
            out[(dev if dev.endswith("__c") else dev + "__c").lower()] = str(r["Id"])
        return out

    def _objects(self, objects: dict[str, ObjectWant], created: dict[str, int]) -> list[dict[str, Any]]:
        docs = []
        existing = self._existing_objects() if objects else {}
        for name, want in objects.items():
            oid = existing.get(name.lower())
            made = False
            if oid is None:
                oid = self._create("CustomObject", name, want.metadata(),
                                   lambda: self._existing_objects().get(name.lower()))  # noqa: B023 (called at once)
                made = True
                created["custom_objects"] += 1
            self.object_ids[name] = oid
            docs.append({"name": name, "label": want.label, "pluralLabel": want.plural_label,
                         "nameField": want.name_field, "sharingModel": want.sharing,
                         "enableActivities": want.enable_activities, "description": want.description,
                         "id": oid, "created": made, "targets": want.targets})
        return docs

    def _create(self, kind: str, full_name: str, metadata: dict[str, Any], find_again) -> str:
        """``POST /tooling/sobjects/<kind>``; after a lost answer, look again before failing."""
        try:
            res = self.client.tooling("POST", f"sobjects/{kind}", json={"FullName": full_name, "Metadata": metadata})
        except SalesforceTransportError:
            found = find_again()
            if found is None:
                raise
            return found
        except SalesforceApiError as exc:
            raise SalesforceApiError(exc.status, exc.error_code, f"creating {kind} {full_name}: {exc.message}",
                                     method="POST", path=f"/tooling/sobjects/{kind}") from None
        log.info("created %s %s", kind, full_name)
        return str((res or {}).get("id") or "")

    # ------------------------------------------------------------------ fields
    def _table_id(self, sobject: str) -> str:
        if sobject.endswith("__c"):
            if sobject not in self.object_ids:
                found = self._existing_objects().get(sobject.lower())
                if found is None:
                    raise SchemaError(f"custom object {sobject} does not exist (add it to settings.custom_objects)")
                self.object_ids[sobject] = found
            return self.object_ids[sobject]
        return sobject

    def _existing_fields(self, sobjects: Iterable[str]) -> dict[str, str]:
        """``"object.field__c"`` (lower case) -> CustomField Id."""
        tables = {self._table_id(o): o for o in sobjects}
        if not tables:
            return {}
        soql = f"SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId IN ({soql_list(tables)})"
        out: dict[str, str] = {}
        for r in self.client.query(soql, tooling=True):
            owner = tables.get(str(r.get("TableEnumOrId")))
            if owner is None:
                continue
            dev = str(r.get("DeveloperName") or "")
            out[f"{owner}.{dev if dev.endswith('__c') else dev + '__c'}".lower()] = str(r["Id"])
        return out

    def _fields(self, fields: dict[str, FieldWant], created: dict[str, int]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        sobjects = sorted({f.sobject for f in fields.values()})
        existing = self._existing_fields(sobjects)
        describes = {o: self._describe_fields(o) for o in sobjects} if existing else {}
        lookups = [f for f in fields.values() if f.type in ("Lookup", "MasterDetail")]
        # before any new lookup: the org's child relationship names agree with the spec's (renames, conflicts)
        children = relationships.reconcile(self.client, lookups, existing) if lookups else []
        docs = []
        # plain fields first, then lookups (their targets must exist), so one pass is enough
        for want in sorted(fields.values(), key=lambda f: f.type in ("Lookup", "MasterDetail")):
            fid = existing.get(want.full_name.lower())
            made = False
            if fid is not None:
                live = describes.get(want.sobject, {}).get(want.name.lower())
                if live is not None and str(live.get("type")) != want.describe_type:
                    raise SchemaError(f"custom field {want.full_name} exists with type {live.get('type')!r}; the spec "
                                      f"wants {want.type} ({want.describe_type}). Types are not changed by the "
                                      "migration: rename one of them")
            else:
                fid = self._create("CustomField", want.full_name, want.metadata(),
                                   lambda w=want: self._existing_fields([w.sobject]).get(w.full_name.lower()))
                made = True
                created["custom_fields"] += 1
            docs.append({**want.document(), "id": fid, "created": made})
        return docs, children

    def _describe_fields(self, sobject: str) -> dict[str, dict[str, Any]]:
        try:
            d = self.client.describe(sobject)
        except SalesforceApiError:
            return {}
        return {str(f.get("name", "")).lower(): f for f in d.get("fields") or []}

    # ------------------------------------------------------------------ permissions
    def _integration_user(self) -> str | None:
        if self.client.user_id:
            return self.client.user_id
        username = self.settings.get("integration_username")
        if not username:
            return None
        rows = list(self.client.query(f"SELECT Id FROM User WHERE Username = {soql_list([username])}"))
        return str(rows[0]["Id"]) if rows else None

    def _permissions(self, objects: dict[str, ObjectWant], fields: dict[str, FieldWant],
                     created: dict[str, int]) -> dict[str, Any]:
        c = self.client
        rows = list(c.query(f"SELECT Id, Name FROM PermissionSet WHERE Name = {soql_list([self.ps_name])}"))
        ps_created = False
        if rows:
            ps_id = str(rows[0]["Id"])
        else:
            res = c.rest("POST", "sobjects/PermissionSet", json={
                "Name": self.ps_name, "Label": self.ps_label,
                "Description": "Object and field access of the Flit migration's integration user"})
            ps_id = str(res["id"])
            ps_created = True
            created["permission_sets"] += 1
        doc: dict[str, Any] = {"name": self.ps_name, "label": self.ps_label, "id": ps_id, "created": ps_created}

        # object permissions (custom objects)
        have_obj = {str(r.get("SobjectType")).lower(): r for r in c.query(
            "SELECT Id, SobjectType, PermissionsRead, PermissionsCreate, PermissionsEdit, PermissionsDelete, "
            f"PermissionsViewAllRecords, PermissionsModifyAllRecords FROM ObjectPermissions WHERE ParentId = '{ps_id}'")}
        flags = ("PermissionsRead", "PermissionsCreate", "PermissionsEdit", "PermissionsDelete",
                 "PermissionsViewAllRecords", "PermissionsModifyAllRecords")
        new_obj, upd_obj = [], []
        for name in objects:
            row = have_obj.get(name.lower())
            if row is None:
                new_obj.append({"attributes": {"type": "ObjectPermissions"}, "ParentId": ps_id, "SobjectType": name,
                                **{f: True for f in flags}})
            elif not all(row.get(f) for f in flags):
                upd_obj.append({"attributes": {"type": "ObjectPermissions"}, "Id": row["Id"], **{f: True for f in flags}})
        self._save(new_obj, "POST")
        self._save(upd_obj, "PATCH")
        created["object_permissions"] += len(new_obj)
        doc["object_permissions"] = {"objects": list(objects), "created": len(new_obj), "updated": len(upd_obj)}

        # field permissions (every managed custom field that is not required)
        have_fls = {str(r.get("Field")).lower(): r for r in c.query(
            f"SELECT Id, SobjectType, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE ParentId = '{ps_id}'")}
        new_fls, upd_fls, granted = [], [], []
        for f in fields.values():
            if f.type == "MasterDetail":
                continue
            granted.append(f.full_name)
            row = have_fls.get(f.full_name.lower())
            if row is None:
                new_fls.append({"attributes": {"type": "FieldPermissions"}, "ParentId": ps_id, "SobjectType": f.sobject,
                                "Field": f.full_name, "PermissionsRead": True, "PermissionsEdit": True})
            elif not (row.get("PermissionsRead") and row.get("PermissionsEdit")):
                upd_fls.append({"attributes": {"type": "FieldPermissions"}, "Id": row["Id"], "PermissionsRead": True,
                                "PermissionsEdit": True})
        self._save(new_fls, "POST")
        self._save(upd_fls, "PATCH")
        created["field_permissions"] += len(new_fls)
        doc["field_permissions"] = {"fields": granted, "created": len(new_fls), "updated": len(upd_fls)}

        # assignment to the integration user
        user = self._integration_user() if self.assign else None
        assignment = {"assignee_id": user, "created": False}
        if self.assign and user is None:
            assignment["note"] = ("integration user unknown (no token id, no settings.integration_username): assign "
                                  f"the permission set {self.ps_name} to the integration user by hand")
        elif user:
            rows = list(c.query("SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = "
                                f"'{ps_id}' AND AssigneeId = '{user}'"))
            if not rows:
                c.rest("POST", "sobjects/PermissionSetAssignment", json={"AssigneeId": user, "PermissionSetId": ps_id})
                assignment["created"] = True
                created["permission_set_assignments"] += 1
        doc["assignment"] = assignment
        return doc

    def _save(self, records: list[dict[str, Any]], method: str) -> None:
        """Create (POST) or update (PATCH) rows with sObject Collections, ≤ 200 per call (notes §2.2)."""
        for start in range(0, len(records), 200):
            part = records[start:start + 200]
            results = self.client.rest(method, "composite/sobjects", json={"allOrNone": False, "records": part},
                                       idempotent=method != "POST") or []
            bad = [r for r in results if not r.get("success")]
            if bad:
                err = (bad[0].get("errors") or [{}])[0]
                kind = part[0]["attributes"]["type"]
                raise SalesforceApiError(400, str(err.get("statusCode") or "UNKNOWN_ERROR"),
                                         f"{len(bad)} {kind} rows refused: {err.get('message')}",
                                         method=method, path="/composite/sobjects")
