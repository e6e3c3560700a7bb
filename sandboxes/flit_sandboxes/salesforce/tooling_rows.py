"""The Tooling API's rows of custom objects and fields (notes §3.1, §3.2): what ``/tooling/query`` reads
(``context.SalesforceContext.source``) and ``GET /tooling/sobjects/{kind}/{id}`` answers (``tooling``).
Shapes: see ``tooling``'s module text ("Query rows").
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.salesforce.schema import Field, Schema, SObject


def object_row(sobject: SObject) -> dict[str, Any]:
    """The CustomObject row of a custom object (``DeveloperName`` without ``__c``)."""
    meta = sobject.metadata or {}
    created = meta.get("_created")
    return {"Id": sobject.tooling_id, "DeveloperName": sobject.name[:-3], "NamespacePrefix": None,
            "FullName": sobject.name, "Description": meta.get("description"), "ManageableState": "unmanaged",
            "ExternalName": None, "SharingModel": meta.get("sharingModel", "ReadWrite"), "CreatedDate": created,
            "LastModifiedDate": created}


def field_row(sobject: SObject, field: Field) -> dict[str, Any]:
    """The CustomField row of a custom field; ``TableEnumOrId`` is a standard object's name or a custom
    object's 01I Id."""
    meta = field.metadata or {}
    table = sobject.tooling_id if sobject.custom else sobject.name
    return {"Id": field.tooling_id, "DeveloperName": field.name[:-3], "NamespacePrefix": None,
            "FullName": f"{sobject.name}.{field.name}", "Description": meta.get("description"),
            "ManageableState": "unmanaged", "TableEnumOrId": table, "EntityDefinitionId": table,
            "Length": field.length if field.type in ("string", "textarea") else 0,
            "InlineHelpText": meta.get("inlineHelpText"), "CreatedDate": None, "LastModifiedDate": None}


def tooling_rows(schema: Schema, kind: str) -> list[dict[str, Any]]:
    """Every CustomObject or CustomField row for ``/tooling/query``."""
    if kind == "CustomObject":
        return [object_row(o) for o in schema.custom_objects()]
    return [field_row(o, f) for o in schema for f in o.fields.values() if f.custom and f.tooling_id]
