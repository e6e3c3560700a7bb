"""The HighLevel sandbox's calendars, opportunities, file custom fields, users/location search,
contact search by custom field and Custom Fields V2, over real HTTP (uvicorn thread + ``requests``).

Each test names the vendor behaviour from shared/notes/highlevel.md (§) or the spec it checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from flit_sandboxes.highlevel import create_app, running_sandbox
from flit_sandboxes.highlevel.server import load_pipelines_file
from flit_pipelines_tests.sandbox.test_highlevel_sandbox import (
    AGENCY_TOKEN,
    CALENDARS_V,
    LOCATION,
    TOKEN,
    USERS,
    _create_contact,
    _create_object,
    _session,
)

COMPANY = "compClinic0000000001"
PIPELINES = [
    {"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]},
    {"id": "pipeTreatment0000001", "name": "Treatment Plans",
     "stages": [{"id": "stage-proposed", "name": "Proposed"}, {"id": "stage-accepted", "name": "Accepted"}]},
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("highlevel-more") / "state.db"
    with running_sandbox(state, TOKEN, agency_token=AGENCY_TOKEN, burst_limit=10_000, users=USERS,
                         pipelines=PIPELINES, company_id=COMPANY, timezone="America/Chicago") as url:
        yield url


@pytest.fixture
def api(sandbox: str) -> Iterator[tuple[str, requests.Session]]:
    with _session() as session:
        yield sandbox, session


@pytest.fixture
def cal(sandbox: str) -> Iterator[tuple[str, requests.Session]]:
    with _session(CALENDARS_V) as session:
        yield sandbox, session


def _ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text).timestamp() * 1000))


def _calendar(url: str, session: requests.Session, name: str, **fields: object) -> dict:
    response = session.post(f"{url}/calendars/", json={"locationId": LOCATION, "name": name, **fields})
    assert response.status_code == 200, response.text
    return response.json()["calendar"]


# --------------------------------------------------------------------- §4.1 notes, tasks by id
def test_note_and_task_get_update_delete(api: tuple[str, requests.Session]) -> None:
    url, session = api
    contact = _create_contact(url, session, firstName="Annotated")
    other = _create_contact(url, session, firstName="Other")
    notes = f"{url}/contacts/{contact['id']}/notes"
    note = session.post(notes, json={"body": "Prefers mornings"}).json()["note"]
    assert session.get(f"{notes}/{note['id']}").json() == {"note": note}
    updated = session.put(f"{notes}/{note['id']}", json={"body": "Prefers evenings", "pinned": True})
    assert updated.status_code == 200
    assert (updated.json()["note"]["body"], updated.json()["note"]["pinned"]) == ("Prefers evenings", True)
    assert updated.json()["note"]["dateAdded"] == note["dateAdded"]
    assert session.put(f"{notes}/{note['id']}", json={"dateAdded": "2020-01-01T00:00:00Z"}).status_code == 422
    foreign = session.get(f"{url}/contacts/{other['id']}/notes/{note['id']}")
    assert foreign.status_code == 400 and foreign.json()["message"] == f"Note with id {note['id']} not found"
    deleted = session.delete(f"{notes}/{note['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"succeded": True}
    assert session.get(notes).json() == {"notes": []}
    assert session.delete(f"{notes}/{note['id']}").status_code == 400

    tasks = f"{url}/contacts/{contact['id']}/tasks"
    task = session.post(tasks, json={"title": "Call back", "dueDate": "2026-12-01T09:00:00Z",
                                     "completed": False}).json()["task"]
    assert session.get(f"{tasks}/{task['id']}").json() == {"task": task}
    moved = session.put(f"{tasks}/{task['id']}", json={"dueDate": "2026-12-02T09:00:00+01:00", "title": "Call"})
    assert (moved.json()["task"]["dueDate"], moved.json()["task"]["title"]) == ("2026-12-02T09:00:00+01:00", "Call")
    assert session.put(f"{tasks}/{task['id']}", json={"dueDate": "tomorrow"}).status_code == 422
    done = session.put(f"{tasks}/{task['id']}/completed", json={"completed": True})
    assert done.status_code == 200 and done.json()["task"]["completed"] is True
    assert session.put(f"{tasks}/{task['id']}/completed", json={}).status_code == 422
    assert session.delete(f"{tasks}/{task['id']}").json() == {"succeded": True}
    gone = session.get(f"{tasks}/{task['id']}")
    assert gone.status_code == 400 and gone.json()["message"] == f"Task with id {task['id']} not found"


# ------------------------------------------------------------------------- §4.6 calendars
def test_calendar_create_and_list(cal: tuple[str, requests.Session]) -> None:
    url, session = cal
    chair = _calendar(url, session, "Hygiene Chair", calendarType="event", slotDuration=45)
    assert len(chair["id"]) == 20 and chair["locationId"] == LOCATION
    assert (chair["name"], chair["slotDuration"], chair["isActive"], chair["eventColor"]) == (
        "Hygiene Chair", 45, True, "#039be5")
    draft = _calendar(url, session, "Drafted Chair", isActive=False)
    listed = session.get(f"{url}/calendars/", params={"locationId": LOCATION})
    assert listed.status_code == 200
    assert {chair["id"], draft["id"]} <= {c["id"] for c in listed.json()["calendars"]}
    active = session.get(f"{url}/calendars/", params={"locationId": LOCATION, "showDrafted": "false"}).json()
    assert draft["id"] not in {c["id"] for c in active["calendars"]}

    missing_name = session.post(f"{url}/calendars/", json={"locationId": LOCATION})
    assert missing_name.status_code == 422
    assert missing_name.json()["message"] == ["request body is missing required field(s): name"]
    bad_type = session.post(f"{url}/calendars/", json={"locationId": LOCATION, "name": "x", "calendarType": "odd"})
    assert bad_type.status_code == 422 and "calendarType" in bad_type.json()["message"][0]
    unknown = session.post(f"{url}/calendars/", json={"locationId": LOCATION, "name": "x", "colour": "red"})
    assert unknown.json()["message"] == ["property colour should not exist"]
    foreign = session.get(f"{url}/calendars/", params={"locationId": "elsewhere"})
    assert foreign.status_code == 403


def test_appointment_rejects_unknown_calendar_or_contact(api: tuple[str, requests.Session],
                                                         cal: tuple[str, requests.Session]) -> None:
    url, calendars = cal
    contact = _create_contact(url, api[1], firstName="Ghost")
    chair = _calendar(url, calendars, "Chair Unknowns")
    base = {"calendarId": chair["id"], "locationId": LOCATION, "contactId": contact["id"],
            "startTime": "2026-10-01T09:00:00-05:00"}
    no_calendar = calendars.post(f"{url}/calendars/events/appointments",
                                 json={**base, "calendarId": "calNope0000000000000"})
    assert no_calendar.status_code == 400
    assert no_calendar.json() == {"statusCode": 400, "message": "Calendar with id calNope0000000000000 not found",
                                  "error": "Bad Request"}
    no_contact = calendars.post(f"{url}/calendars/events/appointments",
                                json={**base, "contactId": "conNope0000000000000"})
    assert no_contact.status_code == 400
    assert no_contact.json()["message"] == "Contact with id conNope0000000000000 not found"
    created = calendars.post(f"{url}/calendars/events/appointments", json=base)
    assert created.status_code == 200
    # endTime defaults to 30 minutes; the response is the unwrapped AppointmentSchemaResponse.
    assert set(created.json()) == {"id", "calendarId", "locationId", "contactId", "startTime", "endTime", "title",
                                   "meetingLocationType", "appointmentStatus", "assignedUserId", "address",
                                   "isRecurring", "rrule"}
    assert created.json()["endTime"] == "2026-10-01T09:30:00-05:00"


def test_appointment_get_update_list_delete(api: tuple[str, requests.Session],
                                            cal: tuple[str, requests.Session]) -> None:
    url, calendars = cal
    contact = _create_contact(url, api[1], firstName="Recall", lastName="Patient")
    chair = _calendar(url, calendars, "Chair Lifecycle")
    other_chair = _calendar(url, calendars, "Chair Other")
    book = {"calendarId": chair["id"], "locationId": LOCATION, "contactId": contact["id"],
            "assignedUserId": "usrDentist0000000002", "title": "Check-up",
            "startTime": "2026-11-02T10:00:00-06:00", "endTime": "2026-11-02T10:30:00-06:00"}
    event = calendars.post(f"{url}/calendars/events/appointments", json=book).json()
    later = calendars.post(f"{url}/calendars/events/appointments",
                           json={**book, "title": "Cleaning", "startTime": "2026-11-02T11:00:00-06:00",
                                 "endTime": "2026-11-02T11:30:00-06:00"}).json()

    got = calendars.get(f"{url}/calendars/events/appointments/{event['id']}")
    assert got.status_code == 200
    detail = got.json()["event"]
    assert (detail["id"], detail["title"], detail["contactId"], detail["users"], detail["appointmentStatus"]) == (
        event["id"], "Check-up", contact["id"], ["usrDentist0000000002"], "new")
    assert detail["startTime"] == "2026-11-02T10:00:00-06:00" and detail["dateAdded"].endswith("Z")

    # Moving onto the other appointment's slot is refused; with ignoreFreeSlotValidation it is not.
    clash = calendars.put(f"{url}/calendars/events/appointments/{event['id']}",
                          json={"startTime": "2026-11-02T11:15:00-06:00"})
    assert clash.status_code == 400
    assert clash.json()["message"] == "The slot you have selected is no longer available."
    moved = calendars.put(f"{url}/calendars/events/appointments/{event['id']}",
                          json={"startTime": "2026-11-02T09:00:00-06:00", "appointmentStatus": "confirmed",
                                "title": "Check-up (moved)"})
    assert moved.status_code == 200
    assert (moved.json()["startTime"], moved.json()["appointmentStatus"], moved.json()["title"]) == (
        "2026-11-02T09:00:00-06:00", "confirmed", "Check-up (moved)")
    assert moved.json()["endTime"] == "2026-11-02T09:30:00-06:00"  # duration kept
    no_location = calendars.put(f"{url}/calendars/events/appointments/{event['id']}", json={"locationId": LOCATION})
    assert no_location.json()["message"] == ["property locationId should not exist"]
    to_unknown = calendars.put(f"{url}/calendars/events/appointments/{event['id']}",
                               json={"calendarId": "calNope0000000000000"})
    assert to_unknown.status_code == 400

    window = {"locationId": LOCATION, "startTime": _ms("2026-11-02T00:00:00-06:00"),
              "endTime": _ms("2026-11-02T23:59:59-06:00")}
    by_calendar = calendars.get(f"{url}/calendars/events", params={**window, "calendarId": chair["id"]})
    assert by_calendar.status_code == 200
    assert [e["id"] for e in by_calendar.json()["events"]] == [event["id"], later["id"]]
    by_user = calendars.get(f"{url}/calendars/events", params={**window, "userId": "usrDentist0000000002"}).json()
    assert {event["id"], later["id"]} <= {e["id"] for e in by_user["events"]}
    empty = calendars.get(f"{url}/calendars/events", params={**window, "calendarId": other_chair["id"]}).json()
    assert empty == {"events": []}
    before = calendars.get(f"{url}/calendars/events", params={
        **window, "calendarId": chair["id"], "endTime": _ms("2026-11-02T09:59:00-06:00")}).json()
    assert [e["id"] for e in before["events"]] == [event["id"]]
    no_owner = calendars.get(f"{url}/calendars/events", params=window)
    assert no_owner.status_code == 422
    assert no_owner.json()["message"] == ["Either of calendarId, userId or groupId is required"]
    iso_window = calendars.get(f"{url}/calendars/events", params={
        **window, "calendarId": chair["id"], "startTime": "2026-11-02T00:00:00Z"})
    assert iso_window.status_code == 422
    missing_end = calendars.get(f"{url}/calendars/events", params={"locationId": LOCATION, "calendarId": chair["id"],
                                                                   "startTime": window["startTime"]})
    assert missing_end.status_code == 422 and "endTime" in missing_end.json()["message"][0]

    with _session() as contacts_v2:
        mine = contacts_v2.get(f"{url}/contacts/{contact['id']}/appointments")
    assert mine.status_code == 200
    assert [(e["id"], e["status"], e["calendarId"]) for e in mine.json()["events"]] == [
        (event["id"], "confirmed", chair["id"]), (later["id"], "new", chair["id"])]
    wrong_version = calendars.get(f"{url}/contacts/{contact['id']}/appointments")
    assert wrong_version.status_code == 422  # contacts declare 2021-07-28

    # The spec declares a required (empty-schema) JSON body on delete: send {}.
    no_body = calendars.delete(f"{url}/calendars/events/{later['id']}")
    assert no_body.status_code == 422 and no_body.json()["message"] == ["request body is required"]
    deleted = calendars.delete(f"{url}/calendars/events/{later['id']}", json={})
    assert deleted.status_code == 201 and deleted.json() == {"succeeded": True}
    gone = calendars.get(f"{url}/calendars/events/appointments/{later['id']}")
    assert gone.status_code == 400 and gone.json()["message"] == f"Event with id {later['id']} not found"
    assert calendars.delete(f"{url}/calendars/events/{later['id']}", json={}).status_code == 400


# ---------------------------------------------------------------------- §4.8 opportunities
def _pipelines(url: str, session: requests.Session) -> dict[str, dict]:
    response = session.get(f"{url}/opportunities/pipelines", params={"locationId": LOCATION})
    assert response.status_code == 200
    return {p["name"]: p for p in response.json()["pipelines"]}


def test_pipelines_are_seeded(api: tuple[str, requests.Session]) -> None:
    url, session = api
    pipelines = _pipelines(url, session)
    lifecycle = pipelines["Patient Lifecycle"]
    assert [s["name"] for s in lifecycle["stages"]] == ["New Patient", "Active", "Recall", "Inactive"]
    assert [s["position"] for s in lifecycle["stages"]] == [0, 1, 2, 3]
    assert len(lifecycle["id"]) == 20 and lifecycle["locationId"] == LOCATION
    assert uuid.UUID(lifecycle["stages"][0]["id"])
    treatment = pipelines["Treatment Plans"]
    assert treatment["id"] == "pipeTreatment0000001"
    assert [s["id"] for s in treatment["stages"]] == ["stage-proposed", "stage-accepted"]
    # The v2 API has no pipeline-create operation.
    assert session.post(f"{url}/opportunities/pipelines", json={"name": "x"}).status_code == 404


def test_pipelines_file_and_restart_keep_ids(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.json"
    path.write_text(json.dumps(PIPELINES[:1]))
    assert load_pipelines_file(path) == PIPELINES[:1]
    path.write_text(json.dumps({"name": "not a list"}))
    with pytest.raises(ValueError):
        load_pipelines_file(path)
    state = tmp_path / "restart.db"
    with running_sandbox(state, TOKEN, pipelines=PIPELINES[:1]) as url, _session() as session:
        first = _pipelines(url, session)["Patient Lifecycle"]
    with running_sandbox(state, TOKEN, pipelines=PIPELINES[:1]) as url, _session() as session:
        assert _pipelines(url, session) == {"Patient Lifecycle": first}
    with running_sandbox(state, TOKEN) as url, _session() as session:
        assert _pipelines(url, session) == {"Patient Lifecycle": first}
    for bad in ([{"name": "No stages", "stages": []}], [{"stages": ["A"]}], [{"name": "Twice", "stages": ["A", "A"]}]):
        with pytest.raises(ValueError):
            create_app(tmp_path / "bad.db", TOKEN, pipelines=bad)


def test_opportunity_crud_and_checks(api: tuple[str, requests.Session]) -> None:
    url, session = api
    lifecycle = _pipelines(url, session)["Patient Lifecycle"]
    stages = {s["name"]: s["id"] for s in lifecycle["stages"]}
    field = session.post(f"{url}/locations/{LOCATION}/customFields",
                         json={"name": "Plan Code", "dataType": "TEXT", "model": "opportunity"}).json()["customField"]
    contact = _create_contact(url, session, firstName="Opp", lastName="Owner", email="opp@example.org")
    body = {"pipelineId": lifecycle["id"], "locationId": LOCATION, "name": "Ortho plan", "status": "open",
            "contactId": contact["id"], "monetaryValue": 2500, "assignedTo": "usrDentist0000000002",
            "customFields": [{"id": field["id"], "field_value": "ORTHO-1"}]}
    created = session.post(f"{url}/opportunities/", json=body)
    assert created.status_code == 201, created.text
    opp = created.json()["opportunity"]
    assert (opp["pipelineStageId"], opp["status"], opp["monetaryValue"], opp["contactId"]) == (
        stages["New Patient"], "open", 2500, contact["id"])  # first stage by default
    assert opp["contact"] == {"id": contact["id"], "name": "Opp Owner", "companyName": "",
                              "email": "opp@example.org", "phone": "", "tags": []}
    assert opp["customFields"] == [{"id": field["id"], "fieldValue": "ORTHO-1"}]
    assert session.get(f"{url}/opportunities/{opp['id']}").json() == {"opportunity": opp}

    duplicate = session.post(f"{url}/opportunities/", json=body)
    assert duplicate.status_code == 400
    assert duplicate.json() == {"statusCode": 400, "message": "Can not create duplicate opportunity for the contact.",
                                "error": "Bad Request", "code": "OPPORTUNITY_NO_DUPLICATE",
                                "meta": {"existingId": opp["id"]}}
    checks = [
        ({"pipelineId": "pipeNope000000000000"}, 400, "Pipeline with id pipeNope000000000000 not found"),
        ({"pipelineStageId": "stage-proposed"}, 400, "Pipeline stage with id stage-proposed not found"),
        ({"contactId": "conNope0000000000000"}, 400, "Contact with id conNope0000000000000 not found"),
        ({"status": "all"}, 422, ["status must be one of: open, won, lost, abandoned"]),
        ({"status": "pending"}, 422, None),
        ({"pipelineId": None}, 422, None),
    ]
    for change, status, message in checks:
        response = session.post(f"{url}/opportunities/", json={**body, **change})
        assert response.status_code == status, (change, response.text)
        if message is not None:
            assert response.json()["message"] == message
    missing = session.post(f"{url}/opportunities/", json={"locationId": LOCATION, "pipelineId": lifecycle["id"]})
    assert missing.status_code == 422
    assert missing.json()["message"] == ["request body is missing required field(s): name, status, contactId"]

    updated = session.put(f"{url}/opportunities/{opp['id']}",
                          json={"pipelineStageId": stages["Recall"], "status": "won", "monetaryValue": 3000})
    assert updated.status_code == 200
    after = updated.json()["opportunity"]
    assert (after["pipelineStageId"], after["status"], after["monetaryValue"]) == (stages["Recall"], "won", 3000)
    assert after["lastStatusChangeAt"] >= opp["lastStatusChangeAt"]
    assert session.put(f"{url}/opportunities/{opp['id']}", json={"locationId": LOCATION}).status_code == 422
    wrong_stage = session.put(f"{url}/opportunities/{opp['id']}", json={"pipelineStageId": "stage-accepted"})
    assert wrong_stage.status_code == 400
    moved = session.put(f"{url}/opportunities/{opp['id']}", json={"pipelineId": "pipeTreatment0000001"}).json()
    assert moved["opportunity"]["pipelineStageId"] == "stage-proposed"

    deleted = session.delete(f"{url}/opportunities/{opp['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"succeded": True}
    gone = session.get(f"{url}/opportunities/{opp['id']}")
    assert gone.status_code == 400 and gone.json()["message"] == f"Opportunity with id {opp['id']} not found"


def test_opportunity_search_meta_and_paging(api: tuple[str, requests.Session]) -> None:
    url, session = api
    treatment = _pipelines(url, session)["Treatment Plans"]
    people = [_create_contact(url, session, firstName=f"Searchopp{i}", email=f"searchopp{i}@example.org")
              for i in range(5)]
    created = []
    for i, person in enumerate(people):
        response = session.post(f"{url}/opportunities/", json={
            "pipelineId": treatment["id"], "locationId": LOCATION, "name": f"Implant {i}",
            "status": "lost" if i == 4 else "open", "contactId": person["id"],
            "pipelineStageId": "stage-accepted" if i % 2 else "stage-proposed"})
        assert response.status_code == 201, response.text
        created.append(response.json()["opportunity"])
    # Oldest first by (createdAt, id): the order "added_asc" and the cursor follow.
    created.sort(key=lambda o: (_ms(o["createdAt"].replace("Z", "+00:00")), o["id"]))
    ids = [o["id"] for o in created]
    lost, accepted = created[[o["name"] for o in created].index("Implant 4")]["id"], {
        o["id"] for o in created if o["pipelineStageId"] == "stage-accepted"}
    third = created[[o["name"] for o in created].index("Implant 3")]["id"]
    second = created[[o["name"] for o in created].index("Implant 2")]["id"]

    def search(**params: object) -> dict:
        response = session.get(f"{url}/opportunities/search",
                               params={"location_id": LOCATION, "pipeline_id": treatment["id"], **params})
        assert response.status_code == 200, response.text
        return response.json()

    every = search(order="added_asc", limit=100)
    assert [o["id"] for o in every["opportunities"]] == ids
    assert every["meta"]["total"] == 5 and every["meta"]["nextPage"] is None and every["meta"]["nextPageUrl"] is None
    newest_first = search()
    assert [o["id"] for o in newest_first["opportunities"]] == ids[::-1]
    assert [o["id"] for o in search(contact_id=people[2]["id"])["opportunities"]] == [second]
    assert [o["id"] for o in search(status="lost")["opportunities"]] == [lost]
    assert len(search(status="all")["opportunities"]) == 5
    assert {o["id"] for o in search(pipeline_stage_id="stage-accepted")["opportunities"]} == accepted
    assert [o["id"] for o in search(q="SEARCHOPP3@example")["opportunities"]] == [third]

    page1 = search(order="added_asc", limit=2)
    meta = page1["meta"]
    assert [o["id"] for o in page1["opportunities"]] == ids[:2]
    assert (meta["total"], meta["currentPage"], meta["nextPage"], meta["prevPage"]) == (5, 1, 2, None)
    assert (meta["startAfterId"], str(meta["startAfter"])) == (
        ids[1], _ms(page1["opportunities"][1]["createdAt"].replace("Z", "+00:00")))
    assert "location_id=" in meta["nextPageUrl"] and "startAfterId=" in meta["nextPageUrl"]
    page2 = session.get(meta["nextPageUrl"]).json()
    assert [o["id"] for o in page2["opportunities"]] == ids[2:4]
    assert (page2["meta"]["currentPage"], page2["meta"]["prevPage"]) == (2, 1)
    cursor = search(order="added_asc", limit=2, startAfter=page2["meta"]["startAfter"],
                    startAfterId=page2["meta"]["startAfterId"])
    assert [o["id"] for o in cursor["opportunities"]] == ids[4:] and cursor["meta"]["nextPage"] is None
    by_page = search(order="added_asc", limit=2, page=3)
    assert [o["id"] for o in by_page["opportunities"]] == ids[4:]

    too_many = session.get(f"{url}/opportunities/search", params={"location_id": LOCATION, "limit": 101})
    assert too_many.status_code == 422
    no_location = session.get(f"{url}/opportunities/search", params={"locationId": LOCATION})
    assert no_location.status_code == 422
    assert no_location.json()["message"] == ["query parameter 'location_id' is required"]
    foreign = session.get(f"{url}/opportunities/search", params={"location_id": "elsewhere"})
    assert foreign.status_code == 403


def test_opportunity_upsert(api: tuple[str, requests.Session]) -> None:
    url, session = api
    lifecycle = _pipelines(url, session)["Patient Lifecycle"]
    contact = _create_contact(url, session, firstName="Upsert", lastName="Opp")
    base = {"pipelineId": lifecycle["id"], "locationId": LOCATION, "followers": [],
            "isRemoveAllFollowers": False, "followersActionType": "add"}
    created = session.post(f"{url}/opportunities/upsert",
                           json={**base, "contactId": contact["id"], "name": "Recall plan", "status": "open",
                                 "followers": ["usrAdmin000000000001"]})
    assert created.status_code == 200, created.text
    first = created.json()
    assert first["new"] is True and first["opportunity"]["followers"] == ["usrAdmin000000000001"]
    again = session.post(f"{url}/opportunities/upsert",
                         json={**base, "contactId": contact["id"], "monetaryValue": 90, "status": "won"}).json()
    assert again["new"] is False and again["opportunity"]["id"] == first["opportunity"]["id"]
    assert (again["opportunity"]["status"], again["opportunity"]["monetaryValue"]) == ("won", 90)
    assert again["opportunity"]["followers"] == ["usrAdmin000000000001"]
    by_id = session.post(f"{url}/opportunities/upsert",
                         json={**base, "id": first["opportunity"]["id"], "isRemoveAllFollowers": True}).json()
    assert by_id["new"] is False and by_id["opportunity"]["followers"] == []
    # The DTO's required follower fields are enforced by the spec.
    bare = session.post(f"{url}/opportunities/upsert", json={"pipelineId": lifecycle["id"], "locationId": LOCATION})
    assert bare.status_code == 422 and "followers" in bare.json()["message"][0]
    no_contact = session.post(f"{url}/opportunities/upsert", json={**base, "name": "Orphan", "status": "open"})
    assert no_contact.status_code == 422
    assert no_contact.json()["message"] == ["contactId is required to create an opportunity"]
    unknown = session.post(f"{url}/opportunities/upsert", json={**base, "id": "oppNope0000000000000"})
    assert unknown.status_code == 400


# ------------------------------------------------------------- §4.3, §4.7 files into custom fields
def _file_field(url: str, session: requests.Session, name: str, **extra: object) -> dict:
    response = session.post(f"{url}/locations/{LOCATION}/customFields",
                            json={"name": name, "dataType": "FILE_UPLOAD", "model": "contact", **extra})
    assert response.status_code == 201, response.text
    return response.json()["customField"]


def test_upload_custom_files_sets_file_upload_value(api: tuple[str, requests.Session]) -> None:
    url, session = api
    xrays = _file_field(url, session, "X-Rays", isMultipleFile=True, maxNumberOfFiles=3)
    consent = _file_field(url, session, "Consent Form")
    contact = _create_contact(url, session, firstName="Filed")
    params = {"contactId": contact["id"], "locationId": LOCATION}
    upload = session.post(f"{url}/forms/upload-custom-files", params=params, files=[
        (f"{xrays['id']}_file-1", ("bitewing.png", b"\x89PNG one", "image/png")),
        (f"{consent['id']}_file-2", ("consent.pdf", b"%PDF-1.4 consent", "application/pdf")),
    ])
    assert upload.status_code == 200, upload.text
    values = {entry["id"]: entry["value"] for entry in upload.json()["contact"]["customFields"]}
    png = values[xrays["id"]]["file-1"]
    assert png["meta"] == {"fieldname": f"{xrays['id']}_file-1", "originalname": "bitewing.png", "encoding": "7bit",
                           "mimetype": "image/png", "size": len(b"\x89PNG one"), "uuid": "file-1"}
    assert png["url"] == f"{url}/documents/download/{png['documentId']}"
    assert set(values[consent["id"]]) == {"file-2"}
    downloaded = session.get(png["url"])
    assert downloaded.status_code == 200 and downloaded.content == b"\x89PNG one"
    assert downloaded.headers["content-type"] == "image/png"
    assert requests.get(png["url"]).status_code == 401

    # Multi-file fields append; single-file fields are replaced.
    more = session.post(f"{url}/forms/upload-custom-files", params=params, files=[
        (f"{xrays['id']}_file-3", ("panoramic.jpg", b"jpeg bytes", "image/jpeg")),
        (f"{consent['id']}_file-4", ("consent-v2.pdf", b"%PDF v2", "application/pdf")),
    ])
    assert more.status_code == 200
    stored = session.get(f"{url}/contacts/{contact['id']}").json()["contact"]
    values = {entry["id"]: entry["value"] for entry in stored["customFields"]}
    assert list(values[xrays["id"]]) == ["file-1", "file-3"]
    assert list(values[consent["id"]]) == ["file-4"]

    def refused(files: list, message: str, status: int = 400, query: dict | None = None) -> None:
        response = session.post(f"{url}/forms/upload-custom-files", params=query or params, files=files)
        assert response.status_code == status, response.text
        assert response.json()["message"] == message

    refused([(f"{xrays['id']}_a", ("a.png", b"1", "image/png")), (f"{xrays['id']}_b", ("b.png", b"2", "image/png"))],
            f"Custom field with id {xrays['id']} allows at most 3 files")
    refused([(f"{xrays['id']}_x", ("virus.exe", b"MZ", "application/octet-stream"))],
            "File type not allowed; allowed: PDF, DOCX, DOC, JPG, JPEG, PNG, GIF, CSV, XLSX, XLS, MP4, MPEG, ZIP, RAR, "
            "TXT, SVG")
    refused([("nounderscore", ("a.png", b"1", "image/png"))], "file parts must be named <custom_field_id>_<file_id>")
    text_field = session.post(f"{url}/locations/{LOCATION}/customFields",
                              json={"name": "Chart Note", "dataType": "TEXT"}).json()["customField"]
    refused([(f"{text_field['id']}_x", ("a.png", b"1", "image/png"))],
            f"Custom field with id {text_field['id']} is not a FILE_UPLOAD field")
    refused([("fieldNope00000000000_x", ("a.png", b"1", "image/png"))],
            "Custom field with id fieldNope00000000000 not found")
    refused([(f"{consent['id']}_a", ("a.pdf", b"1", "application/pdf")),
             (f"{consent['id']}_b", ("b.pdf", b"2", "application/pdf"))],
            f"Custom field with id {consent['id']} allows one file")
    refused([("name", (None, "just text"))], "No files were uploaded")
    refused([(f"{consent['id']}_x", ("a.pdf", b"1", "application/pdf"))],
            "Contact with id conNope0000000000000 not found",
            query={"contactId": "conNope0000000000000", "locationId": LOCATION})
    refused([(f"{consent['id']}_x", ("a.pdf", b"1", "application/pdf"))],
            "The token does not have access to this location.", status=403,
            query={"contactId": contact["id"], "locationId": "elsewhere"})
    missing_query = session.post(f"{url}/forms/upload-custom-files", params={"contactId": contact["id"]},
                                 files=[(f"{consent['id']}_x", ("a.pdf", b"1", "application/pdf"))])
    assert missing_query.status_code == 422
    assert missing_query.json()["message"] == ["query parameter 'locationId' is required"]
    big = session.post(f"{url}/forms/upload-custom-files", params=params,
                       files=[(f"{consent['id']}_big", ("big.pdf", b"0" * (50 * 1024 * 1024 + 1), "application/pdf"))])
    assert big.status_code == 400 and big.json()["message"] == "File size is limited to 50 MB"
    # Nothing of the refused uploads was stored.
    assert session.get(f"{url}/contacts/{contact['id']}").json()["contact"]["customFields"] == stored["customFields"]


# ------------------------------------------------------------------ §4.2 users, location
def test_location_and_user_search(api: tuple[str, requests.Session]) -> None:
    url, session = api
    location = session.get(f"{url}/locations/{LOCATION}")
    assert location.status_code == 200
    body = location.json()["location"]
    assert (body["id"], body["companyId"], body["timezone"]) == (LOCATION, COMPANY, "America/Chicago")
    assert body["settings"] == {"allowDuplicateContact": False, "allowDuplicateOpportunity": False,
                                "allowFacebookNameMerge": False, "disableContactTimezone": False}
    assert session.get(f"{url}/locations/elsewhere").status_code == 403

    def search(**params: object) -> requests.Response:
        return session.get(f"{url}/users/search", params={"companyId": COMPANY, **params})

    every = search(locationId=LOCATION)
    assert every.status_code == 200
    assert [u["id"] for u in every.json()["users"]] == ["usrAdmin000000000001", "usrDentist0000000002"]
    assert every.json()["count"] == 2
    grace = search(query="grace@CLINIC").json()
    assert [u["email"] for u in grace["users"]] == ["Grace@clinic.example"] and grace["count"] == 1
    assert search(query="hopper").json()["count"] == 1
    paged = search(skip="1", limit="1").json()
    assert [u["id"] for u in paged["users"]] == ["usrDentist0000000002"] and paged["count"] == 2
    assert [u["id"] for u in search(ids="usrDentist0000000002").json()["users"]] == ["usrDentist0000000002"]
    no_company = session.get(f"{url}/users/search", params={"locationId": LOCATION})
    assert no_company.status_code == 422
    assert no_company.json()["message"] == ["query parameter 'companyId' is required"]
    assert search(companyId="otherCompany").status_code == 403
    assert search(locationId="elsewhere").status_code == 403
    with _session() as agency:
        agency.headers["Authorization"] = f"Bearer {AGENCY_TOKEN}"
        assert agency.get(f"{url}/users/search", params={"companyId": COMPANY}).status_code == 200
        assert agency.get(f"{url}/locations/{LOCATION}").status_code == 200


# --------------------------------------------------------------- §4.1 search by custom field
def test_contact_search_by_custom_field_value(api: tuple[str, requests.Session]) -> None:
    url, session = api
    source_key = session.post(f"{url}/locations/{LOCATION}/customFields",
                              json={"name": "Source Key", "dataType": "TEXT"}).json()["customField"]
    ids = [_create_contact(url, session, firstName=f"Keyed{i}",
                           customFields=[{"id": source_key["id"], "field_value": f"dentrix:patient:{i}"}])["id"]
           for i in range(4)]
    unkeyed = _create_contact(url, session, firstName="Unkeyed")

    def search(filters: list, **extra: object) -> dict:
        response = session.post(f"{url}/contacts/search",
                                json={"locationId": LOCATION, "pageLimit": 10, "filters": filters, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    field = f"customFields.{source_key['id']}"
    exact = search([{"field": field, "operator": "eq", "value": "dentrix:patient:2"}])
    assert exact["total"] == 1 and [c["id"] for c in exact["contacts"]] == [ids[2]]
    assert {"id": source_key["id"], "value": "dentrix:patient:2"} in exact["contacts"][0]["customFields"]
    assert search([{"field": field, "operator": "eq", "value": "dentrix:patient:9"}]) == {"contacts": [], "total": 0}
    keyed = [{"field": field, "operator": "exists"}]
    page1 = search(keyed, pageLimit=3, page=1)
    page2 = search(keyed, pageLimit=3, page=2)
    ordered = [c["id"] for c in page1["contacts"] + page2["contacts"]]
    assert page1["total"] == 4 and len(page1["contacts"]) == 3 and sorted(ordered) == sorted(ids)
    after = search(keyed, pageLimit=3, searchAfter=page1["contacts"][-1]["searchAfter"])
    assert [c["id"] for c in after["contacts"]] == ordered[3:]
    assert unkeyed["id"] in {c["id"] for c in search([{"field": field, "operator": "not_exists"}],
                                                     pageLimit=500)["contacts"]}
    assert [c["id"] for c in search([{"field": field, "operator": "contains", "value": "patient:1"}])["contacts"]] == [
        ids[1]]


# ------------------------------------------------------------------ §4.3 Custom Fields V2
def test_custom_fields_v2_folders_and_fields(api: tuple[str, requests.Session]) -> None:
    url, session = api
    obj = _create_object(url, "implant")
    folder = session.post(f"{url}/custom-fields/folder",
                          json={"objectKey": "custom_object.implant", "name": "Clinical", "locationId": LOCATION})
    assert folder.status_code == 201
    assert set(folder.json()) == {"id", "objectKey", "locationId", "name"}
    assert folder.json()["objectKey"] == obj["key"] == "custom_objects.implant"
    folder_id = folder.json()["id"]
    body = {"locationId": LOCATION, "name": "Tooth", "showInForms": True, "dataType": "NUMERICAL",
            "fieldKey": "custom_object.implant.tooth", "objectKey": "custom_object.implant", "parentId": folder_id}
    created = session.post(f"{url}/custom-fields/", json=body)
    assert created.status_code == 201, created.text
    field = created.json()["field"]
    assert (field["fieldKey"], field["objectKey"], field["parentId"], field["dataType"], field["showInForms"]) == (
        "custom_objects.implant.tooth", "custom_objects.implant", folder_id, "NUMERICAL", True)
    listed = session.get(f"{url}/custom-fields/object-key/custom_objects.implant", params={"locationId": LOCATION})
    assert listed.status_code == 200
    assert [f["fieldKey"] for f in listed.json()["fields"]] == ["custom_objects.implant.title",
                                                              "custom_objects.implant.tooth"]
    assert [f["id"] for f in listed.json()["folders"]] == [folder_id]
    assert session.get(f"{url}/custom-fields/{field['id']}").json() == {"field": field}
    assert session.get(f"{url}/custom-fields/{folder_id}").json()["field"]["name"] == "Clinical"
    properties = session.get(f"{url}/objects/{obj['key']}", params={"locationId": LOCATION, "fetchProperties": "true"})
    assert [f["fieldKey"] for f in properties.json()["fields"]] == ["custom_objects.implant.title",
                                                                   "custom_objects.implant.tooth"]

    def refused(change: dict, status: int, message: object) -> None:
        response = session.post(f"{url}/custom-fields/", json={**body, **change})
        assert response.status_code == status, response.text
        assert response.json()["message"] == message

    refused({}, 400, "Custom field with key custom_objects.implant.tooth already exists")
    refused({"fieldKey": "custom_objects.implant.title"}, 400,
            "Custom field with key custom_objects.implant.title already exists")
    refused({"fieldKey": "custom_objects.other.x"}, 422,
            ["fieldKey must look like custom_objects.implant.<lowercase_name>"])
    refused({"fieldKey": "custom_objects.implant.shade", "parentId": "folderNope0000000000"}, 400,
            "Folder with id folderNope0000000000 not found for custom_objects.implant")
    refused({"objectKey": "contact", "fieldKey": "contact.x"}, 400,
            "Object with key contact not found; Custom Fields V2 only supports Custom Objects and Company (Business)")
    missing_parent = {k: v for k, v in body.items() if k != "parentId"}
    response = session.post(f"{url}/custom-fields/", json=missing_parent)
    assert response.status_code == 422
    assert response.json()["message"] == ["request body is missing required field(s): parentId"]
    assert session.get(f"{url}/custom-fields/object-key/custom_objects.nothing",
                       params={"locationId": LOCATION}).status_code == 400


def test_location_custom_field_parent_id_is_kept(api: tuple[str, requests.Session]) -> None:
    url, session = api
    base = f"{url}/locations/{LOCATION}/customFields"
    created = session.post(base, json={"name": "Insurance Carrier", "dataType": "TEXT",
                                       "parentId": "folderInsurance00001"})
    assert created.status_code == 201
    field = created.json()["customField"]
    assert field["parentId"] == "folderInsurance00001"
    assert session.get(f"{base}/{field['id']}").json()["customField"]["parentId"] == "folderInsurance00001"
    plain = session.post(base, json={"name": "No Folder", "dataType": "TEXT"}).json()["customField"]
    assert "parentId" not in plain
