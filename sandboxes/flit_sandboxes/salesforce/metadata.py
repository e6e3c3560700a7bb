"""Custom objects and fields from Tooling API metadata (notes §3.1, §3.2).

Request bodies (``POST /tooling/sobjects/CustomObject`` / ``CustomField``)::

    {"FullName": "Contact.Source_System_ID__c",
     "Metadata": {"label": "Source System ID", "type": "Text", "length": 255, "externalId": true,
                  "unique": true, "caseSensitive": false}}

``FullName`` may also be given as ``Metadata.fullName`` (notes §9: which form is accepted is
unconfirmed; both are accepted here). Supported ``type`` values and their describe types:
Text (string, ``length`` 1-255 required), TextArea (textarea 255), LongTextArea (textarea, ``length``
256-131,072 and ``visibleLines`` required), Email, Phone, Url, Number / Currency / Percent (double /
currency / percent, ``precision`` 1-18 required, ``scale`` 0..precision), Date, DateTime, Checkbox
(``defaultValue`` required), Picklist / MultiselectPicklist (``valueSet.valueSetDefinition.value[]`` or the
legacy ``picklist.picklistValues[]``; ``valueSet.restricted``; multi-select needs ``visibleLines``),
Lookup (``referenceTo`` + ``relationshipName`` required, ``deleteConstraint`` SetNull|Restrict|Cascade) and
MasterDetail (``referenceTo`` + ``relationshipName``; at most 2 per object; not to User, notes §3.2).
``externalId`` is allowed on Text/Number/Email, ``unique`` on Text/Number/Email, ``required`` on any
non-Checkbox type. The per-type required keys follow the notes' table, itself UNCONFIRMED; so are the
error texts (all 400 ``FIELD_INTEGRITY_EXCEPTION`` except ``DUPLICATE_DEVELOPER_NAME`` for an existing
name).

A lookup has two relationship names (SOQL and SOSL Reference, "Understanding Relationship Names, Custom Objects,
and Custom Fields"): the field's describe ``relationshipName`` comes from the field name (``Patient__c`` ->
``Patient__r``, the child-to-parent path), while the metadata ``relationshipName`` is the *child relationship
name*: ``Treatment_Records`` becomes ``Treatment_Records__r`` in the parent's describe ``childRelationships`` and
in sub-queries. It must be unique on the parent: a second one is 400 ``DUPLICATE_DEVELOPER_NAME`` "There is
already a Child Relationship named Treatment_Records on Contact." (the text real orgs answer to a deploy; the
Tooling error code is UNCONFIRMED). State replayed at start-up is not re-checked (an older state may hold
duplicates; renaming them through Tooling ``PATCH`` works).
Custom objects get ``Id``, ``Name`` (Text 80 or AutoNumber ``displayFormat`` like ``TR-{0000}``), the
audit fields and ``OwnerId`` (dropped once a MasterDetail field is added).
"""

from __future__ import annotations

import re
from typing import Any

from flit_sandboxes.salesforce.errors import SfError
from flit_sandboxes.salesforce.schema import Field, Schema, SObject
from flit_sandboxes.salesforce.standard_objects import system_fields, text

_DEVELOPER_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_TYPES = {
    "Text": "string", "TextArea": "textarea", "LongTextArea": "textarea", "Email": "email", "Phone": "phone",
    "Url": "url", "Number": "double", "Currency": "currency", "Percent": "percent", "Date": "date",
    "DateTime": "datetime", "Checkbox": "boolean", "Picklist": "picklist", "MultiselectPicklist": "multipicklist",
    "Lookup": "reference", "MasterDetail": "reference",
}
_KEYED_TYPES = {"Text", "Number", "Email"}
_NO_MASTER = {"user", "task", "event", "contentversion", "contentdocument", "contentdocumentlink"}


def _bad(message: str, code: str = "FIELD_INTEGRITY_EXCEPTION") -> SfError:
    return SfError(400, code, message, [])


