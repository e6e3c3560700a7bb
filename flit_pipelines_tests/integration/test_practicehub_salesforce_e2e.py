"""PracticeHub -> Salesforce through Dagster, over real HTTP against both sandboxes.

Checks every target landed with its checks green, the Task/Event split, the junction's two Contact
lookups sent as relationship columns, files on the right parents, the field-level-security checklist in
the report, and that a second full wave starts no Bulk job and writes nothing. Then a Salesforce admin's
verification of the migrated org with simple-salesforce itself: counts and sums per object by aggregate
queries, no duplicate external IDs, the patients' treatment records and care teams by sub-queries.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce

from flit_pipelines.cli import report, run_wave
from flit_sandboxes.practicehub import build_practicehub
from flit_sandboxes.practicehub import running_sandbox as running_practicehub
from flit_sandboxes.salesforce import client_session
from flit_sandboxes.salesforce import running_sandbox as running_salesforce
from flit_sandboxes.salesforce.server import fetch_token
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file
from flit_pipelines_tests.integration.faults import add_faults, last_run_events, leaked, pending_faults
from flit_pipelines_tests.spec_edit import edit_spec_file

M = "practicehub_to_salesforce"
KEY = "ph-test-key"
CLIENT = ("sf-client", "sf-secret")
PATIENTS = 20


@pytest.fixture
def env(tmp_path, monkeypatch):
    state = tmp_path / "practicehub.db"
    build_practicehub(state, patients=PATIENTS, seed=5)
    with sqlite3.connect(state) as con:
        practitioners = con.execute("SELECT first_name, last_name, email FROM practitioners ORDER BY id").fetchall()
    users = [{"Email": "admin@sandbox.example", "FirstName": "Org", "LastName": "Admin", "IsActive": True}]
    users += [{"Email": e, "FirstName": f, "LastName": n, "IsActive": True} for f, n, e in practitioners[:-1]]
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = specs / f"{M}.yaml"
    # the sandbox serves 50 requests/s so the test runs in seconds; the reader's tests use the real 1/s
    edit_spec_file(spec, "requests_per_second: 0.9", "requests_per_second: 40", source=SPEC_DIR / f"{M}.yaml")
    approve_spec_file(spec, "test reviewer", "2026-11-21T00:00:00+00:00")
    home = tmp_path / "dagster_home"
    home.mkdir()
    with running_practicehub(state, api_key=KEY, rate_per_second=50) as ph, \
            running_salesforce(tmp_path / "salesforce.db", client_id=CLIENT[0], client_secret=CLIENT[1],
                               users=users, bulk_delay_seconds=0.05) as sf:
        for k, v in {"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(tmp_path / "data"),
                     "DAGSTER_HOME": str(home), "PRACTICEHUB_API_BASE": f"{ph}/api", "PRACTICEHUB_API_KEY": KEY,
                     "SALESFORCE_INSTANCE_URL": sf, "SALESFORCE_CLIENT_ID": CLIENT[0],
                     "SALESFORCE_CLIENT_SECRET": CLIENT[1]}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("FLIT_LEDGER_URL", raising=False)
        yield {"state": state, "sf": sf, "specs": specs}


def _soql(sf: str, q: str) -> list[dict]:
    token = fetch_token(sf, *CLIENT)["access_token"]
    out, url = [], f"{sf}/services/data/v62.0/query"
    params: dict | None = {"q": q}
    while url:
        body = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        out += body["records"]
        url, params = (sf + body["nextRecordsUrl"], None) if body.get("nextRecordsUrl") else (None, None)
    return out


def _stats(sf: str) -> dict:
    token = fetch_token(sf, *CLIENT)["access_token"]
    body = requests.get(f"{sf}/__sandbox/stats", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    return body.get("data", body)


def test_practicehub_to_salesforce_end_to_end(env):
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    with sqlite3.connect(env["state"]) as con:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        n_patients, n_appts = q("SELECT COUNT(*) FROM patients"), q("SELECT COUNT(*) FROM appointments")
        n_links, n_invoices = q("SELECT COUNT(*) FROM patient_practitioners"), q("SELECT COUNT(*) FROM invoices")
        n_tasks = q("SELECT COUNT(*) FROM appointments WHERE appointment_type = 'Telehealth Consultation' "
                    "OR status IN ('cancelled', 'no_show')")
        links = {(str(p), str(r)) for p, r in con.execute("SELECT patient_id, practitioner_id FROM patient_practitioners")}
    assert (t["patients"]["created"], t["patients"]["destination_count"]) == (n_patients, n_patients)
    assert t["care_team"]["created"] == n_links and t["invoices"]["created"] == n_invoices
    # Task/Event split: every appointment lands once, as a Task or as an Event
    assert (t["appointment_tasks"]["created"], t["appointment_events"]["created"]) == (n_tasks, n_appts - n_tasks)
    assert len(_soql(env["sf"], "SELECT Id FROM Task")) == n_tasks
    events = _soql(env["sf"], "SELECT Id, StartDateTime, EndDateTime FROM Event")
    assert len(events) == n_appts - n_tasks and all(e["StartDateTime"] and e["EndDateTime"] for e in events)

    # the junction's two Contact lookups resolve to the right patient and practitioner
    rows = _soql(env["sf"], "SELECT Patient__r.Source_System_ID__c, Practitioner__r.Source_System_ID__c "
                            "FROM Practitioner_Patient_Relationship__c")
    assert {(r["Patient__r"]["Source_System_ID__c"], r["Practitioner__r"]["Source_System_ID__c"]) for r in rows} == {
        (p, f"PR-{r}") for p, r in links}
    # files land on their parents (patient, treatment record, invoice) and every check reconciled
    for target in ("patient_files", "treatment_files", "invoice_files", "policy_files"):
        assert t[target]["created"] > 0 and t[target]["failed"] == 0, target
    # practitioner-to-User mapping template: every practitioner, the last one without a User (fallback)
    mapping = (Path(os.environ["FLIT_DATA_DIR"]) / "reports" / M / "full" / "practitioner_users_user_mapping.csv")
    rows_csv = mapping.read_text().splitlines()
    assert len(rows_csv) == 1 + t["practitioner_users"]["destination_count"]
    assert sum(",FALLBACK," in r for r in rows_csv) == 1 == rep["unmatched_providers"]["count"]
    # the HIPAA field-level-security checklist is in the report
    checklist = {f["field"] for f in rep["fls_checklist"]["fields"]}
    assert {"Treatment_Record__c.Treatment_Notes__c", "Contact.MRN__c", "Insurance_Record__c.Member_ID__c"} <= checklist

    jobs_before = _stats(env["sf"])["bulk_jobs"]
    assert run_wave(M, "full", quiet=True) is True
    again = report(M, "full")
    assert again["all_checks_passed"] is True
    assert all(x["created"] == 0 and x["updated"] == 0 for x in again["targets"].values())
    assert _stats(env["sf"])["bulk_jobs"] == jobs_before
    assert len(_soql(env["sf"], "SELECT Id FROM Contact")) == n_patients + t["practitioner_contacts"]["created"]


def test_lost_answers_after_writes_are_resolved_in_one_run(env, capfd):
    """Salesforce calls executed but unanswered (``lose_response``): a Bulk job created, its CSV
    uploaded, its close applied, ContentVersions stored, each answer lost. The load finds out what
    happened (a new job, the job's state, versions by external ID) and goes on: every record once,
    nothing failed, in one run."""
    spec = env["specs"] / f"{M}.yaml"  # Bulk jobs above 5 records, so the job calls are exercised
    edit_spec_file(spec, "collections_threshold: 200", "collections_threshold: 5")
    approve_spec_file(spec, "test reviewer", "2026-11-21T00:00:00+00:00")
    token = fetch_token(env["sf"], *CLIENT)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    rules = [{"lose_response": True, "count": 1, "path_prefix": "/jobs/ingest", "method": "POST"},
             {"lose_response": True, "count": 1, "path_prefix": "/jobs/ingest", "method": "PUT"},
             {"lose_response": True, "count": 1, "after": 1, "path_prefix": "/jobs/ingest", "method": "PATCH"},
             {"lose_response": True, "count": 2, "path_prefix": "/sobjects/ContentVersion", "method": "POST"},
             {"status": 503, "count": 2, "path_prefix": "/sobjects/ContentVersion", "method": "POST"}]
    injected = add_faults(env["sf"], headers, rules)
    assert run_wave(M, "full", quiet=True) is True
    output = capfd.readouterr()
    assert pending_faults(env["sf"], headers) == [] and _stats(env["sf"])["faults_injected"] == injected
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    assert all(x["failed"] == 0 for x in t.values())
    with sqlite3.connect(env["state"]) as con:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        n_patients, n_appts = q("SELECT COUNT(*) FROM patients"), q("SELECT COUNT(*) FROM appointments")
        names = [r[0] for r in con.execute("SELECT first_name || ' ' || last_name FROM patients")]
        emails = [r[0] for r in con.execute("SELECT email FROM patients WHERE email IS NOT NULL")]
    contacts = _soql(env["sf"], "SELECT Source_System_ID__c FROM Contact WHERE Source_System_ID__c != null")
    keys = [c["Source_System_ID__c"] for c in contacts]
    assert len(keys) == len(set(keys)) == n_patients + t["practitioner_contacts"]["created"]  # none twice
    assert len(_soql(env["sf"], "SELECT Id FROM Task")) + len(_soql(env["sf"], "SELECT Id FROM Event")) == n_appts
    files = _soql(env["sf"], "SELECT Id FROM ContentVersion")
    assert len(files) == sum(t[f]["created"] for f in ("patient_files", "treatment_files", "invoice_files",
                                                        "policy_files"))
    values = [*names, *emails, CLIENT[1], token]
    assert leaked(last_run_events(), values) == []
    assert leaked(output.out + output.err, values) == []


def test_migrated_org_verified_by_an_admin_with_simple_salesforce(env):
    assert run_wave(M, "full", quiet=True) is True
    t = report(M, "full")["targets"]
    with sqlite3.connect(env["state"]) as con:
        source_notes = {(str(p), str(n)) for n, p in con.execute("SELECT id, patient_id FROM treatment_notes")}
        source_links = {(str(p), f"PR-{r}") for p, r in con.execute("SELECT patient_id, practitioner_id "
                                                                   "FROM patient_practitioners")}
        amount = con.execute("SELECT SUM(amount) FROM invoices").fetchone()[0]
    sf = Salesforce(consumer_key=CLIENT[0], consumer_secret=CLIENT[1], domain="flit-e2e.my",
                    session=client_session(env["sf"], my_domain="flit-e2e"))  # simple-salesforce's own login

    def aggregate(soql: str) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "attributes"} for r in sf.query(soql)["records"]]

    # counts (and money) per object, as an admin reconciles them
    for sobject, target in (("Treatment_Record__c", "treatment_records"), ("Insurance_Record__c", "insurance_records"),
                            ("Practitioner_Patient_Relationship__c", "care_team"), ("Event", "appointment_events"),
                            ("Task", "appointment_tasks")):
        assert aggregate(f"SELECT COUNT(Id) n FROM {sobject}") == [{"n": t[target]["destination_count"]}], sobject
    assert t["treatment_records"]["destination_count"] > 0
    [invoices] = aggregate("SELECT COUNT(Id), SUM(Amount__c) total FROM Invoice__c")
    assert invoices["expr0"] == t["invoices"]["destination_count"] and invoices["total"] == pytest.approx(amount)
    by_type = aggregate("SELECT Contact_Type__c, COUNT(Id) FROM Contact GROUP BY Contact_Type__c")
    assert by_type == [{"Contact_Type__c": "Patient", "expr0": t["patients"]["destination_count"]},
                       {"Contact_Type__c": "Practitioner", "expr0": t["practitioner_contacts"]["destination_count"]}]
    assert aggregate("SELECT Source_System_ID__c, COUNT(Id) FROM Contact GROUP BY Source_System_ID__c "
                     "HAVING COUNT(Id) > 1") == []  # no duplicate external IDs

    # the patients' treatment records and care teams, parent to child (child relationship names of the spec)
    patients = sf.query_all("SELECT Source_System_ID__c, (SELECT Source_System_ID__c FROM Treatment_Records__r), "
                            "(SELECT Practitioner__r.Source_System_ID__c FROM Care_Team_Members__r) FROM Contact "
                            "WHERE Contact_Type__c = 'Patient'")["records"]
    assert len(patients) == t["patients"]["destination_count"]
    notes = {(p["Source_System_ID__c"], r["Source_System_ID__c"]) for p in patients
             for r in (p["Treatment_Records__r"] or {"records": []})["records"]}
    assert len(notes) == t["treatment_records"]["destination_count"] and notes <= source_notes
    assert notes == {(r["Patient__r"]["Source_System_ID__c"], r["Source_System_ID__c"]) for r in sf.query_all(
        "SELECT Source_System_ID__c, Patient__r.Source_System_ID__c FROM Treatment_Record__c")["records"]}
    assert {(p["Source_System_ID__c"], r["Practitioner__r"]["Source_System_ID__c"]) for p in patients
            for r in (p["Care_Team_Members__r"] or {"records": []})["records"]} == source_links
    # a patient without treatment records gets null, not an empty result
    assert {p["Source_System_ID__c"] for p in patients if p["Treatment_Records__r"] is None} == {
        p["Source_System_ID__c"] for p in patients} - {p for p, _ in notes}
    names = {c["relationshipName"] for c in sf.Contact.describe()["childRelationships"]
             if c["childSObject"].endswith("__c")}
    assert names == {"Treatment_Records__r", "Treatments_Given__r", "Insurance_Records__r", "Invoices__r",
                     "Care_Team_Members__r", "Care_Team_Patients__r"}
