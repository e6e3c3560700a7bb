"""HighLevelClient against the real HTTP HighLevel sandbox (``flit_sandboxes.highlevel``).

Each test starts its own sandbox (uvicorn on a free port, state in ``tmp_path``) so rate windows,
budgets and faults never leak between tests. Functional tests use a high burst limit; the rate
limit tests use a small one (10 per 2 s) so that they run in seconds, and the client learns it
from ``X-RateLimit-Max`` / ``X-RateLimit-Interval-Milliseconds``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flit_pipelines.destinations.highlevel.client import HighLevelClient, path_template, version_for
from flit_pipelines.destinations.highlevel.errors import (
    DailyBudgetExhausted,
    HighLevelError,
    HighLevelTransportError,
)
from flit_sandboxes.highlevel import running_sandbox
from flit_pipelines_tests.destinations.helpers import sandbox_factory

TOKEN = "test-token"
LOCATION = "loc_sandbox"
FAST = {"burst_limit": 10_000}
PATIENT_EMAIL = "ann.patient-7f3a@example.test"


sandbox = sandbox_factory(running_sandbox, token=TOKEN)


@pytest.fixture
def fast(sandbox):
    base = sandbox(**FAST)
    with HighLevelClient(base, TOKEN, location_id=LOCATION) as client:
        yield base, client


def admin(base: str, method: str, path: str, **kwargs) -> dict:
    resp = requests.request(method, f"{base}/__sandbox/{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=10, **kwargs)
    resp.raise_for_status()
    return resp.json()["data"]


def add_fault(base: str, **spec) -> None:
    admin(base, "POST", "faults", json=spec)


def op_count(base: str, operation: str) -> int:
    return admin(base, "GET", "stats")["requests_by_operation"].get(operation, 0)


def capture_requests(client: HighLevelClient) -> list[requests.PreparedRequest]:
    """Every request the client's session sends (observation only, via a response hook)."""
    seen: list[requests.PreparedRequest] = []
    client._session.hooks["response"].append(lambda resp, *a, **kw: seen.append(resp.request))
    return seen


# ------------------------------------------------------------------------- headers and auth


def test_path_template_and_version_families():
    assert path_template("/contacts/aB3dE5gH7jK9mN1pQ3sT/notes/x1?locationId=L") == "/contacts/{id}/notes/{id}"
    assert path_template("/locations/loc_sandbox/customFields") == "/locations/{id}/customFields"
    assert path_template("/objects/custom_objects.plans/records/r1") == "/objects/{id}/records/{id}"
    assert version_for("/calendars/events/appointments") == "2021-04-15"
    assert version_for("/calendars/") == "2021-04-15"
    for path in ("/contacts/", "/users/", "/objects/", "/opportunities/pipelines", "/forms/upload-custom-files"):
        assert version_for(path) == "2021-07-28"


def test_bearer_and_version_header_per_family(fast):
    base, client = fast
    seen = capture_requests(client)
    contact = client.create_contact({"firstName": "Ann"})
    client.update_contact(contact["id"], {"lastName": "Patient"})
    calendar = client.create_calendar({"name": "Cal"})
    event = client.create_appointment({"calendarId": calendar["id"], "contactId": contact["id"],
                                       "startTime": "2024-01-15T09:30:00-06:00", "ignoreFreeSlotValidation": True})
    assert client.get_appointment(event["id"])["startTime"] == "2024-01-15T09:30:00-06:00"
    versions = {(r.method, path_template(r.path_url)): r.headers["Version"] for r in seen}
    assert versions == {
        ("POST", "/contacts/"): "2021-07-28",
        ("PUT", "/contacts/{id}"): "2021-07-28",
        ("POST", "/calendars/"): "2021-04-15",
        ("POST", "/calendars/events/appointments"): "2021-04-15",
        ("GET", "/calendars/events/appointments/{id}"): "2021-04-15",
    }
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    # locationId travels in create bodies, never in update bodies (UpdateContactDto has none)
    create, update = seen[0], seen[1]
    assert b'"locationId": "loc_sandbox"' in create.body and b"locationId" not in update.body


