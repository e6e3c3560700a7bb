"""What the spec wants deployed on Salesforce: a custom object (``ObjectWant``) or a custom field
(``FieldWant``) with its Tooling API metadata and report entry, and the field types it may name
(notes/salesforce.md §3.2). ``schema`` deploys them; ``fls`` and ``relationships`` read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flit_pipelines.destinations.salesforce.errors import SchemaError

__all__ = ["FIELD_TYPES", "FieldWant", "ObjectWant"]

# spec custom field type -> (describe type, default metadata)
FIELD_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "Text": ("string", {"length": 255}),
    "TextArea": ("textarea", {}),
    "LongTextArea": ("textarea", {"length": 32768, "visibleLines": 5}),
    "Email": ("email", {}),
    "Phone": ("phone", {}),
    "Url": ("url", {}),
    "Number": ("double", {"precision": 18, "scale": 0}),
    "Currency": ("currency", {"precision": 16, "scale": 2}),
    "Percent": ("percent", {"precision": 5, "scale": 2}),
    "Date": ("date", {}),
    "DateTime": ("datetime", {}),
    "Checkbox": ("boolean", {"defaultValue": "false"}),
    "Picklist": ("picklist", {}),
    "MultiselectPicklist": ("multipicklist", {"visibleLines": 4}),
    "Lookup": ("reference", {}),
    "MasterDetail": ("reference", {}),
}


@dataclass
class ObjectWant:
    """A custom object the spec needs (``settings.custom_objects`` entry)."""
    name: str
    label: str
    plural_label: str
    name_field: dict[str, Any]
    sharing: str
    description: str | None
    enable_activities: bool
    targets: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"label": self.label, "pluralLabel": self.plural_label, "nameField": self.name_field,
                                "deploymentStatus": "Deployed", "sharingModel": self.sharing,
                                "enableActivities": self.enable_activities, "enableReports": True}
        if self.description:
            meta["description"] = self.description
        return meta


@dataclass
class FieldWant:
    """A custom field the spec needs on one sObject."""
    sobject: str
    name: str
    type: str  # Metadata API type (Text, Number, Lookup, ...)
    label: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    visible_lines: int | None = None
    options: list[str] = field(default_factory=list)
    restricted: bool = True
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None
    child_relationship: str | None = None  # the parent's name for these children (Treatment_Records)
    relationship_label: str | None = None
    delete_constraint: str = "SetNull"
    category: str | None = None
    sensitive: bool = False
    description: str | None = None
    help: str | None = None
    default: Any = None
    targets: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.sobject}.{self.name}"

    @property
    def describe_type(self) -> str:
        return FIELD_TYPES[self.type][0]

    def metadata(self) -> dict[str, Any]:
        """The Tooling ``Metadata`` object (notes §3.2)."""
        meta: dict[str, Any] = {"label": self.label, "type": self.type}
        defaults = FIELD_TYPES[self.type][1]
        for key, value in (("length", self.length), ("precision", self.precision), ("scale", self.scale),
                           ("visibleLines", self.visible_lines)):
            v = value if value is not None else defaults.get(key)
            if v is not None and key in defaults:
                meta[key] = int(v)
        if self.type == "Checkbox":
            meta["defaultValue"] = "true" if str(self.default).lower() == "true" else "false"
        if self.type in ("Picklist", "MultiselectPicklist"):
            if not self.options:
                raise SchemaError(f"{self.full_name}: a {self.type} needs options (the pick-list values)")
            meta["valueSet"] = {"restricted": bool(self.restricted), "valueSetDefinition": {
                "sorted": False,
                "value": [{"fullName": o, "label": o, "default": False} for o in self.options]}}
        if self.type in ("Lookup", "MasterDetail"):
            meta.update(referenceTo=self.reference_to, relationshipName=self.child_relationship,
                        relationshipLabel=self.relationship_label or self.label)
            if self.type == "Lookup":
                meta["deleteConstraint"] = self.delete_constraint
        if self.external_id:
            meta["externalId"] = True
        if self.unique:
            meta.update(unique=True, caseSensitive=False)
        if self.description:
            meta["description"] = self.description
        if self.help:
            meta["inlineHelpText"] = self.help
        return meta

    def document(self) -> dict[str, Any]:
        """The report entry (no values)."""
        meta = self.metadata()
        return {"object": self.sobject, "name": self.name, "full_name": self.full_name, "label": self.label,
                "type": self.type, "length": meta.get("length"), "precision": meta.get("precision"),
                "scale": meta.get("scale"), "picklist_values": list(self.options) if self.options else None,
                "restricted_picklist": bool(self.restricted) if self.options else None,
                "external_id": self.external_id, "unique": self.unique, "reference_to": self.reference_to,
                "relationship_name": (self.name[:-3] + "__r") if self.reference_to else None,
                "child_relationship_name": (self.child_relationship + "__r") if self.child_relationship else None,
                "category": self.category, "sensitive": self.sensitive, "targets": list(self.targets)}
