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
    assert ("ConfigurationError: clinic_to_pipedrive source: CLINIC_EXPORT_DIR is not set. What it is: "
            "Directory holding the clinic's CSV export (one file per object). How to set it: the environment "
            "variable CLINIC_EXPORT_DIR before "
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


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_destination_names_its_url_and_the_check_to_run(migration_env, monkeypatch, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("PIPEDRIVE_API_BASE", url + "/v1?x=1")
    monkeypatch.setenv("FLIT_COMMAND", "./scripts/dev flit")
    assert main(["run", M, "--wave", "sample", "--log-level", "CRITICAL"]) == 1
    out = capsys.readouterr().out
    expected = (f"UnreachableError: clinic_to_pipedrive destination: {url} cannot be reached: connection refused "
                "(nothing listens on that port). It is PIPEDRIVE_API_BASE (Pipedrive base URL, e.g. "
                "https://yourcompany.pipedrive.com (the sandbox's URL in the demo)), or the launchpad field "
                "resources.flit.config.clinic_to_pipedrive.destination.api_base for one run. Check the URL and that "
                "the service is up, then run `./scripts/dev flit check clinic_to_pipedrive` to test every "
                "connection of this migration.")
    assert expected in out
    assert TOKEN not in out and "x=1" not in out

    assert main(["check", M]) == 1
    out = capsys.readouterr().out
    assert "source: settings complete" in out
    assert f"destination: clinic_to_pipedrive destination: {url} cannot be reached" in out
    assert out.rstrip().endswith("clinic_to_pipedrive: NOT ready (see above)")


def test_flit_check_passes_when_everything_is_reachable(migration_env, capsys):
    assert main(["check", M]) == 0
    out = capsys.readouterr().out
    host = migration_env["sandbox"].split("/")[2]
    assert f"destination: PIPEDRIVE_API_BASE: http://{host} reachable" in out
    assert out.rstrip().endswith("clinic_to_pipedrive: every connection checked")
