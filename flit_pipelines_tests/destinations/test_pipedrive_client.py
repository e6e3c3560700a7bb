"""PipedriveClient against the real HTTP sandbox (``flit_sandboxes.pipedrive``).

Each test starts its own sandbox (a uvicorn server on a free port, state in ``tmp_path``) so rate
windows, budgets and faults never leak between tests. Functional tests use a high burst limit
so they run fast; the client learns it from ``x-ratelimit-limit`` after the first response.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flit_pipelines.destinations.pipedrive.client import FieldRef, PipedriveClient
from flit_pipelines.destinations.pipedrive.errors import (
    DailyBudgetExhausted,
    FieldTypeConflict,
    PipedriveError,
    PipedriveTransportError,
)
from flit_pipelines.http.errors import PatienceExhausted
from flit_pipelines.http.patience import Patience
from flit_pipelines.http.rate_limit import RateLimiter
from flit_sandboxes.pipedrive import running_sandbox
from flit_pipelines_tests.destinations.helpers import sandbox_factory
from flit_pipelines_tests.http_layer.clock import ManualClock

TOKEN = "test-token"
FAST = {"burst_limit": 1000, "search_burst_limit": 1000}
SENTINEL = "SENTINEL-7f3a9c"


sandbox = sandbox_factory(running_sandbox, token=TOKEN, suffix=".sqlite")


@pytest.fixture
def fast(sandbox):
    """A high-limit sandbox and a client on it."""
    base = sandbox(**FAST)
    with PipedriveClient(base, TOKEN) as client:
        yield base, client


def admin(base: str, method: str, path: str, **kwargs) -> dict:
    resp = requests.request(method, f"{base}/__sandbox/{path}", headers={"x-api-token": TOKEN}, timeout=10, **kwargs)
    resp.raise_for_status()
    return resp.json()["data"]


def add_fault(base: str, **spec) -> None:
    admin(base, "POST", "faults", json=spec)


def sandbox_stats(base: str) -> dict:
    return admin(base, "GET", "stats")


def post_count(base: str, template: str) -> int:
    return sandbox_stats(base)["requests_by_operation"].get(f"POST {template}", 0)


# ---------------------------------------------------------------------------------- CRUD / paging


def test_person_crud_and_v2_paging(fast):
    base, client = fast
    created = [client.create("person", {"name": f"Patient {i}", "emails": [{"value": f"p{i}@x.test"}]}) for i in range(7)]
    ids = [p["id"] for p in created]
    assert [p["name"] for p in created] == [f"Patient {i}" for i in range(7)]
    assert client.stats.burst_limit == 1000  # adapted from x-ratelimit-limit

    updated = client.update("person", ids[0], {"name": "Renamed"})
    assert updated["name"] == "Renamed"
    got = client.get("person", ids[0])
    assert got["name"] == "Renamed" and got["emails"][0]["value"] == "p0@x.test"
    assert client.get("person", 999_999) is None

    before = client.stats.requests
    listed = list(client.iter_v2("/api/v2/persons", page_size=3))
    assert client.stats.requests - before == 3  # 3 + 3 + 1 items
    assert [p["id"] for p in listed] == ids
    assert [p["id"] for p in client.list("person")] == ids

    assert client.delete("person", ids[1]) is True
    assert client.delete("person", ids[1]) is False  # already gone
    assert ids[1] not in [p["id"] for p in client.list("person")]

    many = client.get_many("person", [ids[3], ids[2], ids[3], ids[1], 999_999])
    assert [p["id"] for p in many] == [ids[3], ids[2]]


def test_get_many_chunks_ids_by_100(fast):
    base, client = fast
    ids = [client.create("organization", {"name": f"Clinic {i}"})["id"] for i in range(105)]
    before = post_count(base, "/api/v2/organizations")
    got = client.get_many("organization", ids)
    assert [o["id"] for o in got] == ids
    ops = sandbox_stats(base)["requests_by_operation"]
    assert ops["GET /api/v2/organizations"] == 2  # two chunks: 100 + 5
    assert post_count(base, "/api/v2/organizations") == before


def test_notes_v1_offset_paging_and_put(fast):
    base, client = fast
    person = client.create("person", {"name": "Noted"})
    notes = [client.create("note", {"content": f"<p>note {i}</p>", "person_id": person["id"]}) for i in range(5)]
    before = client.stats.requests
    listed = list(client.iter_v1("/api/v1/notes", {"person_id": person["id"]}, page_size=2))
    assert client.stats.requests - before == 3  # 2 + 2 + 1
    assert sorted(n["id"] for n in listed) == sorted(n["id"] for n in notes)
    assert sorted(n["content"] for n in client.list("note", person_id=person["id"])) == [f"<p>note {i}</p>" for i in range(5)]

    edited = client.update("note", notes[0]["id"], {"content": "<p>edited</p>"})
    assert edited["content"] == "<p>edited</p>"
    assert [n["id"] for n in client.get_many("note", [notes[1]["id"], notes[0]["id"]])] == [notes[1]["id"], notes[0]["id"]]
    assert client.delete("note", notes[4]["id"]) is True
    assert client.get("note", notes[4]["id"]) is None


def test_get_many_notes_reads_the_listing_then_the_rest_by_id(fast, monkeypatch):
    """v1 notes have no ids= filter: 60 wanted notes cost the listing's pages within the budget (one
    page per 10 wanted), the same items as get() per id, in the order asked; a deleted note and an
    unknown id are left out, and ids the budget did not reach are read one by one."""
    base, client = fast
    person = client.create("person", {"name": "Noted"})
    notes = [client.create("note", {"content": f"<p>note {i}</p>", "person_id": person["id"]})["id"]
             for i in range(60)]
    assert client.delete("note", notes[7]) is True
    wanted = list(reversed(notes)) + [999_999]
    ops_before = sandbox_stats(base)["requests_by_operation"]
    got = client.get_many("note", wanted)
    ops = sandbox_stats(base)["requests_by_operation"]
    assert [n["id"] for n in got] == [i for i in reversed(notes) if i != notes[7]]
    assert got[-1] == client.get("note", notes[0])  # listed items are the items get() returns
    assert ops["GET /api/v1/notes"] - ops_before.get("GET /api/v1/notes", 0) == 1  # one page of 500
    # the deleted note and the unknown id were not listed: each read by id (404)
    assert ops["GET /api/v1/notes/{id}"] - ops_before.get("GET /api/v1/notes/{id}", 0) == 2

    # a budget of 2 pages of 2 items (20 wanted): what those 4 listed items hold, the rest by id
    import dataclasses
    import itertools

    from flit_pipelines.destinations.pipedrive import client as client_module

    monkeypatch.setitem(client_module._ENTITIES, "note", dataclasses.replace(client_module._ENTITIES["note"], max_page=2))
    first_four = {n["id"] for n in itertools.islice(client.iter_v1("/api/v1/notes", {}, page_size=2), 4)}
    some = notes[:20]
    before = client.stats.requests
    assert [n["id"] for n in client.get_many("note", some)] == [i for i in some if i != notes[7]]
    assert client.stats.requests - before == 2 + len(set(some) - first_four)


def test_list_users(sandbox):
    users = [
        {"id": 7, "name": "Dr Tamm", "email": "tamm@clinic.test", "active_flag": True},
        {"id": 9, "name": "Nurse Kask", "email": "kask@clinic.test", "active_flag": False},
    ]
    with PipedriveClient(sandbox(users=users, **FAST), TOKEN) as client:
        got = {u["id"]: (u["email"], u["active_flag"]) for u in client.list_users()}
    assert got == {7: ("tamm@clinic.test", True), 9: ("kask@clinic.test", False)}


# ---------------------------------------------------------------------------------- custom fields


def test_ensure_custom_field_is_idempotent(fast):
    base, client = fast
    ref = client.ensure_custom_field("person", "Clinic patient id", "varchar")
    assert re.fullmatch(r"[0-9a-f]{40}", ref.key)
    assert ref == FieldRef(ref.key, "Clinic patient id", "varchar", {})

    status = client.ensure_custom_field("person", "Patient status", "enum", ["active", "inactive"])
    assert set(status.options) == {"active", "inactive"} and all(isinstance(v, int) for v in status.options.values())

    creates = post_count(base, "/api/v2/personFields")
    assert creates == 2
    assert client.ensure_custom_field("person", "Clinic patient id", "varchar") == ref
    assert client.ensure_custom_field("person", "Patient status", "enum", ["inactive", "active"]) == status
    assert post_count(base, "/api/v2/personFields") == creates  # nothing created the second time

    grown = client.ensure_custom_field("person", "Patient status", "enum", ["active", "deceased"])
    assert grown.key == status.key
    assert grown.options["active"] == status.options["active"] and grown.options["inactive"] == status.options["inactive"]
    assert "deceased" in grown.options
    assert post_count(base, "/api/v2/personFields") == creates
    assert [f for f in client.list_fields("person") if f["field_name"] == "Patient status"][0]["field_code"] == status.key

    # The same name on another entity is another field with another random key.
    deal_ref = client.ensure_custom_field("deal", "Clinic patient id", "varchar")
    assert deal_ref.key != ref.key


def test_ensure_custom_field_type_conflict(fast):
    _, client = fast
    client.ensure_custom_field("person", "Referral source", "varchar")
    with pytest.raises(FieldTypeConflict) as info:
        client.ensure_custom_field("person", "Referral source", "enum", ["web"])
    assert isinstance(info.value, PipedriveError)
    assert "Referral source" in str(info.value) and "varchar" in str(info.value)


def test_search_field_exact_match(fast):
    _, client = fast
    ref = client.ensure_custom_field("person", "Clinic patient id", "varchar")
    a = client.create("person", {"name": "A", "custom_fields": {ref.key: "P-0001"}})
    client.create("person", {"name": "B", "custom_fields": {ref.key: "P-0002"}})
    assert client.search_field("person", ref.key, "P-0001") == [a["id"]]
    assert client.search_field("person", ref.key, "p-0001") == []  # case-sensitive
    assert client.search_field("person", ref.key, "P-9999") == []


# ---------------------------------------------------------------------------------- pipelines


def test_ensure_pipeline_and_stage_idempotent(fast):
    base, client = fast
    pid = client.ensure_pipeline("Treatment plans")
    assert client.ensure_pipeline("Treatment plans") == pid
    assert client.ensure_pipeline("Pipeline") != pid  # the seeded default is found, not duplicated
    s1 = client.ensure_stage(pid, "Planned", order_nr=1)
    s2 = client.ensure_stage(pid, "In treatment", order_nr=2)
    assert s1 != s2
    assert client.ensure_stage(pid, "Planned") == s1
    assert client.ensure_stage(pid, "In treatment") == s2
    assert post_count(base, "/api/v2/pipelines") == 1
    assert post_count(base, "/api/v2/stages") == 2
    stages = {s["name"]: s for s in client.list("stage", pipeline_id=pid)}
    assert set(stages) == {"Planned", "In treatment"} and stages["Planned"]["pipeline_id"] == pid


# ---------------------------------------------------------------------------------- files


def test_file_upload_download_round_trip(fast):
    _, client = fast
    person = client.create("person", {"name": "Has scan"})
    content = bytes(range(256)) * 40 + "õäöü".encode()
    meta = client.upload_file(file_name="scan õ.pdf", content=content, person_id=person["id"], content_type="application/pdf")
    assert meta["person_id"] == person["id"] and meta["file_size"] == len(content)
    assert client.download_file(meta["id"]) == content
    assert client.get("file", meta["id"])["id"] == meta["id"]
    assert [f["id"] for f in client.list("file")] == [meta["id"]]
    with pytest.raises(ValueError):
        client.upload_file(file_name="x", content=b"x")


# ---------------------------------------------------------------------------------- rate limits


def test_threads_stay_under_burst_limit(sandbox):
    """8 workers x 60 creates on a 20-per-2-s plan: every create lands, near-zero 429s."""
    base = sandbox(burst_limit=20, window_seconds=2.0)
    threads, per_thread, limit, window = 8, 60, 20, 2.0
    with PipedriveClient(base, TOKEN, pool_size=threads) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            ids = list(pool.map(lambda i: client.create("person", {"name": f"Bulk {i}"})["id"], range(threads * per_thread)))
        elapsed = time.monotonic() - started
        stats = client.stats.snapshot()
    achieved, allowed = len(ids) / elapsed, limit / window
    server = sandbox_stats(base)
    print(f"\nburst test: {len(ids)} creates in {elapsed:.1f}s = {achieved:.2f}/s "
          f"({achieved / allowed:.0%} of {allowed:.0f}/s); client 429s={stats['responses_429']}, "
          f"server 429s={server['rate_limited_429']}")
    assert len(set(ids)) == threads * per_thread
    assert server["entities"]["person"]["active"] == threads * per_thread
    assert stats["responses_429"] <= 2 and server["rate_limited_429"] <= 2
    # the achieved share of the allowed rate is a speed figure: benchmarks/load_persons.py measures it


def test_limiter_rebuild_keeps_the_current_window():
    """Lowering the limit must not forget the slots already taken in this window (no HTTP)."""
    clock = ManualClock()  # waits advance the clock instead of sleeping
    limiter = RateLimiter(100, 0.4, safety_ms=0, clock=clock)
    try:
        for _ in range(5):
            limiter.acquire()
        assert limiter.set_limit(5) is True and limiter.set_limit(5) is False
        started = clock.monotonic()
        limiter.acquire()  # the 6th must wait for the oldest of the 5 to leave the window
        assert clock.monotonic() - started >= 0.3
        limiter.pause(0.3)
        started = clock.monotonic()
        limiter.acquire()
        assert clock.monotonic() - started >= 0.29
    finally:
        limiter.close()


def test_limit_adapts_down_to_server_header(sandbox):
    """A client configured too high (1000) learns the plan's 20 from the first response."""
    base = sandbox(burst_limit=20, window_seconds=1.0)
    with PipedriveClient(base, TOKEN, burst_limit=1000, window_seconds=1.0) as client:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: client.create("person", {"name": f"Adapt {i}"}), range(48)))
        assert client.stats.burst_limit == 20
        assert client.stats.responses_429 <= 2
    assert sandbox_stats(base)["entities"]["person"]["active"] == 48


