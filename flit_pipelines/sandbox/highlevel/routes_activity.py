"""Notes and tasks on a contact (spec:contacts, ``Version: 2021-07-28``; notes §4.1).

- POST /contacts/{contactId}/notes (create-note) -> 201
  ``{"note": {id, body, userId, dateAdded, contactId, title, color, pinned}}``
- GET /contacts/{contactId}/notes (get-all-notes) -> 200 ``{"notes": [...]}`` (no paging)
- POST /contacts/{contactId}/tasks (create-task) -> 201
  ``{"task": {id, title, body, assignedTo, dueDate, completed, contactId}}``
- GET /contacts/{contactId}/tasks (get-all-tasks) -> 200 ``{"tasks": [...]}`` (no paging)

Errors: 400 unknown contact; 422 validation (``body`` required for notes; ``title``,
``dueDate``, ``completed`` for tasks); 422 for a ``dueDate`` that is not ISO 8601 with a zone.
"""

from __future__ import annotations

from starlette.responses import Response

from flit_pipelines.sandbox.highlevel import contacts
from flit_pipelines.sandbox.highlevel.clock import now_iso, parse_iso
from flit_pipelines.sandbox.highlevel.errors import json_response, unprocessable
from flit_pipelines.sandbox.highlevel.routing import Call, Operation


async def create_note(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    body = call.body_object()
    note = {
        "body": body["body"],
        "userId": body.get("userId", ""),
        "title": body.get("title", ""),
        "color": body.get("color", ""),
        "pinned": bool(body.get("pinned", False)),
        "dateAdded": now_iso(),
        "contactId": contact["id"],
    }
    note = call.ctx.store.insert("note", note, parent=contact["id"])
    return json_response({"note": note}, status=201)


async def list_notes(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    return json_response({"notes": call.ctx.store.list("note", parent=contact["id"])})


async def create_task(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    body = call.body_object()
    try:
        parse_iso(body["dueDate"])
    except ValueError:
        raise unprocessable(["dueDate must be a valid ISO 8601 date string"]) from None
    task = {
        "title": body["title"],
        "body": body.get("body", ""),
        "assignedTo": body.get("assignedTo"),
        "dueDate": body["dueDate"],
        "completed": body["completed"],
        "contactId": contact["id"],
    }
    task = call.ctx.store.insert("task", task, parent=contact["id"])
    return json_response({"task": task}, status=201)


async def list_tasks(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    return json_response({"tasks": call.ctx.store.list("task", parent=contact["id"])})


def operations() -> list[Operation]:
    """Note and task operations."""
    return [
        Operation("POST", "contacts", "/contacts/{contactId}/notes", create_note, "create-note"),
        Operation("GET", "contacts", "/contacts/{contactId}/notes", list_notes, "get-all-notes"),
        Operation("POST", "contacts", "/contacts/{contactId}/tasks", create_task, "create-task"),
        Operation("GET", "contacts", "/contacts/{contactId}/tasks", list_tasks, "get-all-tasks"),
    ]
