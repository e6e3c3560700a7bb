"""Calendar operations of spec:calendars (``Version: 2021-04-15``) and a contact's appointments
(spec:contacts, ``Version: 2021-07-28``); notes §4.6. Stored shapes and views: ``calendars``.

| route | operationId | success |
| --- | --- | --- |
| GET /calendars/?locationId=&groupId=&showDrafted= | get-calendars | 200 ``{"calendars": [...]}`` |
| POST /calendars/ | create-calendar | 200 ``{"calendar": {...}}`` |
| POST /calendars/events/appointments | create-appointment | 200 ``AppointmentSchemaResponse`` (unwrapped) |
| GET /calendars/events/appointments/{eventId} | get-appointment | 200 ``{"event": CalendarEventDTO}`` |
| PUT /calendars/events/appointments/{eventId} | edit-appointment | 200 ``AppointmentSchemaResponse`` |
| DELETE /calendars/events/{eventId} | delete-event | 201 ``{"succeeded": true}`` |
| GET /calendars/events?locationId&startTime&endTime&<owner> | get-calendar-events | 200 ``{"events": [...]}`` |
| GET /contacts/{contactId}/appointments | get-appointments-for-contact | 200 ``{"events": [...]}`` |

- ``POST /calendars/``: ``locationId`` and ``name`` required; every other ``CalendarCreateDTO``
  property is validated by the spec and stored as sent. ``showDrafted=false`` hides calendars
  with ``isActive: false``.
- Appointments: ``calendarId`` must be a calendar of the location and ``contactId`` a contact
  (400 ``"Calendar with id … not found"`` (wording UNCONFIRMED) / ``"Contact with id … not
  found"``). Slot validation unless ``ignoreFreeSlotValidation`` (``calendars``); ``rrule``
  without ``ignoreFreeSlotValidation`` -> 400 ("only applied if ignoreFreeSlotValidation is true";
  the vendor may instead ignore it: UNCONFIRMED).
- Update: every field optional; a new ``startTime`` without ``endTime`` keeps the duration
  (UNCONFIRMED); time/calendar changes are slot-checked (excluding the event itself) unless
  ``ignoreFreeSlotValidation``.
- Delete: the spec declares a *required* JSON body with an empty schema, so send ``{}``; no body
  -> 422 ``"request body is required"`` (whether the vendor insists: UNCONFIRMED).
- Events list: ``startTime``/``endTime`` are epoch milliseconds (strings of digits, else 422);
  one of ``calendarId``/``userId``/``groupId`` is required (422 otherwise; status UNCONFIRMED);
  returns every event of the location (cancelled ones too) overlapping the window, no paging.
  ``userId`` matches ``assignedUserId`` or ``users``.
"""

from __future__ import annotations

from starlette.responses import Response

from flit_sandboxes.highlevel import calendars, contacts
from flit_sandboxes.highlevel.clock import now_iso, parse_iso
from flit_sandboxes.highlevel.errors import bad_request, json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation

RRULE_NEEDS_IGNORE = "rrule is only applied when ignoreFreeSlotValidation is true"


async def list_calendars(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("locationId"))
    found = call.ctx.store.list(calendars.CALENDAR)
    if query.get("groupId"):
        found = [c for c in found if c.get("groupId") == query["groupId"]]
    if query.get("showDrafted", "true").lower() == "false":
        found = [c for c in found if c.get("isActive", True)]
    return json_response({"calendars": found})