def test_429_fault_is_retried(sandbox):
    base = sandbox(window_seconds=1.0, **FAST)  # x-ratelimit-reset is whole seconds: 1 here
    clock = ManualClock()  # the wait is asked of the clock, not slept
    client = PipedriveClient(base, TOKEN, window_seconds=1.0, clock=clock)
    client.get("person", 1)  # learn the sandbox's limit first
    add_fault(base, status=429, count=1, path_prefix="/api/v2/persons", method="POST")
    started = clock.monotonic()
    person = client.create("person", {"name": "After 429"})  # POST: retried on 429 (not executed)
    assert clock.monotonic() - started >= 1.0  # waited x-ratelimit-reset (>= 1 s in the sandbox)
    assert client.stats.responses_429 == 1 and client.stats.retries == 1
    assert [p["name"] for p in client.list("person")] == ["After 429"]  # no duplicate
    assert person["name"] == "After 429"
    client.close()


def test_429_storm_is_waited_out_without_a_retry_count_until_the_patience_is_spent(sandbox):
    """Twenty 429s in a row on one create, each asking for 2 s (x-ratelimit-reset): the client waits
    40 s (on a manual clock) and lands the record; the next storm would take the wave past its 60 s
    patience, so it stops with PatienceExhausted instead, having sent nothing twice."""
    base = sandbox(**FAST)
    clock = ManualClock()
    patience = Patience(60.0, setting="destination.settings.rate_limit_patience_seconds", who="Pipedrive")
    with PipedriveClient(base, TOKEN, clock=clock, patience=patience, max_retries=2) as client:
        client.get("person", 1)
        add_fault(base, status=429, retry_after=2, count=20, path_prefix="/api/v2/persons", method="POST")
        assert client.create("person", {"name": "Stormy"})["name"] == "Stormy"
        assert client.stats.responses_429 == 20 and client.stats.retries == 20
        assert patience.spent == pytest.approx(40.0) and clock.total_slept == pytest.approx(40.0)
        assert client.stats.rate_limit_wait_seconds == pytest.approx(40.0)
        add_fault(base, status=429, retry_after=2, count=20, path_prefix="/api/v2/persons", method="POST")
        with pytest.raises(PatienceExhausted) as info:
            client.create("person", {"name": "Second"})
        assert "rate_limit_patience_seconds" in str(info.value) and info.value.spent == pytest.approx(60.0)
        assert [p["name"] for p in client.list("person")] == ["Stormy"]


