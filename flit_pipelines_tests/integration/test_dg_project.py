"""The project is a `dg` project: `dg check defs` loads the code location from the repository root, and
the flit resource offers a launchpad block per migration (issue 13 item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg

from flit_pipelines.runtime import PROJECT_ROOT

DG = Path(sys.executable).parent / "dg"


def test_dg_check_defs_succeeds_from_the_repository_root(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name in ("CLINIC_EXPORT_DIR", "PIPEDRIVE_API_TOKEN", "FLIT_SPEC_DIR"):  # definitions need no settings
        env.pop(name, None)
    done = subprocess.run([str(DG), "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "All definitions loaded successfully." in done.stdout
    assert "Warning" not in done.stderr, done.stderr[-2000:]


def test_every_migration_has_a_launchpad_block_with_secrets_as_variable_names(monkeypatch):
    from flit_pipelines.definitions import defs

    monkeypatch.delenv("FLIT_SPEC_DIR", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no Dagster deprecation warning on load or lookup
        d = defs()
        job = d.resolve_job_def("clinic_to_pipedrive_migration")
        d.resolve_sensor_def("clinic_to_pipedrive_delta_pickup")
    flit = job.run_config_schema.config_type.fields["resources"].config_type.fields["flit"]
    blocks = flit.config_type.fields["config"].config_type.fields
    assert {"clinic_to_pipedrive", "dentrix_to_highlevel", "henry_schein_one_to_highlevel",
            "practicehub_to_salesforce", "fhir_clinic_to_pipedrive"} <= set(blocks)
    clinic = blocks["clinic_to_pipedrive"].default_value
    assert clinic == {"source": {"directory": None},
                      "destination": {"api_base": None, "api_token_env": "PIPEDRIVE_API_TOKEN"}}
    source = blocks["clinic_to_pipedrive"].config_type.fields["source"].config_type.fields["directory"]
    assert source.description == ("Directory holding the clinic's CSV export (one file per object). "
                                  "Unset: read from the environment variable CLINIC_EXPORT_DIR.")
    sf = blocks["practicehub_to_salesforce"].default_value["destination"]
    assert sf["client_secret_env"] == "SALESFORCE_CLIENT_SECRET"
    assert isinstance(d.resources["flit"], dg.ConfigurableResource)
