"""practicehub_to_salesforce end to end through Dagster: the full wave, then the ``<m>_rollback`` job.

The org already holds a Contact with a patient's e-mail (matched: ``match_existing: Email``) and an
unrelated Contact with a Task; after the run and ``flit rollback --execute`` the org reads as before.
"""

from __future__ import annotations

import json
import sqlite3

import requests

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main, report, run_wave
from flit_sandboxes.salesforce.server import fetch_token
from flit_pipelines_tests.integration.test_practicehub_salesforce_e2e import CLIENT, env  # noqa: F401 (fixture)
from flit_pipelines_tests.rollback.snapshots import salesforce_fields, salesforce_snapshot, snapshot_diff

M = "practicehub_to_salesforce"


def snap(sf: str, fields_of: dict | None = None) -> dict:
    """The org's records, on the fields that existed before the run (it deploys custom objects and fields;
    a new checkbox reads false on every existing record); objects without any record left out."""
    token = fetch_token(sf, *CLIENT)["access_token"]
    return {k: v for k, v in salesforce_snapshot(sf, token, fields_of=fields_of).items() if v}


def test_full_wave_then_rollback_job_restores_the_org(env, capsys):  # noqa: F811 (the env fixture, imported)
    sf = env["sf"]
    with sqlite3.connect(env["state"]) as con:
        email = con.execute("SELECT email FROM patients WHERE email IS NOT NULL ORDER BY id").fetchone()[0]
    headers = {"Authorization": f"Bearer {fetch_token(sf, *CLIENT)['access_token']}"}

    def create(sobject: str, body: dict) -> str:
        resp = requests.post(f"{sf}/services/data/v62.0/sobjects/{sobject}", json=body, headers=headers, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    matched = create("Contact", {"LastName": "Before", "FirstName": "Front", "Email": email.upper(),
                                 "Phone": "+15550001111"})
    other = create("Contact", {"LastName": "Unrelated", "Email": "someone@else.example"})
    create("Task", {"Subject": "Existing call", "WhoId": other, "Status": "Not Started"})
    fields = salesforce_fields(sf, fetch_token(sf, *CLIENT)["access_token"])
    before = snap(sf, fields)

    assert run_wave(M, "full", quiet=True) is True
    assert report(M, "full")["all_checks_passed"] is True
    ledger = FlitResource().ledger()
    assert list(ledger.prior_states(M, "patients")["dest_id"]) == [matched]
    migrated = snap(sf)
    assert len(migrated["Contact"]) > len(before["Contact"]) + 10

    assert main(["rollback", M, "--execute"]) == 0
    assert "executed" in capsys.readouterr().out
    after = snap(sf, fields)
    assert after == before, snapshot_diff(before, after)
    rb = json.loads((FlitResource().reports_dir(M, "rollback") / "rollback_report.json").read_text())
    assert rb["totals"]["failed"] == 0 and rb["totals"]["restored"] == 1, rb["errors"]
    events = ledger.audit_frame(M, wave="rollback")
    assert events.groupby("operation").size().to_dict() == {"delete": rb["totals"]["deleted"] + rb["totals"]["manual"],
                                                             "restore": 1}
