"""The Pipedrive sandbox over real HTTP (uvicorn in a thread, ``requests`` as the client).

Each assertion checks the vendor behaviour from shared/notes/pipedrive.md it names (§ numbers).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.datastructures import ImmutableMultiDict

from flit_sandboxes.openapi_validation import OpenAPIRequestValidator, load_openapi_document
from flit_sandboxes.pipedrive import running_sandbox
from flit_sandboxes.pipedrive.app import all_operations
from flit_sandboxes.pipedrive.validation import SPEC_FILES, bundled_validators
from flit_pipelines_tests.http_layer.clock import ManualClock

TOKEN = "test-token"
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-daily-ratelimit-token-limit",
    "x-daily-ratelimit-token-remaining",
)
USERS = [
    {"id": 11, "name": "Migration Admin", "email": "admin@clinic.example", "active_flag": True},
    {"id": 12, "name": "Dr. Grace Hopper", "email": "Grace.Hopper@clinic.example", "active_flag": True},
    {"id": 13, "name": "Former Nurse", "email": "former@clinic.example", "active_flag": False},
]


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["x-api-token"] = TOKEN
    return session


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One shared sandbox with generous limits for the functional tests."""
    state = tmp_path_factory.mktemp("pipedrive") / "state.db"
    with running_sandbox(state, TOKEN, burst_limit=10_000, search_burst_limit=10_000, users=USERS,
                         file_size_limit=4096) as url:
        yield url


@pytest.fixture
def api(sandbox: str) -> Iterator[tuple[str, requests.Session]]:
    session = _session()
    yield sandbox, session
    session.close()


def _create_person(url: str, session: requests.Session, name: str, **extra: object) -> dict:
    response = session.post(f"{url}/api/v2/persons", json={"name": name, **extra})
    assert response.status_code == 200, response.text
    return response.json()["data"]


# ------------------------------------------------------------------------- auth (§2, §3)
def test_requests_without_valid_token_get_the_vendor_401(sandbox: str) -> None:
    expected = {
        "success": False,
        "error": "unauthorized access",
        "errorCode": 401,
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
    }
    missing = requests.get(f"{sandbox}/api/v2/persons")
    wrong = requests.get(f"{sandbox}/api/v2/persons", headers={"x-api-token": "nope"})
    admin = requests.get(f"{sandbox}/__sandbox/stats")
    assert (missing.status_code, missing.json()) == (401, expected)
    assert (wrong.status_code, wrong.json()) == (401, expected)
    assert admin.status_code == 401
    # The legacy query parameter and the /v1 alias both still work (§1, §2).
    legacy = requests.get(f"{sandbox}/v1/users/me", params={"api_token": TOKEN})
    assert legacy.status_code == 200
    assert legacy.json()["data"]["email"] == "admin@clinic.example"


# ----------------------------------------------------------------- persons (§3, §4.1)
def test_person_create_get_patch_delete_and_cursor_paging(api: tuple[str, requests.Session]) -> None:
    url, session = api
    created = _create_person(
        url, session, "Ada Lovelace",
        emails=[{"value": "ada@example.org"}, {"value": "ada@home.example", "label": "home"}],
    )
    assert created["first_name"] == "Ada" and created["last_name"] == "Lovelace"
    assert created["emails"][0] == {"value": "ada@example.org", "primary": True, "label": "work"}
    assert created["owner_id"] == 11 and created["is_deleted"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["add_time"])

    patched = session.patch(f"{url}/api/v2/persons/{created['id']}", json={"phones": [{"value": "+3725550000"}]})
    assert patched.status_code == 200
    fetched = session.get(f"{url}/api/v2/persons/{created['id']}").json()["data"]
    assert fetched["phones"] == [{"value": "+3725550000", "primary": True, "label": "work"}]
    assert fetched["emails"] == created["emails"]

    ids = [created["id"]] + [_create_person(url, session, f"Paging Person {n}")["id"] for n in range(6)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, "ids": ",".join(map(str, ids))}
        if cursor:
            params["cursor"] = cursor
        body = session.get(f"{url}/api/v2/persons", params=params).json()
        seen += [person["id"] for person in body["data"]]
        cursor, pages = body["additional_data"]["next_cursor"], pages + 1
        if cursor is None:
            break
    assert seen == sorted(ids) and pages == 3

    descending = session.get(f"{url}/api/v2/persons", params={"ids": ",".join(map(str, ids)), "sort_direction": "desc"})
    assert [p["id"] for p in descending.json()["data"]] == sorted(ids, reverse=True)

    deleted = session.delete(f"{url}/api/v2/persons/{ids[1]}")
    assert deleted.json() == {"success": True, "data": {"id": ids[1]}}
    gone = session.get(f"{url}/api/v2/persons/{ids[1]}")
    assert gone.status_code == 404
    assert gone.json() == {"success": False, "error": "Entity was not found", "error_info": "Object was not found.",
                           "data": None, "additional_data": None}
    listed = session.get(f"{url}/api/v2/persons", params={"ids": ",".join(map(str, ids))}).json()["data"]
    assert ids[1] not in [p["id"] for p in listed]
    too_big = session.get(f"{url}/api/v2/persons", params={"limit": 501})
    assert too_big.status_code == 400 and too_big.json()["code"] == "ERR_BAD_REQUEST"