def test_503_fault_is_retried(fast):
    base, client = fast
    pid = client.create("person", {"name": "Flaky"})["id"]
    add_fault(base, status=503, count=1, path_prefix="/api/v2/persons")  # Cloudflare-style HTML body
    assert client.update("person", pid, {"name": "Steady"})["name"] == "Steady"
    assert client.stats.responses_5xx == 1 and client.stats.retries == 1


def test_503_on_post_is_not_retried(fast):
    base, client = fast
    add_fault(base, status=503, count=1, path_prefix="/api/v2/persons", method="POST")
    with pytest.raises(PipedriveTransportError) as info:
        client.create("person", {"name": SENTINEL})
    assert info.value.status == 503 and "non-JSON" in info.value.error
    assert client.stats.retries == 0


def test_cloudflare_html_403_is_not_retried(fast):
    base, client = fast
    add_fault(base, status=403, count=1, path_prefix="/api/v2/persons")
    with pytest.raises(PipedriveError) as info:
        client.get("person", 1)
    assert info.value.status == 403 and info.value.error == "non-JSON response (text/html)"
    assert client.stats.retries == 0


def test_dropped_connection_on_post_is_not_resent(fast):
    base, client = fast
    client.get("person", 1)
    add_fault(base, drop_connection=True, count=1, path_prefix="/api/v2/persons", method="POST")
    requests_before = client.stats.requests
    with pytest.raises(PipedriveTransportError) as info:
        client.create("person", {"name": SENTINEL})
    exc = info.value
    assert exc.status == 0 and exc.sent is True and exc.path == "/api/v2/persons"
    assert client.stats.requests == requests_before + 1 and client.stats.retries == 0
    assert sandbox_stats(base)["faults_injected"] == 1
    assert list(client.list("person")) == []  # the sandbox dropped it before executing; no resend
    assert SENTINEL not in str(exc)


