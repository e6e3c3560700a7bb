"""Both Dentrix migrations through Dagster into a HighLevel sandbox over real HTTP.

``dentrix_to_highlevel`` reads the demo practice over SQLAlchemy (SQLite file attached as ``admin``)
and, in a second test, over real ODBC (unixODBC + PostgreSQL's driver against a Dentrix-shaped
PostgreSQL database); ``henry_schein_one_to_highlevel`` reads the same practice through the Dentrix
Ascend API sandbox. Each test checks every target landed with its checks green, values as they sit
in HighLevel (families sharing one e-mail stay separate contacts), and that a second full wave sends
no write at all.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections import Counter
from pathlib import Path

import psycopg2
import pytest
import requests

from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines.destinations.highlevel.destination import HighLevelDestination
from flit_pipelines.spec import load_spec
from flit_pipelines_tests.integration.faults import add_faults, last_run_events, leaked, pending_faults
from flit_sandboxes.ascend import running_sandbox as running_ascend
from flit_sandboxes.dentrix_practice import build_practice
from flit_sandboxes.highlevel import running_sandbox as running_highlevel
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file

TOKEN = "hl-test-token"
AGENCY = "hl-agency-token"
LOCATION = "loc_test"
PATIENTS = 40
PIPELINES = [{"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]}]
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def practice(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("practice") / "practice.db"
    build_practice(path, patients=PATIENTS, seed=7)
    return path


def _users(practice: Path) -> list[dict]:
    with sqlite3.connect(practice) as con:
        rows = con.execute("SELECT first_name, last_name, email FROM v_provider ORDER BY provider_id").fetchall()
    admin = {"email": "admin@sandbox.example", "firstName": "Practice", "lastName": "Admin", "role": "admin"}
    return [admin] + [{"email": e, "firstName": f, "lastName": n, "role": "user"} for f, n, e in rows[:-1]]


@pytest.fixture
def highlevel(tmp_path, practice):
    with running_highlevel(tmp_path / "highlevel.db", TOKEN, location_id=LOCATION, users=_users(practice),
                           pipelines=PIPELINES, agency_token=AGENCY, burst_limit=1000) as url:
        yield url


def _env(tmp_path: Path, monkeypatch, migration: str, highlevel: str, **extra: str) -> None:
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    shutil.copy(SPEC_DIR / f"{migration}.yaml", specs / f"{migration}.yaml")
    approve_spec_file(specs / f"{migration}.yaml", "test reviewer", "2026-11-21T00:00:00+00:00")
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(home),
           "HIGHLEVEL_API_BASE": highlevel, "HIGHLEVEL_TOKEN": TOKEN, "HIGHLEVEL_LOCATION_ID": LOCATION,
           "HIGHLEVEL_AGENCY_TOKEN": AGENCY, **extra}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("FLIT_LEDGER_URL", "DENTRIX_ODBC", "DENTRIX_DB_URL", "DENTRIX_EXPORT_DIR"):
        if k not in extra:
            monkeypatch.delenv(k, raising=False)


def _hl(url: str, method: str, path: str, **kw) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28", "Accept": "application/json"}
    resp = requests.request(method, url + path, headers=headers, timeout=30, **kw)
    resp.raise_for_status()
    return resp.json()


def _all_contacts(url: str) -> list[dict]:
    out, page = [], 1
    while True:
        body = _hl(url, "POST", "/contacts/search", json={"locationId": LOCATION, "page": page, "pageLimit": 100})
        out += body["contacts"]
        if len(out) >= body["total"] or not body["contacts"]:
            return out
        page += 1


def _writes(url: str) -> int:
    stats = _hl(url, "GET", "/__sandbox/stats")
    stats = stats.get("data", stats)
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PUT", "PATCH", "DELETE")
               and "/search" not in op and "/__sandbox" not in op)


def _family_emails(practice: Path) -> dict[str, int]:
    with sqlite3.connect(practice) as con:
        rows = con.execute("SELECT email, COUNT(*) FROM v_patient WHERE email IS NOT NULL GROUP BY email "
                           "HAVING COUNT(*) > 1").fetchall()
    return dict(rows)


def _assert_landed(rep: dict, expect_created: dict[str, int]) -> None:
    assert rep["all_checks_passed"] is True
    for target, n in expect_created.items():
        t = rep["targets"][target]
        assert (t["created"], t["failed"], t["destination_count"]) == (n, 0, n), target


def _rerun_writes_nothing(migration: str, url: str) -> None:
    before = _writes(url)
    assert run_wave(migration, "full", quiet=True) is True
    rep = report(migration, "full")
    assert rep["all_checks_passed"] is True
    assert all(t["created"] == 0 and t["updated"] == 0 for t in rep["targets"].values())
    assert _writes(url) == before


def _counts(practice: Path) -> dict[str, int]:
    with sqlite3.connect(practice) as con:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {"patients": q("SELECT COUNT(*) FROM v_patient"),
                "kept": q("SELECT COUNT(*) FROM v_appt WHERE status_id NOT IN (-103, -104)"),
                "missed": q("SELECT COUNT(*) FROM v_appt WHERE status_id IN (-103, -104)"),
                "notes": q("SELECT COUNT(*) FROM v_clinical_notes"),
                "plans": q("SELECT COUNT(DISTINCT plan_id) FROM v_treatment_plan"),
                "providers": q("SELECT COUNT(*) FROM v_provider"), "staff": q("SELECT COUNT(*) FROM v_staff"),
                "documents": q("SELECT COUNT(*) FROM v_document"),
                "multi_plan": q("SELECT COUNT(*) FROM v_patient_insurance WHERE secondary_insurance_carrier_id IS NOT NULL")}


def test_dentrix_database_to_highlevel_end_to_end(tmp_path, monkeypatch, practice, highlevel):
    m = "dentrix_to_highlevel"
    _env(tmp_path, monkeypatch, m, highlevel, DENTRIX_DB_URL=f"sqlite:///{practice}")
    n = _counts(practice)
    assert run_wave(m, "full", quiet=True) is True
    rep = report(m, "full")
    _assert_landed(rep, {"patients": n["patients"], "appointments": n["kept"], "missed_appointments": n["missed"],
                         "visit_notes": n["notes"], "patient_lifecycle": n["patients"],
                         "provider_contacts": n["providers"], "staff_contacts": n["staff"]})
    # Dentrix G documents are not hosted: every one is flagged for manual re-upload, none dropped
    docs = rep["targets"]["documents"]
    assert (docs["quarantined"], docs["created"]) == (n["documents"], 0)
    assert next(iter(docs["quarantine_reasons"])).startswith("not hosted")
    assert rep["targets"]["provider_users"]["matched"] == n["providers"] - 1
    assert rep["unmatched_providers"]["count"] == 1

    contacts = _all_contacts(highlevel)
    assert len(contacts) == n["patients"] + n["providers"] + n["staff"]
    # families sharing one e-mail: one contact per person, none merged. The sandbox location refuses
    # duplicate e-mails (HighLevel's duplicate rule), so the first member keeps the e-mail and the others
    # carry it in the "Shared Email" field with the tag shared-contact-info.
    shared = _family_emails(practice)
    assert shared, "the demo practice has families sharing an e-mail"
    fields = _hl(highlevel, "GET", f"/locations/{LOCATION}/customFields", params={"model": "contact"})["customFields"]
    shared_id = next(f["id"] for f in fields if f["name"] == "Shared Email")
    patients = [c for c in contacts if "Dental Patient" in (c.get("tags") or [])]
    holder = Counter((c.get("email") or "").lower() for c in patients)
    sharing = Counter(str(v["value"]).lower() for c in patients for v in c.get("customFields") or []
                      if v["id"] == shared_id)
    for email, members in shared.items():
        assert (holder[email.lower()], sharing[email.lower()]) == (1, members - 1)
    assert sum(1 for c in patients if "shared-contact-info" in c["tags"]) == sum(m - 1 for m in shared.values())
    staff = [c for c in contacts if "Staff" in (c.get("tags") or [])]
    assert len(staff) == n["providers"] + n["staff"]

    _rerun_writes_nothing(m, highlevel)


def test_henry_schein_one_ascend_to_highlevel_end_to_end(tmp_path, monkeypatch, practice, highlevel):
    m = "henry_schein_one_to_highlevel"
    with running_ascend(practice, client_id="cid", client_secret="secret", organization_id="org") as ascend:
        _env(tmp_path, monkeypatch, m, highlevel, ASCEND_API_BASE=f"{ascend}/ascend-gateway/api",
             ASCEND_TOKEN_URL=f"{ascend}/oauth/client_credential/accesstoken", ASCEND_CLIENT_ID="cid",
             ASCEND_CLIENT_SECRET="secret", ASCEND_ORGANIZATION_ID="org")
        n = _counts(practice)
        assert run_wave(m, "full", quiet=True) is True
        rep = report(m, "full")
        _assert_landed(rep, {"patients": n["patients"], "appointments": n["kept"],
                             "missed_appointments": n["missed"], "visit_notes": n["notes"],
                             "treatment_plans": n["plans"], "staff_contacts": n["providers"]})
        docs = rep["targets"]["documents"]
        assert docs["created"] + docs["quarantined"] == n["documents"] and docs["created"] > 0
        assert rep["targets"]["clinical_history_notes"]["created"] == 0  # clinical_notes_mode per_visit
        # multi-plan patients: one Insurance Plans record per coverage
        assert rep["targets"]["insurance_primary"]["created"] == n["multi_plan"]
        assert rep["targets"]["insurance_secondary"]["created"] == n["multi_plan"]

        # treatment plans are custom object records carrying the Dentrix plan ID, related to the contact
        client = HighLevelClient(highlevel, TOKEN, location_id=LOCATION)
        records = list(client.search_records("custom_objects.treatment_plans"))
        assert len(records) == n["plans"]
        with sqlite3.connect(practice) as con:
            plan_ids = {str(r[0]) for r in con.execute("SELECT DISTINCT plan_id FROM v_treatment_plan")}
        assert {str(r["properties"]["plan_id"]) for r in records} == plan_ids

        _rerun_writes_nothing(m, highlevel)


def test_lost_answers_after_writes_are_adopted_not_duplicated(tmp_path, monkeypatch, practice, highlevel, capfd):
    """Creates the sandbox executes but whose answers never arrive (``lose_response``): each is looked
    up by its source key and adopted, in the same run; no contact, appointment or note twice."""
    m = "dentrix_to_highlevel"
    _env(tmp_path, monkeypatch, m, highlevel, DENTRIX_DB_URL=f"sqlite:///{practice}")
    rules = [{"lose_response": True, "count": 3, "after": 2, "path_prefix": "/contacts/", "method": "POST"},
             {"lose_response": True, "count": 2, "path_prefix": "/calendars/events/appointments", "method": "POST"},
             {"lose_response": True, "count": 1, "path_prefix": "/opportunities/", "method": "POST"},
             {"status": 502, "count": 2, "path_prefix": "/contacts/", "method": "POST"}]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    injected = add_faults(highlevel, headers, rules)
    n = _counts(practice)
    assert run_wave(m, "full", quiet=True) is True  # one run
    output = capfd.readouterr()
    assert pending_faults(highlevel, headers) == []
    stats = _hl(highlevel, "GET", "/__sandbox/stats")
    assert stats.get("data", stats)["faults_injected"] == injected
    rep = report(m, "full")
    _assert_landed(rep, {"patients": n["patients"], "appointments": n["kept"], "missed_appointments": n["missed"],
                         "visit_notes": n["notes"], "patient_lifecycle": n["patients"],
                         "provider_contacts": n["providers"], "staff_contacts": n["staff"]})
    assert len(_all_contacts(highlevel)) == n["patients"] + n["providers"] + n["staff"]
    spec = load_spec(tmp_path / "specs" / f"{m}.yaml")
    dest = HighLevelDestination(HighLevelClient(highlevel, TOKEN, location_id=LOCATION), spec)
    dest.ensure_schema()
    for name in ("patients", "appointments", "patient_lifecycle"):
        counts = dest.source_key_counts(name, spec.targets[name])
        assert counts and set(counts.values()) == {1}, name  # every source record exactly once
        assert len(counts) == rep["targets"][name]["created"], name
    with sqlite3.connect(practice) as con:  # full names, not first names alone ("Will" is also a word)
        values = [v for row in con.execute("SELECT first_name || ' ' || last_name, email, birth_date, address_line1 "
                                           "FROM v_patient") for v in row if v]
    assert leaked(last_run_events(), [*map(str, values), TOKEN]) == []
    assert leaked(output.out + output.err, [*map(str, values), TOKEN]) == []


@pytest.fixture
def dentrix_postgres(practice):
    """The demo practice in a fresh PostgreSQL database (schema admin); dropped afterwards."""
    name = f"flit_e2e_{uuid.uuid4().hex[:8]}"
    con = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    con.autocommit = True
    con.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        build_practice(f"{PG}/{name}", patients=PATIENTS, seed=7, dialect="postgresql")
        yield name
    finally:
        con.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.close()


def test_dentrix_over_odbc_lands_the_same_contacts(tmp_path, monkeypatch, practice, highlevel, dentrix_postgres):
    """The ODBC path for real: unixODBC + the PostgreSQL Unicode driver, same practice, same result."""
    m = "dentrix_to_highlevel"
    odbc = f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port=5432;Database={dentrix_postgres};Uid=postgres;"
    _env(tmp_path, monkeypatch, m, highlevel, DENTRIX_ODBC=odbc)
    n = _counts(practice)
    assert run_wave(m, "full", quiet=True) is True
    rep = report(m, "full")
    _assert_landed(rep, {"patients": n["patients"], "appointments": n["kept"], "missed_appointments": n["missed"]})
    contacts = {c["firstName"] + " " + c["lastName"] for c in _all_contacts(highlevel)
                if "Dental Patient" in (c.get("tags") or [])}
    with sqlite3.connect(practice) as con:
        expected = {f"{f} {last}" for f, last in con.execute("SELECT first_name, last_name FROM v_patient")}
    assert contacts == expected
