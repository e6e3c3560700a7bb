"""Notes and tasks on a contact (spec:contacts, ``Version: 2021-07-28``; notes §4.1).

- POST /contacts/{contactId}/notes (create-note) -> 201
  ``{"note": {id, body, userId, dateAdded, contactId, title, color, pinned}}``
- GET /contacts/{contactId}/notes (get-all-notes) -> 200 ``{"notes": [...]}`` (no paging)
- GET|PUT /contacts/{contactId}/notes/{id} (get-note, update-note) -> 200 ``{"note": {...}}``
- DELETE /contacts/{contactId}/notes/{id} (delete-note) -> 200 ``{"succeded": true}`` (sic)
- POST /contacts/{contactId}/tasks (create-task) -> 201
  ``{"task": {id, title, body, assignedTo, dueDate, completed, contactId}}``
- GET /contacts/{contactId}/tasks (get-all-tasks) -> 200 ``{"tasks": [...]}`` (no paging)
- GET|PUT /contacts/{contactId}/tasks/{taskId} (get-task, update-task) -> 200 ``{"task": {...}}``
- PUT /contacts/{contactId}/tasks/{taskId}/completed (update-task-completed) -> 200 ``{"task": {...}}``
- DELETE /contacts/{contactId}/tasks/{taskId} (delete-task) -> 200 ``{"succeded": true}`` (sic)

Errors: 400 unknown contact; 400 unknown note/task or one of another contact (``"Note with id …
not found"`` / ``"Task with id … not found"``, wording UNCONFIRMED); 422 validation (``body``
required for notes; ``title``, ``dueDate``, ``completed`` for tasks); 422 for a ``dueDate`` that is
not ISO 8601 with a zone. Updates overwrite the fields sent (``dateAdded`` is not writable).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.highlevel import contacts
from flit_sandboxes.highlevel.clock import now_iso, parse_iso
from flit_sandboxes.highlevel.errors import bad_request, json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation


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


def _child(call: Call, kind: str, id_param: str) -> dict[str, Any]:
    """The contact's note/task named by the path, or 400."""
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    doc = call.ctx.store.get(kind, call.path(id_param))
    if doc is None or doc["contactId"] != contact["id"]:
        raise bad_request(f"{kind.title()} with id {call.path(id_param)} not found")
    return doc


def _check_due(body: dict[str, Any]) -> None:
    if "dueDate" in body:
        try:
            parse_iso(body["dueDate"])
        except ValueError:
            raise unprocessable(["dueDate must be a valid ISO 8601 date string"]) from None


def _update(call: Call, kind: str, id_param: str, fields: tuple[str, ...]) -> dict[str, Any]:
    doc = _child(call, kind, id_param)
    body = call.body_object()
    _check_due(body)
    doc.update({key: body[key] for key in fields if key in body})
    call.ctx.store.replace(kind, doc)
    return doc


async def get_note(call: Call) -> Response:
    return json_response({"note": _child(call, "note", "id")})


async def update_note(call: Call) -> Response:
    return json_response({"note": _update(call, "note", "id", ("body", "userId", "title", "color", "pinned"))})


async def delete_note(call: Call) -> Response:
    call.ctx.store.delete("note", _child(call, "note", "id")["id"])
    return json_response({"succeded": True})


async def create_task(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    body = call.body_object()
    _check_due(body)
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


async def get_task(call: Call) -> Response:
    return json_response({"task": _child(call, "task", "taskId")})


async def update_task(call: Call) -> Response:
    return json_response({"task": _update(call, "task", "taskId", ("title", "body", "dueDate", "completed",
                                                                   "assignedTo"))})


async def complete_task(call: Call) -> Response:
    return json_response({"task": _update(call, "task", "taskId", ("completed",))})


async def delete_task(call: Call) -> Response:
    call.ctx.store.delete("task", _child(call, "task", "taskId")["id"])
    return json_response({"succeded": True})


def operations() -> list[Operation]:
    """Note and task operations."""
    spec = "contacts"
    return [
        Operation("POST", spec, "/contacts/{contactId}/notes", create_note, "create-note"),
        Operation("GET", spec, "/contacts/{contactId}/notes", list_notes, "get-all-notes"),
        Operation("GET", spec, "/contacts/{contactId}/notes/{id}", get_note, "get-note"),
        Operation("PUT", spec, "/contacts/{contactId}/notes/{id}", update_note, "update-note"),
        Operation("DELETE", spec, "/contacts/{contactId}/notes/{id}", delete_note, "delete-note"),
        Operation("POST", spec, "/contacts/{contactId}/tasks", create_task, "create-task"),
        Operation("GET", spec, "/contacts/{contactId}/tasks", list_tasks, "get-all-tasks"),
        Operation("PUT", spec, "/contacts/{contactId}/tasks/{taskId}/completed", complete_task,
                  "update-task-completed"),
        Operation("GET", spec, "/contacts/{contactId}/tasks/{taskId}", get_task, "get-task"),
        Operation("PUT", spec, "/contacts/{contactId}/tasks/{taskId}", update_task, "update-task"),
        Operation("DELETE", spec, "/contacts/{contactId}/tasks/{taskId}", delete_task, "delete-task"),
    ]