def test_dropped_connection_on_get_is_retried(fast):
    base, client = fast
    pid = client.create("person", {"name": "Reachable"})["id"]
    add_fault(base, drop_connection=True, count=1, path_prefix="/api/v2/persons")
    assert client.get("person", pid)["name"] == "Reachable"
    assert client.stats.retries == 1


def test_read_timeout_retries_get_but_not_post(sandbox):
    """A timed-out POST may still be executed by the server: the client must not send it again."""
    base = sandbox(**FAST)
    with PipedriveClient(base, TOKEN, timeout=0.5) as client:
        pid = client.create("person", {"name": "Slow"})["id"]
        add_fault(base, delay_seconds=1.0, count=1, path_prefix="/api/v2/persons", method="GET")
        assert client.get("person", pid)["name"] == "Slow"
        assert client.stats.retries == 1

        add_fault(base, delay_seconds=1.0, count=1, path_prefix="/api/v2/persons", method="POST")
        with pytest.raises(PipedriveTransportError) as info:
            client.create("person", {"name": "Maybe created"})
        assert info.value.status == 0 and info.value.sent and "Timeout" in info.value.error
        assert client.stats.retries == 1
        time.sleep(1.0)  # the server finishes the delayed request on its own
        names = [p["name"] for p in client.list("person")]
    assert names.count("Maybe created") <= 1 and post_count(base, "/api/v2/persons") == 2


