"""Calendars and calendar events (appointments) of spec:calendars (notes §4.6).

Stored documents:

- ``calendar``: the ``CalendarCreateDTO`` body as sent plus ``id`` and the spec's defaults
  (``isActive`` true, ``slotDuration``/``slotInterval`` 30, ``eventTitle`` ``"{{contact.name}}"``,
  ``eventColor`` ``"#039be5"``, ``widgetType`` ``"classic"``, ``calendarType`` ``"event"``
  (UNCONFIRMED: the spec gives no default), ``slug``/``widgetSlug`` from the name (UNCONFIRMED)).
  Rendered as ``CalendarDTO``.
- ``appointment`` (parent = calendar id): ``{id, calendarId, locationId, contactId, groupId,
  startTime, endTime, title, meetingLocationType, meetingLocationId, appointmentStatus,
  assignedUserId, users, address, description, notes, isRecurring, rrule, assignedResources,
  createdBy {userId, source}, dateAdded, dateUpdated}``. Times are kept as sent (ISO 8601 with an
  offset); ``createdBy.source`` is ``"third_party"`` (UNCONFIRMED).

Three views of an event, one per response schema of the spec:

- ``appointment_view``: ``AppointmentSchemaResponse`` (create/update appointment, unwrapped);
- ``event_view``: ``CalendarEventDTO`` (get appointment ``{"event"}``, ``GET /calendars/events``);
- ``contact_event_view``: ``GetEventSchema`` (``GET /contacts/{contactId}/appointments``); the
  spec's example times read ``"2021-07-16 11:00:00"`` while the other views use ISO strings: the
  sandbox keeps the ISO strings everywhere (UNCONFIRMED), and ``status`` = ``appointmentStatus``.

Slot validation (notes §6.8) is an overlap check only: the sandbox has no opening hours, slot grid
or notice window (UNCONFIRMED simplification). A non-cancelled appointment of the same calendar
overlapping the requested time -> 400 ``"The slot you have selected is no longer available."``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flit_sandboxes.highlevel.clock import now_iso, parse_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request, unprocessable
from flit_sandboxes.highlevel.store import HighLevelStore

CALENDAR = "calendar"
EVENT = "appointment"
SLOT_TAKEN = "The slot you have selected is no longer available."
DEFAULT_DURATION = timedelta(minutes=30)  # UNCONFIRMED when endTime is omitted
CREATED_BY_SOURCE = "third_party"  # UNCONFIRMED
CALENDAR_DEFAULTS: dict[str, Any] = {
    "isActive": True, "calendarType": "event", "widgetType": "classic", "eventTitle": "{{contact.name}}",
    "eventColor": "#039be5", "slotDuration": 30, "slotDurationUnit": "mins", "slotInterval": 30,
    "slotIntervalUnit": "mins", "appoinmentPerSlot": 1, "teamMembers": [], "description": "",
}
APPOINTMENT_FIELDS = ("id", "calendarId", "locationId", "contactId", "startTime", "endTime", "title",
                      "meetingLocationType", "appointmentStatus", "assignedUserId", "address", "isRecurring",
                      "rrule")
EVENT_FIELDS = ("id", "address", "title", "calendarId", "locationId", "contactId", "groupId", "appointmentStatus",
                "assignedUserId", "users", "notes", "description", "isRecurring", "rrule", "startTime", "endTime",
                "dateAdded", "dateUpdated", "assignedResources", "createdBy", "masterEventId")
CONTACT_EVENT_FIELDS = ("id", "calendarId", "title", "assignedUserId", "notes", "startTime", "endTime", "address",
                        "locationId", "contactId", "groupId", "appointmentStatus", "users", "dateAdded",
                        "dateUpdated", "assignedResources")
_SLUG = re.compile(r"[^a-z0-9]+")


# ------------------------------------------------------------------------------ calendars
def create_calendar(store: HighLevelStore, body: dict[str, Any]) -> dict[str, Any]:
    """Store a calendar from a validated ``CalendarCreateDTO`` body."""
    slug = _SLUG.sub("-", body["name"].lower()).strip("-") or "calendar"
    doc = {**CALENDAR_DEFAULTS, "slug": slug, "widgetSlug": slug, **body}
    return store.insert(CALENDAR, doc, parent=body["locationId"])


def calendar_or_400(store: HighLevelStore, calendar_id: str) -> dict[str, Any]:
    """The stored calendar, or 400 ``"Calendar with id … not found"`` (wording UNCONFIRMED)."""
    calendar = store.get(CALENDAR, calendar_id)
    if calendar is None:
        raise bad_request(f"Calendar with id {calendar_id} not found")
    return calendar


# --------------------------------------------------------------------------------- events
def event_or_400(store: HighLevelStore, event_id: str) -> dict[str, Any]:
    """The stored event, or 400 ``"Event with id … not found"`` (wording UNCONFIRMED)."""
    event = store.get(EVENT, event_id)
    if event is None:
        raise bad_request(f"Event with id {event_id} not found")
    return event


def parse_times(start_text: str, end_text: str | None, default: timedelta = DEFAULT_DURATION
                ) -> tuple[datetime, datetime]:
    """``(start, end)`` of an appointment; ``end`` defaults to ``start + default``.

    Raises:
        ApiError 422: not ISO 8601 with an offset, or end not after start.
    """
    try:
        start = parse_iso(start_text)
        end = parse_iso(end_text) if end_text else start + default
    except ValueError:
        raise unprocessable(["startTime and endTime must be ISO 8601 date strings with an offset"]) from None
    if end <= start:
        raise unprocessable(["endTime must be after startTime"])
    return start, end


def check_slot(store: HighLevelStore, calendar_id: str, start: datetime, end: datetime, *,
               exclude: str | None = None) -> None:
    """400 ``SLOT_TAKEN`` if a non-cancelled event of the calendar overlaps ``[start, end)``."""
    for other in store.list(EVENT, parent=calendar_id):
        if other["id"] == exclude or other["appointmentStatus"] == "cancelled":
            continue
        if parse_iso(other["startTime"]) < end and start < parse_iso(other["endTime"]):
            raise ApiError(400, SLOT_TAKEN)


def new_event(calendar: dict[str, Any], body: dict[str, Any], end: datetime) -> dict[str, Any]:
    """The document for a validated ``AppointmentCreateSchema`` body (without ``id``)."""
    stamp = now_iso()
    assigned = body.get("assignedUserId")
    return {
        "calendarId": calendar["id"],
        "locationId": body["locationId"],
        "contactId": body["contactId"],
        "groupId": calendar.get("groupId"),
        "startTime": body["startTime"],
        "endTime": body.get("endTime") or end.isoformat(),
        "title": body.get("title", ""),
        "meetingLocationType": body.get("meetingLocationType") or ("custom" if body.get("address") else "default"),
        "meetingLocationId": body.get("meetingLocationId"),
        "appointmentStatus": body.get("appointmentStatus", "new"),
        "assignedUserId": assigned,
        "users": [assigned] if assigned else [],
        "address": body.get("address", ""),
        "description": body.get("description", ""),
        "notes": "",
        "isRecurring": bool(body.get("rrule")),
        "rrule": body.get("rrule"),
        "assignedResources": [],
        "createdBy": {"userId": None, "source": CREATED_BY_SOURCE},
        "dateAdded": stamp,
        "dateUpdated": stamp,
    }


def _view(event: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: event.get(name) for name in fields}


def appointment_view(event: dict[str, Any]) -> dict[str, Any]:
    """``AppointmentSchemaResponse`` (create/update appointment)."""
    return _view(event, APPOINTMENT_FIELDS)


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    """``CalendarEventDTO`` (get appointment, list events)."""
    return _view(event, EVENT_FIELDS)


def contact_event_view(event: dict[str, Any]) -> dict[str, Any]:
    """``GetEventSchema`` (a contact's appointments)."""
    return {**_view(event, CONTACT_EVENT_FIELDS), "status": event.get("appointmentStatus")}


def overlaps_window(event: dict[str, Any], start_ms: int, end_ms: int) -> bool:
    """True if the event's ``[startTime, endTime)`` intersects ``[start_ms, end_ms]`` (epoch ms).
    Overlap rather than "starts within" is UNCONFIRMED."""
    start = parse_iso(event["startTime"]).timestamp() * 1000
    end = parse_iso(event["endTime"]).timestamp() * 1000
    return start <= end_ms and end > start_ms