def test_401_is_reported_with_the_vendor_message_and_never_the_token(sandbox):
    base = sandbox(**FAST)
    secret = "pit-SECRET-0123456789"
    with HighLevelClient(base, secret, location_id=LOCATION) as client:
        with pytest.raises(HighLevelError) as info:
            client.list_users()
    exc = info.value
    assert exc.status == 401 and exc.message == "Invalid token: access token is invalid"
    assert str(exc) == "HighLevel 401 on GET /users/: Invalid token: access token is invalid"
    assert secret not in str(exc) and secret not in repr(client)


def test_errors_carry_template_and_vendor_message_but_no_values(fast):
    base, client = fast
    first = client.create_contact({"firstName": "Ann", "lastName": "Patient", "email": PATIENT_EMAIL})
    with pytest.raises(HighLevelError) as info:  # the location disallows duplicates (sandbox default)
        client.create_contact({"firstName": "Bo", "lastName": "Patient", "email": PATIENT_EMAIL})
    exc = info.value
    assert exc.status == 400 and exc.is_duplicate_contact
    assert exc.meta == {"contactId": first["id"], "matchingField": "email"}  # contactName dropped
    assert "Patient" not in str(exc) and PATIENT_EMAIL not in str(exc)
    assert str(exc) == "HighLevel 400 on POST /contacts/: This location does not allow duplicated contacts."
    with pytest.raises(HighLevelError) as info:
        client.update_contact(first["id"], {"email": PATIENT_EMAIL, "locationId": LOCATION})
    assert info.value.status == 422 and "property locationId should not exist" in info.value.message
    assert client.get_contact("doesNotExist00000000") is None
    assert client.delete_contact(first["id"]) is True and client.delete_contact(first["id"]) is False


def test_contact_search_pages_with_search_after(fast):
    base, client = fast
    field = client.create_custom_field({"name": "Flit Source Key", "dataType": "TEXT", "model": "contact"})
    for i in range(23):
        client.create_contact({"firstName": f"P{i}", "customFields": [{"id": field["id"], "field_value": f"t:{i}"}]})
    client.create_contact({"firstName": "Unkeyed"})
    found = list(client.search_contacts([{"field": f"customFields.{field['id']}", "operator": "exists"}], page_limit=5))
    assert sorted(c["firstName"] for c in found) == sorted(f"P{i}" for i in range(23))
    assert op_count(base, "POST /contacts/search") == 5  # 5+5+5+5+3
    exact = list(client.search_contacts([{"field": f"customFields.{field['id']}", "operator": "eq", "value": "t:7"}]))
    assert [c["firstName"] for c in exact] == ["P7"]


# ------------------------------------------------------------------------- rate limits


def test_concurrent_load_lands_every_record_with_few_429s(sandbox):
    """60 creates from 6 threads against 10 requests / 2 s: the client adopts the server's limit
    from the headers after the first answers; every record lands and 429s stay a small share."""
    base = sandbox(burst_limit=10, window_seconds=2.0)
    with HighLevelClient(base, TOKEN, location_id=LOCATION, pool_size=6) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            ids = list(pool.map(lambda i: client.create_contact({"firstName": f"R{i}"})["id"], range(60)))
        elapsed = time.monotonic() - started
        stats = client.stats.snapshot()
        assert len(set(ids)) == 60
        assert client.limiter.limit == 10 and client.limiter.window_seconds == 2.0
        assert stats["burst_limit"] == 10 and stats["window_ms"] == 2000
        assert stats["responses_429"] <= 6  # only before the first header arrived (client starts at 100/10 s)
        assert stats["requests"] == 60 + stats["responses_429"] + 0
        assert stats["retries"] == stats["responses_429"]
    server = admin(base, "GET", "stats")
    assert server["rate_limited_429"] == stats["responses_429"]
    assert server["documents"]["contact"] == 60
    # 60 requests at 10 per 2 s need at least 5 full windows after the first burst
    assert elapsed >= 9.0