def test_daily_budget_floor_stops_before_sending(sandbox):
    base = sandbox(daily_budget=40, **FAST)  # addPerson costs 5 tokens
    with PipedriveClient(base, TOKEN, daily_token_floor=10) as client:
        created = 0
        with pytest.raises(DailyBudgetExhausted) as info:
            for i in range(20):
                client.create("person", {"name": f"Budget {i}"})
                created += 1
        assert created == 6  # 40 - 6 * 5 = 10 <= floor: the 7th is never sent
        assert info.value.remaining == 10 and info.value.status == 0
        assert client.stats.tokens_remaining == 10
    server = sandbox_stats(base)
    assert server["entities"]["person"]["active"] == 6 and server["rate_limited_429"] == 0


def test_daily_budget_429_is_not_retried(sandbox):
    base = sandbox(daily_budget=10, **FAST)
    with PipedriveClient(base, TOKEN) as spender:
        spender.create("person", {"name": "one"})
        spender.create("person", {"name": "two"})  # remaining 0
    with PipedriveClient(base, TOKEN) as other:  # a fresh client that has not seen the headers
        with pytest.raises(DailyBudgetExhausted) as info:
            other.create("person", {"name": "three"})
        assert info.value.status == 429 and other.stats.retries == 0 and other.stats.requests == 1


