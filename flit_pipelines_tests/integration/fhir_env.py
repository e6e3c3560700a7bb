"""One fhir_clinic_to_pipedrive migration environment: a FHIR sandbox serving an NDJSON directory, a
Pipedrive sandbox, an approved spec copy, a data directory and a Dagster home (real HTTP, real files).

``fhir_migration(tmp_path, monkeypatch, data_dir, smart=...)`` starts both sandboxes in threads of
the test process (a ``flit run`` subprocess reaches them over HTTP too) and sets the variables the
spec names: ``FHIR_TOKEN``, or with ``smart=True`` ``FHIR_CLIENT_ID`` + ``FHIR_PRIVATE_KEY_PATH``
(the token endpoint discovered from ``.well-known/smart-configuration``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file
from flit_pipelines_tests.sources.fhir_helpers import CLIENT_ID, TOKEN, smart_client
from flit_sandboxes.fhir import fhir_base
from flit_sandboxes.fhir import running_sandbox as running_fhir
from flit_sandboxes.pipedrive import running_sandbox as running_pipedrive

M = "fhir_clinic_to_pipedrive"
PD_TOKEN = "fhir-e2e-pipedrive-token"
ADMIN = {"id": 1, "name": "Sandbox Admin", "email": "admin@sandbox.example", "active_flag": True}


@contextmanager
def fhir_migration(tmp_path: Path, monkeypatch: Any, data_dir: Path, *, smart: bool = False,
                   users: list[dict] | None = None, **fhir_settings: Any) -> Iterator[dict[str, Any]]:
    """Yield ``{"fhir", "pipedrive", "specs", "env", "tmp"}`` (module docstring)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPEC_DIR / f"{M}.yaml", specs / f"{M}.yaml")
    approve_spec_file(specs / f"{M}.yaml", "test reviewer", "2026-11-21T00:00:00+00:00")
    (tmp_path / "dagster_home").mkdir()
    settings = {"export_delay_seconds": 0.2, "retry_after_seconds": 0, **fhir_settings}
    env = {"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(tmp_path / "data"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home"), "PIPEDRIVE_API_TOKEN": PD_TOKEN}
    if smart:
        key, clients = smart_client(tmp_path / "keys")
        settings["clients"] = clients
        env.update(FHIR_CLIENT_ID=CLIENT_ID, FHIR_PRIVATE_KEY_PATH=str(key))
    else:
        settings["token"] = TOKEN
        env["FHIR_TOKEN"] = TOKEN
    with ExitStack() as stack:
        fhir = stack.enter_context(running_fhir(tmp_path / "fhir.db", data_dir=data_dir, **settings))
        pipedrive = stack.enter_context(running_pipedrive(tmp_path / "pipedrive.db", PD_TOKEN, burst_limit=400,
                                                          users=[ADMIN, *(users or [])]))
        env.update(FHIR_BASE_URL=fhir_base(fhir), PIPEDRIVE_API_BASE=pipedrive)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for name in ("FLIT_LEDGER_URL", "FHIR_GROUP_ID", "FHIR_TOKEN_URL", *(("FHIR_TOKEN",) if smart else
                                                                            ("FHIR_CLIENT_ID", "FHIR_PRIVATE_KEY_PATH"))):
            monkeypatch.delenv(name, raising=False)
        yield {"fhir": fhir, "pipedrive": pipedrive, "specs": specs, "tmp": tmp_path, "env": {**os.environ, **env}}