async def create_calendar(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    return json_response({"calendar": calendars.create_calendar(call.ctx.store, body)})


async def create_appointment(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    store = call.ctx.store
    calendar = calendars.calendar_or_400(store, body["calendarId"])
    contacts.get_or_400(store, body["contactId"])
    start, end = calendars.parse_times(body["startTime"], body.get("endTime"))
    if not body.get("ignoreFreeSlotValidation"):
        if body.get("rrule"):
            raise bad_request(RRULE_NEEDS_IGNORE)
        calendars.check_slot(store, calendar["id"], start, end)
    event = store.insert(calendars.EVENT, calendars.new_event(calendar, body, end), parent=calendar["id"])
    return json_response(calendars.appointment_view(event))


async def get_appointment(call: Call) -> Response:
    event = calendars.event_or_400(call.ctx.store, call.path("eventId"))
    return json_response({"event": calendars.event_view(event)})


async def update_appointment(call: Call) -> Response:
    store = call.ctx.store
    event = calendars.event_or_400(store, call.path("eventId"))
    body = call.body_object()
    calendar_id = body.get("calendarId") or event["calendarId"]
    if calendar_id != event["calendarId"]:
        calendars.calendar_or_400(store, calendar_id)
    old_start, old_end = parse_iso(event["startTime"]), parse_iso(event["endTime"])
    start_text = body.get("startTime") or event["startTime"]
    end_text = body.get("endTime") or (None if "startTime" in body else event["endTime"])
    start, end = calendars.parse_times(start_text, end_text, default=old_end - old_start)
    moved = calendar_id != event["calendarId"] or start != old_start or end != old_end
    if not body.get("ignoreFreeSlotValidation"):
        if body.get("rrule"):
            raise bad_request(RRULE_NEEDS_IGNORE)
        if moved:
            calendars.check_slot(store, calendar_id, start, end, exclude=event["id"])
    for key in ("title", "meetingLocationType", "meetingLocationId", "appointmentStatus", "description",
                "address", "rrule"):
        if key in body:
            event[key] = body[key]
    if "assignedUserId" in body:
        event["assignedUserId"] = body["assignedUserId"]
        event["users"] = [body["assignedUserId"]] if body["assignedUserId"] else []
    event.update(calendarId=calendar_id, startTime=start_text, endTime=end_text or end.isoformat(),
                 isRecurring=bool(event.get("rrule")), dateUpdated=now_iso())
    store.replace(calendars.EVENT, event, parent=calendar_id)
    return json_response(calendars.appointment_view(event))


async def delete_event(call: Call) -> Response:
    event = calendars.event_or_400(call.ctx.store, call.path("eventId"))
    call.ctx.store.delete(calendars.EVENT, event["id"])
    return json_response({"succeeded": True}, status=201)


def _epoch_ms(text: str | None) -> int:
    if text is None or not text.strip().isdigit():
        raise unprocessable(["startTime and endTime must be epoch milliseconds"])
    return int(text)


async def list_events(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("locationId"))
    start_ms, end_ms = _epoch_ms(query.get("startTime")), _epoch_ms(query.get("endTime"))
    if not any(query.get(name) for name in ("calendarId", "userId", "groupId")):
        raise unprocessable(["Either of calendarId, userId or groupId is required"])
    events = []
    for event in call.ctx.store.list(calendars.EVENT):
        if query.get("calendarId") and event["calendarId"] != query["calendarId"]:
            continue
        if query.get("groupId") and event.get("groupId") != query["groupId"]:
            continue
        if query.get("userId") and query["userId"] != event.get("assignedUserId") \
                and query["userId"] not in event.get("users", []):
            continue
        if calendars.overlaps_window(event, start_ms, end_ms):
            events.append(calendars.event_view(event))
    return json_response({"events": events})


async def contact_appointments(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    events = [calendars.contact_event_view(event) for event in call.ctx.store.list(calendars.EVENT)
              if event["contactId"] == contact["id"]]
    return json_response({"events": events})


def operations() -> list[Operation]:
    """Calendar operations, literal paths before templated ones."""
    spec = "calendars"
    return [
        Operation("GET", spec, "/calendars/", list_calendars, "get-calendars"),
        Operation("POST", spec, "/calendars/", create_calendar, "create-calendar"),
        Operation("GET", spec, "/calendars/events", list_events, "get-calendar-events"),
        Operation("POST", spec, "/calendars/events/appointments", create_appointment, "create-appointment"),
        Operation("GET", spec, "/calendars/events/appointments/{eventId}", get_appointment, "get-appointment"),
        Operation("PUT", spec, "/calendars/events/appointments/{eventId}", update_appointment, "edit-appointment"),
        Operation("DELETE", spec, "/calendars/events/{eventId}", delete_event, "delete-event"),
        Operation("GET", "contacts", "/contacts/{contactId}/appointments", contact_appointments,
                  "get-appointments-for-contact"),
    ]
