"""Local, vendor-faithful HighLevel (LeadConnector API v2) emulator ("sandbox") for tests.

Public interface (same semantics as ``flit_sandboxes.pipedrive``):

- ``create_app(state_path, token, *, location_id="loc_sandbox", agency_token=None, burst_limit=100,
  window_seconds=10.0, daily_limit=200_000, users=None, validate=True,
  allow_duplicate_contact=False, duplicate_priority=("email", "phone"), pipelines=None,
  allow_duplicate_opportunity=False, company_id="company_sandbox", timezone="UTC",
  location_name="Sandbox Clinic") -> Starlette``
- ``serve(port, state_path, token, host="127.0.0.1", *, pipelines_file=None, **settings)``:
  foreground uvicorn (``pipelines_file``: JSON list in the ``pipelines`` format)
- ``running_sandbox(state_path, token="test-token", **settings)``: context manager yielding
  ``"http://127.0.0.1:PORT"`` with the server in a background thread

Vendor facts: ``shared/notes/highlevel.md`` (cited as notes §N) and the bundled OpenAPI
documents in ``sandboxes/flit_sandboxes/vendor_specs/highlevel`` (cited as spec:<file>).

Implemented operations (62; each validated with openapi-core against its spec file; details in
the ``routes_*`` module named in brackets):

- contacts [contacts]: ``POST /contacts/``, ``POST /contacts/upsert``, ``GET /contacts/search/duplicate``,
  ``POST /contacts/search`` (filters incl. ``customFields.<id>``), ``GET|PUT|DELETE /contacts/{contactId}``,
  ``POST|DELETE /contacts/{contactId}/tags``
- notes, tasks [activity]: ``POST|GET /contacts/{contactId}/notes``,
  ``GET|PUT|DELETE /contacts/{contactId}/notes/{id}``, ``POST|GET /contacts/{contactId}/tasks``,
  ``GET|PUT|DELETE /contacts/{contactId}/tasks/{taskId}``, ``PUT /contacts/{contactId}/tasks/{taskId}/completed``
- calendars [calendars]: ``GET|POST /calendars/``, ``GET /calendars/events``,
  ``POST /calendars/events/appointments``, ``GET|PUT /calendars/events/appointments/{eventId}``,
  ``DELETE /calendars/events/{eventId}``, ``GET /contacts/{contactId}/appointments``
- location [location]: ``GET /locations/{locationId}``, ``GET|POST /locations/{locationId}/customFields``,
  ``GET /locations/{locationId}/customFields/{id}``
- users [users]: ``GET /users/``, ``GET /users/search``
- custom objects [objects]: ``GET|POST /objects/``, ``GET /objects/{key}``, ``POST /objects/{schemaKey}/records``,
  ``POST /objects/{schemaKey}/records/search``, ``GET|PUT|DELETE /objects/{schemaKey}/records/{id}``
- Custom Fields V2 [custom_fields]: ``POST /custom-fields/``, ``POST /custom-fields/folder``,
  ``GET /custom-fields/object-key/{objectKey}``, ``GET /custom-fields/{id}``
- associations [associations]: ``POST /associations/``, ``GET /associations/key/{key_name}``,
  ``POST /associations/relations``, ``GET /associations/relations/{recordId}``,
  ``DELETE /associations/relations/{relationId}``
- medias [medias]: ``POST /medias/upload-file``, ``GET /medias/files``, ``DELETE /medias/{id}``
- opportunities [opportunities]: ``GET /opportunities/pipelines``, ``GET /opportunities/search``,
  ``POST /opportunities/``, ``POST /opportunities/upsert``, ``GET|PUT|DELETE /opportunities/{id}``
- forms [forms]: ``POST /forms/upload-custom-files`` (+ sandbox-only ``GET /documents/download/{documentId}``)

Not implemented (404 ``"Cannot <METHOD> <path>"``): contact followers, bulk tags,
``GET /contacts/`` (deprecated list), location tags/tasks search/custom values, custom field
update/delete (both APIs, and folder update/delete), block slots (``/calendars/events/block-slots``,
``/calendars/blocked-slots``), free slots, calendar get/update/delete by id, groups, resources,
notifications, schedules, appointment notes, opportunity status/followers/lost reasons and
``POST /opportunities/search``, pipeline creation (no such v2 operation: pipelines are seeded),
forms list/submissions, users get/create/update/delete and filter-by-email, location
search/create/update, custom object schema update, association lists/get by id/objectKey, media
folders, OAuth token endpoints, every v3 operation.
"""

from flit_sandboxes.highlevel.app import create_app
from flit_sandboxes.highlevel.server import running_sandbox, serve

__all__ = ["create_app", "running_sandbox", "serve"]