# ---------------------------------------------------------------------------------- errors


def test_error_messages_carry_no_values(fast):
    _, client = fast
    with pytest.raises(PipedriveError) as info:
        client.create("deal", {"title": SENTINEL, "value": f"{SENTINEL}-not-a-number"})
    exc = info.value
    assert exc.status == 400 and exc.path == "/api/v2/deals"
    assert "400" in str(exc) and "/api/v2/deals" in str(exc) and exc.error in str(exc)
    assert SENTINEL not in str(exc) and TOKEN not in str(exc)

    with pytest.raises(PipedriveError) as info:
        client.update("person", 424242, {"name": SENTINEL})
    assert info.value.status == 404 and "/api/v2/persons/{id}" in str(info.value) and "424242" not in str(info.value)


def test_transport_error_hides_query_values(sandbox):
    base = sandbox(**FAST)
    with PipedriveClient(base, TOKEN, max_retries=0) as client:
        add_fault(base, drop_connection=True, count=1, path_prefix="/api/v2/itemSearch")
        with pytest.raises(PipedriveTransportError) as info:
            client.search_field("person", "a" * 40, SENTINEL)
    assert SENTINEL not in str(info.value) and "a" * 40 not in str(info.value)
    assert info.value.path == "/api/v2/itemSearch/field"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_bad_token_is_not_retried_and_not_echoed(sandbox):
    base = sandbox(**FAST)
    with PipedriveClient(base, "wrong-token-" + SENTINEL) as client:
        with pytest.raises(PipedriveError) as info:
            client.list_users()
    assert info.value.status == 401 and "unauthorized" in info.value.error
    assert SENTINEL not in str(info.value) and SENTINEL not in repr(client)
    assert client.stats.retries == 0


def test_field_ref_is_hashable(fast):
    _, client = fast
    ref = client.ensure_custom_field("organization", "Region", "set", ["north", "south"])
    assert {ref: 1}[ref] == 1 and set(ref.options) == {"north", "south"}


def test_client_is_shared_safely_across_threads(fast):
    _, client = fast
    ref = client.ensure_custom_field("person", "Thread field", "varchar")
    results: list[FieldRef] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        r = client.ensure_custom_field("person", "Thread field", "varchar")
        client.create("person", {"name": f"T{i}", "custom_fields": {r.key: f"T-{i}"}})
        with lock:
            results.append(r)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(16)))
    assert {r.key for r in results} == {ref.key}
    assert sorted(p["name"] for p in client.list("person")) == sorted(f"T{i}" for i in range(16))
