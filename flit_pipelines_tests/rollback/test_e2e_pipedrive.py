"""clinic_to_pipedrive end to end through Dagster: the full wave, then the ``<m>_rollback`` job.

The Pipedrive sandbox already holds records (a person sharing a patient's e-mail, others unrelated);
after ``flit run`` and ``flit rollback --execute`` it reads exactly as before the migration.
"""

from __future__ import annotations

import json

import dagster as dg

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main, report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines_tests.conftest import TOKEN
from flit_pipelines_tests.rollback.snapshots import pipedrive_snapshot, snapshot_diff

M = "clinic_to_pipedrive"
ALICE = "a0000000-0000-4000-8000-000000000001"


def test_full_wave_then_rollback_job_restores_the_pre_migration_sandbox(migration_env, capsys):
    client = PipedriveClient(migration_env["sandbox"], TOKEN)
    org = client.create("organization", {"name": "Front Desk Imports"})
    alice = client.create("person", {"name": "A. Example", "org_id": org["id"], "birthday": "1971-05-06",
                                     "emails": [{"value": "ALICE.EXAMPLE@mail.example", "label": "home"}]})
    client.create("person", {"name": "Walk-in", "phones": [{"value": "+1 555 0199"}]})
    before = pipedrive_snapshot(client)

    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    ledger = FlitResource().ledger()
    xw = ledger.crosswalk_frame(M, "persons").set_index("source_id")
    assert xw.loc[ALICE, "dest_id"] == str(alice["id"]) and xw.loc[ALICE, "created_by_migration"] == 0
    assert list(ledger.prior_states(M, "persons")["dest_id"]) == [str(alice["id"])]
    migrated = pipedrive_snapshot(client)
    assert len(migrated["person"]) == len(before["person"]) + 3  # 4 patients, one matched

    # launchpad default / no --execute: the plan only
    assert main(["rollback", M]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "persons" in out
    assert pipedrive_snapshot(client) == migrated
    reports = FlitResource().reports_dir(M, "rollback")
    assert (reports / "rollback_plan.csv").exists() and not (reports / "rollback_report.json").exists()

    assert main(["rollback", M, "--execute"]) == 0
    out = capsys.readouterr().out
    assert "executed" in out
    after = pipedrive_snapshot(client)
    assert after == before, snapshot_diff(before, after)

    rb = json.loads((reports / "rollback_report.json").read_text())
    assert rb["totals"]["failed"] == 0 and rb["totals"]["restored"] == 1 and rb["manual_actions"] == []
    assert rb["totals"]["deleted"] == rb["totals"]["planned_delete"] > 20
    assert rb["targets"]["providers"]["planned"] == {"delete": 0, "restore": 0, "keep": 3}
    events = ledger.audit_frame(M, wave="rollback")
    assert set(events["status"]) == {"ok"}
    assert events.groupby("operation").size().to_dict() == {"delete": rb["totals"]["deleted"], "restore": 1}
    assert set(events["run_id"]) == {rb["run_id"]}
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name=f"{M}_rollback"))
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert rb["run_id"] in {r.run_id for r in runs}

    # nothing left: a second execute plans no delete or restore
    assert main(["rollback", M, "--execute"]) == 0
    again = json.loads((reports / "rollback_report.json").read_text())
    assert again["totals"]["planned_delete"] == again["totals"]["planned_restore"] == 0
    assert pipedrive_snapshot(client) == before
    assert main(["rollback", M, "--scope", "wave"]) == 2
    client.close()
