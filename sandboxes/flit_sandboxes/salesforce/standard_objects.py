"""Standard sObjects of the sandbox org (notes §4, §5, §3.3) and their fields.

Field names are the standard API names (notes §5.1-5.3, §4). Lengths, labels, picklist values and
defaults beyond the notes are the usual real-org values, UNCONFIRMED: Task ``Status`` (default
"Not Started") and ``Priority`` (default "Normal") are required with defaults (notes §5.1,
unconfirmed there too); standard picklists are unrestricted except ContentDocumentLink ``ShareType``
(``V``/``C``/``I``) and ``Visibility`` (``AllUsers``/``InternalUsers``/``SharedUsers``).

Every object gets ``Id``, ``IsDeleted``, the audit fields (``CreatedDate``, ``CreatedById``,
``LastModifiedDate``, ``LastModifiedById``; settable on insert only with ``set_audit_fields``, notes
§5.4) and ``SystemModstamp``; owned objects get ``OwnerId`` (a User, defaulted to the caller).
Child relationship names (describe ``childRelationships``, sub-queries) are the standard ones: Account
``Contacts``; ``Tasks``/``Events`` on the targets of ``WhoId``/``WhatId``; ``ContentVersions`` and
``ContentDocumentLinks`` on ContentDocument; ``ContentDocumentLinks`` on every object (``LinkedEntityId``);
PermissionSet ``FieldPerms``/``ObjectPerms``/``Assignments``; User ``PermissionSetAssignments``; other references
(``OwnerId``, ``FirstPublishLocationId``, ...) have none here (UNCONFIRMED list).
``User`` and ``Organization`` are read-only here (users are seeded by ``create_app``). ``Lead`` exists so
that Task/Event ``WhoId`` is polymorphic (Contact, Lead) as in a real org: Bulk columns need ``Contact:Who.X``.
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.salesforce.ids import STANDARD_PREFIXES
from flit_sandboxes.salesforce.schema import ANY_OBJECT, Field, SObject

SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx.")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
PRIORITIES = ("High", "Normal", "Low")


def text(name: str, length: int = 255, **kw: Any) -> Field:
    """A ``string`` field."""
    return Field(name, "string", length=length, **kw)


def area(name: str, length: int = 32000, **kw: Any) -> Field:
    """A ``textarea`` field."""
    return Field(name, "textarea", length=length, **kw)


def ref(name: str, *targets: str, rel: str, child: str | None = None, **kw: Any) -> Field:
    """A ``reference`` field (``rel`` = child-to-parent relationship name, ``child`` = the parent's child
    relationship name, e.g. ``Contacts`` for ``Contact.AccountId``)."""
    return Field(name, "reference", length=18, reference_to=targets, relationship_name=rel,
                 child_relationship=child, **kw)


def pick(name: str, values: tuple[str, ...], **kw: Any) -> Field:
    """A ``picklist`` field."""
    return Field(name, "picklist", length=255, picklist=values, **kw)


def flag(name: str, default: bool = False, **kw: Any) -> Field:
    """A ``boolean`` field (never null)."""
    return Field(name, "boolean", nillable=False, defaulted=True, default=default, **kw)


def calc(name: str, kind: str = "string", length: int = 255, **kw: Any) -> Field:
    """A read-only field the sandbox computes."""
    return Field(name, kind, length=length, createable=False, updateable=False, calculated=True, **kw)


def system_fields(owned: bool) -> list[Field]:
    """Id, IsDeleted, audit fields, SystemModstamp (+ OwnerId)."""
    ro: dict[str, Any] = {"createable": False, "updateable": False, "nillable": False, "defaulted": True}
    fields = [
        Field("Id", "id", label="Record ID", length=18, id_lookup=True, **ro),
        Field("IsDeleted", "boolean", label="Deleted", **ro),
        Field("CreatedDate", "datetime", label="Created Date", **ro),
        ref("CreatedById", "User", rel="CreatedBy", label="Created By ID", **ro),
        Field("LastModifiedDate", "datetime", label="Last Modified Date", **ro),
        ref("LastModifiedById", "User", rel="LastModifiedBy", label="Last Modified By ID", **ro),
        Field("SystemModstamp", "datetime", label="System Modstamp", **ro),
    ]
    if owned:
        fields.append(ref("OwnerId", "User", rel="Owner", label="Owner ID", nillable=False, defaulted=True))
    return fields


def _object(name: str, plural: str, fields: list[Field], *, owned: bool = True, **kw: Any) -> SObject:
    sobject = SObject(name, name, plural, STANDARD_PREFIXES[name], **kw)
    for item in [*system_fields(owned), *fields]:
        sobject.add(item)
    return sobject


def _account() -> SObject:
    return _object("Account", "Accounts", [
        text("Name", nillable=False, name_field=True, label="Account Name"),
        text("AccountNumber", 40), Field("Phone", "phone", length=40), Field("Website", "url", length=255),
        area("Description"),
    ])


def _contact() -> SObject:
    return _object("Contact", "Contacts", [
        text("LastName", 80, nillable=False, label="Last Name"), text("FirstName", 40, label="First Name"),
        pick("Salutation", SALUTATIONS), calc("Name", length=121, name_field=True, label="Full Name"),
        Field("Birthdate", "date"), Field("Email", "email", length=80, id_lookup=True),
        Field("Phone", "phone", length=40), Field("MobilePhone", "phone", length=40),
        Field("HomePhone", "phone", length=40), Field("OtherPhone", "phone", length=40),
        area("MailingStreet", 255), text("MailingCity", 40), text("MailingState", 80),
        text("MailingPostalCode", 20), text("MailingCountry", 80), text("Title", 128), text("Department", 80),
        ref("AccountId", "Account", rel="Account", child="Contacts", label="Account ID"),
        ref("ReportsToId", "Contact", rel="ReportsTo", label="Reports To ID"),
        area("Description"), flag("HasOptedOutOfEmail"), flag("DoNotCall"),
    ])


def _lead() -> SObject:
    return _object("Lead", "Leads", [
        text("LastName", 80, nillable=False), text("FirstName", 40), calc("Name", length=121, name_field=True),
        text("Company", 255, nillable=False), Field("Email", "email", length=80, id_lookup=True),
        Field("Phone", "phone", length=40), pick("Status", ("Open - Not Contacted", "Working - Contacted", "Closed"),
                                               nillable=False, defaulted=True, default="Open - Not Contacted"),
    ])


def _user() -> SObject:
    return _object("User", "Users", [
        text("Username", 80, nillable=False, unique=True, id_lookup=True),
        text("LastName", 80, nillable=False), text("FirstName", 40), calc("Name", length=121, name_field=True),
        Field("Email", "email", length=128, nillable=False, id_lookup=True), text("Alias", 8, nillable=False),
        flag("IsActive", True), text("CommunityNickname", 40, id_lookup=True), text("Title", 80),
        text("TimeZoneSidKey", 40), pick("UserType", ("Standard",), createable=False, updateable=False),
    ], owned=False, createable=False, updateable=False, deletable=False)


def _activity_common(plural: str) -> list[Field]:
    return [
        Field("Subject", "combobox", length=255), Field("ActivityDate", "date", label="Due Date Only"),
        ref("WhoId", "Contact", "Lead", rel="Who", child=plural, label="Name ID"),
        ref("WhatId", "Account", rel="What", child=plural, label="Related To ID"),
        area("Description"), flag("IsReminderSet"), Field("ReminderDateTime", "datetime"),
    ]


def _task() -> SObject:
    return _object("Task", "Tasks", [
        *_activity_common("Tasks"),
        pick("Status", TASK_STATUSES, nillable=False, defaulted=True, default="Not Started",
             picklist_default="Not Started"),
        pick("Priority", PRIORITIES, nillable=False, defaulted=True, default="Normal", picklist_default="Normal"),
        pick("Type", ("Call", "Email", "Meeting", "Other")), pick("TaskSubtype", ("Task", "Email", "Call")),
        calc("IsClosed", "boolean"), Field("CallDurationInSeconds", "int", precision=8),
    ])


def _event() -> SObject:
    return _object("Event", "Events", [
        *_activity_common("Events"),
        Field("StartDateTime", "datetime"), Field("EndDateTime", "datetime"),
        Field("DurationInMinutes", "int", precision=8), Field("ActivityDateTime", "datetime"),
        flag("IsAllDayEvent"), text("Location"), pick("ShowAs", ("Busy", "OutOfOffice", "Free")),
        flag("IsPrivate"), pick("EventSubtype", ("Event",)),
    ])


def _content_version() -> SObject:
    return _object("ContentVersion", "Content Versions", [
        text("Title", nillable=False, defaulted=True, name_field=True),
        text("PathOnClient", 500), Field("VersionData", "base64", length=0, updateable=False),
        ref("FirstPublishLocationId", ANY_OBJECT, rel="FirstPublishLocation", updateable=False),
        ref("ContentDocumentId", "ContentDocument", rel="ContentDocument", child="ContentVersions", updateable=False),
        area("Description", 1000), text("ReasonForChange", 1000),
        calc("FileExtension", length=40), calc("FileType", length=20), calc("ContentSize", "int"),
        calc("Checksum", length=50), calc("VersionNumber", length=20), calc("IsLatest", "boolean"),
        pick("ContentLocation", ("S", "E", "L"), defaulted=True, default="S", updateable=False),
        Field("ContentModifiedDate", "datetime", updateable=False),
    ], deletable=False)


def _content_document() -> SObject:
    return _object("ContentDocument", "Content Documents", [
        text("Title", nillable=False, name_field=True), calc("FileExtension", length=40),
        calc("FileType", length=20), calc("ContentSize", "int"),
        ref("LatestPublishedVersionId", "ContentVersion", rel="LatestPublishedVersion", createable=False,
            updateable=False),
        ref("ParentId", ANY_OBJECT, rel="Parent", createable=False, updateable=False), area("Description", 1000),
    ], createable=False)


def _content_document_link() -> SObject:
    return _object("ContentDocumentLink", "Content Document Links", [
        ref("ContentDocumentId", "ContentDocument", rel="ContentDocument", child="ContentDocumentLinks",
            nillable=False, updateable=False),
        ref("LinkedEntityId", ANY_OBJECT, rel="LinkedEntity", child="ContentDocumentLinks", nillable=False,
            updateable=False),
        pick("ShareType", ("V", "C", "I"), restricted=True, nillable=False, defaulted=True, default="V"),
        pick("Visibility", ("AllUsers", "InternalUsers", "SharedUsers"), restricted=True, defaulted=True,
             default="AllUsers"),
    ], owned=False)


def _permission_set() -> SObject:
    return _object("PermissionSet", "Permission Sets", [
        text("Name", 80, nillable=False, id_lookup=True), text("Label", 80, nillable=False, name_field=True),
        area("Description", 255), calc("IsOwnedByProfile", "boolean"), calc("IsCustom", "boolean"),
        flag("PermissionsApiEnabled", True),
    ], owned=False)


def _field_permissions() -> SObject:
    return _object("FieldPermissions", "Field Permissions", [
        ref("ParentId", "PermissionSet", rel="Parent", child="FieldPerms", nillable=False, updateable=False),
        text("SobjectType", 255, nillable=False, updateable=False), text("Field", 255, nillable=False,
                                                                        updateable=False),
        flag("PermissionsRead"), flag("PermissionsEdit"),
    ], owned=False)


def _object_permissions() -> SObject:
    return _object("ObjectPermissions", "Object Permissions", [
        ref("ParentId", "PermissionSet", rel="Parent", child="ObjectPerms", nillable=False, updateable=False),
        text("SobjectType", 255, nillable=False, updateable=False),
        flag("PermissionsRead"), flag("PermissionsCreate"), flag("PermissionsEdit"), flag("PermissionsDelete"),
        flag("PermissionsViewAllRecords"), flag("PermissionsModifyAllRecords"),
    ], owned=False)


def _permission_set_assignment() -> SObject:
    return _object("PermissionSetAssignment", "Permission Set Assignments", [
        ref("AssigneeId", "User", rel="Assignee", child="PermissionSetAssignments", nillable=False, updateable=False),
        ref("PermissionSetId", "PermissionSet", rel="PermissionSet", child="Assignments", nillable=False,
            updateable=False),
    ], owned=False, updateable=False)


def _organization() -> SObject:
    return _object("Organization", "Organizations", [
        text("Name", 80, name_field=True), flag("IsSandbox", True), text("OrganizationType", 40),
        text("InstanceName", 5),
    ], owned=False, createable=False, updateable=False, deletable=False)


def standard_objects() -> list[SObject]:
    """Fresh definitions of every standard object (custom fields are added to these per org)."""
    return [_account(), _contact(), _lead(), _user(), _task(), _event(), _content_version(), _content_document(),
            _content_document_link(), _permission_set(), _field_permissions(), _object_permissions(),
            _permission_set_assignment(), _organization()]
