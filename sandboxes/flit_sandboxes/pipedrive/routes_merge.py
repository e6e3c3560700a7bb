"""v1 ``PUT /persons/{id}/merge`` (operationId mergePersons, ``x-token-cost`` 40), as the vendor
documents it.

Sources: the bundled v1 OpenAPI document (``vendor_specs/pipedrive/openapi-v1.yaml``, path
``/persons/{id}/merge``: body ``{merge_with_id}`` = "the ID of the person that will not be
overwritten. This person's data will be prioritized in case of conflict"; response
``mergePersonItem``) and Pipedrive's tutorial "Merging two persons"
(pipedrive.readme.io/docs/merging-two-persons):

* the person in the URL (``id``) is merged and removed; ``merge_with_id`` survives;
* where both have a value the survivor's is kept; a field empty on the survivor takes the other's;
* "all related data (activities, emails, filters, notes, products, followers, participants) will be
  transferred": here the activities (primary and other participants), notes, deals and files.

UNCONFIRMED, the sandbox's choices: e-mails and phones are combined (survivor's entries first,
duplicates by value dropped); the removed person reads as deleted (404) afterwards; the answer's
``merge_what_id`` is the removed person's id and ``data.id`` the survivor's (the spec's example shows
two different ids); ``related_*`` counts equal the plain ones; mail, follower and participant-deal
counts are 0 (not modelled). The response lists the documented ``mergePersonItem`` properties only
(no custom-field keys, which the documented schema does not name).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.pipedrive import fixtures
from flit_sandboxes.pipedrive.clock import now_v2, v2_to_v1
from flit_sandboxes.pipedrive.errors import ApiError, bad_request
from flit_sandboxes.pipedrive.routing import Call, Operation, ok
from flit_sandboxes.pipedrive.store import RecordQuery

# Single-valued person fields filled from the removed person where the survivor's are empty.
FILLABLE = ("first_name", "last_name", "org_id", "postal_address", "notes", "birthday", "job_title",
            "picture_id", "marketing_status")
CONTACT_LISTS = ("emails", "phones", "im")
ALL_ROWS = 10**9  # RecordQuery.limit for "every row" (the sandbox's state is small)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _combine(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Survivor's entries first (its primary stays primary), then the other's new values; exactly one
    primary when there is any entry (the first, when the survivor had none)."""
    seen = {str(item.get("value", "")).strip().lower() for item in first}
    extra = [{**item, "primary": False} for item in second
             if str(item.get("value", "")).strip().lower() not in seen]
    out = [dict(item) for item in [*first, *extra]]
    if out and not any(item.get("primary") for item in out):
        out[0]["primary"] = True
    return out


def merge_documents(survivor: dict[str, Any], removed: dict[str, Any]) -> dict[str, Any]:
    """The survivor's document after the merge (pure; see the module docstring for the rules)."""
    out = dict(survivor)
    for key in FILLABLE:
        if _empty(out.get(key)) and not _empty(removed.get(key)):
            out[key] = removed[key]
    for key in CONTACT_LISTS:
        out[key] = _combine(list(out.get(key) or []), list(removed.get(key) or []))
    out["label_ids"] = list(dict.fromkeys([*(out.get("label_ids") or []), *(removed.get("label_ids") or [])]))
    custom = dict(removed.get("custom_fields") or {})
    custom.update({k: v for k, v in (out.get("custom_fields") or {}).items() if not _empty(v)})
    out["custom_fields"] = custom
    return out


def _all(call: Call, kind: str, **equals: Any) -> list[dict[str, Any]]:
    return call.ctx.store.list_records(kind, RecordQuery(equals=equals, limit=ALL_ROWS))


def _move_related(call: Call, removed_id: int, survivor_id: int, stamp: str) -> None:
    """Re-point the removed person's deals, notes, files and activities to the survivor."""
    store = call.ctx.store
    for kind in ("deal", "note", "file"):
        for doc in _all(call, kind, person_id=removed_id):
            store.update_record(kind, {**doc, "person_id": survivor_id, "update_time": stamp})
    for doc in _all(call, "activity"):
        parts = doc.get("participants") or []
        if doc.get("person_id") != removed_id and not any(p.get("person_id") == removed_id for p in parts):
            continue
        moved: dict[int, dict[str, Any]] = {}
        for p in parts:  # the survivor may already take part: one entry per person, primary wins
            pid = survivor_id if p.get("person_id") == removed_id else p.get("person_id")
            moved[pid] = {"person_id": pid, "primary": bool(p.get("primary")) or moved.get(pid, {}).get("primary", False)}
        person_id = survivor_id if doc.get("person_id") == removed_id else doc.get("person_id")
        store.update_record("activity", {**doc, "participants": list(moved.values()), "person_id": person_id,
                                         "update_time": stamp})


