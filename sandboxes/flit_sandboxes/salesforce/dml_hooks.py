"""Object-specific write rules run by ``dml.Org`` (notes §4, §5; texts partly UNCONFIRMED).

- Contact / Lead / User: ``Name`` = FirstName + LastName.
- Custom objects: an empty (or nulled) Text ``Name`` becomes the record Id (UNCONFIRMED); AutoNumber names count up
  (``displayFormat`` ``TR-{0000}``).
- Task: ``IsClosed`` = (Status == "Completed").
- Event (notes §5.2): ``StartDateTime`` (or ``ActivityDateTime``) is required unless all-day;
  ``DurationInMinutes`` or ``EndDateTime`` must be given when not all-day (``REQUIRED_FIELD_MISSING``
  [DurationInMinutes]) and must agree when both are; all-day events default to 1440 minutes; at most
  14 days (UNCONFIRMED, ``FIELD_INTEGRITY_EXCEPTION``). ``ActivityDateTime``/``ActivityDate`` follow the start.
- ContentVersion insert (notes §4): ``VersionData`` and ``PathOnClient`` required; the bytes go to the file
  store; ``Title`` defaults to the file name without extension (UNCONFIRMED); ``FileExtension``,
  ``FileType``, ``ContentSize``, ``Checksum`` (MD5 hex), ``VersionNumber``, ``IsLatest`` are computed. Without
  ``ContentDocumentId`` a ContentDocument (069) is created with a ContentDocumentLink to the owner
  (``ShareType`` I) and, for ``FirstPublishLocationId``, one to that record (``ShareType`` V, ``Visibility``
  AllUsers; UNCONFIRMED values); with it, the version becomes the document's latest.
- ContentDocumentLink: the document must exist; one link per (document, entity) (``DUPLICATE_VALUE``).
- Task with ``WhoId``/``WhatId``: inserted ``LastModifiedDate``/``ById`` are not kept (notes §5.4).
- Permission records (notes §3.3): ``FieldPermissions.Field`` must name an existing field of
  ``SobjectType`` (``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``), Edit needs Read, Create/Edit/Delete need
  Read and Delete needs Edit (``FIELD_INTEGRITY_EXCEPTION`` "Permission Edit depends on permission(s):
  Read"), one row per (permission set, field/object) and per (assignee, permission set)
  (``DUPLICATE_VALUE``); ``PermissionSet.Name`` is an API name, unique (``DUPLICATE_DEVELOPER_NAME``).
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from typing import Any, Protocol

from flit_sandboxes.salesforce.errors import fail
from flit_sandboxes.salesforce.ids import IdSequence
from flit_sandboxes.salesforce.schema import Schema, SObject
from flit_sandboxes.salesforce.store import Record, Tables, Txn
from flit_sandboxes.salesforce.values import format_datetime, to_datetime

FILE_TYPES = {"pdf": "PDF", "png": "PNG", "jpg": "JPG", "jpeg": "JPG", "gif": "GIF", "txt": "TEXT", "csv": "CSV",
              "doc": "WORD", "docx": "WORD_X", "xls": "EXCEL", "xlsx": "EXCEL_X", "html": "HTML", "zip": "ZIP",
              "xml": "XML", "json": "JSON", "tif": "TIFF", "tiff": "TIFF", "dcm": "UNKNOWN"}
MAX_EVENT_MINUTES = 14 * 24 * 60
_API_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_DEPENDS = {"PermissionsEdit": ("PermissionsRead",), "PermissionsCreate": ("PermissionsRead",),
            "PermissionsDelete": ("PermissionsRead", "PermissionsEdit"),
            "PermissionsViewAllRecords": ("PermissionsRead",),
            "PermissionsModifyAllRecords": ("PermissionsRead", "PermissionsEdit", "PermissionsDelete",
                                            "PermissionsViewAllRecords")}


def _fail(code: str, message: str, fields: list[str] | None = None) -> Exception:
    return fail(code, message, fields)


class OrgView(Protocol):
    """What these rules read of the org that runs them (``dml.Org``, which calls them)."""

    schema: Schema
    tables: Tables
    ids: IdSequence
    user_id: str

    def now(self) -> str:
        """The org's clock as an API datetime text."""
        ...


def before_write(org: OrgView, txn: Txn, sobject: SObject, record: Record, old: Record | None) -> None:
    """Computed fields and object rules before the generic checks (``old`` None on insert)."""
    name = sobject.name
    if name in ("Contact", "Lead", "User"):
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
    elif name == "Task":
        record["IsClosed"] = record.get("Status") == "Completed"
    elif name == "Event":
        _event(record, old)
    elif name == "ContentVersion" and old is None:
        _content_version(org, txn, record)
    elif name == "ContentDocumentLink" and old is None:
        _link(txn, record)
    elif name in ("FieldPermissions", "ObjectPermissions"):
        _permission(org, txn, sobject, record)
    elif name == "PermissionSet":
        _permission_set(txn, record)
    elif name == "PermissionSetAssignment" and old is None:
        _dedupe(txn, "PermissionSetAssignment", record, ("AssigneeId", "PermissionSetId"),
                f"Duplicate PermissionSetAssignment. Assignee: {record.get('AssigneeId')}, "
                f"PermissionSet: {record.get('PermissionSetId')}")
    name_field = sobject.field("Name") if sobject.custom else None
    if name_field is not None and name_field.auto_number:
        record["Name"] = _auto_number(org, txn, sobject) if old is None else old.get("Name")
    elif name_field is not None and not record.get("Name"):
        record["Name"] = record["Id"]


