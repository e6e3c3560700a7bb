"""Location-scoped operations: custom fields (spec:locations), users (spec:users), appointments
(spec:calendars, ``Version: 2021-04-15``).

| route | operationId | success |
| --- | --- | --- |
| GET /locations/{locationId}/customFields?model= | get-custom-fields | 200 ``{"customFields": [...]}`` |
| POST /locations/{locationId}/customFields | create-custom-field | 201 ``{"customField": {...}}`` |
| GET /locations/{locationId}/customFields/{id} | get-custom-field | 200 ``{"customField": {...}}`` |
| GET /users/?locationId= | get-user-by-location | 200 ``{"users": [...]}`` (deprecated upstream) |
| POST /calendars/events/appointments | create-appointment | 200, unwrapped event (below) |
| GET /calendars/events/appointments/{eventId} | get-appointment | 200 ``{"event": {...}}`` |

The created event is returned at top level: ``{id, calendarId, locationId, contactId, startTime,
endTime, title, meetingLocationType, appointmentStatus, assignedUserId, address, description,
isRecurring, rrule, dateAdded, dateUpdated}``.

Errors: 403 foreign location; 400 unknown contact / custom field / event; 400
``"The slot you have selected is no longer available."`` (+ ``"error": "Bad Request"``) when
slot validation is on and the calendar already has a non-cancelled appointment overlapping the
requested time. The sandbox has no calendar configuration (opening hours, slot grid, notice):
any ``calendarId`` is accepted and only overlap is checked (UNCONFIRMED simplification).
``endTime`` defaults to ``startTime`` + 30 minutes (UNCONFIRMED). Times are kept as sent.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from flit_pipelines.sandbox.highlevel import contacts, custom_fields
from flit_pipelines.sandbox.highlevel.clock import now_iso, parse_iso
from flit_pipelines.sandbox.highlevel.errors import ApiError, bad_request, json_response, unprocessable
from flit_pipelines.sandbox.highlevel.routing import Call, Operation

SLOT_TAKEN = "The slot you have selected is no longer available."
DEFAULT_DURATION = timedelta(minutes=30)


async def list_custom_fields(call: Call) -> Response:
    call.check_location(call.path("locationId"))
    model = call.request.query_params.get("model")
    return json_response({"customFields": custom_fields.list_definitions(call.ctx.store, model)})


async def create_custom_field(call: Call) -> Response:
    location_id = call.path("locationId")
    call.check_location(location_id)
    field = custom_fields.create_definition(call.ctx.store, location_id, call.body_object())
    return json_response({"customField": field}, status=201)


async def get_custom_field(call: Call) -> Response:
    call.check_location(call.path("locationId"))
    field = call.ctx.store.get(custom_fields.KIND, call.path("id"))
    if field is None:
        raise bad_request(f"Custom field with id {call.path('id')} not found")
    return json_response({"customField": field})


async def list_users(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    users = [user for user in call.ctx.store.list("user") if not user.get("deleted")]
    return json_response({"users": users})


async def create_appointment(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    contacts.get_or_400(call.ctx.store, body["contactId"])
    try:
        start = parse_iso(body["startTime"])
        end = parse_iso(body["endTime"]) if body.get("endTime") else start + DEFAULT_DURATION
    except ValueError:
        raise unprocessable(["startTime and endTime must be ISO 8601 date strings with an offset"]) from None
    if end <= start:
        raise unprocessable(["endTime must be after startTime"])
    if not body.get("ignoreFreeSlotValidation"):
        if body.get("rrule"):
            raise bad_request("rrule is only applied when ignoreFreeSlotValidation is true")
        for other in call.ctx.store.list("appointment", parent=body["calendarId"]):
            if other["appointmentStatus"] == "cancelled":
                continue
            if parse_iso(other["startTime"]) < end and start < parse_iso(other["endTime"]):
                raise ApiError(400, SLOT_TAKEN)
    stamp = now_iso()
    event = {
        "calendarId": body["calendarId"],
        "locationId": body["locationId"],
        "contactId": body["contactId"],
        "startTime": body["startTime"],
        "endTime": body.get("endTime") or end.isoformat(),
        "title": body.get("title", ""),
        "meetingLocationType": body.get("meetingLocationType") or ("custom" if body.get("address") else "default"),
        "appointmentStatus": body.get("appointmentStatus", "new"),
        "assignedUserId": body.get("assignedUserId"),
        "address": body.get("address", ""),
        "description": body.get("description", ""),
        "isRecurring": bool(body.get("rrule")),
        "rrule": body.get("rrule"),
        "dateAdded": stamp,
        "dateUpdated": stamp,
    }
    event = call.ctx.store.insert("appointment", event, parent=body["calendarId"])
    return json_response(event)


async def get_appointment(call: Call) -> Response:
    event = call.ctx.store.get("appointment", call.path("eventId"))
    if event is None:
        raise bad_request(f"Event with id {call.path('eventId')} not found")
    return json_response({"event": event})


def operations() -> list[Operation]:
    """Custom field, user and appointment operations."""
    return [
        Operation("GET", "locations", "/locations/{locationId}/customFields", list_custom_fields, "get-custom-fields"),
        Operation("POST", "locations", "/locations/{locationId}/customFields", create_custom_field,
                  "create-custom-field"),
        Operation("GET", "locations", "/locations/{locationId}/customFields/{id}", get_custom_field,
                  "get-custom-field"),
        Operation("GET", "users", "/users/", list_users, "get-user-by-location"),
        Operation("POST", "calendars", "/calendars/events/appointments", create_appointment, "create-appointment"),
        Operation("GET", "calendars", "/calendars/events/appointments/{eventId}", get_appointment, "get-appointment"),
    ]