def full_name(body: Any) -> tuple[str, dict[str, Any]]:
    """``(FullName, Metadata)`` of a Tooling create body (either FullName form)."""
    if not isinstance(body, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    metadata = body.get("Metadata")
    if not isinstance(metadata, dict):
        raise _bad("Must specify 'Metadata' for a create", "REQUIRED_FIELD_MISSING")
    name = body.get("FullName") or metadata.get("fullName")
    if not isinstance(name, str) or not name:
        raise _bad("Must specify 'FullName' for a create", "REQUIRED_FIELD_MISSING")
    return name, metadata


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _int(metadata: dict[str, Any], key: str, kind: str) -> int:
    value = metadata.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(f"Must specify '{key}' for a CustomField of type {kind}")
    return value


def _picklist(metadata: dict[str, Any], kind: str) -> tuple[tuple[str, ...], str | None, bool]:
    values: list[Any] = []
    restricted = False
    value_set = metadata.get("valueSet")
    if isinstance(value_set, dict):
        restricted = _bool(value_set.get("restricted"))
        definition = value_set.get("valueSetDefinition") or {}
        values = definition.get("value") or [] if isinstance(definition, dict) else []
    elif isinstance(metadata.get("picklist"), dict):
        values = metadata["picklist"].get("picklistValues") or []
        restricted = _bool(metadata["picklist"].get("restrictedPicklist"))
    if not values or not isinstance(values, list):
        raise _bad(f"Must specify 'valueSet' for a CustomField of type {kind}")
    names: list[str] = []
    default = None
    for item in values:
        name = item.get("fullName") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise _bad("Each picklist value needs a 'fullName'")
        if name in names:
            raise _bad(f"Duplicate picklist value: {name}")
        names.append(name)
        if _bool(item.get("default")):
            default = name
    return tuple(names), default, restricted


def check_developer_name(name: str, suffix: str = "__c") -> str:
    """The developer name (``Source_System_ID``) of ``Source_System_ID__c``; raises if malformed."""
    if not name.endswith(suffix):
        raise _bad(f"The name '{name}' must end with '{suffix}'")
    developer = name[:-len(suffix)]
    if not _DEVELOPER_NAME.match(developer) or len(developer) > 40:
        raise _bad(f"The name '{name}' can only contain underscores and alphanumeric characters. It must begin "
                   "with a letter, not include spaces, not end with an underscore, and not contain two "
                   "consecutive underscores.")
    return developer


def build_field(schema: Schema, object_name: str, field_name: str, metadata: dict[str, Any], *,
                replay: bool = False) -> Field:
    """A custom field from its metadata, validated against ``schema``; raises ``SfError`` (400).

    ``replay``: the field comes from the state file (accepted when it was written): child relationship names
    are not checked for uniqueness again."""
    owner = schema.get(object_name)
    if owner is None:
        raise _bad(f"Cannot find the entity '{object_name}' for this custom field", "INVALID_FIELD")
    developer = check_developer_name(field_name)
    if owner.field(field_name) is not None:
        raise _bad(f"There is already a field named {developer} on {owner.name}.", "DUPLICATE_DEVELOPER_NAME")
    kind = metadata.get("type")
    if kind not in _TYPES:
        raise _bad(f"Unsupported or missing 'type' for a CustomField: {kind!r}")
    label = metadata.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _bad("Must specify 'label' for a CustomField")
    new = Field(field_name, _TYPES[kind], label=label, custom=True, metadata=dict(metadata))
    if kind == "Text":
        new.length = _int(metadata, "length", kind)
        if not 1 <= new.length <= 255:
            raise _bad("Length must be between 1 and 255 for a CustomField of type Text")
    elif kind == "TextArea":
        new.length = 255
    elif kind == "LongTextArea":
        new.length = _int(metadata, "length", kind)
        _int(metadata, "visibleLines", kind)
        if not 256 <= new.length <= 131072:
            raise _bad("Length must be between 256 and 131072 for a CustomField of type LongTextArea")
    elif kind in ("Email", "Phone", "Url"):
        new.length = {"Email": 80, "Phone": 40, "Url": 255}[kind]
    elif kind in ("Number", "Currency", "Percent"):
        new.precision = _int(metadata, "precision", kind)
        scale = metadata.get("scale", 0)
        new.scale = int(scale) if str(scale).isdigit() else -1
        if not 1 <= new.precision <= 18 or not 0 <= new.scale <= new.precision:
            raise _bad(f"Precision must be 1-18 and scale 0..precision for a CustomField of type {kind}")
    elif kind == "Checkbox":
        if "defaultValue" not in metadata:
            raise _bad("Must specify 'defaultValue' for a CustomField of type Checkbox")
        new.nillable, new.defaulted, new.default = False, True, _bool(metadata["defaultValue"])
    elif kind in ("Picklist", "MultiselectPicklist"):
        new.picklist, new.picklist_default, new.restricted = _picklist(metadata, kind)
        new.length = 255 if kind == "Picklist" else 4099
        if kind == "MultiselectPicklist":
            _int(metadata, "visibleLines", kind)
        if new.picklist_default:
            new.defaulted, new.default = True, new.picklist_default
    elif kind in ("Lookup", "MasterDetail"):
        _reference(schema, owner, new, metadata, kind, replay)
    if _bool(metadata.get("externalId")):
        if kind not in _KEYED_TYPES:
            raise _bad(f"External ID is not allowed on a CustomField of type {kind}")
        new.external_id = True
    if _bool(metadata.get("unique")):
        if kind not in _KEYED_TYPES:
            raise _bad(f"Unique is not allowed on a CustomField of type {kind}")
        new.unique = True
        new.case_sensitive = _bool(metadata.get("caseSensitive"))
    if _bool(metadata.get("required")) and kind != "Checkbox":
        new.nillable = False
    return new


def _reference(schema: Schema, owner: SObject, new: Field, metadata: dict[str, Any], kind: str,
               replay: bool) -> None:
    target_name = metadata.get("referenceTo")
    target = schema.get(target_name) if isinstance(target_name, str) else None
    if target is None:
        raise _bad(f"Must specify a valid 'referenceTo' for a CustomField of type {kind}")
    relationship = metadata.get("relationshipName")
    if not isinstance(relationship, str) or not _DEVELOPER_NAME.match(relationship):
        raise _bad(f"Must specify a valid 'relationshipName' for a CustomField of type {kind}")
    if len(relationship) > 40:
        raise _bad(f"The relationship name '{relationship}' is longer than 40 characters")
    taken = schema.child_relationship(target, relationship + "__r")
    if taken is not None and not replay:
        raise _bad(f"There is already a Child Relationship named {relationship} on {target.name}.",
                   "DUPLICATE_DEVELOPER_NAME")
    new.length = 18
    new.reference_to = (target.name,)
    new.relationship_name = new.name[:-3] + "__r"
    new.child_relationship = relationship + "__r"
    if kind == "MasterDetail":
        if target.name.lower() in _NO_MASTER:
            raise _bad(f"{target.name} cannot be the master of a master-detail relationship; use a Lookup")
        if sum(1 for f in owner.fields.values() if f.master_detail) >= 2:
            raise _bad("An object can have at most 2 master-detail relationships")
        new.master_detail, new.nillable = True, False
        new.delete_constraint = "Cascade"
    else:
        constraint = metadata.get("deleteConstraint", "SetNull")
        if constraint not in ("SetNull", "Restrict", "Cascade"):
            raise _bad("deleteConstraint must be SetNull, Restrict or Cascade")
        new.delete_constraint = constraint


def build_object(schema: Schema, name: str, metadata: dict[str, Any], prefix: str) -> SObject:
    """A custom object from its metadata; raises ``SfError`` (400)."""
    developer = check_developer_name(name)
    if schema.get(name) is not None:
        raise _bad(f"There is already an object named {developer}.", "DUPLICATE_DEVELOPER_NAME")
    label, plural = metadata.get("label"), metadata.get("pluralLabel")
    if not isinstance(label, str) or not label or not isinstance(plural, str) or not plural:
        raise _bad("Must specify 'label' and 'pluralLabel' for a CustomObject")
    name_meta = metadata.get("nameField")
    if not isinstance(name_meta, dict) or name_meta.get("type") not in ("Text", "AutoNumber"):
        raise _bad("Must specify 'nameField' of type Text or AutoNumber for a CustomObject")
    sobject = SObject(name, label, plural, prefix, custom=True,
                      enable_activities=_bool(metadata.get("enableActivities")), metadata=dict(metadata))
    for item in system_fields(owned=True):
        sobject.add(item)
    name_label = name_meta.get("label") or f"{label} Name"
    if name_meta["type"] == "AutoNumber":
        display = name_meta.get("displayFormat")
        if not isinstance(display, str) or not re.search(r"\{0+\}", display):
            raise _bad("Must specify a 'displayFormat' such as 'A-{0000}' for an AutoNumber name field")
        sobject.add(Field("Name", "string", label=name_label, length=80, nillable=False, createable=False,
                          updateable=False, defaulted=True, auto_number=True, name_field=True, id_lookup=True,
                          metadata={"displayFormat": display,
                                    "startingNumber": int(name_meta.get("startingNumber") or 1)}))
    else:
        sobject.add(text("Name", 80, label=name_label, nillable=False, defaulted=True, name_field=True,
                         id_lookup=True))
    return sobject


def tooling_schema() -> Schema:
    """The queryable shape of the Tooling ``CustomObject`` and ``CustomField`` rows (UNCONFIRMED subset)."""
    def tooling(name: str, prefix: str, extra: list[Field]) -> SObject:
        sobject = SObject(name, name, name + "s", prefix, createable=True)
        for item in [Field("Id", "id", length=18), text("DeveloperName", 40), text("NamespacePrefix", 15),
                     text("FullName", 255), area_field("Description"), text("ManageableState", 40),
                     Field("CreatedDate", "datetime"), Field("LastModifiedDate", "datetime"), *extra]:
            sobject.add(item)
        return sobject

    return Schema([
        tooling("CustomObject", "01I", [text("ExternalName", 255), text("SharingModel", 40)]),
        tooling("CustomField", "00N", [text("TableEnumOrId", 40), text("EntityDefinitionId", 40),
                                       Field("Length", "int"), text("InlineHelpText", 510)]),
    ])


def area_field(name: str) -> Field:
    """A textarea field for the tooling rows."""
    return Field(name, "textarea", length=1000)