def after_audit(org: OrgView, sobject: SObject, record: Record) -> None:
    """Task inserts with WhoId/WhatId do not keep LastModified audit values (notes §5.4)."""
    if sobject.name == "Task" and (record.get("WhoId") or record.get("WhatId")):
        record["LastModifiedDate"] = record["SystemModstamp"]
        record["LastModifiedById"] = org.user_id


def after_insert(org: OrgView, txn: Txn, sobject: SObject, record: Record) -> None:
    """Records created alongside an insert (ContentDocument and its links)."""
    if sobject.name != "ContentVersion":
        return
    doc_id = record["ContentDocumentId"]
    doc = txn.get(doc_id)
    fields = {k: record.get(k) for k in ("FileExtension", "FileType", "ContentSize")}
    stamp = {k: record[k] for k in ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                                    "SystemModstamp")}
    if doc is None:
        txn.put("ContentDocument", {"Id": doc_id, "Title": record["Title"], **fields,
                                    "LatestPublishedVersionId": record["Id"], "OwnerId": record["OwnerId"],
                                    "ParentId": None, "Description": record.get("Description"),
                                    "IsDeleted": False, **stamp})
        _add_link(org, txn, doc_id, record["OwnerId"], "I", stamp)
        location = record.get("FirstPublishLocationId")
        if location and location != record["OwnerId"]:
            _add_link(org, txn, doc_id, location, "V", stamp)
        return
    for other in txn.find("ContentVersion", "ContentDocumentId", doc_id, True):
        if other != record["Id"]:
            previous = dict(txn.get(other) or {})
            previous["IsLatest"] = False
            txn.put("ContentVersion", previous)
    updated = {**doc, "Title": record["Title"], **fields, "LatestPublishedVersionId": record["Id"],
               "LastModifiedDate": stamp["LastModifiedDate"], "SystemModstamp": stamp["SystemModstamp"]}
    txn.put("ContentDocument", updated)


def _add_link(org: OrgView, txn: Txn, doc_id: str, entity: str, share: str, stamp: dict[str, Any]) -> None:
    txn.put("ContentDocumentLink", {"Id": org.ids.new("06A"), "ContentDocumentId": doc_id, "LinkedEntityId": entity,
                                    "ShareType": share, "Visibility": "AllUsers", "IsDeleted": False,
                                    **stamp})


