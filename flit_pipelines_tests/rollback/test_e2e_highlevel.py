"""dentrix_to_highlevel end to end through Dagster: the full wave, then the ``<m>_rollback`` job.

The location already holds a contact with a note, a task and an opportunity; the committed HighLevel
specs match nobody (family members share e-mails), so the rollback only deletes. After
``flit rollback --execute`` the location reads as before the migration.
"""

from __future__ import annotations

import json

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main, report, run_wave
from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines_tests.integration.test_dental_highlevel_e2e import (  # noqa: F401 (fixtures)
    LOCATION,
    TOKEN,
    _env,
    highlevel,
    practice,
)
from flit_pipelines_tests.rollback.snapshots import highlevel_snapshot, snapshot_diff

M = "dentrix_to_highlevel"


def test_full_wave_then_rollback_job_restores_the_location(tmp_path, monkeypatch, practice, highlevel):  # noqa: F811
    _env(tmp_path, monkeypatch, M, highlevel, DENTRIX_DB_URL=f"sqlite:///{practice}")
    with HighLevelClient(highlevel, TOKEN, location_id=LOCATION) as client:
        other = client.create_contact({"firstName": "Una", "lastName": "Existing", "email": "una@else.example",
                                       "tags": ["walk-in"]})
        client.create_note(other["id"], {"body": "Existing note"})
        client.create_task(other["id"], {"title": "Existing task", "dueDate": "2024-05-01T09:00:00Z",
                                         "completed": False})
        pipeline = next(p for p in client.list_pipelines() if p["name"] == "Patient Lifecycle")
        client.create_opportunity({"name": "Existing deal", "pipelineId": pipeline["id"], "contactId": other["id"],
                                   "pipelineStageId": pipeline["stages"][0]["id"], "status": "open"})
        before = highlevel_snapshot(client)

        assert run_wave(M, "full", quiet=True) is True
        assert report(M, "full")["all_checks_passed"] is True
        migrated = highlevel_snapshot(client)
        assert len(migrated["contact"]) > len(before["contact"]) + 40 and len(migrated["event"]) > 0

        assert main(["rollback", M, "--execute"]) == 0
        after = highlevel_snapshot(client)
        assert after == before, snapshot_diff(before, after)

    rb = json.loads((FlitResource().reports_dir(M, "rollback") / "rollback_report.json").read_text())
    assert rb["totals"]["failed"] == 0 and rb["totals"]["planned_restore"] == 0, rb["errors"]
    assert rb["totals"]["deleted"] == rb["totals"]["planned_delete"] > 100
    events = FlitResource().ledger().audit_frame(M, wave="rollback")
    assert set(events["operation"]) == {"delete"} and set(events["status"]) == {"ok"}


def test_henry_schein_one_full_wave_then_rollback_restores_the_location(tmp_path, monkeypatch, practice,  # noqa: F811
                                                                          highlevel):  # noqa: F811
    """The Ascend migration also writes custom object records (treatment plans, insurance plans) with
    their contact relations, and files into a FILE_UPLOAD field: the records and relations go; the file
    field values cannot be removed through the API and are listed as manual actions."""
    from flit_sandboxes.ascend import running_sandbox as running_ascend

    m = "henry_schein_one_to_highlevel"
    keys = ("custom_objects.treatment_plans", "custom_objects.insurance_plans")
    with running_ascend(practice, client_id="cid", client_secret="secret", organization_id="org") as ascend, \
            HighLevelClient(highlevel, TOKEN, location_id=LOCATION) as client:
        _env(tmp_path, monkeypatch, m, highlevel, ASCEND_API_BASE=f"{ascend}/ascend-gateway/api",
             ASCEND_TOKEN_URL=f"{ascend}/oauth/client_credential/accesstoken", ASCEND_CLIENT_ID="cid",
             ASCEND_CLIENT_SECRET="secret", ASCEND_ORGANIZATION_ID="org")
        client.create_contact({"firstName": "Una", "lastName": "Existing", "email": "una@else.example"})
        before = highlevel_snapshot(client)
        assert run_wave(m, "full", quiet=True) is True
        assert report(m, "full")["all_checks_passed"] is True
        migrated = highlevel_snapshot(client, keys)
        assert len(migrated["custom_objects.treatment_plans"]) > 0 and len(migrated["event"]) > 0

        assert main(["rollback", m, "--execute"]) == 0
        after = highlevel_snapshot(client, keys)
        assert all(not after[k] and not after[f"{k}:relations"] for k in keys)
        assert {k: v for k, v in after.items() if k in before} == before, snapshot_diff(before, after)
    rb = json.loads((FlitResource().reports_dir(m, "rollback") / "rollback_report.json").read_text())
    assert rb["totals"]["failed"] == 0, rb["errors"]
    assert main(["rollback", m, "--execute"]) == 0  # a re-run finds nothing left to do
    again = json.loads((FlitResource().reports_dir(m, "rollback") / "rollback_report.json").read_text())
    assert again["totals"]["planned_delete"] == 0 and again["totals"]["planned_restore"] == 0
