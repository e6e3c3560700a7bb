"""A migration wave on Dagster's out-of-process executors: Celery (two workers, RabbitMQ, PostgreSQL instance and
ledger) and multiprocess.

The run is started by ``flit run``'s own function with ``FLIT_EXECUTOR=celery``; every step executes in
one of the two ``dagster-celery`` workers this test starts (their own processes, the same DAGSTER_HOME
on PostgreSQL), against the Pipedrive sandbox over HTTP. RabbitMQ is started here if it is installed but
not running; each run gets its own virtual host.
"""

from __future__ import annotations

import os
import shutil

import dagster as dg
import psycopg2
import pytest
import requests

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.runtime import PROJECT_ROOT
from flit_pipelines_tests.celery_workers import celery_workers, ensure_rabbitmq, rabbitmq_vhost
from flit_pipelines_tests.conftest import TOKEN, sandbox_stats
from flit_pipelines_tests.postgres_db import fresh_database
from flit_sandboxes.kernel.stats import overlapping_clients

M = "clinic_to_pipedrive"
# the fixture export's patients (flit_pipelines_tests/fixtures/clinic_extras/patients.csv)
PATIENTS = {f"a0000000-0000-4000-8000-00000000000{i}" for i in range(1, 5)}


@pytest.fixture
def rabbitmq_broker():
    reason = ensure_rabbitmq()
    if reason:
        pytest.skip(reason)
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def pg_url():
    try:
        with fresh_database("flit_celery") as url:
            yield url
    except psycopg2.OperationalError as exc:  # pragma: no cover - the CI machine has PostgreSQL
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for this test: {type(exc).__name__}")


def test_full_wave_on_two_celery_workers(migration_env, pg_url, rabbitmq_broker, monkeypatch):
    home = migration_env["tmp"] / "dagster_home"
    shutil.copy(PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_PG_URL": pg_url, "FLIT_LEDGER_URL": pg_url, "FLIT_EXECUTOR": "celery",
           "FLIT_CELERY_BROKER": rabbitmq_broker, "FLIT_CELERY_BACKEND": "rpc://"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    with celery_workers(2, os.environ, migration_env["tmp"] / "workers") as workers:
        ok = run_wave(M, "full", quiet=True)
        names = {w.name for w in workers}
    assert ok is True

    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    assert (t["persons"]["created"], t["persons"]["destination_count"]) == (4, 4)
    assert (t["organizations"]["created"], t["visits"]["created"], t["billing"]["created"]) == (2, 8, 3)

    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        events = instance.all_logs(run.run_id)
        checks = [e.dagster_event.event_specific_data for e in events
                  if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
        steps = {e.step_key for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS"}
        in_worker = {}  # step key -> the Celery worker that executed it
        for e in events:
            if e.dagster_event and e.dagster_event.event_type_value == "ENGINE_EVENT" and e.step_key:
                meta = e.dagster_event.engine_event_data.metadata
                if "Celery worker" in meta:
                    in_worker[e.step_key] = meta["Celery worker"].value.split("@", 1)[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert checks and all(c.passed for c in checks)
    assert len(checks) >= 10
    assert steps and steps <= set(in_worker)  # every step ran in a Celery worker ...
    assert set(in_worker.values()) <= names  # ... one of ours

    stats = sandbox_stats(migration_env["sandbox"])
    assert stats["entities"]["person"]["active"] == 4
    assert stats["entities"]["organization"]["active"] == 2
    assert stats["entities"]["deal"]["active"] == 3 + 2  # billing + treatment plans
    assert stats["entities"]["deal"]["active"] == t["billing"]["destination_count"] + t["treatment_plans"][
        "destination_count"]
    assert stats["entities"]["activity"]["active"] == t["visits"]["destination_count"] == 8
    assert stats["entities"]["note"]["active"] == 7  # 3 clinical + 4 relationship notes, none twice
    persons = FlitResource().ledger().crosswalk_frame(M, "persons")
    assert set(persons["source_id"]) == PATIENTS

    # the account's request log: every request names its process, and no two processes overlapped
    log = requests.get(f"{migration_env['sandbox']}/__sandbox/requests", headers={"x-api-token": TOKEN},
                       timeout=30).json()["data"]
    assert len(log) == stats["requests_total"]
    assert all(row["client"].startswith("flit-pipelines/pipedrive-client (pid ") for row in log)
    assert overlapping_clients(log) == []


def test_full_wave_on_the_multiprocess_executor(migration_env, monkeypatch):
    """FLIT_EXECUTOR=multiprocess: `flit run` executes the job out of process, a child process per step."""
    monkeypatch.setenv("FLIT_EXECUTOR", "multiprocess")
    assert run_wave(M, "full", quiet=True) is True
    assert report(M, "full")["all_checks_passed"] is True
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        starts = [e for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    pids = [e.dagster_event.pid for e in starts]
    assert len(starts) >= 20 and os.getpid() not in pids  # no step in this process ...
    assert len(set(pids)) == len(starts)  # ... and a process of its own per step
    assert sandbox_stats(migration_env["sandbox"])["entities"]["person"]["active"] == 4
