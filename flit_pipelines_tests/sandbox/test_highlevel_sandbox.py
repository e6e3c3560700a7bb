"""The HighLevel sandbox over real HTTP (uvicorn in a thread, ``requests`` as the client).

Each test names the vendor behaviour from shared/notes/highlevel.md it checks (§ numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flit_sandboxes.highlevel import running_sandbox
from flit_pipelines_tests.http_layer.clock import ManualClock

TOKEN = "pit-test-token"
AGENCY_TOKEN = "pit-agency-token"
LOCATION = "loc_sandbox"
V2 = "2021-07-28"
CALENDARS_V = "2021-04-15"
RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)
USERS = [
    {"id": "usrAdmin000000000001", "firstName": "Clinic", "lastName": "Admin", "email": "admin@clinic.example"},
    {"id": "usrDentist0000000002", "firstName": "Grace", "lastName": "Hopper", "email": "Grace@clinic.example"},
]


def _session(version: str = V2) -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {TOKEN}", "Version": version})
    return session


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("highlevel") / "state.db"
    with running_sandbox(state, TOKEN, agency_token=AGENCY_TOKEN, burst_limit=10_000, users=USERS) as url:
        yield url


@pytest.fixture
def api(sandbox: str) -> Iterator[tuple[str, requests.Session]]:
    session = _session()
    yield sandbox, session
    session.close()


def _create_contact(url: str, session: requests.Session, **fields: object) -> dict:
    response = session.post(f"{url}/contacts/", json={"locationId": LOCATION, **fields})
    assert response.status_code == 201, response.text
    return response.json()["contact"]


# ------------------------------------------------------------------ §1, §3: auth and headers
def test_missing_or_wrong_token_is_401_with_documented_body(sandbox: str) -> None:
    expected = {"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}
    no_auth = requests.get(f"{sandbox}/users/", params={"locationId": LOCATION}, headers={"Version": V2})
    wrong = requests.get(f"{sandbox}/users/", params={"locationId": LOCATION},
                         headers={"Version": V2, "Authorization": "Bearer nope"})
    admin = requests.get(f"{sandbox}/__sandbox/stats")
    for response in (no_auth, wrong, admin):
        assert response.status_code == 401
        assert response.json() == expected


def test_version_header_is_required_and_checked_per_path_group(api: tuple[str, requests.Session]) -> None:
    url, _ = api
    auth = {"Authorization": f"Bearer {TOKEN}"}
    missing = requests.get(f"{url}/users/", params={"locationId": LOCATION}, headers=auth)
    assert missing.status_code == 400
    assert missing.json() == {"statusCode": 400, "message": "Version header was not found", "error": "Bad Request"}
    # Calendars declare only 2021-04-15 (notes §1).
    wrong = requests.post(f"{url}/calendars/events/appointments", headers={**auth, "Version": V2}, json={})
    assert wrong.status_code == 422
    body = wrong.json()
    assert body["error"] == "Unprocessable Entity" and isinstance(body["message"], list)
    assert "2021-04-15" in body["message"][0]


def test_foreign_location_is_403_and_unknown_route_404(api: tuple[str, requests.Session]) -> None:
    url, session = api
    response = session.get(f"{url}/users/", params={"locationId": "someone-else"})
    assert response.status_code == 403
    assert response.json()["message"] == "The token does not have access to this location."
    missing = session.get(f"{url}/contacts/lookup/by-email")
    assert missing.status_code == 404 and missing.json()["statusCode"] == 404


def test_users_list(api: tuple[str, requests.Session]) -> None:
    url, session = api
    response = session.get(f"{url}/users/", params={"locationId": LOCATION})
    assert response.status_code == 200
    users = response.json()["users"]
    assert [(u["id"], u["email"], u["name"]) for u in users] == [
        ("usrAdmin000000000001", "admin@clinic.example", "Clinic Admin"),
        ("usrDentist0000000002", "Grace@clinic.example", "Grace Hopper"),
    ]
    assert users[0]["roles"]["locationIds"] == [LOCATION]


# ---------------------------------------------------------------------------- §4.1 contacts
def test_contact_crud_round_trip(api: tuple[str, requests.Session]) -> None:
    url, session = api
    created = _create_contact(url, session, firstName="Ada", lastName="Lovelace", email="Ada@Example.org",
                              phone="+15550001", tags=["patient", "patient", "ortho"], dateOfBirth="1990-09-25",
                              country="GB")
    contact_id = created["id"]
    assert len(contact_id) == 20 and contact_id.isalnum()
    assert created["locationId"] == LOCATION
    assert created["emailLowerCase"] == "ada@example.org"
    assert created["fullNameLowerCase"] == "ada lovelace"
    assert created["tags"] == ["patient", "ortho"]
    assert created["dateAdded"].endswith("Z") and created["customFields"] == []

    fetched = session.get(f"{url}/contacts/{contact_id}")
    assert fetched.status_code == 200
    assert fetched.json()["contact"] == created

    updated = session.put(f"{url}/contacts/{contact_id}", json={"city": "London", "tags": ["recall"]})
    assert updated.status_code == 200
    body = updated.json()
    assert body["succeded"] is True  # sic, notes §4.1
    assert body["contact"]["city"] == "London" and body["contact"]["tags"] == ["recall"]
    assert body["contact"]["firstName"] == "Ada"

    # UpdateContactDto has no locationId: 422 "property locationId should not exist" (notes §1).
    rejected = session.put(f"{url}/contacts/{contact_id}", json={"locationId": LOCATION, "city": "Paris"})
    assert rejected.status_code == 422
    assert rejected.json() == {"statusCode": 422, "message": ["property locationId should not exist"],
                               "error": "Unprocessable Entity"}

    added = session.post(f"{url}/contacts/{contact_id}/tags", json={"tags": ["vip", "recall"]})
    assert added.status_code == 201 and added.json() == {"tags": ["recall", "vip"]}
    removed = session.delete(f"{url}/contacts/{contact_id}/tags", json={"tags": ["recall"]})
    assert removed.status_code == 200 and removed.json() == {"tags": ["vip"]}

    deleted = session.delete(f"{url}/contacts/{contact_id}")
    assert deleted.status_code == 200 and deleted.json() == {"succeded": True}
    gone = session.get(f"{url}/contacts/{contact_id}")
    assert gone.status_code == 400
    assert gone.json()["message"] == f"Contact with id {contact_id} not found"


def test_duplicate_email_or_phone_rejected_when_location_disallows(api: tuple[str, requests.Session]) -> None:
    url, session = api
    first = _create_contact(url, session, firstName="Dup", lastName="One", email="dup@example.org", phone="+15550101")
    again = session.post(f"{url}/contacts/", json={"locationId": LOCATION, "email": "DUP@example.org"})
    assert again.status_code == 400
    assert again.json() == {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {"contactId": first["id"], "contactName": "Dup One", "matchingField": "email"},
    }
    by_phone = session.post(f"{url}/contacts/", json={"locationId": LOCATION, "phone": "+15550101"})
    assert by_phone.status_code == 400 and by_phone.json()["meta"]["matchingField"] == "phone"


def test_duplicates_allowed_when_configured(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "dups.db", TOKEN, allow_duplicate_contact=True) as url, _session() as session:
        one = _create_contact(url, session, email="same@example.org")
        two = _create_contact(url, session, email="same@example.org")
        assert one["id"] != two["id"]


def test_search_filters_and_paging(api: tuple[str, requests.Session]) -> None:
    url, session = api
    ids = [_create_contact(url, session, firstName=f"Search{i}", email=f"search{i}@example.org",
                           tags=["search-batch"] + (["even"] if i % 2 == 0 else []))["id"] for i in range(5)]

    def search(body: dict) -> dict:
        response = session.post(f"{url}/contacts/search", json={"locationId": LOCATION, **body})
        assert response.status_code == 200, response.text
        return response.json()

    found = search({"pageLimit": 10, "filters": [{"field": "email", "operator": "eq", "value": "SEARCH3@example.org"}]})
    assert found["total"] == 1 and [c["id"] for c in found["contacts"]] == [ids[3]]
    even = search({"pageLimit": 10, "filters": [{"field": "tags", "operator": "eq", "value": "even"}]})
    assert sorted(c["id"] for c in even["contacts"]) == sorted([ids[0], ids[2], ids[4]])
    either = search({"pageLimit": 10, "filters": [{"group": "OR", "filters": [
        {"field": "firstName", "operator": "eq", "value": "Search1"},
        {"field": "firstName", "operator": "eq", "value": "Search4"}]}]})
    assert sorted(c["id"] for c in either["contacts"]) == sorted([ids[1], ids[4]])

    batch = [{"field": "tags", "operator": "eq", "value": "search-batch"}]
    page1 = search({"pageLimit": 2, "page": 1, "filters": batch})
    page2 = search({"pageLimit": 2, "page": 2, "filters": batch})
    assert page1["total"] == 5 and [c["id"] for c in page1["contacts"] + page2["contacts"]] == ids[:4]
    after = search({"pageLimit": 10, "searchAfter": page1["contacts"][-1]["searchAfter"], "filters": batch})
    assert [c["id"] for c in after["contacts"]] == ids[2:]

    bad = session.post(f"{url}/contacts/search", json={"locationId": LOCATION, "pageLimit": 501})
    assert bad.status_code == 422 and "pageLimit" in bad.json()["message"][0]


# ------------------------------------------------------------------------ §4.3 custom fields
def test_custom_field_create_and_value_on_contact(api: tuple[str, requests.Session]) -> None:
    url, session = api
    base = f"{url}/locations/{LOCATION}/customFields"
    created = session.post(base, json={"name": "Treatment Plan", "dataType": "LARGE_TEXT", "model": "contact"})
    assert created.status_code == 201
    field = created.json()["customField"]
    assert field["fieldKey"] == "contact.treatment_plan" and field["dataType"] == "LARGE_TEXT"
    number = session.post(base, json={"name": "Balance", "dataType": "NUMERICAL"}).json()["customField"]
    assert session.get(f"{base}/{field['id']}").json()["customField"] == field
    listed = session.get(base, params={"model": "contact"}).json()["customFields"]
    assert {f["id"] for f in listed} >= {field["id"], number["id"]}
    bad_type = session.post(base, json={"name": "Odd", "dataType": "HOLOGRAM"})
    assert bad_type.status_code == 422

    contact = _create_contact(url, session, firstName="Cf", customFields=[
        {"id": field["id"], "field_value": "Implant 36"},
        {"key": "balance", "field_value": 120.5},
    ])
    assert contact["customFields"] == [{"id": field["id"], "value": "Implant 36"},
                                       {"id": number["id"], "value": 120.5}]
    updated = session.put(f"{url}/contacts/{contact['id']}",
                          json={"customFields": [{"key": "contact.treatment_plan", "fieldValue": "Crown 11"}]})
    assert updated.status_code == 200
    assert session.get(f"{url}/contacts/{contact['id']}").json()["contact"]["customFields"] == [
        {"id": field["id"], "value": "Crown 11"}, {"id": number["id"], "value": 120.5}]

    wrong_type = session.put(f"{url}/contacts/{contact['id']}",
                             json={"customFields": [{"id": number["id"], "field_value": "lots"}]})
    assert wrong_type.status_code == 422
    unknown = session.put(f"{url}/contacts/{contact['id']}",
                          json={"customFields": [{"id": "doesNotExist00000000", "field_value": "x"}]})
    assert unknown.status_code == 400


# ------------------------------------------------------------------------ §4.1 notes, tasks
def test_note_and_task_on_contact(api: tuple[str, requests.Session]) -> None:
    url, session = api
    contact = _create_contact(url, session, firstName="Noted")
    note = session.post(f"{url}/contacts/{contact['id']}/notes",
                        json={"body": "Allergic to latex", "userId": "usrAdmin000000000001"})
    assert note.status_code == 201
    note_body = note.json()["note"]
    assert note_body["body"] == "Allergic to latex" and note_body["contactId"] == contact["id"]
    assert session.get(f"{url}/contacts/{contact['id']}/notes").json() == {"notes": [note_body]}

    task = session.post(f"{url}/contacts/{contact['id']}/tasks",
                        json={"title": "Recall", "dueDate": "2026-12-01T09:00:00Z", "completed": False})
    assert task.status_code == 201
    task_body = task.json()["task"]
    assert (task_body["title"], task_body["dueDate"], task_body["completed"]) == (
        "Recall", "2026-12-01T09:00:00Z", False)
    assert session.get(f"{url}/contacts/{contact['id']}/tasks").json() == {"tasks": [task_body]}

    missing_required = session.post(f"{url}/contacts/{contact['id']}/tasks", json={"title": "No due date"})
    assert missing_required.status_code == 422
    assert any("dueDate" in message for message in missing_required.json()["message"])
    unknown = session.post(f"{url}/contacts/nope0000000000000000/notes", json={"body": "x"})
    assert unknown.status_code == 400


# ---------------------------------------------------------------------- §4.6 appointments
def test_appointment_slot_validation_and_ignore_flag(sandbox: str) -> None:
    with _session(CALENDARS_V) as calendars, _session() as contacts_session:
        contact = _create_contact(sandbox, contacts_session, firstName="Booked")
        calendar = calendars.post(f"{sandbox}/calendars/", json={"locationId": LOCATION, "name": "Dental chair 1"})
        assert calendar.status_code == 200, calendar.text
        base = {"calendarId": calendar.json()["calendar"]["id"], "locationId": LOCATION, "contactId": contact["id"],
                "startTime": "2026-09-23T12:00:00-03:00", "endTime": "2026-09-23T12:30:00-03:00"}
        first = calendars.post(f"{sandbox}/calendars/events/appointments", json={**base, "title": "Cleaning"})
        assert first.status_code == 200
        event = first.json()
        assert event["startTime"] == "2026-09-23T12:00:00-03:00" and event["contactId"] == contact["id"]
        # Same slot given in UTC still overlaps.
        clash = calendars.post(f"{sandbox}/calendars/events/appointments",
                               json={**base, "startTime": "2026-09-23T15:15:00Z", "endTime": "2026-09-23T15:45:00Z"})
        assert clash.status_code == 400
        assert clash.json() == {"statusCode": 400, "message": "The slot you have selected is no longer available.",
                                "error": "Bad Request"}
        forced = calendars.post(f"{sandbox}/calendars/events/appointments",
                                json={**base, "ignoreFreeSlotValidation": True, "toNotify": False})
        assert forced.status_code == 200 and forced.json()["id"] != event["id"]
        got = calendars.get(f"{sandbox}/calendars/events/appointments/{event['id']}")
        assert got.status_code == 200 and got.json()["event"]["title"] == "Cleaning"


# --------------------------------------------------------------------------- OpenAPI checks
def test_openapi_invalid_bodies_are_422(api: tuple[str, requests.Session]) -> None:
    url, session = api
    no_location = session.post(f"{url}/contacts/", json={"firstName": "X"})
    assert no_location.status_code == 422
    assert no_location.json()["message"] == ["request body is missing required field(s): locationId"]
    wrong_type = session.post(f"{url}/contacts/", json={"locationId": LOCATION, "tags": "vip"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["message"] == ["tags must be of type array"]
    unknown_prop = session.post(f"{url}/contacts/", json={"locationId": LOCATION, "additionalEmails": []})
    assert unknown_prop.json()["message"] == ["property additionalEmails should not exist"]
    bad_enum = requests.post(f"{url}/calendars/events/appointments",
                             headers={"Authorization": f"Bearer {TOKEN}", "Version": CALENDARS_V},
                             json={"calendarId": "c", "locationId": LOCATION, "contactId": "x",
                                   "startTime": "2026-01-01T10:00:00Z", "appointmentStatus": "maybe"})
    assert bad_enum.status_code == 422 and "appointmentStatus" in bad_enum.json()["message"][0]


# --------------------------------------------------------------------------- §2 rate limits
def test_burst_limit_429_with_documented_headers_and_recovery(tmp_path: Path) -> None:
    clock = ManualClock()  # the window passes on this clock, not by sleeping
    with running_sandbox(tmp_path / "rl.db", TOKEN, burst_limit=5, window_seconds=2.0, daily_limit=1000,
                         clock=clock.monotonic) as url, \
            _session() as session:
        params = {"locationId": LOCATION}
        responses = [session.get(f"{url}/users/", params=params) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5
        assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0"]
        first = responses[0].headers
        assert all(name in first for name in RATE_HEADERS)
        assert (first["X-RateLimit-Max"], first["X-RateLimit-Interval-Milliseconds"],
                first["X-RateLimit-Limit-Daily"], first["X-RateLimit-Daily-Remaining"]) == ("5", "2000", "1000", "999")
        limited = session.get(f"{url}/users/", params=params)
        assert limited.status_code == 429
        assert limited.json()["statusCode"] == 429
        assert limited.headers["X-RateLimit-Remaining"] == "0" and limited.headers["X-RateLimit-Max"] == "5"
        assert limited.headers["X-RateLimit-Daily-Remaining"] == "995"
        clock.advance(2.1)
        recovered = session.get(f"{url}/users/", params=params)
        assert recovered.status_code == 200 and recovered.headers["X-RateLimit-Remaining"] == "4"


def test_daily_limit_429(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "daily.db", TOKEN, daily_limit=3) as url, _session() as session:
        statuses = [session.get(f"{url}/users/", params={"locationId": LOCATION}) for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        assert statuses[-1].headers["X-RateLimit-Daily-Remaining"] == "0"


# ----------------------------------------------------------------------- state and faults
def test_state_and_daily_count_survive_restart(tmp_path: Path) -> None:
    state = tmp_path / "restart.db"
    with running_sandbox(state, TOKEN, daily_limit=100) as url, _session() as session:
        field = session.post(f"{url}/locations/{LOCATION}/customFields",
                             json={"name": "Chart No", "dataType": "TEXT"}).json()["customField"]
        contact = _create_contact(url, session, email="persist@example.org",
                                  customFields=[{"id": field["id"], "field_value": "C-1"}])
        session.post(f"{url}/contacts/{contact['id']}/notes", json={"body": "kept"})
    with running_sandbox(state, TOKEN, daily_limit=100) as url, _session() as session:
        response = session.get(f"{url}/contacts/{contact['id']}")
        assert response.json()["contact"] == contact
        assert [n["body"] for n in session.get(f"{url}/contacts/{contact['id']}/notes").json()["notes"]] == ["kept"]
        # 3 requests before the restart + 2 now.
        assert response.headers["X-RateLimit-Daily-Remaining"] == "96"
        dup = session.post(f"{url}/contacts/", json={"locationId": LOCATION, "email": "persist@example.org"})
        assert dup.status_code == 400 and dup.json()["meta"]["contactId"] == contact["id"]


def test_fault_injection(api: tuple[str, requests.Session]) -> None:
    url, session = api
    rule = session.post(f"{url}/__sandbox/faults", json={"status": 503, "path_prefix": "/users/", "count": 1})
    assert rule.status_code == 200 and rule.json()["data"]["status"] == 503
    faulted = session.get(f"{url}/users/", params={"locationId": LOCATION})
    assert faulted.status_code == 503
    assert faulted.json() == {"statusCode": 503, "message": "Service Unavailable", "error": "Service Unavailable"}
    assert session.get(f"{url}/users/", params={"locationId": LOCATION}).status_code == 200

    session.post(f"{url}/__sandbox/faults", json={"drop_connection": True, "path_prefix": "/users/"})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/users/", params={"locationId": LOCATION},
                     headers={"Authorization": f"Bearer {TOKEN}", "Version": V2})
    stats = session.get(f"{url}/__sandbox/stats").json()["data"]
    assert stats["faults_injected"] >= 2 and stats["responses_by_status"]["503"] >= 1
    assert session.get(f"{url}/__sandbox/faults").json()["data"] == []


def test_lost_answer_is_executed_then_dropped_and_429_carries_retry_after(api: tuple[str, requests.Session]) -> None:
    url, session = api
    session.post(f"{url}/__sandbox/faults", json={"lose_response": True, "path_prefix": "/contacts/",
                                                  "method": "POST"})
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/contacts/", json={"locationId": LOCATION, "firstName": "Lostanswer"},
                      headers={"Authorization": f"Bearer {TOKEN}", "Version": V2}, timeout=10)
    found = session.post(f"{url}/contacts/search", json={"locationId": LOCATION, "pageLimit": 100,
                                                         "query": "Lostanswer"}).json()["contacts"]
    assert [c["firstName"] for c in found] == ["Lostanswer"]  # executed although unanswered
    session.post(f"{url}/__sandbox/faults", json={"status": 429, "retry_after": 3, "path_prefix": "/users/"})
    limited = session.get(f"{url}/users/", params={"locationId": LOCATION})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"


# ----------------------------------------------------------- §4.4, §4.5 objects, associations
def _create_object(url: str, name: str) -> dict:
    body = {"labels": {"singular": "Treatment Plan", "plural": "Treatment Plans"}, "key": name,
            "locationId": LOCATION, "description": "Dental treatment plans",
            "primaryDisplayPropertyDetails": {"key": f"custom_objects.{name}.title", "name": "Title",
                                              "dataType": "TEXT"}}
    with _session() as agency:
        agency.headers["Authorization"] = f"Bearer {AGENCY_TOKEN}"
        response = agency.post(f"{url}/objects/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["object"]


def test_custom_object_schema_needs_agency_token(api: tuple[str, requests.Session]) -> None:
    url, session = api
    body = {"labels": {"singular": "X", "plural": "Xs"}, "key": "xs", "locationId": LOCATION,
            "primaryDisplayPropertyDetails": {"key": "custom_objects.xs.name", "name": "Name", "dataType": "TEXT"}}
    refused = session.post(f"{url}/objects/", json=body)
    assert refused.status_code == 401
    assert refused.json()["message"] == "The token is not authorized for this scope."
    obj = _create_object(url, "plan_schema_test")
    assert obj["key"] == "custom_objects.plan_schema_test"
    assert obj["primaryDisplayProperty"] == "custom_objects.plan_schema_test.title"
    # The agency token cannot call sub-account operations.
    with _session() as agency:
        agency.headers["Authorization"] = f"Bearer {AGENCY_TOKEN}"
        assert agency.get(f"{url}/users/", params={"locationId": LOCATION}).status_code == 401
    listed = session.get(f"{url}/objects/", params={"locationId": LOCATION}).json()["objects"]
    assert [o["key"] for o in listed][:3] == ["contact", "opportunity", "business"]
    assert obj["id"] in [o["id"] for o in listed]
    got = session.get(f"{url}/objects/{obj['key']}", params={"locationId": LOCATION, "fetchProperties": "true"})
    assert got.status_code == 200
    assert [f["fieldKey"] for f in got.json()["fields"]] == ["custom_objects.plan_schema_test.title"]


def test_records_and_relations_to_contacts(api: tuple[str, requests.Session]) -> None:
    url, session = api
    obj = _create_object(url, "treatment_plan")
    records_url = f"{url}/objects/{obj['key']}/records"
    created = session.post(records_url, json={"locationId": LOCATION, "owner": ["usrDentist0000000002"],
                                              "properties": {"title": "Implant 36", "cost": 1200}})
    assert created.status_code == 201
    record = created.json()["record"]
    assert record["properties"] == {"title": "Implant 36", "cost": 1200}
    assert record["owner"] == ["usrDentist0000000002"]
    other = session.post(records_url, json={"locationId": LOCATION, "properties": {"title": "Crown 11"}})
    other = other.json()["record"]
    no_primary = session.post(records_url, json={"locationId": LOCATION, "properties": {"cost": 1}})
    assert no_primary.status_code == 422 and no_primary.json()["message"] == ["properties.title is required"]

    updated = session.put(f"{records_url}/{record['id']}", params={"locationId": LOCATION},
                          json={"properties": {"cost": 1500}})
    assert updated.status_code == 200
    assert updated.json()["record"]["properties"] == {"title": "Implant 36", "cost": 1500}
    found = session.post(f"{records_url}/search", json={"locationId": LOCATION, "page": 1, "pageLimit": 10,
                                                        "query": "title:crown", "searchAfter": []}).json()
    assert found["total"] == 1 and [r["id"] for r in found["records"]] == [other["id"]]

    contact = _create_contact(url, session, firstName="Planned")
    association = session.post(f"{url}/associations/", json={
        "locationId": LOCATION, "key": "patient_plan", "firstObjectLabel": "patient", "firstObjectKey": "contact",
        "secondObjectLabel": "plan", "secondObjectKey": obj["key"]})
    assert association.status_code == 201
    assoc = association.json()
    assert assoc["associationType"] == "USER_DEFINED"
    by_key = session.get(f"{url}/associations/key/patient_plan", params={"locationId": LOCATION})
    assert by_key.json() == assoc
    wrong_order = session.post(f"{url}/associations/relations", json={
        "locationId": LOCATION, "associationId": assoc["id"], "firstRecordId": record["id"],
        "secondRecordId": contact["id"]})
    assert wrong_order.status_code == 422
    relation = session.post(f"{url}/associations/relations", json={
        "locationId": LOCATION, "associationId": assoc["id"], "firstRecordId": contact["id"],
        "secondRecordId": record["id"]})
    assert relation.status_code == 201
    rel = relation.json()
    listed = session.get(f"{url}/associations/relations/{contact['id']}",
                         params={"locationId": LOCATION, "skip": 0, "limit": 10}).json()
    assert listed == {"relations": [rel], "total": 1}

    deleted = session.delete(f"{records_url}/{record['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": record["id"], "success": True}
    assert session.get(f"{records_url}/{record['id']}").status_code == 400
    after = session.get(f"{url}/associations/relations/{contact['id']}",
                        params={"locationId": LOCATION, "skip": 0, "limit": 10}).json()
    assert after == {"relations": [], "total": 0}


# ------------------------------------------------------------------------------ §4.7 medias
def test_media_upload_list_delete(api: tuple[str, requests.Session]) -> None:
    url, session = api
    uploaded = session.post(f"{url}/medias/upload-file", files={"file": ("xray.png", b"\x89PNG fake", "image/png")},
                            data={"name": "xray-36.png"})
    assert uploaded.status_code == 200
    body = uploaded.json()
    assert set(body) == {"fileId", "url"} and body["url"].endswith("/xray-36.png")
    hosted_fields = {"hosted": "true", "fileUrl": "https://example.org/consent.pdf"}
    hosted = session.post(f"{url}/medias/upload-file", files={k: (None, v) for k, v in hosted_fields.items()})
    assert hosted.status_code == 200 and hosted.json()["url"] == "https://example.org/consent.pdf"
    not_multipart = session.post(f"{url}/medias/upload-file", data=hosted_fields)
    assert not_multipart.status_code == 400
    nothing = session.post(f"{url}/medias/upload-file", files={"name": (None, "empty")})
    assert nothing.status_code == 422

    params = {"altType": "location", "altId": LOCATION, "sortBy": "name", "sortOrder": "asc", "type": "file"}
    files = session.get(f"{url}/medias/files", params=params).json()["files"]
    assert [f["name"] for f in files] == ["consent.pdf", "xray-36.png"]
    assert files[1]["id"] == body["fileId"] and files[1]["size"] == len(b"\x89PNG fake")
    missing_param = session.get(f"{url}/medias/files", params={"altType": "location", "altId": LOCATION})
    assert missing_param.status_code == 422
    assert "query parameter 'sortBy' is required" in missing_param.json()["message"]

    deleted = session.delete(f"{url}/medias/{body['fileId']}", params={"altType": "location", "altId": LOCATION})
    assert deleted.status_code == 200
    remaining = session.get(f"{url}/medias/files", params=params).json()["files"]
    assert [f["name"] for f in remaining] == ["consent.pdf"]


def test_upsert_and_duplicate_lookup(api: tuple[str, requests.Session]) -> None:
    url, session = api
    first = session.post(f"{url}/contacts/upsert", json={"locationId": LOCATION, "email": "ups@example.org",
                                                          "firstName": "Up", "tags": ["a"]})
    assert first.status_code == 200
    created = first.json()
    assert created["new"] is True and created["traceId"]
    second = session.post(f"{url}/contacts/upsert", json={"locationId": LOCATION, "email": "UPS@example.org",
                                                           "lastName": "Sert", "tags": ["b"]})
    updated = second.json()
    assert updated["new"] is False and updated["contact"]["id"] == created["contact"]["id"]
    assert (updated["contact"]["firstName"], updated["contact"]["lastName"], updated["contact"]["tags"]) == (
        "Up", "Sert", ["b"])  # tags on upsert overwrite (notes §4.1)
    # Phone of another contact + this email: the email (first priority) wins, phone is ignored (issue#37).
    phone_owner = _create_contact(url, session, phone="+15557770")
    merged = session.post(f"{url}/contacts/upsert", json={"locationId": LOCATION, "email": "ups@example.org",
                                                           "phone": "+15557770"}).json()
    assert merged["contact"]["id"] == created["contact"]["id"] and merged["contact"].get("phone") is None
    lookup = session.get(f"{url}/contacts/search/duplicate", params={"locationId": LOCATION, "number": "+15557770"})
    assert lookup.status_code == 200 and lookup.json()["contact"]["id"] == phone_owner["id"]
    none = session.get(f"{url}/contacts/search/duplicate", params={"locationId": LOCATION, "email": "no@example.org"})
    assert none.json() == {"contact": None}
