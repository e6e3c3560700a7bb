"""Contact documents: creation, update, duplicate rule and rendering (notes §4.1, spec:contacts).

Stored ``contact`` document = the writable ``CreateContactDto`` fields as sent, plus ``id``,
``locationId``, ``dateAdded``, ``dateUpdated``, ``type`` ("lead"), ``deleted`` (false),
``tags`` (list), and ``customFieldValues`` ``{field id: value}``. ``render`` adds the derived
lower-case fields (``firstNameLowerCase``, ``lastNameLowerCase``, ``fullNameLowerCase``,
``emailLowerCase``) and ``customFields: [{id, value}]``.

Duplicate rule (notes §3, §4.1, §8): when the location disallows duplicates, a create whose
email (case-insensitive) or phone matches an existing contact, checked in the configured priority
order (default email then phone; the real order is not exposed by the API: UNCONFIRMED), gets 400
``{"statusCode": 400, "message": "This location does not allow duplicated contacts.",
"meta": {"contactId", "contactName", "matchingField"}}``.
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.highlevel import custom_fields
from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request
from flit_sandboxes.highlevel.store import HighLevelStore

KIND = "contact"
DUPLICATE_MESSAGE = "This location does not allow duplicated contacts."
INTERNAL_KEYS = ("customFieldValues",)


def not_found(contact_id: str) -> ApiError:
    """400 for an unknown contact id (observed live, notes §3)."""
    return bad_request(f"Contact with id {contact_id} not found")


def get_or_400(store: HighLevelStore, contact_id: str) -> dict[str, Any]:
    """The stored contact, or ``not_found``."""
    contact = store.get(KIND, contact_id)
    if contact is None:
        raise not_found(contact_id)
    return contact


def _normalise_phone(phone: Any) -> str:
    return "".join(ch for ch in phone if ch.isdigit() or ch == "+") if isinstance(phone, str) else ""


def lookup_keys(fields: dict[str, Any]) -> dict[str, str | None]:
    """Normalised identifiers of a contact for the store's lookup columns."""
    email = fields.get("email")
    return {"email_key": email.lower() if isinstance(email, str) and email else None,
            "phone_key": _normalise_phone(fields.get("phone")) or None}


def find_duplicate(store: HighLevelStore, body: dict[str, Any], priority: tuple[str, ...],
                   *, exclude: str | None = None) -> tuple[dict[str, Any], str] | None:
    """First existing contact matching ``body`` by email (case-insensitive) / phone (digits and
    ``+`` only) in ``priority`` order, as ``(contact, matching field)``."""
    keys = lookup_keys(body)
    for field in priority:
        value = keys[f"{field}_key"]
        found = store.find_by(KIND, f"{field}_key", value, exclude=exclude) if value else None
        if found is not None:
            return found, field
    return None


def duplicate_error(contact: dict[str, Any], matching_field: str) -> ApiError:
    """The observed duplicate-create 400 (no ``error`` key in the observed body)."""
    meta = {"contactId": contact["id"], "contactName": full_name(contact), "matchingField": matching_field}
    return ApiError(400, DUPLICATE_MESSAGE, meta=meta, with_error=False)


def create(store: HighLevelStore, body: dict[str, Any], *, allow_duplicates: bool,
           priority: tuple[str, ...]) -> dict[str, Any]:
    """Create a contact from a validated ``CreateContactDto`` body; returns the stored document.

    Raises:
        ApiError 400: duplicate (see module docstring) or unknown custom field.
        ApiError 422: malformed custom field values.
    """
    if not allow_duplicates:
        duplicate = find_duplicate(store, body, priority)
        if duplicate is not None:
            raise duplicate_error(*duplicate)
    values = custom_fields.resolve_values(store, body.get("customFields") or [])
    stamp = now_iso()
    doc = {key: value for key, value in body.items() if key != "customFields"}
    doc.update(tags=_unique(body.get("tags") or []), customFieldValues=values, dateAdded=stamp,
               dateUpdated=stamp, type="lead", deleted=False)
    return store.insert(KIND, doc, parent=body["locationId"], lookup=lookup_keys(doc))


def upsert(store: HighLevelStore, body: dict[str, Any], *, allow_duplicates: bool,
           priority: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
    """``POST /contacts/upsert`` (upsert-contact): returns ``(stored contact, created)``.

    Matches an existing contact by the first field of ``priority`` that finds one (the second
    identifier is then ignored, issue#37). ``createNewIfDuplicateAllowed: true`` always creates
    when the location allows duplicates and is ignored otherwise (spec description). ``tags``
    overwrite the contact's tags.

    Raises:
        ApiError 400/422: as ``create``/``update``.
    """
    fields = {key: value for key, value in body.items() if key != "createNewIfDuplicateAllowed"}
    force_new = bool(body.get("createNewIfDuplicateAllowed")) and allow_duplicates
    duplicate = None if force_new else find_duplicate(store, fields, priority)
    if duplicate is None:
        return create(store, fields, allow_duplicates=True, priority=priority), True
    contact, matched = duplicate
    changes = {key: value for key, value in fields.items() if key != "locationId"}
    # The identifier that did not match stays untouched when it belongs to another contact.
    other = "phone" if matched == "email" else "email"
    if other in changes and find_duplicate(store, {other: changes[other]}, (other,), exclude=contact["id"]):
        changes.pop(other)
    return update(store, contact, changes), False


def update(store: HighLevelStore, contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Apply an ``UpdateContactDto`` body: fields overwrite, ``tags`` replaces the whole list,
    ``customFields`` values are merged by field id (merge vs replace UNCONFIRMED)."""
    values = custom_fields.resolve_values(store, body.get("customFields") or [])
    for key, value in body.items():
        if key == "customFields":
            continue
        contact[key] = _unique(value or []) if key == "tags" else value
    contact["customFieldValues"] = {**contact.get("customFieldValues", {}), **values}
    contact["dateUpdated"] = now_iso()
    store.replace(KIND, contact, lookup=lookup_keys(contact))
    return contact


def render(contact: dict[str, Any]) -> dict[str, Any]:
    """The API view (``GetContectByIdSchema``-like) of a stored contact."""
    out = {key: value for key, value in contact.items() if key not in INTERNAL_KEYS}
    first, last = contact.get("firstName") or "", contact.get("lastName") or ""
    out["firstNameLowerCase"] = first.lower() or None
    out["lastNameLowerCase"] = last.lower() or None
    out["fullNameLowerCase"] = full_name(contact).lower() or None
    out["emailLowerCase"] = contact["email"].lower() if contact.get("email") else None
    out["customFields"] = custom_fields.render_values(contact.get("customFieldValues", {}))
    return out


def full_name(contact: dict[str, Any]) -> str:
    """``"First Last"``, else ``name``, else ``""``."""
    name = " ".join(part for part in (contact.get("firstName"), contact.get("lastName")) if part)
    return name or contact.get("name") or ""


def _unique(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
