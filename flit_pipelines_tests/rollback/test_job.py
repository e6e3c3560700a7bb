"""The ``<migration>_rollback`` Dagster job: defaults to a dry run (launchpad without config)."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.definitions import defs
from flit_pipelines.ledger import RecordOutcome
from flit_pipelines.rollback.job import build_rollback_job
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR

M = "clinic_to_pipedrive"


def test_every_migration_has_a_rollback_job():
    d = defs()
    for m in ("clinic_to_pipedrive", "dentrix_to_highlevel", "henry_schein_one_to_highlevel",
              "practicehub_to_salesforce"):
        assert d.resolve_job_def(f"{m}_rollback").name == f"{m}_rollback"


def test_launch_without_config_only_writes_the_plan(tmp_path):
    flit = FlitResource(data_dir=str(tmp_path))
    ledger = flit.ledger()
    ledger.record_many(migration=M, target="persons", run_id="r1", wave="full",
                       outcomes=[RecordOutcome("s1", "create", dest_id="5", payload_hash="h")])
    job = build_rollback_job(load_spec(SPEC_DIR / f"{M}.yaml"))
    # no destination environment at all: a dry run never opens the destination
    result = job.execute_in_process(resources={"flit": flit}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    summary = result.output_for_node("rollback")
    assert summary["dry_run"] is True and summary["totals"]["planned_delete"] == 1
    out = tmp_path / "reports" / M / "rollback"
    plan = pd.read_csv(out / "rollback_plan.csv", dtype=str)
    assert plan[["target", "source_id", "dest_id", "action"]].values.tolist() == [["persons", "s1", "5", "delete"]]
    assert not (out / "rollback_report.json").exists()
    assert len(ledger.crosswalk_frame(M, "persons")) == 1 and ledger.audit_frame(M, wave="rollback").empty


def test_bad_scope_fails_the_run(tmp_path):
    job = build_rollback_job(load_spec(SPEC_DIR / f"{M}.yaml"))
    result = job.execute_in_process(resources={"flit": FlitResource(data_dir=str(tmp_path))},
                                    run_config={"ops": {"rollback": {"config": {"scope": "wave"}}}},
                                    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "scope wave needs wave" in failure.event_specific_data.error.message
