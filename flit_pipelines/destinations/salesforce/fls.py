"""The field-level-security checklist of the HIPAA-sensitive fields in the schema document (notes/salesforce.md
§3.3: API-created fields are invisible until granted; access to sensitive fields must stay narrow).

A custom field is sensitive when its spec has ``args: {sensitive: true}`` or its ``category`` is in
``settings.sensitive_categories``; ``settings.sensitive_fields`` adds standard fields (``Contact.Birthdate``).
Each entry says which permission set grants access, which *other* permission sets/profiles already grant it
(``FieldPermissions`` query) and the status; ``FLS_STEPS`` are the manual steps left. No record values are read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flit_pipelines.destinations.salesforce.errors import SalesforceApiError
from flit_pipelines.destinations.salesforce.soql_text import soql_list

if TYPE_CHECKING:
    from flit_pipelines.destinations.salesforce.client import SalesforceClient
    from flit_pipelines.destinations.salesforce.wants import FieldWant

log = logging.getLogger(__name__)

FLS_STEPS = [
    "Access to these fields is granted to the migration user only, through the deployment's permission set; "
    "give clinical staff access through a dedicated permission set, never through a broad profile.",
    "Review 'other_grants': every profile or permission set listed there can already read the field.",
    "Classify each field in Setup (Data Classification: Data Sensitivity Level 'Restricted', Compliance "
    "Categorization 'HIPAA').",
    "Consider Shield Platform Encryption and Field Audit Trail for these fields (org licence dependent).",
    "Keep these fields out of list views, reports and email templates shared beyond the care team.",
    "Unassign (or delete) the migration permission set after cut-over.",
]


def fls_checklist(client: SalesforceClient, settings: dict[str, Any], fields: dict[str, FieldWant],
                  ps: dict[str, Any], describe_fields: Callable[[str], dict[str, dict[str, Any]]]
                  ) -> list[dict[str, Any]]:
    """The checklist entries: sensitive custom fields of the spec plus ``settings.sensitive_fields``
    (standard fields such as ``Contact.Birthdate``, whose access comes from the integration user's profile).

    Args:
        client: the org connection (one ``FieldPermissions`` query for the other grants).
        settings: ``spec.destination.settings``.
        fields: the deployed custom fields (``schema.wanted_schema``).
        ps: the permission-set part of the schema document.
        describe_fields: ``sobject -> {field name lower: describe entry}`` (empty when not describable).

    Returns:
        ``[{object, field, label, type, category, managed_by_migration, integration_user_read,
        integration_user_edit, permission_set, other_grants ([{parent_id, read, edit}] or "not checked"),
        status}]``; no record values.
    """
    entries: list[dict[str, Any]] = []
    granted = {n.lower() for n in ps.get("field_permissions", {}).get("fields", [])}
    for f in fields.values():
        if f.sensitive:
            entries.append({"object": f.sobject, "field": f.full_name, "label": f.label, "type": f.type,
                            "category": f.category, "managed_by_migration": True,
                            "integration_user_read": f.full_name.lower() in granted,
                            "integration_user_edit": f.full_name.lower() in granted})
    for full in settings.get("sensitive_fields") or []:
        sobject, _, name = str(full).partition(".")
        if not name or any(e["field"].lower() == str(full).lower() for e in entries):
            continue
        live = describe_fields(sobject).get(name.lower())
        entries.append({"object": sobject, "field": f"{sobject}.{name}",
                        "label": (live or {}).get("label") or name, "type": (live or {}).get("type"),
                        "category": None, "managed_by_migration": False,
                        "integration_user_read": live is not None,
                        "integration_user_edit": bool(live and live.get("updateable"))})
    if not entries:
        return []
    other: dict[str, list[dict[str, Any]]] | None = None
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        soql = ("SELECT ParentId, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE Field IN "
                f"({soql_list(e['field'] for e in entries)})")
        for r in client.query(soql):
            if str(r.get("ParentId")) == ps["id"]:
                continue
            found.setdefault(str(r.get("Field")).lower(), []).append(
                {"parent_id": r.get("ParentId"), "read": bool(r.get("PermissionsRead")),
                 "edit": bool(r.get("PermissionsEdit"))})
        other = found
    except SalesforceApiError as exc:  # other stays None: "not checked"
        log.info("could not list other field grants (%s)", exc.error_code)
    for e in entries:
        grants = other.get(e["field"].lower(), []) if other is not None else "not checked"
        e["permission_set"] = ps["name"] if e["managed_by_migration"] else None
        e["other_grants"] = grants
        if not e["managed_by_migration"]:
            e["status"] = "standard field: access comes from profiles; review them"
        elif other is None:
            e["status"] = "other grants not checked"
        else:
            e["status"] = ("restricted to the migration permission set" if not grants else "review other grants")
    return entries
