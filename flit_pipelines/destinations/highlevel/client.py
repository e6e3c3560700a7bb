"""HighLevel (LeadConnector API v2) client: typed helpers for the ~40 operations the migration uses,
over ``transport.HighLevelTransport`` (session, auth, Version header, limits, retries, errors).

Vendor facts follow ``shared/notes/highlevel.md`` (cited as "notes §N") and the bundled OpenAPI
documents ``sandboxes/flit_sandboxes/vendor_specs/highlevel/apps/*.json`` (cited as spec:<file> and
``operationId``): ``locationId`` travels in create bodies, as a query parameter on lists/searches
(``location_id`` for opportunity search), or in the path (``/locations/{locationId}/...``); update
bodies never carry it (``UpdateContactDto`` has none; unknown properties are a 422, notes §1). A POST
that creates something is never repeated by the client: the destination looks it up by its source
key first.

Thread-safe: one client (one session, one limiter) is shared by a pool of workers. Nothing here
logs or embeds the token, request bodies, query values or response bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import HighLevelError
from .transport import CALENDARS_VERSION, DEFAULT_VERSION, ClientStats, HighLevelTransport, path_template, version_for

__all__ = ["CALENDARS_VERSION", "ClientStats", "DEFAULT_VERSION", "HighLevelClient", "path_template", "version_for"]

log = logging.getLogger(__name__)

SEARCH_PAGE_LIMIT = 500  # POST /contacts/search pageLimit maximum [mirror], notes §4.1
RECORD_PAGE_LIMIT = 100  # POST /objects/{key}/records/search (UNCONFIRMED maximum)
OPPORTUNITY_PAGE_LIMIT = 100  # GET /opportunities/search limit (UNCONFIRMED maximum)
RELATION_PAGE_LIMIT = 100  # GET /associations/relations/{id} limit (UNCONFIRMED maximum)


class HighLevelClient(HighLevelTransport):
    """Thread-safe HighLevel API v2 client for one location: the typed operations (arguments: see
    ``HighLevelTransport``)."""

    # ------------------------------------------------------------------ users (spec:users)

    def list_users(self) -> list[dict]:
        """Users of the location: ``GET /users/?locationId=`` (get-user-by-location, notes §4.2;
        deprecated upstream in favour of ``/users/search``, which needs the agency's companyId)."""
        return self.request("GET", "/users/", params={"locationId": self.location_id}).get("users") or []

    # ------------------------------------------------------------------ location custom fields

    def list_custom_fields(self, model: str = "contact") -> list[dict]:
        """``GET /locations/{locationId}/customFields?model=`` (get-custom-fields, notes §4.3):
        ``[{id, name, fieldKey, dataType, picklistOptions, model, parentId?...}]``."""
        path = f"/locations/{self.location_id}/customFields"
        return self.request("GET", path, params={"model": model}).get("customFields") or []

    def create_custom_field(self, body: Mapping[str, Any]) -> dict:
        """``POST /locations/{locationId}/customFields`` (create-custom-field) → the ``customField``.

        Not retried on transport errors (the destination lists again before creating twice)."""
        path = f"/locations/{self.location_id}/customFields"
        return self.request("POST", path, json=dict(body)).get("customField") or {}

    # ------------------------------------------------------------------ custom fields V2 (spec:custom-fields)

    def list_object_fields(self, object_key: str) -> dict:
        """``GET /custom-fields/object-key/{objectKey}?locationId=`` → ``{"fields": [...], "folders": [...]}``
        (get-custom-fields-by-object-key; custom objects and company only, notes §4.3)."""
        return self.request("GET", f"/custom-fields/object-key/{object_key}", params={"locationId": self.location_id})

    def create_folder(self, object_key: str, name: str) -> dict:
        """``POST /custom-fields/folder`` (create-custom-field-folder) → ``{id, objectKey, locationId, name}``."""
        body = {"objectKey": object_key, "name": name, "locationId": self.location_id}
        resp = self.request("POST", "/custom-fields/folder", json=body)
        return resp.get("folder", resp) if isinstance(resp, dict) else {}

    def create_object_field(self, body: Mapping[str, Any]) -> dict:
        """``POST /custom-fields/`` (create-custom-field, V2) → the ``field``."""
        resp = self.request("POST", "/custom-fields/", json={**body, "locationId": self.location_id})
        return resp.get("field", resp)

    # ------------------------------------------------------------------ contacts (spec:contacts)

    def create_contact(self, body: Mapping[str, Any]) -> dict:
        """``POST /contacts/`` (create-contact) → the created ``contact``; ``locationId`` is added.

        Never ``/contacts/upsert`` (its duplicate rule would merge family members, notes §6).
        Not retried on transport errors. Raises ``HighLevelError`` with ``is_duplicate_contact``
        for the duplicate-rule 400 (``meta.contactId``/``matchingField``)."""
        return self.request("POST", "/contacts/", json={**body, "locationId": self.location_id})["contact"]

    def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /contacts/{contactId}`` (update-contact, no ``locationId`` in the body) → ``contact``."""
        return self.request("PUT", f"/contacts/{contact_id}", json=dict(body)).get("contact") or {}

    def get_contact(self, contact_id: str) -> dict | None:
        """``GET /contacts/{contactId}`` → the contact, or None if it does not exist (400/404)."""
        try:
            return self.request("GET", f"/contacts/{contact_id}")["contact"]
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise

    def delete_contact(self, contact_id: str) -> bool:
        """``DELETE /contacts/{contactId}``; True if deleted, False if already gone."""
        return self._delete(f"/contacts/{contact_id}")

    def search_contacts(self, filters: Sequence[Mapping[str, Any]] = (), *,
                        page_limit: int = SEARCH_PAGE_LIMIT) -> Iterator[dict]:
        """Every contact matching ``filters``: ``POST /contacts/search`` (search-contacts-advanced;
        body per [mirror], notes §4.1), paged with the ``searchAfter`` cursor of the last contact,
        ``pageLimit`` ≤ 500. Results are eventually consistent upstream (seconds)."""
        body: dict[str, Any] = {"locationId": self.location_id, "pageLimit": min(page_limit, SEARCH_PAGE_LIMIT),
                                "filters": list(filters)}
        while True:
            page = self.request("POST", "/contacts/search", json=body, idempotent=True)
            contacts = page.get("contacts") or []
            yield from contacts
            cursor = contacts[-1].get("searchAfter") if contacts else None
            if len(contacts) < body["pageLimit"] or not cursor:
                return
            body["searchAfter"] = cursor

    # ------------------------------------------------------------------ notes and tasks (spec:contacts)

    def create_note(self, contact_id: str, body: Mapping[str, Any]) -> dict:
        """``POST /contacts/{contactId}/notes`` (create-note, ``NotesDTO``) → the ``note``."""
        return self.request("POST", f"/contacts/{contact_id}/notes", json=dict(body))["note"]

    def update_note(self, contact_id: str, note_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /contacts/{contactId}/notes/{id}`` (update-note) → the ``note``."""
        return self.request("PUT", f"/contacts/{contact_id}/notes/{note_id}", json=dict(body)).get("note") or {}

    def list_notes(self, contact_id: str) -> list[dict]:
        """``GET /contacts/{contactId}/notes`` (get-all-notes, unpaged) → notes."""
        return self.request("GET", f"/contacts/{contact_id}/notes").get("notes") or []

    def delete_note(self, contact_id: str, note_id: str) -> bool:
        """``DELETE /contacts/{contactId}/notes/{id}``; True if deleted, False if already gone."""
        return self._delete(f"/contacts/{contact_id}/notes/{note_id}")

    def create_task(self, contact_id: str, body: Mapping[str, Any]) -> dict:
        """``POST /contacts/{contactId}/tasks`` (create-task; title, dueDate, completed required) → ``task``."""
        return self.request("POST", f"/contacts/{contact_id}/tasks", json=dict(body))["task"]

    def update_task(self, contact_id: str, task_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /contacts/{contactId}/tasks/{taskId}`` (update-task) → the ``task``."""
        return self.request("PUT", f"/contacts/{contact_id}/tasks/{task_id}", json=dict(body)).get("task") or {}

    def list_tasks(self, contact_id: str) -> list[dict]:
        """``GET /contacts/{contactId}/tasks`` (get-all-tasks, unpaged) → tasks."""
        return self.request("GET", f"/contacts/{contact_id}/tasks").get("tasks") or []

    def delete_task(self, contact_id: str, task_id: str) -> bool:
        """``DELETE /contacts/{contactId}/tasks/{taskId}``; True if deleted, False if already gone."""
        return self._delete(f"/contacts/{contact_id}/tasks/{task_id}")

    # ------------------------------------------------------------------ calendars (spec:calendars, 2021-04-15)

    def list_calendars(self) -> list[dict]:
        """``GET /calendars/?locationId=`` (get-calendars) → calendars."""
        return self.request("GET", "/calendars/", params={"locationId": self.location_id}).get("calendars") or []

    def create_calendar(self, body: Mapping[str, Any]) -> dict:
        """``POST /calendars/`` (create-calendar; ``locationId`` and ``name`` required) → the ``calendar``."""
        resp = self.request("POST", "/calendars/", json={**body, "locationId": self.location_id})
        return resp.get("calendar", resp)

    def create_appointment(self, body: Mapping[str, Any]) -> dict:
        """``POST /calendars/events/appointments`` (create-appointment) → the event (unwrapped, notes §4.6)."""
        resp = self.request("POST", "/calendars/events/appointments", json={**body, "locationId": self.location_id})
        return resp.get("event", resp) if "id" not in resp else resp

    def update_appointment(self, event_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /calendars/events/appointments/{eventId}`` (edit-appointment) → the event."""
        resp = self.request("PUT", f"/calendars/events/appointments/{event_id}", json=dict(body))
        return resp.get("event", resp) if "id" not in resp else resp

    def get_appointment(self, event_id: str) -> dict | None:
        """``GET /calendars/events/appointments/{eventId}`` → the ``event``, or None if unknown."""
        try:
            resp = self.request("GET", f"/calendars/events/appointments/{event_id}")
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise
        return resp.get("event") or resp.get("appointment")

    def list_events(self, calendar_id: str, start_ms: int, end_ms: int) -> list[dict]:
        """``GET /calendars/events?locationId&calendarId&startTime&endTime`` (get-calendar-events;
        epoch milliseconds, no paging, notes §4.6) → events."""
        params = {"locationId": self.location_id, "calendarId": calendar_id, "startTime": str(start_ms),
                  "endTime": str(end_ms)}
        return self.request("GET", "/calendars/events", params=params).get("events") or []

    def delete_event(self, event_id: str) -> bool:
        """``DELETE /calendars/events/{eventId}`` (delete-event; the spec declares an empty JSON body)."""
        return self._delete(f"/calendars/events/{event_id}", json={})

    # ------------------------------------------------------------------ custom objects (spec:objects)

    def get_object(self, key: str) -> dict | None:
        """``GET /objects/{key}?locationId&fetchProperties=true`` → ``{"object", "fields"}``, or None if unknown."""
        try:
            return self.request("GET", f"/objects/{key}",
                                params={"locationId": self.location_id, "fetchProperties": True})
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise

    def create_object(self, body: Mapping[str, Any]) -> dict:
        """``POST /objects/`` (create-custom-object-schema, **Agency-Access**) → the ``object``."""
        return self.request("POST", "/objects/", json={**body, "locationId": self.location_id}, agency=True)["object"]

    def create_record(self, key: str, body: Mapping[str, Any]) -> dict:
        """``POST /objects/{schemaKey}/records`` (create-object-record) → the ``record``."""
        return self.request("POST", f"/objects/{key}/records", json={**body, "locationId": self.location_id})["record"]

    def update_record(self, key: str, record_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /objects/{schemaKey}/records/{id}?locationId=`` (update-object-record) → ``record``."""
        return self.request("PUT", f"/objects/{key}/records/{record_id}", params={"locationId": self.location_id},
                            json=dict(body)).get("record") or {}

    def get_record(self, key: str, record_id: str) -> dict | None:
        """``GET /objects/{schemaKey}/records/{id}`` (get-record-by-id) → the ``record``, or None if unknown."""
        try:
            return self.request("GET", f"/objects/{key}/records/{record_id}").get("record")
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise

    def delete_record(self, key: str, record_id: str) -> bool:
        """``DELETE /objects/{schemaKey}/records/{id}``; True if deleted, False if already gone."""
        return self._delete(f"/objects/{key}/records/{record_id}")

    def search_records(self, key: str, query: str = "", *, page_limit: int = RECORD_PAGE_LIMIT) -> Iterator[dict]:
        """Every record of ``key`` matching ``query``: ``POST /objects/{schemaKey}/records/search``
        (all body fields required by the spec), paged by the ``searchAfter`` cursor."""
        body: dict[str, Any] = {"locationId": self.location_id, "page": 1, "pageLimit": page_limit,
                                "query": query, "searchAfter": []}
        while True:
            page = self.request("POST", f"/objects/{key}/records/search", json=body, idempotent=True)
            records = page.get("records") or []
            yield from records
            cursor = records[-1].get("searchAfter") if records else None
            if len(records) < page_limit or not cursor:
                return
            body["searchAfter"] = cursor

    # ------------------------------------------------------------------ associations (spec:associations)

    def get_association(self, key: str) -> dict | None:
        """``GET /associations/key/{key_name}?locationId=`` → the association, or None if unknown."""
        try:
            return self.request("GET", f"/associations/key/{key}", params={"locationId": self.location_id})
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise

    def create_association(self, body: Mapping[str, Any]) -> dict:
        """``POST /associations/`` (create-association) → the association."""
        return self.request("POST", "/associations/", json={**body, "locationId": self.location_id})

    def create_relation(self, association_id: str, first_id: str, second_id: str) -> dict:
        """``POST /associations/relations`` (create-relation; first/second in the association's order)."""
        body = {"locationId": self.location_id, "associationId": association_id, "firstRecordId": first_id,
                "secondRecordId": second_id}
        return self.request("POST", "/associations/relations", json=body)

    def list_relations(self, record_id: str, association_id: str | None = None) -> list[dict]:
        """All relations of a record: ``GET /associations/relations/{recordId}`` paged by skip/limit."""
        out: list[dict] = []
        skip = 0
        while True:
            params = {"locationId": self.location_id, "skip": skip, "limit": RELATION_PAGE_LIMIT,
                      "associationIds": association_id}
            page = self.request("GET", f"/associations/relations/{record_id}", params=params)
            items = page.get("relations") or []
            out.extend(items)
            skip += len(items)
            if len(items) < RELATION_PAGE_LIMIT or skip >= int(page.get("total") or 0):
                return out

    def delete_relation(self, relation_id: str) -> bool:
        """``DELETE /associations/relations/{relationId}?locationId=``; False if already gone."""
        return self._delete(f"/associations/relations/{relation_id}", params={"locationId": self.location_id})

    # ------------------------------------------------------------------ opportunities (spec:opportunities)

    def list_pipelines(self) -> list[dict]:
        """``GET /opportunities/pipelines?locationId=`` (get-pipelines) → ``[{id, name, stages: [{id, name}]}]``."""
        return self.request("GET", "/opportunities/pipelines",
                            params={"locationId": self.location_id}).get("pipelines") or []

    def create_opportunity(self, body: Mapping[str, Any]) -> dict:
        """``POST /opportunities/`` (create-opportunity) → the ``opportunity``."""
        return self.request("POST", "/opportunities/", json={**body, "locationId": self.location_id})["opportunity"]

    def update_opportunity(self, opportunity_id: str, body: Mapping[str, Any]) -> dict:
        """``PUT /opportunities/{id}`` (update-opportunity; no contactId/locationId) → ``opportunity``."""
        return self.request("PUT", f"/opportunities/{opportunity_id}", json=dict(body)).get("opportunity") or {}

    def get_opportunity(self, opportunity_id: str) -> dict | None:
        """``GET /opportunities/{id}`` → the opportunity, or None if unknown."""
        try:
            return self.request("GET", f"/opportunities/{opportunity_id}")["opportunity"]
        except HighLevelError as exc:
            if exc.is_not_found:
                return None
            raise

    def delete_opportunity(self, opportunity_id: str) -> bool:
        """``DELETE /opportunities/{id}``; True if deleted, False if already gone."""
        return self._delete(f"/opportunities/{opportunity_id}")

    def search_opportunities(self, pipeline_id: str | None = None, *, limit: int = OPPORTUNITY_PAGE_LIMIT,
                             **filters: Any) -> Iterator[dict]:
        """Every opportunity: ``GET /opportunities/search?location_id=`` (search-opportunity; note the
        snake_case parameters), paged with ``meta.startAfter``/``startAfterId``."""
        params: dict[str, Any] = {"location_id": self.location_id, "pipeline_id": pipeline_id, "limit": limit,
                                  **filters}
        seen: set[str] = set()
        while True:
            page = self.request("GET", "/opportunities/search", params=params)
            items = page.get("opportunities") or []
            fresh = [o for o in items if o.get("id") not in seen]
            seen.update(o.get("id") for o in fresh)
            yield from fresh
            meta = page.get("meta") or {}
            if len(items) < limit or not fresh or not meta.get("startAfterId"):
                return
            params["startAfter"] = meta.get("startAfter")
            params["startAfterId"] = meta.get("startAfterId")

    # ------------------------------------------------------------------ files (spec:forms)

    def upload_custom_files(self, contact_id: str, parts: Sequence[tuple[str, str, bytes, str]]) -> dict:
        """Upload files into a contact's FILE_UPLOAD custom field: ``POST /forms/upload-custom-files
        ?contactId&locationId`` (upload-to-custom-fields, multipart; each part named
        ``<custom field id>_<file id>``; ≤ 50 MB; notes §4.7). ``parts``: ``(part name, file name,
        bytes, content type)``. Returns the decoded body (the updated contact per the spec text).
        Not retried on transport errors (POST)."""
        files = [(name, (filename, content, ctype)) for name, filename, content, ctype in parts]
        params = {"contactId": contact_id, "locationId": self.location_id}
        return self.request("POST", "/forms/upload-custom-files", params=params, files=files)

    # ------------------------------------------------------------------ shared

    def _delete(self, path: str, **kwargs: Any) -> bool:
        try:
            self.request("DELETE", path, **kwargs)
            return True
        except HighLevelError as exc:
            if exc.is_not_found:
                return False
            raise