def _counts(call: Call, person_id: int) -> dict[str, Any]:
    """The count and next/last-activity properties of ``mergePersonItem``."""
    deals = _all(call, "deal", person_id=person_id)
    by_status = {s: sum(1 for d in deals if d.get("status") == s) for s in ("open", "won", "lost")}
    activities = [a for a in _all(call, "activity")
                  if a.get("person_id") == person_id
                  or any(p.get("person_id") == person_id for p in a.get("participants") or [])]
    done = [a for a in activities if a.get("done")]
    undone = sorted((a for a in activities if not a.get("done")),
                    key=lambda a: (a.get("due_date") or "9999-12-31", a.get("due_time") or "", a["id"]))
    last = max(done, key=lambda a: (a.get("due_date") or "", a.get("due_time") or "", a["id"]), default=None)
    nxt = undone[0] if undone else None
    closed = by_status["won"] + by_status["lost"]
    return {
        "open_deals_count": by_status["open"], "related_open_deals_count": by_status["open"],
        "closed_deals_count": closed, "related_closed_deals_count": closed,
        "participant_open_deals_count": 0, "participant_closed_deals_count": 0,
        "email_messages_count": 0, "activities_count": len(activities), "done_activities_count": len(done),
        "undone_activities_count": len(undone), "files_count": len(_all(call, "file", person_id=person_id)),
        "notes_count": len(_all(call, "note", person_id=person_id)), "followers_count": 0,
        "won_deals_count": by_status["won"], "related_won_deals_count": by_status["won"],
        "lost_deals_count": by_status["lost"], "related_lost_deals_count": by_status["lost"],
        "next_activity_date": nxt.get("due_date") if nxt else None,
        "next_activity_time": nxt.get("due_time") if nxt else None,
        "next_activity_id": nxt["id"] if nxt else None,
        "last_activity_id": last["id"] if last else None,
        "last_activity_date": last.get("due_date") if last else None,
        "last_incoming_mail_time": None, "last_outgoing_mail_time": None,
    }


def render_merged(call: Call, doc: dict[str, Any], removed_id: int) -> dict[str, Any]:
    """The v1 ``mergePersonItem`` of the survivor ``doc``."""
    ctx = call.ctx
    org = ctx.store.get_record("organization", doc["org_id"], include_deleted=True) if doc.get("org_id") else None
    owner = ctx.users.get(doc.get("owner_id"))
    labels = doc.get("label_ids") or []
    name = doc.get("name") or ""
    return {
        "id": doc["id"], "company_id": fixtures.COMPANY["company_id"], "owner_id": doc.get("owner_id"),
        "org_id": doc.get("org_id"), "name": name, "first_name": doc.get("first_name"),
        "last_name": doc.get("last_name"), **_counts(call, doc["id"]), "active_flag": True,
        "phone": [dict(p) for p in doc.get("phones") or []], "email": [dict(e) for e in doc.get("emails") or []],
        "first_char": name[:1].lower(), "update_time": v2_to_v1(doc["update_time"]),
        "add_time": v2_to_v1(doc["add_time"]), "visible_to": str(doc.get("visible_to")),
        "picture_id": doc.get("picture_id"), "label": labels[0] if labels else None, "label_ids": labels,
        "org_name": org["name"] if org else None, "owner_name": owner["name"] if owner else "",
        "cc_email": f"{fixtures.COMPANY['company_domain']}@pipedrivemail.com", "merge_what_id": removed_id,
    }


async def merge_persons(call: Call) -> Response:
    """PUT /api/v1/persons/{id}/merge: ``id`` is merged into ``merge_with_id`` and removed (200 with the
    survivor); 404 if either person does not exist (or was removed), 400 if they are the same."""
    removed_id = call.path_int("id")
    survivor_id = call.body_object().get("merge_with_id")
    if not isinstance(survivor_id, int) or isinstance(survivor_id, bool):
        raise bad_request("merge_with_id must be an integer")
    if survivor_id == removed_id:
        raise bad_request("A person cannot be merged with itself")
    store = call.ctx.store
    stamp = now_v2()
    with store.transaction():
        removed = store.get_record("person", removed_id)
        survivor = store.get_record("person", survivor_id)
        if removed is None or survivor is None:
            raise ApiError(404, "Person not found")
        merged = merge_documents(survivor, removed)
        merged["update_time"] = stamp
        store.update_record("person", merged)
        _move_related(call, removed_id, survivor_id, stamp)
        store.update_record("person", {**removed, "is_deleted": True, "update_time": stamp})
    return ok(render_merged(call, merged, removed_id))


def operations() -> list[Operation]:
    """The merge operation (validated against the v1 document like every v1 route)."""
    return [Operation("PUT", "v1", "/persons/{id}/merge", merge_persons)]