def test_concurrent_creates_get_distinct_increasing_ids(api: tuple[str, requests.Session]) -> None:
    url, _ = api

    def create(n: int) -> int:
        with _session() as session:
            return _create_person(url, session, f"Concurrent {n}")["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(64)))
    assert len(set(ids)) == 64 and max(ids) - min(ids) == 63


# ------------------------------------------------------------ custom fields (§4.9, §7.5)
def test_custom_field_created_in_v2_is_usable_and_type_checked(api: tuple[str, requests.Session]) -> None:
    url, session = api
    field = session.post(f"{url}/api/v2/personFields",
                         json={"field_name": "Clinic patient id", "field_type": "varchar"})
    assert field.status_code == 200, field.text
    key = field.json()["data"]["field_code"]
    assert re.fullmatch(r"[0-9a-f]{40}", key) and field.json()["data"]["is_custom_field"] is True
    enum = session.post(f"{url}/api/v2/personFields", json={
        "field_name": "Insurance tier", "field_type": "enum", "options": [{"label": "Basic"}, {"label": "Plus"}]})
    enum_key, options = enum.json()["data"]["field_code"], enum.json()["data"]["options"]
    tags = session.post(f"{url}/api/v2/personFields", json={
        "field_name": "Tags", "field_type": "set", "options": [{"label": "VIP"}, {"label": "Minor"}]}).json()["data"]

    # v1 sees the same key (shared by both views), next to standard fields with edit_flag false.
    v1_fields = session.get(f"{url}/api/v1/personFields", params={"limit": 500}).json()["data"]
    by_key = {item["key"]: item for item in v1_fields}
    assert by_key[key]["name"] == "Clinic patient id" and by_key[key]["edit_flag"] is True
    assert by_key["name"]["edit_flag"] is False

    person = _create_person(url, session, "Grace Field", custom_fields={key: "PAT-0001", enum_key: options[1]["id"]})
    assert person["custom_fields"][key] == "PAT-0001"
    assert person["custom_fields"][enum_key] == options[1]["id"]
    assert person["custom_fields"][tags["field_code"]] is None  # unset custom fields come back as null
    labelled = session.get(f"{url}/api/v2/persons/{person['id']}", params={"include_option_labels": "true"})
    assert labelled.json()["data"]["custom_fields"][enum_key] == {"id": options[1]["id"], "label": "Plus"}

    for bad in ({key: 12345}, {enum_key: "Plus"}, {tags["field_code"]: []}, {"0" * 40: "x"}):
        rejected = session.post(f"{url}/api/v2/persons", json={"name": "Wrong Type", "custom_fields": bad})
        assert rejected.status_code == 400, bad
        assert rejected.json()["success"] is False and rejected.json()["code"] == "ERR_BAD_REQUEST"

    found = session.get(f"{url}/api/v2/itemSearch/field",
                        params={"entity_type": "person", "field": key, "term": "PAT-0001", "match": "exact"})
    assert [item["id"] for item in found.json()["data"]] == [person["id"]]
    case_sensitive = session.get(f"{url}/api/v2/itemSearch/field",
                                 params={"entity_type": "person", "field": key, "term": "pat-0001"})
    assert case_sensitive.json()["data"] == []


def test_person_search_by_email_is_exact_and_case_insensitive(api: tuple[str, requests.Session]) -> None:
    url, session = api
    person = _create_person(url, session, "Search Target", emails=[{"value": "Search.Target@Example.org"}])
    hits = session.get(f"{url}/api/v2/persons/search",
                       params={"term": "search.target@example.org", "fields": "email", "exact_match": "true"})
    items = hits.json()["data"]["items"]
    assert [item["item"]["id"] for item in items] == [person["id"]]
    assert items[0]["item"]["emails"] == ["Search.Target@Example.org"]  # plain strings (§4.1)


# ------------------------------------------------------------ activities, deals (§4.4, §4.5)
def test_activity_person_id_is_rejected_and_participants_set_the_person(api: tuple[str, requests.Session]) -> None:
    url, session = api
    person = _create_person(url, session, "Appointment Patient")
    rejected = session.post(f"{url}/api/v2/activities", json={"subject": "Check-up", "person_id": person["id"]})
    assert rejected.status_code == 400
    assert rejected.json() == {
        "success": False,
        "error": "'person_id' is a read-only field. Add a primary participant to set 'person_id' instead.",
        "code": "ERR_BAD_REQUEST",
    }
    accepted = session.post(f"{url}/api/v2/activities", json={
        "subject": "Check-up", "type": "meeting", "due_date": "2025-03-04", "due_time": "07:30", "duration": "00:45",
        "participants": [{"person_id": person["id"], "primary": True}],
    })
    assert accepted.status_code == 200, accepted.text
    activity = accepted.json()["data"]
    assert activity["person_id"] == person["id"]
    assert activity["participants"] == [{"person_id": person["id"], "primary": True}]
    listed = session.get(f"{url}/api/v2/activities", params={"person_id": person["id"]}).json()["data"]
    assert [item["id"] for item in listed] == [activity["id"]]
    unknown_type = session.post(f"{url}/api/v2/activities", json={"subject": "x", "type": "surgery"})
    assert unknown_type.status_code == 400


def test_deal_won_time_only_with_status_won(api: tuple[str, requests.Session]) -> None:
    url, session = api
    early = session.post(f"{url}/api/v2/deals", json={"title": "Implant plan", "won_time": "2025-01-01T10:00:00Z"})
    assert early.status_code == 400 and "won_time" in early.json()["error"]
    won = session.post(f"{url}/api/v2/deals", json={
        "title": "Implant plan", "value": 1200.5, "currency": "EUR", "status": "won",
        "won_time": "2025-01-01T10:00:00Z"})
    assert won.status_code == 200, won.text
    deal = won.json()["data"]
    assert deal["won_time"] == "2025-01-01T10:00:00Z" and deal["close_time"] == "2025-01-01T10:00:00Z"
    assert deal["origin"] == "API" and deal["pipeline_id"] and deal["stage_id"]
    reopened = session.patch(f"{url}/api/v2/deals/{deal['id']}", json={"status": "open"}).json()["data"]
    assert reopened["won_time"] is None and reopened["status"] == "open"
    bad_status = session.post(f"{url}/api/v2/deals", json={"title": "x", "status": "pending"})
    assert bad_status.status_code == 400


def test_pipeline_and_stage_rules(api: tuple[str, requests.Session]) -> None:
    url, session = api
    pipeline = session.post(f"{url}/api/v2/pipelines", json={"name": "Treatments"}).json()["data"]
    missing = session.post(f"{url}/api/v2/stages", json={"name": "Consult"})
    assert missing.status_code == 400
    first = session.post(f"{url}/api/v2/stages", json={"name": "Consult", "pipeline_id": pipeline["id"]}).json()["data"]
    second = session.post(f"{url}/api/v2/stages", json={"name": "Treat", "pipeline_id": pipeline["id"]}).json()["data"]
    assert (first["order_nr"], second["order_nr"]) == (1, 2)
    stages = session.get(f"{url}/api/v2/stages", params={"pipeline_id": pipeline["id"]}).json()["data"]
    assert [stage["name"] for stage in stages] == ["Consult", "Treat"]
    deal = session.post(f"{url}/api/v2/deals", json={"title": "Braces", "pipeline_id": pipeline["id"]}).json()["data"]
    assert deal["stage_id"] == first["id"]


# -------------------------------------------------------------------- notes (§3, §4.6)
def test_notes_use_v1_offset_pagination(api: tuple[str, requests.Session]) -> None:
    url, session = api
    person = _create_person(url, session, "Noted Patient")
    for n in range(5):
        created = session.post(f"{url}/api/v1/notes", json={
            "content": f"<p>Visit {n}</p>", "person_id": person["id"], "add_time": f"2020-01-0{n + 1} 09:00:00"})
        assert created.status_code == 200, created.text
    note = created.json()["data"]
    assert note["add_time"] == "2020-01-05 09:00:00" and note["person"] == {"name": "Noted Patient"}

    first = session.get(f"{url}/api/v1/notes", params={"person_id": person["id"], "start": 0, "limit": 2}).json()
    assert len(first["data"]) == 2
    assert first["additional_data"]["pagination"] == {"start": 0, "limit": 2, "more_items_in_collection": True,
                                                      "next_start": 2}
    last = session.get(f"{url}/api/v1/notes", params={"person_id": person["id"], "start": 4, "limit": 2}).json()
    assert len(last["data"]) == 1
    assert last["additional_data"]["pagination"]["more_items_in_collection"] is False

    no_target = session.post(f"{url}/api/v1/notes", json={"content": "orphan"})
    assert no_target.status_code == 400 and no_target.json()["data"] is None
    empty = session.get(f"{url}/api/v1/notes", params={"person_id": 999_999}).json()
    assert empty["data"] is None  # v1 returns null for an empty list (§ routes_v1 docstring)


# ------------------------------------------------------------------------- files (§4.7)
def test_file_upload_download_roundtrip_and_size_limit(api: tuple[str, requests.Session]) -> None:
    url, session = api
    person = _create_person(url, session, "Scanned Patient")
    payload = bytes(range(256)) * 8  # 2048 bytes, not valid UTF-8
    uploaded = session.post(f"{url}/api/v1/files", files={"file": ("x-ray.png", payload, "image/png")},
                            data={"person_id": str(person["id"])})
    assert uploaded.status_code == 200, uploaded.text
    info = uploaded.json()["data"]
    assert info["file_size"] == len(payload) and info["person_id"] == person["id"] and info["name"] == "x-ray.png"
    assert info["url"].endswith(f"/v1/files/{info['id']}/download")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info["add_time"])

    downloaded = session.get(f"{url}/api/v1/files/{info['id']}/download")
    assert downloaded.status_code == 200 and downloaded.content == payload
    via_url = session.get(info["url"])
    assert via_url.content == payload
    person_files = session.get(f"{url}/api/v1/persons/{person['id']}/files").json()["data"]
    assert [item["id"] for item in person_files] == [info["id"]]

    too_big = session.post(f"{url}/api/v1/files", files={"file": ("big.pdf", b"\0" * 5000)},
                           data={"person_id": str(person["id"])})
    assert too_big.status_code == 413 and too_big.json()["success"] is False
    no_target = session.post(f"{url}/api/v1/files", files={"file": ("a.txt", b"abc")})
    assert no_target.status_code == 400

    assert session.delete(f"{url}/api/v1/files/{info['id']}").json() == {"success": True, "data": {"id": info["id"]}}
    assert session.get(f"{url}/api/v1/files/{info['id']}").status_code == 404


