"""Tooling API: custom objects and fields (notes §3.1, §3.2); their rows (``tooling_rows``) for ``/tooling/query``.

- ``POST /tooling/sobjects/CustomObject`` / ``CustomField`` ``{"FullName", "Metadata"}`` -> 201
  ``{"id": "01I..."|"00N...", "success": true, "errors": [], "warnings": [], "infos": []}`` (body shape
  UNCONFIRMED); invalid metadata -> 400 ``[{"message", "errorCode", "fields"}]`` (see ``metadata``).
- ``GET /tooling/sobjects/CustomField/{id}`` -> ``{"attributes", "Id", "DeveloperName", "FullName",
  "TableEnumOrId", ..., "Metadata": {...}}``; ``PATCH`` with ``{"Metadata": {...}}`` replaces the metadata
  (type changes refused, 400) -> 204; ``DELETE`` -> 204 (the field disappears; stored values are dropped
  from describe/SOQL, not from the rows). The same for CustomObject (DELETE only when it has no records).
- Query rows: CustomObject ``{Id, DeveloperName (no __c), NamespacePrefix: null, FullName, Description,
  ManageableState: "unmanaged", ExternalName, SharingModel, CreatedDate, LastModifiedDate}``; CustomField
  ``{Id, DeveloperName, TableEnumOrId (standard object name, or the custom object's 01I Id),
  EntityDefinitionId (same), FullName ("Contact.Source_System_ID__c"), Length, InlineHelpText, ...}``.
  Real Salesforce only returns ``FullName``/``Metadata`` when the query returns one row; the sandbox always
  returns ``FullName`` and also filters on it (UNCONFIRMED, brief requirement).

New custom fields get no field-level security (notes §3.3): grant it with FieldPermissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flit_sandboxes.salesforce import metadata
from flit_sandboxes.salesforce.errors import SfError, not_found
from flit_sandboxes.salesforce.schema import Field, SObject
from flit_sandboxes.salesforce.tooling_rows import field_row, object_row

if TYPE_CHECKING:
    from flit_sandboxes.salesforce.context import SalesforceContext

SAVE_OK = {"success": True, "errors": [], "warnings": [], "infos": []}


def create_object(ctx: SalesforceContext, body: Any) -> dict[str, Any]:
    """Create a custom object; the SaveResult body."""
    name, meta = metadata.full_name(body)
    with ctx.tables.lock:
        sobject = metadata.build_object(ctx.schema, name, meta, ctx.next_custom_prefix())
        sobject.tooling_id = ctx.ids.new("01I")
        sobject.metadata = {**meta, "_created": ctx.now()}
        ctx.store.save_custom_object(sobject.name, {"tooling_id": sobject.tooling_id, "prefix": sobject.prefix,
                                                    "metadata": meta, "created": ctx.now()})
        ctx.schema.add_object(sobject)
    return {"id": sobject.tooling_id, **SAVE_OK}


def create_field(ctx: SalesforceContext, body: Any) -> dict[str, Any]:
    """Create a custom field; the SaveResult body."""
    name, meta = metadata.full_name(body)
    object_name, dot, field_name = name.partition(".")
    if not dot:
        raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", f"FullName must be Object.Field__c, not {name}", [])
    with ctx.tables.lock:
        owner = ctx.schema.get(object_name)
        field = metadata.build_field(ctx.schema, object_name, field_name, meta)
        field.tooling_id = ctx.ids.new("00N")
        assert owner is not None
        ctx.store.save_custom_field(field.tooling_id, owner.name, field.name,
                                    {"tooling_id": field.tooling_id, "metadata": meta, "created": ctx.now()})
        ctx.schema.add_field(owner.name, field)
    return {"id": field.tooling_id, **SAVE_OK}


def _find(ctx: SalesforceContext, kind: str, tooling_id: str) -> tuple[SObject, Field | None]:
    for sobject in ctx.schema:
        if kind == "CustomObject" and sobject.tooling_id and sobject.tooling_id.lower() == tooling_id.lower():
            return sobject, None
        if kind == "CustomField":
            for field in sobject.fields.values():
                if field.tooling_id and field.tooling_id.lower() == tooling_id.lower():
                    return sobject, field
    raise not_found()


def get(ctx: SalesforceContext, kind: str, tooling_id: str, version: str) -> dict[str, Any]:
    """``GET /tooling/sobjects/{kind}/{id}``."""
    sobject, field = _find(ctx, kind, tooling_id)
    row = field_row(sobject, field) if field is not None else object_row(sobject)
    meta = {k: v for k, v in ((field.metadata if field else sobject.metadata) or {}).items() if not k.startswith("_")}
    return {"attributes": {"type": kind, "url": f"/services/data/v{version}/tooling/sobjects/{kind}/{row['Id']}"},
            **row, "Metadata": meta}


def update(ctx: SalesforceContext, kind: str, tooling_id: str, body: Any) -> None:
    """``PATCH /tooling/sobjects/{kind}/{id}``: replace the metadata."""
    if not isinstance(body, dict) or not isinstance(body.get("Metadata"), dict):
        raise SfError(400, "JSON_PARSER_ERROR", "The body must hold 'Metadata'")
    with ctx.tables.lock:
        sobject, field = _find(ctx, kind, tooling_id)
        meta = body["Metadata"]
        if field is None:
            raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", "Updating a CustomObject is not supported by the sandbox",
                          [])
        if meta.get("type") != (field.metadata or {}).get("type"):
            raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", "Changing a field's type is not supported", [])
        del sobject.fields[field.name.lower()]
        try:
            replacement = metadata.build_field(ctx.schema, sobject.name, field.name, meta)
        except SfError:
            sobject.fields[field.name.lower()] = field
            raise
        replacement.tooling_id = field.tooling_id
        sobject.fields[field.name.lower()] = replacement
        ctx.store.save_custom_field(field.tooling_id or "", sobject.name, field.name,
                                    {"tooling_id": field.tooling_id, "metadata": meta, "created": ctx.now()})
        ctx.schema.refresh_dynamic()


def delete(ctx: SalesforceContext, kind: str, tooling_id: str) -> None:
    """``DELETE /tooling/sobjects/{kind}/{id}``."""
    with ctx.tables.lock:
        sobject, field = _find(ctx, kind, tooling_id)
        with ctx.store.transaction() as conn:
            if field is not None:
                conn.execute("DELETE FROM custom_fields WHERE id = ?", (field.tooling_id,))
                del sobject.fields[field.name.lower()]
            else:
                if ctx.tables.count(sobject.name):
                    raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", "The object still has records; delete them first",
                                  [])
                conn.execute("DELETE FROM custom_objects WHERE name = ?", (sobject.name,))
                conn.execute("DELETE FROM custom_fields WHERE object = ?", (sobject.name,))
                ctx.schema.remove_object(sobject.name)
        ctx.schema.refresh_dynamic()
        ctx.perms.invalidate()
