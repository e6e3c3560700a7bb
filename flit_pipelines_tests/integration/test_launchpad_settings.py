"""Sources and destinations configured per run from launchpad-style run config (issue 13 item 6), and a
missing setting failing with a message that names the variable and the launchpad field (item 5)."""

from __future__ import annotations

import json

import dagster as dg

from flit_pipelines.cli import main, report, run_wave
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats

M = "clinic_to_pipedrive"


def test_launchpad_config_replaces_the_environment_for_one_run(migration_env, monkeypatch):
    monkeypatch.delenv("CLINIC_EXPORT_DIR")
    monkeypatch.delenv("PIPEDRIVE_API_TOKEN")
    monkeypatch.setenv("PIPEDRIVE_TOKEN_FOR_THIS_RUN", TOKEN)
    resources = {"flit": {"config": {M: {
        "source": {"directory": str(FIXTURE_EXPORT)},
        "destination": {"api_token_env": "PIPEDRIVE_TOKEN_FOR_THIS_RUN"},  # a secret: its variable's name
    }}}}
    assert run_wave(M, "sample", quiet=True, log_level="ERROR", resources=resources) is True
    rep = report(M, "sample")
    assert rep["all_checks_passed"] is True
    assert rep["targets"]["persons"]["created"] >= 1
    assert sandbox_stats(migration_env["sandbox"])["entities"]["person"]["active"] == rep["targets"]["persons"]["created"]
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
    stored = json.dumps(run.run_config)
    assert str(FIXTURE_EXPORT) in stored and "PIPEDRIVE_TOKEN_FOR_THIS_RUN" in stored
    assert TOKEN not in stored  # run config (shown in the UI) holds the variable's name, never the token


def test_a_run_without_the_export_dir_says_what_to_set(migration_env, monkeypatch, capsys):
    monkeypatch.delenv("CLINIC_EXPORT_DIR")
    assert main(["run", M, "--wave", "sample", "--log-level", "CRITICAL"]) == 1
    out = capsys.readouterr().out
    assert ("ConfigurationError: clinic_to_pipedrive source: CLINIC_EXPORT_DIR is not set. What it is: Directory holding the clinic's "
            "CSV export (one file per object). How to set it: the environment variable CLINIC_EXPORT_DIR before "
            "starting `dg dev` or the flit command, or, for one run, set the Dagster launchpad field "
            "resources.flit.config.clinic_to_pipedrive.source.directory.") in out
    with dg.DagsterInstance.get() as instance:  # the same text is the step's error in the UI's event log
        run = instance.get_runs(limit=1)[0]
        failures = [e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_step_failure]
    assert failures
    error, chain = failures[0].dagster_event.step_failure_data.error, []
    while error is not None:  # Dagster's wrapper, then the step's own error (shown under it in the UI)
        chain.append(error.message)
        error = error.cause
    assert "resources.flit.config.clinic_to_pipedrive.source.directory" in chain[-1]
    assert sandbox_stats(migration_env["sandbox"])["requests_by_operation"].get("POST /v1/persons", 0) == 0
