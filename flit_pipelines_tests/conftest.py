"""Shared fixtures: a real Pipedrive sandbox over HTTP, a migration environment, the fixture export."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import requests

from flit_sandboxes.pipedrive import running_sandbox
from flit_pipelines.sources import CsvExportSource
from flit_pipelines.sources.extract import empty_frame
from flit_pipelines.sources.validate import split_chunk
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file
from flit_pipelines_tests.tiers import assign_tiers

TIER_COUNTS = pytest.StashKey[dict]()
EVENT_LOG_STORAGE_YAML = ("event_log_storage:\n  module: flit_pipelines.instance.sqlite_event_log\n"
                          "  class: PooledSqliteEventLogStorage\n")
FIXTURE_EXPORT = Path(__file__).parent / "fixtures" / "clinic_extras"
SPEC_PATH = SPEC_DIR / "clinic_to_pipedrive.yaml"
TOKEN = "test-token"
ADMIN = {"id": 1, "name": "Sandbox Admin", "email": "admin@sandbox.example", "active_flag": True}
# Two of the fixture's providers have Pipedrive users; the third is in the directory without one.
USERS = [ADMIN,
         {"id": 2, "name": "Erin Doctor", "email": "erin.doctor@synthclinic.example", "active_flag": True},
         {"id": 3, "name": "Dan Sample", "email": "dan.sample@synthclinic.example", "active_flag": True}]


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark every test unit / integration / e2e from what it starts (see ``tiers.py``)."""
    config.stash[TIER_COUNTS] = assign_tiers(items)


def pytest_terminal_summary(terminalreporter, config):
    counts = config.stash.get(TIER_COUNTS, None)
    if counts:  # not under xdist, whose workers collect
        terminalreporter.write_line("tiers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@pytest.fixture(scope="session", autouse=True)
def _private_dagster_home(tmp_path_factory):
    """A Dagster home per test process when the environment names none, so a test reaching the CLI without
    its own never writes the repository's ``dagster_home`` (shared by parallel workers and the demo)."""
    if os.environ.get("DAGSTER_HOME"):
        yield
        return
    home = tmp_path_factory.mktemp("dagster_home")
    # the project's event log storage (dagster_home/dagster.yaml), without its run queue and pools
    (home / "dagster.yaml").write_text(EVENT_LOG_STORAGE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["FLIT_EVENT_LOG_KEEP_CONNECTIONS"] = "1"  # as `flit run` does (not the UI's processes)
    yield
    os.environ.pop("DAGSTER_HOME", None)


@pytest.fixture(scope="session")
def spec():
    return load_spec(SPEC_PATH)


def read_frames(spec, export_dir: Path) -> dict[str, pd.DataFrame]:
    """Typed, validated extracts of every object (good rows only), as the extract assets produce."""
    src = CsvExportSource(export_dir)
    frames = {}
    for name, obj in spec.objects.items():
        parts = [split_chunk(obj, name, b.to_pandas().astype("string"), first_row=1).good for b in src.read(obj)]
        frames[name] = pd.concat(parts, ignore_index=True) if parts else empty_frame(obj)
    return frames


@pytest.fixture(scope="session")
def fixture_frames(spec):
    return read_frames(spec, FIXTURE_EXPORT)


@pytest.fixture
def sandbox(tmp_path):
    """A Pipedrive sandbox with a generous burst limit (the rate-limit tests use their own)."""
    with running_sandbox(tmp_path / "pipedrive.db", TOKEN, burst_limit=400, users=USERS) as url:
        yield url


def sandbox_stats(url: str) -> dict:
    resp = requests.get(f"{url}/__sandbox/stats", headers={"x-api-token": TOKEN}, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


@pytest.fixture
def migration_env(tmp_path, sandbox, monkeypatch):
    """Environment for one migration run: approved spec copy, data dir, Dagster home, sandbox."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPEC_PATH, specs / SPEC_PATH.name)
    approve_spec_file(specs / SPEC_PATH.name, "test reviewer", "2026-11-21T00:00:00+00:00")
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        "FLIT_SPEC_DIR": str(specs),
        "FLIT_DATA_DIR": str(tmp_path / "data"),
        "CLINIC_EXPORT_DIR": str(FIXTURE_EXPORT),
        "PIPEDRIVE_API_BASE": sandbox,
        "PIPEDRIVE_API_TOKEN": TOKEN,
        "DAGSTER_HOME": str(home),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("FLIT_LEDGER_URL", raising=False)
    return {"tmp": tmp_path, "specs": specs, "sandbox": sandbox, "env": {**os.environ, **env}}