def test_remaining_zero_from_foreign_traffic_pauses_all_threads(sandbox):
    """Another client uses 9 of the 10 slots: our first answer says X-RateLimit-Remaining 0 although
    we sent one request, so the client waits a window instead of running into 429s."""
    base = sandbox(burst_limit=10, window_seconds=2.0)
    other = requests.Session()
    other.headers.update({"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"})
    with HighLevelClient(base, TOKEN, location_id=LOCATION, burst_limit=10, window_seconds=2.0) as client:
        for _ in range(9):
            assert other.get(f"{base}/users/", params={"locationId": LOCATION}, timeout=10).status_code == 200
        client.list_users()
        started = time.monotonic()
        client.list_users()
        waited = time.monotonic() - started
        assert waited >= 1.5
        assert client.stats.responses_429 == 0
    other.close()


def test_429_is_retried_even_for_post_and_the_record_is_created_once(fast):
    base, client = fast
    add_fault(base, status=429, count=2, path_prefix="/contacts/", method="POST")
    contact = client.create_contact({"firstName": "Retried"})
    assert client.stats.responses_429 == 2 and client.stats.retries == 2
    assert admin(base, "GET", "stats")["documents"]["contact"] == 1
    assert client.get_contact(contact["id"])["firstName"] == "Retried"


def test_daily_floor_stops_before_sending(sandbox):
    base = sandbox(daily_limit=20, **FAST)
    with HighLevelClient(base, TOKEN, location_id=LOCATION, daily_floor=15) as client:
        sent = 0
        with pytest.raises(DailyBudgetExhausted) as info:
            for _ in range(20):
                client.list_users()
                sent += 1
        assert sent == 5 and info.value.remaining == 15 and info.value.status == 0
        assert client.stats.requests == 5  # the 6th was never sent
    assert admin(base, "GET", "stats")["rate_limits"]["daily_remaining"] == 15


# ------------------------------------------------------------------------- retry policy


def test_5xx_is_retried_for_get_but_not_for_post(fast):
    base, client = fast
    add_fault(base, status=503, count=2, path_prefix="/users/", method="GET")
    assert client.list_users()[0]["email"] == "admin@sandbox.example"
    assert client.stats.retries == 2 and client.stats.responses_5xx == 2

    add_fault(base, status=502, count=1, path_prefix="/contacts/", method="POST")
    with pytest.raises(HighLevelTransportError) as info:
        client.create_contact({"firstName": "Once"})
    assert info.value.status == 502 and info.value.sent
    assert client.stats.retries == 2  # unchanged: a create is never repeated blindly
    assert op_count(base, "POST /contacts/") == 1


def test_dropped_connection_retries_get_but_not_post(fast):
    base, client = fast
    add_fault(base, drop_connection=True, count=1, path_prefix="/users/")
    assert client.list_users()
    assert client.stats.retries == 1 and client.stats.transport_errors == 1
    add_fault(base, drop_connection=True, count=1, path_prefix="/contacts/", method="POST")
    with pytest.raises(HighLevelTransportError) as info:
        client.create_contact({"firstName": "Dropped"})
    assert info.value.status == 0 and info.value.sent
    assert client.stats.retries == 1
    assert op_count(base, "POST /contacts/") == 1


def test_read_timeout_on_post_is_not_resent_although_the_server_executes_it(sandbox):
    base = sandbox(**FAST)
    with HighLevelClient(base, TOKEN, location_id=LOCATION, timeout=0.5) as client:
        add_fault(base, delay_seconds=1.0, count=1, path_prefix="/contacts/", method="POST")
        with pytest.raises(HighLevelTransportError) as info:
            client.create_contact({"firstName": "Maybe"})
        assert "Timeout" in info.value.message and client.stats.retries == 0
        time.sleep(1.0)  # let the delayed request finish on the server
        assert op_count(base, "POST /contacts/") == 1  # sent once, never repeated
        # (this sandbox drops a request whose client hung up during the delay; the destination
        # tests put a proxy in front that lets the create execute and then loses the answer)
        assert admin(base, "GET", "stats")["documents"].get("contact", 0) <= 1

        add_fault(base, delay_seconds=1.0, count=1, path_prefix="/users/", method="GET")
        assert client.list_users()  # an idempotent read is simply repeated
        assert client.stats.retries == 1


def test_client_is_thread_safe_under_concurrent_reads_and_writes(fast):
    base, client = fast
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            contact = client.create_contact({"firstName": f"T{i}"})
            client.update_contact(contact["id"], {"lastName": "X"})
            assert client.get_contact(contact["id"])["lastName"] == "X"
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.stats.requests == 48
