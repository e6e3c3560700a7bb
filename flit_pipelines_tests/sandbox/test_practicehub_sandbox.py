"""The PracticeHub API sandbox over real HTTP (uvicorn in a thread, ``requests`` as client).

The practice is seeded with ``build_practicehub`` (40 patients); expected values are read straight
from that SQLite state file. Each test names the notes/sources.md §3 behaviour it checks; behaviour
the notes do not fix (other resources, the 1 request/s limit, error statuses) is the sandbox's
documented UNCONFIRMED choice.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
from pathlib import Path

import pytest
import requests

from flit_sandboxes.practicehub import api_base, build_practicehub, create_app, running_sandbox
from flit_sandboxes.practicehub import codes as K
from flit_sandboxes.practicehub.resources import RESOURCES
from flit_sandboxes.practicehub.routes import attachment_bytes
from flit_pipelines_tests.http_layer.clock import ManualClock
from flit_pipelines_tests.sources.helpers import practicehub_fixtures

KEY = "ph-test-key-never-logged"
APP = "flit-tests=dev@example.com"
HDRS = {"x-practicehub-key": KEY, "x-app-details": APP}
PATIENTS = 40
SEED = 11
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


state, db, sandbox = practicehub_fixtures(api_key=KEY, patients=PATIENTS, seed=SEED, directory="practicehub")


def scalar(conn: sqlite3.Connection, sql: str, *params: object) -> object:
    return conn.execute(sql, params).fetchone()[0]


def api(url: str, path: str, hdrs: dict[str, str] | None = None, **params: object) -> requests.Response:
    return requests.get(api_base(url) + path, headers=HDRS if hdrs is None else hdrs, params=params, timeout=30)


def admin(url: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{url}/__sandbox/{path}", headers={"x-practicehub-key": KEY}, timeout=10,
                            **kwargs)


def stats(url: str) -> dict:
    return admin(url, "GET", "stats").json()["data"]


# ------------------------------------------------------------------ seeding
def table_digest(path: Path) -> str:
    conn = sqlite3.connect(path)
    digest = hashlib.sha256()
    for res in RESOURCES:
        for row in conn.execute(f"SELECT * FROM {res.name} ORDER BY id"):
            digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def test_build_is_deterministic_synthetic_and_complete(tmp_path: Path, state: Path, db: sqlite3.Connection) -> None:
    again = tmp_path / "again.db"
    counts = build_practicehub(again, patients=PATIENTS, seed=SEED)
    assert table_digest(again) == table_digest(state)
    other = tmp_path / "other.db"
    build_practicehub(other, patients=PATIENTS, seed=SEED + 1)
    assert table_digest(other) != table_digest(state)
    with pytest.raises(ValueError, match="already holds"):
        build_practicehub(again, patients=PATIENTS, seed=SEED)
    assert counts["patients"] == PATIENTS and counts["practitioners"] == 3
    for res in RESOURCES:
        assert counts[res.name] == scalar(db, f"SELECT COUNT(*) FROM {res.name}") > 0, res.name
        bad = scalar(db, f"SELECT COUNT(*) FROM {res.name} WHERE updated_at < created_at OR updated_at > "
                         "'2025-06-30T17:00:00Z'")
        assert bad == 0, res.name
    # synthetic contact data only
    assert scalar(db, "SELECT COUNT(*) FROM patients WHERE email NOT LIKE '%@example.com'") == 0
    assert scalar(db, "SELECT COUNT(*) FROM patients WHERE mobile_phone NOT LIKE '(___) 555-____'") == 0
    assert scalar(db, "SELECT COUNT(*) FROM practitioners WHERE email NOT LIKE '%@clinic.example.com'") == 0


def test_practice_is_internally_consistent(db: sqlite3.Connection) -> None:
    # notes only for completed appointments, one each, same patient
    assert scalar(db, "SELECT COUNT(*) FROM treatment_notes n JOIN appointments a ON a.id = n.appointment_id "
                      "WHERE a.status = 'completed' AND a.patient_id = n.patient_id") == \
        scalar(db, "SELECT COUNT(*) FROM appointments WHERE status = 'completed'") == \
        scalar(db, "SELECT COUNT(*) FROM treatment_notes")
    statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM appointments")}
    assert {"completed", "cancelled", "no_show"} <= statuses <= set(K.APPOINTMENT_STATUSES)
    assert scalar(db, "SELECT COUNT(*) FROM appointments WHERE (julianday(ends_at) - julianday(starts_at)) * 1440 "
                      "- duration_minutes > 0.01") == 0
    # ICD-10 / CPT codes from the tables; invoice amount = sum(units x unit_fee)
    icd = {c for c, _ in K.ICD_PRIMARY + K.ICD_SECONDARY}
    cpt = {c[0]: c[2] for c in K.CPT_EVALUATION + K.CPT_TREATMENT}
    invoices = {r[0]: r[1] for r in db.execute("SELECT treatment_note_id, amount FROM invoices "
                                               "WHERE treatment_note_id IS NOT NULL")}
    for note_id, diagnoses, procedures in db.execute("SELECT id, diagnoses, procedures FROM treatment_notes"):
        dx, px = json.loads(diagnoses), json.loads(procedures)
        assert dx[0]["primary"] is True and {d["code"] for d in dx} <= icd
        assert 1 <= len(px) <= 3 and len({p["code"] for p in px}) == len(px)
        assert all(p["code"] in cpt and p["unit_fee"] * 100 == cpt[p["code"]] for p in px)
        assert [p["id"] for p in px] == [note_id * 10 + i for i in range(1, len(px) + 1)]
        assert invoices[note_id] == pytest.approx(sum(p["units"] * p["unit_fee"] for p in px))
    assert set(r[0] for r in db.execute("SELECT DISTINCT status FROM invoices")) <= set(K.INVOICE_STATUSES)
    assert scalar(db, "SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND (paid_date IS NULL OR "
                      "amount_paid <> amount)") == 0
    # every patient signed (or was asked for) the privacy notice and consent
    assert scalar(db, "SELECT COUNT(DISTINCT patient_id) FROM policy_documents WHERE document_type IN "
                      "('privacy_notice', 'consent_to_treat')") == PATIENTS
    # attachment owners exist and belong to the attachment's patient
    for owner, table in (("treatment_note", "treatment_notes"), ("invoice", "invoices")):
        assert scalar(db, f"SELECT COUNT(*) FROM attachments a LEFT JOIN {table} o ON o.id = a.owner_id "
                          f"WHERE a.owner_type = '{owner}' AND (o.id IS NULL OR o.patient_id <> a.patient_id)") == 0
    assert scalar(db, "SELECT COUNT(*) FROM attachments WHERE owner_type = 'patient' AND owner_id <> patient_id") == 0
    assert scalar(db, "SELECT COUNT(*) FROM insurances WHERE active = 1 AND expiration_date < '2025-06-30'") == 0


def test_create_app_seeds_on_first_start_and_reuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    with running_sandbox(path, api_key=KEY, patients=12, seed=3, rate_per_second=1000) as url:
        assert stats(url)["practice"]["patients"] == 12
        assert api(url, "/patients").json()["total_entries"] == 12
    with running_sandbox(path, api_key=KEY, patients=99, rate_per_second=1000) as url:  # served as is
        assert stats(url)["practice"]["patients"] == 12
    with pytest.raises(ValueError):
        create_app(tmp_path / "x.db", api_key="")
    with pytest.raises(ValueError):
        create_app(tmp_path / "y.db", api_key=KEY, rate_per_second=0)


# ------------------------------------------------------------------ notes §3 "Auth"
def test_key_and_app_details_are_required(sandbox: str) -> None:
    before = stats(sandbox)
    missing = api(sandbox, "/patients", {"x-app-details": APP})
    assert missing.status_code == 401 and missing.json() == {"error": {"status": 401, "message": "API key missing"}}
    wrong = api(sandbox, "/patients", {"x-practicehub-key": "nope", "x-app-details": APP})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "API key invalid"
    assert "nope" not in wrong.text
    # the polling guide's Authorization: Bearer form is accepted too (notes §3 inconsistency)
    assert api(sandbox, "/patients", {"Authorization": f"Bearer {KEY}", "x-app-details": APP}).status_code == 200
    for details in (None, "", "no-equals-sign", "app=not-an-email", "=a@b.c"):
        hdrs = {"x-practicehub-key": KEY} | ({"x-app-details": details} if details is not None else {})
        resp = api(sandbox, "/patients", hdrs)
        assert resp.status_code == 400, details
        assert resp.json()["error"]["message"] == "x-app-details header must be <appname>=<contact email>"
    assert requests.get(f"{sandbox}/__sandbox/stats", timeout=10).status_code == 401
    after = stats(sandbox)
    assert after["responses_by_status"].get("401", 0) - before["responses_by_status"].get("401", 0) == 2
    # refused 401s are not counted as requests of the route; the 400s and the bearer 200 are
    assert after["requests_by_path"]["/api/patients"] - before["requests_by_path"].get("/api/patients", 0) == 6


# ------------------------------------------------------------------ notes §3 "Pagination"
def walk(url: str, path: str, **params: object) -> tuple[list[dict], list[dict]]:
    """Follow links.next from the first page; (rows, page bodies)."""
    rows, bodies = [], []
    resp = api(url, path, **params)
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        bodies.append(body)
        rows += body["data"]
        nxt = body["links"].get("next")
        if nxt is None:
            return rows, bodies
        resp = requests.get(nxt, headers=HDRS, timeout=30)


def test_every_resource_pages_with_total_entries_and_links(sandbox: str, db: sqlite3.Connection) -> None:
    for res in RESOURCES:
        expected = [r[0] for r in db.execute(f"SELECT id FROM {res.name} ORDER BY id")]
        size = max(1, math.ceil(len(expected) / 3))
        rows, bodies = walk(sandbox, res.path[len("/api"):], page_size=size)
        assert [r["id"] for r in rows] == expected, res.name
        assert len(bodies) == math.ceil(len(expected) / size)
        for number, body in enumerate(bodies, start=1):
            assert set(body) == {"total_entries", "data", "links"}
            assert body["total_entries"] == len(expected)
            assert body["links"]["self"].endswith(f"page={number}") and f"page_size={size}" in body["links"]["self"]
            assert ("previous" in body["links"]) == (number > 1)
            assert ("next" in body["links"]) == (number < len(bodies))
        for row in rows:
            assert TS.match(row["created_at"]) and TS.match(row["updated_at"]), res.name
        default = api(sandbox, res.path[len("/api"):]).json()
        assert len(default["data"]) == min(100, len(expected))


def test_page_size_is_capped_at_100_and_bad_paging_is_refused(sandbox: str, db: sqlite3.Connection) -> None:
    total = scalar(db, "SELECT COUNT(*) FROM appointments")
    assert total > 100
    body = api(sandbox, "/appointments", page_size=500).json()
    assert len(body["data"]) == 100 and "page_size=500" in body["links"]["next"]
    for params in ({"page_size": 0}, {"page_size": "x"}, {"page": 0}, {"page": "two"}):
        resp = api(sandbox, "/appointments", **params)
        assert resp.status_code == 400 and set(resp.json()) == {"error"}, params
    last = math.ceil(total / 10)
    beyond = api(sandbox, "/appointments", page_size=10, page=last + 3).json()
    assert beyond["data"] == [] and beyond["total_entries"] == total
    assert "next" not in beyond["links"] and beyond["links"]["previous"].endswith(f"page={last}")


def test_records_render_the_stored_values(sandbox: str, db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    try:
        patient = db.execute("SELECT * FROM patients WHERE id = 3").fetchone()
        note = db.execute("SELECT * FROM treatment_notes ORDER BY id LIMIT 1").fetchone()
        insurance = db.execute("SELECT * FROM insurances WHERE id = 1").fetchone()
    finally:
        db.row_factory = None
    got = api(sandbox, "/patients/3").json()["data"]
    assert got["first_name"] == patient["first_name"] and got["address"]["city"] == patient["address_city"]
    assert got["archived"] is bool(patient["archived"]) and got["address"]["country"] == "US"
    got_note = api(sandbox, f"/treatment_notes/{note['id']}").json()["data"]
    assert got_note["diagnoses"] == json.loads(note["diagnoses"])
    assert got_note["procedures"] == json.loads(note["procedures"])
    got_ins = api(sandbox, "/insurances/1").json()["data"]
    assert got_ins["active"] is bool(insurance["active"]) and got_ins["copay"] == insurance["copay"]
    assert api(sandbox, "/patients/999999").status_code == 404
    assert api(sandbox, "/nothing").status_code == 404


# ------------------------------------------------------------------ notes §3 "Incremental sync"
def test_updated_filter_on_every_collection(sandbox: str, db: sqlite3.Connection) -> None:
    for res in RESOURCES:
        stamps = sorted(r[0] for r in db.execute(f"SELECT updated_at FROM {res.name}"))
        cut = stamps[len(stamps) // 2]
        expected = sum(1 for s in stamps if s >= cut)
        body = api(sandbox, res.path[len("/api"):], updated=cut, page_size=100).json()
        assert body["total_entries"] == expected, res.name
        assert all(r["updated_at"] >= cut for r in body["data"])
        if "next" in body["links"]:
            assert "updated=" in body["links"]["next"]
    # offsets and naive values (= UTC) mean the same instant; dates mean midnight UTC
    z = api(sandbox, "/appointments", updated="2024-01-01T00:00:00Z").json()["total_entries"]
    assert api(sandbox, "/appointments", updated="2024-01-01T02:00:00+02:00").json()["total_entries"] == z
    assert api(sandbox, "/appointments", updated="2024-01-01T00:00:00").json()["total_entries"] == z
    assert api(sandbox, "/appointments", updated="2024-01-01").json()["total_entries"] == z
    bad = api(sandbox, "/appointments", updated="yesterday")
    assert bad.status_code == 400 and "yesterday" not in bad.text


def test_appointments_start_filter(sandbox: str, db: sqlite3.Connection) -> None:
    expected = scalar(db, "SELECT COUNT(*) FROM appointments WHERE starts_at >= '2024-01-01T00:00:00Z' "
                          "AND starts_at < '2024-07-01T00:00:00Z'")
    resp = requests.get(api_base(sandbox) + "/appointments", headers=HDRS, timeout=10,
                        params=[("start", "gte:2024-01-01"), ("start", "lt:2024-07-01")])
    assert resp.json()["total_entries"] == expected > 0
    assert api(sandbox, "/appointments", start="after:2024-01-01").status_code == 400


def test_touch_makes_rows_show_up_in_the_next_delta(sandbox: str) -> None:
    touched = admin(sandbox, "POST", "touch", json={"resource": "invoices", "ids": [2, 5, 7]}).json()["data"]
    assert touched["updated"] == 3
    body = api(sandbox, "/invoices", updated=touched["updated_at"]).json()
    assert [r["id"] for r in body["data"]] == [2, 5, 7]
    assert admin(sandbox, "POST", "touch", json={"resource": "nope", "ids": [1]}).status_code == 400
    assert admin(sandbox, "POST", "touch", json={"resource": "invoices", "ids": ["1"]}).status_code == 400


# ------------------------------------------------------------------ attachments
def test_attachment_download_serves_deterministic_bytes(sandbox: str, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT id, content_type, size_bytes, file_name FROM attachments ORDER BY id LIMIT 3").fetchall()
    for ident, ctype, size, name in rows:
        meta = api(sandbox, f"/attachments/{ident}").json()["data"]
        assert meta["download_url"] == f"{api_base(sandbox)}/attachments/{ident}/download"
        first = requests.get(meta["download_url"], headers=HDRS, timeout=30)
        assert first.status_code == 200 and len(first.content) == size
        assert first.headers["content-type"].startswith(ctype) and name in first.headers["content-disposition"]
        assert first.content == requests.get(meta["download_url"], headers=HDRS, timeout=30).content
        assert first.content == attachment_bytes(SEED, ident, ctype, size)
        assert first.content[:4] in (b"%PDF", b"\xff\xd8\xff\xe0")
    assert api(sandbox, "/attachments/999999/download").status_code == 404
    assert requests.get(f"{api_base(sandbox)}/attachments/1/download", timeout=10).status_code == 401


# ------------------------------------------------------------------ limits and faults (UNCONFIRMED: 1 req/s)
def test_more_than_one_request_per_second_gets_429_with_retry_after(state: Path) -> None:
    clock = ManualClock()  # the window passes on this clock, not by sleeping
    with running_sandbox(state, api_key=KEY, clock=clock.monotonic) as url:  # default: 1 request/s per account
        assert api(url, "/practitioners").status_code == 200
        refused = api(url, "/practitioners")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["status"] == 429
        # admin endpoints are never limited; the refusal is counted
        data = stats(url)
        assert data["rate_limited_429"] == 1 and data["responses_by_status"]["429"] == 1
        clock.advance(float(refused.headers["Retry-After"]))
        assert api(url, "/practitioners").status_code == 200
        assert admin(url, "POST", "reset-rate-limits").status_code == 200
        assert api(url, "/patients").status_code == 200  # fresh window after the reset
        # requests spaced 1.1 s apart are never refused
        for _ in range(3):
            clock.advance(1.1)
            assert api(url, "/practitioners").status_code == 200


def test_faults_and_page_stats(sandbox: str) -> None:
    for status in (503, 429):
        rule = {"status": status, "path_prefix": "/api/policy_documents"}
        assert admin(sandbox, "POST", "faults", json=rule).status_code == 200
    first = api(sandbox, "/policy_documents", page_size=5, page=2)
    assert first.status_code == 503 and first.json()["error"]["status"] == 503
    second = api(sandbox, "/policy_documents", page_size=5, page=2)
    assert second.status_code == 429 and second.headers["Retry-After"] == "1"
    assert api(sandbox, "/policy_documents", page_size=5, page=2).status_code == 200
    served = stats(sandbox)["pages_served"]
    assert served["/api/policy_documents?page=2&page_size=5"] == 1  # faulted requests never reached the routes
    assert admin(sandbox, "POST", "faults", json={"path_prefix": "/api"}).status_code == 400