def _event(record: Record, old: Record | None) -> None:
    changed = {k for k, v in record.items() if old is None or old.get(k) != v}
    if record.get("StartDateTime") is None and record.get("ActivityDateTime") is not None:
        record["StartDateTime"] = record["ActivityDateTime"]
    if "ActivityDateTime" in changed and "StartDateTime" not in changed and old is not None:
        record["StartDateTime"] = record["ActivityDateTime"]
    if record.get("IsAllDayEvent"):
        if record.get("StartDateTime") is None and record.get("ActivityDate"):
            record["StartDateTime"] = record["ActivityDate"] + "T00:00:00.000+0000"
        if record.get("DurationInMinutes") is None and record.get("EndDateTime") is None:
            record["DurationInMinutes"] = 1440
    start = record.get("StartDateTime")
    if start is None:
        raise _fail("REQUIRED_FIELD_MISSING", "Required fields are missing: [StartDateTime]", ["StartDateTime"])
    begin = to_datetime(start)
    duration, end = record.get("DurationInMinutes"), record.get("EndDateTime")
    if duration is None and end is None:
        raise _fail("REQUIRED_FIELD_MISSING", "Required fields are missing: [DurationInMinutes]", ["DurationInMinutes"])
    if end is not None and (duration is None or ("EndDateTime" in changed and "DurationInMinutes" not in changed)):
        duration = int((to_datetime(end) - begin).total_seconds() // 60)
    elif duration is not None and (end is None or "EndDateTime" not in changed):
        end = format_datetime(begin + timedelta(minutes=duration))
    elif int((to_datetime(end) - begin).total_seconds() // 60) != duration:
        raise _fail("FIELD_INTEGRITY_EXCEPTION", "Event duration doesn't match start and end times",
                    ["DurationInMinutes"])
    if duration < 0:
        raise _fail("FIELD_INTEGRITY_EXCEPTION", "End Date Time: End time can't be before start time",
                    ["EndDateTime"])
    if duration > MAX_EVENT_MINUTES:
        raise _fail("FIELD_INTEGRITY_EXCEPTION", "Event duration can't exceed 14 days", ["DurationInMinutes"])
    record["DurationInMinutes"], record["EndDateTime"] = duration, end
    record["ActivityDateTime"] = start
    record["ActivityDate"] = start[:10]


def _content_version(org: OrgView, txn: Txn, record: Record) -> None:
    content = record.pop("VersionData", None)
    missing = [f for f, v in (("VersionData", content), ("PathOnClient", record.get("PathOnClient"))) if not v]
    if missing:
        raise _fail("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
    path = record["PathOnClient"]
    base = os.path.basename(path.replace("\\", "/"))
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    record["Title"] = record.get("Title") or stem or base
    record["FileExtension"] = extension.lower() or None
    record["FileType"] = FILE_TYPES.get(extension.lower(), "UNKNOWN")
    record["ContentSize"] = len(content)
    record["Checksum"] = hashlib.md5(content).hexdigest()  # noqa: S324 - Salesforce's checksum is MD5
    record["IsLatest"] = True
    record["ContentModifiedDate"] = record.get("ContentModifiedDate") or org.now()
    doc_id = record.get("ContentDocumentId")
    if doc_id:
        doc = txn.live(doc_id)
        if doc is None or txn.type_of(doc_id) != "ContentDocument":
            raise _fail("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        versions = len(txn.find("ContentVersion", "ContentDocumentId", doc_id, True))
        record["VersionNumber"] = str(versions + 1)
    else:
        record["ContentDocumentId"] = org.ids.new("069")
        record["VersionNumber"] = "1"
    txn.blobs["cv:" + record["Id"]] = content


def _link(txn: Txn, record: Record) -> None:
    doc_id = record.get("ContentDocumentId")
    if doc_id and txn.type_of(str(doc_id)) not in (None, "ContentDocument"):
        raise _fail("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    _dedupe(txn, "ContentDocumentLink", record, ("ContentDocumentId", "LinkedEntityId"),
            "duplicate value found: <unknown> duplicates value on record with id: <unknown>")


def _dedupe(txn: Txn, object_name: str, record: Record, keys: tuple[str, ...], message: str) -> None:
    first = record.get(keys[0])
    if first is None:
        return
    for other_id in txn.find(object_name, keys[0], first, True):
        other = txn.get(other_id) or {}
        if other_id != record["Id"] and all(str(other.get(k)).lower() == str(record.get(k)).lower() for k in keys):
            raise _fail("DUPLICATE_VALUE", message, [])


def _permission(org: OrgView, txn: Txn, sobject: SObject, record: Record) -> None:
    object_name = record.get("SobjectType")
    target = org.schema.get(object_name) if isinstance(object_name, str) else None
    if target is None:
        raise _fail("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Object Name: bad value for restricted picklist field: {object_name}", ["SobjectType"])
    record["SobjectType"] = target.name
    key = ("ParentId", "SobjectType")
    if sobject.name == "FieldPermissions":
        text = record.get("Field")
        owner, _, field_name = str(text).partition(".")
        found = target.field(field_name) if owner.lower() == target.name.lower() else None
        if found is None:
            raise _fail("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"Field Name: bad value for restricted picklist "
                                                                   f"field: {text}", ["Field"])
        record["Field"] = f"{target.name}.{found.name}"
        key = ("ParentId", "Field")
    for flag, needs in _DEPENDS.items():
        if record.get(flag) and sobject.field(flag) is not None and not all(record.get(n) for n in needs):
            missing = ", ".join(n.removeprefix("Permissions") for n in needs if not record.get(n))
            raise _fail("FIELD_INTEGRITY_EXCEPTION", f"Permission {flag.removeprefix('Permissions')} depends on "
                                                     f"permission(s): {missing}", [flag])
    _dedupe(txn, sobject.name, record, key,
            "duplicate value found: <unknown> duplicates value on record with id: <unknown>")


def _permission_set(txn: Txn, record: Record) -> None:
    name = record.get("Name")
    if isinstance(name, str) and not _API_NAME.match(name):
        raise _fail("FIELD_INTEGRITY_EXCEPTION", "The API Name can only contain underscores and alphanumeric "
                                                 "characters. It must be unique, begin with a letter, not include "
                                                 "spaces, not end with an underscore, and not contain two "
                                                 "consecutive underscores.", ["Name"])
    if isinstance(name, str) and any(i != record["Id"] for i in txn.find("PermissionSet", "Name", name)):
        raise _fail("DUPLICATE_DEVELOPER_NAME", f"Duplicate Name: {name}", ["Name"])


def _auto_number(org: OrgView, txn: Txn, sobject: SObject) -> str:
    meta = (sobject.field("Name").metadata or {}) if sobject.field("Name") else {}  # type: ignore[union-attr]
    key = f"autonumber:{sobject.name}"
    current = int(txn.meta.get(key) or org.tables.store.get_meta(key) or meta.get("startingNumber", 1) - 1)
    current += 1
    txn.meta[key] = str(current)
    display = meta.get("displayFormat", "{0}")
    return re.sub(r"\{(0+)\}", lambda m: str(current).zfill(len(m[1])), display)
