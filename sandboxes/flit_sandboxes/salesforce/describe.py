"""Describe bodies (notes §2.5): ``GET /sobjects/`` and ``GET /sobjects/{name}/describe``.

Field keys: ``name, label, type, soapType, length, byteLength, precision, scale, digits, nillable, createable,
updateable, defaultedOnCreate, defaultValue, externalId, idLookup, unique, caseSensitive, custom, calculated,
autoNumber, nameField, filterable, sortable, groupable, relationshipName, referenceTo, polymorphicForeignKey,
cascadeDelete, restrictedDelete, picklistValues [{value, label, active, defaultValue, validFor}],
restrictedPicklist, inlineHelpText, htmlFormatted`` (the notes' list is from memory, UNCONFIRMED exact keys).
Only fields the integration user can read are listed; ``createable``/``updateable`` are false without FLS
edit. ``childRelationships`` lists the reference fields pointing at the object (``CreatedById``/``LastModifiedById``
left out) with their child relationship name (``Treatment_Records__r``, ``Contacts``; null where the org has none,
as real orgs list some children).
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.salesforce.perms import Permissions
from flit_sandboxes.salesforce.schema import Field, Schema, SObject

_SOAP = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
         "datetime": "xsd:dateTime", "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
         "int": "xsd:int", "base64": "xsd:base64Binary"}


def _urls(version: str, sobject: SObject) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{sobject.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def global_entry(version: str, sobject: SObject, perms: Permissions) -> dict[str, Any]:
    """One ``sobjects[]`` item of the global describe."""
    access = perms.object_access(sobject)
    return {"name": sobject.name, "label": sobject.label, "labelPlural": sobject.label_plural,
            "keyPrefix": sobject.prefix, "custom": sobject.custom,
            "createable": sobject.createable and "create" in access,
            "updateable": sobject.updateable and "edit" in access,
            "deletable": sobject.deletable and "delete" in access,
            "queryable": sobject.queryable, "retrieveable": True, "searchable": True, "layoutable": True,
            "triggerable": True, "undeletable": sobject.deletable, "mergeable": False, "replicateable": True,
            "activateable": False, "customSetting": False, "deprecatedAndHidden": False, "feedEnabled": False,
            "urls": _urls(version, sobject)}


def global_describe(version: str, schema: Schema, perms: Permissions) -> dict[str, Any]:
    """``GET /sobjects``."""
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [global_entry(version, o, perms) for o in schema if perms.can_see(o)]}


def field_describe(schema: Schema, sobject: SObject, field: Field, perms: Permissions) -> dict[str, Any]:
    """One ``fields[]`` item."""
    _, editable = perms.field_access(sobject, field)
    kind = field.type
    text_like = kind in ("string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox")
    return {
        "name": field.name, "label": field.label, "type": kind, "soapType": _SOAP.get(kind, "xsd:string"),
        "length": field.length if text_like or kind in ("id", "reference") else 0,
        "byteLength": field.length * 3 if text_like or kind in ("id", "reference") else 0,
        "precision": field.precision if kind in ("double", "currency", "percent") else 0,
        "scale": field.scale if kind in ("double", "currency", "percent") else 0,
        "digits": field.precision if kind == "int" else 0,
        "nillable": field.nillable, "createable": field.createable and editable,
        "updateable": field.updateable and editable, "defaultedOnCreate": field.defaulted,
        "defaultValue": field.default if field.default is not None and kind != "reference" else None,
        "externalId": field.external_id, "idLookup": field.id_lookup or field.external_id or kind == "id",
        "unique": field.unique, "caseSensitive": field.case_sensitive, "custom": field.custom,
        "calculated": field.calculated, "autoNumber": field.auto_number, "nameField": field.name_field,
        "filterable": kind not in ("textarea", "base64"),
        "sortable": kind not in ("textarea", "base64", "multipicklist"),
        "groupable": field.groupable,
        "relationshipName": field.relationship_name if kind == "reference" else None,
        "referenceTo": schema.targets(field) if kind == "reference" else [],
        "polymorphicForeignKey": kind == "reference" and field.polymorphic,
        "cascadeDelete": field.master_detail, "restrictedDelete": field.delete_constraint == "Restrict",
        "picklistValues": [{"value": v, "label": v, "active": True, "defaultValue": v == field.picklist_default,
                            "validFor": None} for v in field.picklist],
        "restrictedPicklist": field.restricted, "dependentPicklist": False,
        "inlineHelpText": (field.metadata or {}).get("inlineHelpText"), "htmlFormatted": False,
        "writeRequiresMasterRead": False, "relationshipOrder": None,
    }


def describe(version: str, schema: Schema, sobject: SObject, perms: Permissions) -> dict[str, Any]:
    """``GET /sobjects/{name}/describe``."""
    children = [{"childSObject": other.name, "field": ref.name, "cascadeDelete": ref.master_detail,
                 "restrictedDelete": ref.delete_constraint == "Restrict", "relationshipName": ref.child_relationship,
                 "deprecatedAndHidden": False}
                for other, ref in schema.children(sobject)
                if perms.can_see(other) and perms.field_access(other, ref)[0]]
    return {**global_entry(version, sobject, perms),
            "fields": [field_describe(schema, sobject, f, perms) for f in perms.visible_fields(sobject)],
            "childRelationships": children, "recordTypeInfos": [], "supportedScopes": [],
            "namedLayoutInfos": [], "networkScopeFieldName": None}