# ------------------------------------------------------------------------- users (§4.8)
def test_users_me_list_and_find(api: tuple[str, requests.Session]) -> None:
    url, session = api
    me = session.get(f"{url}/api/v1/users/me").json()["data"]
    assert (me["id"], me["is_you"], me["email"]) == (11, True, "admin@clinic.example")
    assert me["company_domain"]
    users = session.get(f"{url}/api/v1/users").json()["data"]
    assert [(u["id"], u["active_flag"]) for u in users] == [(11, True), (12, True), (13, False)]
    found = session.get(f"{url}/api/v1/users/find", params={"term": "grace.hopper@clinic.example",
                                                            "search_by_email": 1}).json()["data"]
    assert [user["id"] for user in found] == [12]
    assert session.get(f"{url}/api/v1/users/find", params={"term": "nobody"}).json()["data"] is None
    types = {item["key_string"] for item in session.get(f"{url}/api/v1/activityTypes").json()["data"]}
    assert {"call", "meeting", "task", "deadline", "email", "lunch"} <= types


# ------------------------------------------------------------------ rate limits (§8)
def test_burst_limit_returns_429_with_headers_and_recovers(tmp_path: Path) -> None:
    clock = ManualClock()  # the window passes on this clock, not by sleeping
    with running_sandbox(tmp_path / "burst.db", TOKEN, burst_limit=4, window_seconds=1.0, clock=clock.monotonic) as url:
        session = _session()
        remaining = []
        for _ in range(4):
            response = session.get(f"{url}/api/v1/users/me")
            assert response.status_code == 200
            assert all(header in response.headers for header in RATE_HEADERS)
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == [3, 2, 1, 0]
        limited = session.post(f"{url}/api/v2/persons", json={"name": "Not Created"})
        assert limited.status_code == 429
        assert limited.json()["error"] == "Request over limit" and limited.json()["success"] is False
        assert limited.headers["x-ratelimit-limit"] == "4" and limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= 1
        clock.advance(int(limited.headers["x-ratelimit-reset"]))
        after = session.get(f"{url}/api/v2/persons")
        assert after.status_code == 200
        assert after.json()["data"] == []  # the refused POST was not executed
        stats = session.get(f"{url}/__sandbox/stats").json()["data"]
        assert stats["rate_limited_429"] == 1


def test_search_has_its_own_lower_burst_limit(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "search.db", TOKEN, burst_limit=50, search_burst_limit=2) as url:
        session = _session()
        statuses = [session.get(f"{url}/api/v2/persons/search", params={"term": "ab"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert session.get(f"{url}/api/v2/persons").status_code == 200


def test_daily_budget_exhaustion_and_token_costs(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "budget.db", TOKEN, daily_budget=30) as url:
        session = _session()
        created = session.post(f"{url}/api/v2/persons", json={"name": "Costly"})
        assert created.headers["x-daily-ratelimit-token-limit"] == "30"
        assert created.headers["x-daily-ratelimit-token-remaining"] == "25"  # POST /api/v2/persons costs 5
        got = session.get(f"{url}/api/v2/persons/{created.json()['data']['id']}")
        assert got.headers["x-daily-ratelimit-token-remaining"] == "24"  # GET by id costs 1
        listed = session.get(f"{url}/api/v1/notes")
        assert listed.headers["x-daily-ratelimit-token-remaining"] == "4"  # GET /api/v1/notes costs 20
        last = session.get(f"{url}/api/v2/persons")  # costs 10: admitted, budget floors at 0
        assert last.status_code == 200 and last.headers["x-daily-ratelimit-token-remaining"] == "0"
        refused = session.get(f"{url}/api/v1/users/me")
        assert refused.status_code == 429
        assert refused.headers["x-daily-ratelimit-token-remaining"] == "0"
        assert session.post(f"{url}/__sandbox/reset-rate-limits").status_code == 200
        assert session.get(f"{url}/api/v1/users/me").status_code == 200


# -------------------------------------------------------------------- persistence
def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "persist.db"
    with running_sandbox(state, TOKEN) as url:
        session = _session()
        key = session.post(f"{url}/api/v2/personFields",
                           json={"field_name": "External id", "field_type": "varchar"}).json()["data"]["field_code"]
        created = session.post(f"{url}/api/v2/persons",
                               json={"name": "Persistent Patient", "custom_fields": {key: "EXT-1"}})
        first, budget_left = created.json()["data"], int(created.headers["x-daily-ratelimit-token-remaining"])
    with running_sandbox(state, TOKEN) as url:
        session = _session()
        fetched = session.get(f"{url}/api/v2/persons/{first['id']}")
        # Today's token spending is part of the account state too (GET by id costs 1).
        assert int(fetched.headers["x-daily-ratelimit-token-remaining"]) == budget_left - 1
        again = fetched.json()["data"]
        assert again["name"] == "Persistent Patient" and again["custom_fields"] == {key: "EXT-1"}
        second = _create_person(url, session, "Next Patient")
        assert second["id"] == first["id"] + 1
        fields = session.get(f"{url}/api/v2/personFields").json()["data"]
        assert [f["field_code"] for f in fields if f["is_custom_field"]] == [key]


def test_custom_field_keys_differ_between_accounts(tmp_path: Path) -> None:
    keys = []
    for name in ("a.db", "b.db"):
        with running_sandbox(tmp_path / name, TOKEN) as url:
            response = _session().post(f"{url}/api/v2/dealFields",
                                       json={"field_name": "Plan id", "field_type": "varchar"})
            keys.append(response.json()["data"]["field_code"])
    assert keys[0] != keys[1]


# ---------------------------------------------------------------- fault injection
def test_injected_503_then_success(api: tuple[str, requests.Session]) -> None:
    url, session = api
    rule = session.post(f"{url}/__sandbox/faults", json={"status": 503, "count": 1, "path_prefix": "/api/v2/persons"})
    assert rule.status_code == 200
    failed = session.get(f"{url}/api/v2/persons")
    assert failed.status_code == 503 and failed.headers["content-type"].startswith("text/html")
    assert session.get(f"{url}/api/v2/persons").status_code == 200
    assert session.get(f"{url}/__sandbox/stats").json()["data"]["faults_injected"] >= 1


def test_dropped_connection_after_n_requests(api: tuple[str, requests.Session]) -> None:
    url, session = api
    session.post(f"{url}/__sandbox/faults", json={"drop_connection": True, "after": 1, "path_prefix": "/v1/users"})
    assert session.get(f"{url}/api/v1/users/me").status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/api/v1/users/me")
    assert session.get(f"{url}/api/v1/users/me").status_code == 200  # the rule is used up
    assert session.delete(f"{url}/__sandbox/faults").status_code == 200


def test_injected_delay_and_429(api: tuple[str, requests.Session]) -> None:
    url, session = api
    session.post(f"{url}/__sandbox/faults", json={"delay_seconds": 0.3, "path_prefix": "/api/v1/currencies"})
    started = time.monotonic()
    assert session.get(f"{url}/api/v1/currencies").status_code == 200
    assert time.monotonic() - started >= 0.3
    session.post(f"{url}/__sandbox/faults", json={"status": 429, "path_prefix": "/api/v1/currencies"})
    limited = session.get(f"{url}/api/v1/currencies")
    assert limited.status_code == 429 and limited.headers["x-ratelimit-remaining"] == "0"
    bad_rule = session.post(f"{url}/__sandbox/faults", json={"count": 1})
    assert bad_rule.status_code == 400


def test_lost_answer_is_executed_then_dropped(api: tuple[str, requests.Session]) -> None:
    """``lose_response``: the create is stored, the client only sees the connection close."""
    url, session = api
    before = session.get(f"{url}/__sandbox/stats").json()["data"]["entities"].get("person", {}).get("active", 0)
    rule = session.post(f"{url}/__sandbox/faults", json={"lose_response": True, "count": 1,
                                                          "path_prefix": "/api/v2/persons", "method": "POST"})
    assert rule.status_code == 200 and rule.json()["data"]["lose_response"] is True
    with pytest.raises(requests.ConnectionError):
        session.post(f"{url}/api/v2/persons", json={"name": "Lost answer"})
    stats = session.get(f"{url}/__sandbox/stats").json()["data"]
    assert stats["entities"]["person"]["active"] == before + 1  # executed although unanswered
    names = [p["name"] for p in session.get(f"{url}/api/v2/persons", params={"limit": 500}).json()["data"]]
    assert names.count("Lost answer") == 1
    for contradictory in ({"lose_response": True, "status": 503}, {"lose_response": True, "drop_connection": True},
                          {"retry_after": 1}, {"lose_response": "yes"}, {"status": 429, "retry_after": -1}):
        assert session.post(f"{url}/__sandbox/faults", json=contradictory).status_code == 400


def test_injected_429_and_error_body_carry_the_rule_wait_and_body(api: tuple[str, requests.Session]) -> None:
    url, session = api
    session.post(f"{url}/__sandbox/faults", json={"status": 429, "retry_after": 0, "count": 2,
                                                  "path_prefix": "/api/v1/currencies"})
    for _ in range(2):
        limited = session.get(f"{url}/api/v1/currencies")
        assert limited.status_code == 429 and limited.headers["x-ratelimit-reset"] == "0"
    echo = {"success": False, "error": "Validation failed for name 'Jane'", "code": "ERR_BAD_REQUEST"}
    session.post(f"{url}/__sandbox/faults", json={"status": 400, "body": echo, "path_prefix": "/api/v1/currencies"})
    refused = session.get(f"{url}/api/v1/currencies")
    assert refused.status_code == 400 and refused.json() == echo
    assert session.get(f"{url}/api/v1/currencies").status_code == 200
    # echo: the vendor's error shape quoting the request body and its credential header
    session.post(f"{url}/__sandbox/faults", json={"status": 400, "echo": True, "path_prefix": "/api/v2/persons"})
    quoted = session.post(f"{url}/api/v2/persons", json={"name": "Echo Patient"})
    assert quoted.status_code == 400 and quoted.json()["code"] == "ERR_BAD_REQUEST"
    assert '"name": "Echo Patient"' in quoted.json()["error"] and "x-api-token: " in quoted.json()["error"]
    assert session.post(f"{url}/__sandbox/faults", json={"echo": True}).status_code == 400  # needs a status


# ------------------------------------------------------------ OpenAPI validation (§1)
def test_openapi_validation_rejects_what_the_vendor_schema_rejects(api: tuple[str, requests.Session]) -> None:
    url, session = api
    secret = "PHI-Jane-Doe-1970"
    wrong_number = session.post(f"{url}/api/v2/persons", json={"name": secret, "owner_id": "11"})
    assert wrong_number.status_code == 400
    assert wrong_number.json()["code"] == "ERR_BAD_REQUEST" and "owner_id" in wrong_number.json()["error"]
    wrong_bool = session.post(f"{url}/api/v2/persons",
                              json={"name": "X", "emails": [{"value": secret, "primary": 1}]})
    assert wrong_bool.status_code == 400 and "primary" in wrong_bool.json()["error"]
    assert secret not in wrong_bool.text and secret not in wrong_number.text  # never echo values
    missing_title = session.post(f"{url}/api/v2/deals", json={"value": 10})
    assert missing_title.status_code == 400 and "title" in missing_title.json()["error"]
    bad_query = session.get(f"{url}/api/v2/persons", params={"limit": "lots"})
    assert bad_query.status_code == 400
    bad_date = session.post(f"{url}/api/v2/deals", json={"title": "x", "expected_close_date": "31/12/2025"})
    assert bad_date.status_code == 400
    v1_flag = session.post(f"{url}/api/v1/notes", json={"content": "x", "person_id": 1, "pinned_to_person_flag": True})
    assert v1_flag.status_code == 400
    assert set(v1_flag.json()) == {"success", "error", "error_info", "data", "additional_data"}
    csv_enum = session.get(f"{url}/api/v2/persons/search", params={"term": "ab", "fields": "email,name"})
    assert csv_enum.status_code == 200  # comma-separated enum parameters are validated item by item


def test_every_route_is_a_documented_vendor_operation_with_a_token_cost() -> None:
    validators = bundled_validators()
    for op in all_operations():
        assert validators[op.api].has_operation(op.method, op.spec_path), op.path
        assert isinstance(validators[op.api].operation_extension(op.method, op.spec_path, "x-token-cost"), int)


def test_validator_helper_by_operation() -> None:
    validator = OpenAPIRequestValidator(load_openapi_document(str(SPEC_FILES["v1"])))
    assert validator.validate_form("POST", "/files", {"file": b"", "person_id": "12"}) == []
    problems = validator.validate_form("POST", "/files", {"file": b"", "person_id": "twelve"})
    assert [(p.location, p.name) for p in problems] == [("body", "person_id")]
    problems = validator.validate("GET", "/files", query=ImmutableMultiDict({"limit": "500"}))
    assert problems and problems[0].name == "limit"
    assert validator.operation_extension("GET", "/users/me", "x-token-cost") == 2
