"""A ``flit run`` killed during a load never blocks the next run (issue 9, item 9).

The instance runs with the project's ``dagster_home/dagster.yaml`` (destination pool limit 1), as in
production: a killed run keeps its pool slot until it is recovered. Both tests run the clinic
migration into the Pipedrive sandbox over real HTTP and assert on run status, events and log lines.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from flit_pipelines.cli import report, run_wave
from flit_pipelines.runtime import PROJECT_ROOT
from flit_pipelines.runs import HEARTBEAT_TAG, HOST_TAG, PID_TAG, RECOVERED_TAG
from flit_pipelines_tests.conftest import sandbox_stats

M = "clinic_to_pipedrive"
POOL = f"{M}_destination"
# Safety nets only (a hung run must fail the test, not hang it); nothing asserts on elapsed time.
HANG_GUARD_SECONDS = 300


@pytest.fixture
def pooled_env(migration_env):
    """``migration_env`` with the project's instance config: the destination pool has limit 1."""
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml")
    return migration_env


def _blocked_events(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id) if e.message and "blocked by limit for pool" in e.message]


def test_rerun_after_a_killed_load_recovers_the_dead_run_and_completes(pooled_env, tmp_path):
    from flit_sandboxes.clinic_export import build_clinic_export

    export = tmp_path / "synthetic"
    build_clinic_export(export, patients=40, seed=11)
    env = dict(pooled_env["env"], CLINIC_EXPORT_DIR=str(export))
    os.environ["CLINIC_EXPORT_DIR"] = str(export)
    cmd = [sys.executable, "-m", "flit_pipelines.cli", "run", M, "--wave", "full", "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at = None
    while proc.poll() is None:
        active = sandbox_stats(pooled_env["sandbox"])["entities"].get("activity", {}).get("active", 0)
        if active >= 40:
            proc.send_signal(signal.SIGKILL)  # mid-load: no cleanup, the run stays STARTED
            killed_at = active
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert killed_at is not None, "the load finished before it could be killed"

    with dg.DagsterInstance.get() as instance:
        dead = [r.dagster_run for r in instance.get_run_records()
                if r.dagster_run.tags.get(PID_TAG) == str(proc.pid)]
        assert len(dead) == 1 and dead[0].status == dg.DagsterRunStatus.STARTED
        dead_id = dead[0].run_id
        held = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        assert [s.run_id for s in held] == [dead_id]  # the defect's precondition: the dead run holds the slot

    # the plain re-run, as an operator would type it
    try:
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail("the re-run is still waiting for the destination pool held by the killed run")
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert f"recovered run {dead_id} (was STARTED): its process {proc.pid} on {socket.gethostname()} is gone" \
        in rerun.stderr

    with dg.DagsterInstance.get() as instance:
        old = instance.get_run_by_id(dead_id)
        assert old.status == dg.DagsterRunStatus.FAILURE
        failure = [e.message for e in instance.all_logs(dead_id) if e.dagster_event
                   and e.dagster_event.event_type_value == "PIPELINE_FAILURE"]
        assert len(failure) == 1 and "is gone" in failure[0] and POOL in failure[0]
        new = [r.dagster_run for r in instance.get_run_records()
               if r.dagster_run.tags.get(RECOVERED_TAG) == dead_id]
        assert len(new) == 1 and new[0].status == dg.DagsterRunStatus.SUCCESS
        assert _blocked_events(instance, new[0].run_id) == []  # it never waited for the pool
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []

    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    visits = rep["targets"]["visits"]
    expected = visits["source_rows"] - visits["quarantined"]
    stats = sandbox_stats(pooled_env["sandbox"])
    assert stats["entities"]["activity"]["active"] == expected == visits["destination_count"]  # 0 missing
    assert rep["targets"]["visits"]["checks"]["no_duplicate_source_ids"] is True  # 0 duplicates
    assert stats["entities"]["person"]["active"] == rep["targets"]["persons"]["destination_count"]


class _Lines(logging.Handler):
    def __init__(self, needle: str):
        super().__init__(logging.WARNING)
        self.needle, self.lines, self.seen = needle, [], threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        self.lines.append(msg)
        if self.needle in msg:
            self.seen.set()


def test_a_waiting_run_names_the_run_holding_its_pool_and_recovers_it_when_its_process_dies(
        pooled_env, monkeypatch):
    monkeypatch.setenv("FLIT_RUN_HEARTBEAT_SECONDS", "0.2")
    holder_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    holder_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:  # another live `flit run` that holds the destination pool
        instance.add_run(dg.DagsterRun(job_name=f"{M}_migration", run_id=holder_id,
                                       status=dg.DagsterRunStatus.STARTED,
                                       tags={PID_TAG: str(holder_proc.pid), HOST_TAG: socket.gethostname(),
                                             HEARTBEAT_TAG: str(int(time.time()))}))
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(POOL)
        assert storage.claim_concurrency_slot(POOL, holder_id, f"{M}__load__organizations").is_claimed

    lines = _Lines(f"held by run {holder_id}")
    logger = logging.getLogger("flit_pipelines.runs")
    logger.addHandler(lines)
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("ok", run_wave(M, "full", quiet=True,
                                                                               log_level="WARNING")))
    try:
        worker.start()
        assert lines.seen.wait(HANG_GUARD_SECONDS), "the waiting run never said what it waits for"
        assert worker.is_alive()  # still waiting: the holder is alive
        holder_proc.send_signal(signal.SIGKILL)
        holder_proc.wait(timeout=30)
        worker.join(HANG_GUARD_SECONDS)
        assert not worker.is_alive(), "the run still waits after the holder's process died"
    finally:
        logger.removeHandler(lines)
        if holder_proc.poll() is None:
            holder_proc.kill()
            holder_proc.wait()
    assert outcome["ok"] is True
    wait_line = next(m for m in lines.lines if f"held by run {holder_id}" in m)
    assert f"wait for pool {POOL} (limit 1)" in wait_line
    assert f"step {M}__load__organizations, pid {holder_proc.pid} on {socket.gethostname()}" in wait_line
    assert any(m.startswith(f"recovered run {holder_id} (was STARTED): its process {holder_proc.pid}")
               for m in lines.lines)
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(holder_id).status == dg.DagsterRunStatus.FAILURE
        mine = [r.dagster_run for r in instance.get_run_records()
                if r.dagster_run.run_id != holder_id and r.dagster_run.tags.get(PID_TAG) == str(os.getpid())]
        assert len(mine) == 1 and mine[0].status == dg.DagsterRunStatus.SUCCESS
        events = [e.message for e in instance.all_logs(mine[0].run_id) if e.message]
        assert any(f"held by run {holder_id}" in m for m in events)  # in the run's own event log too
        assert any(f"recovered run {holder_id}" in m for m in events)
    assert report(M, "full")["all_checks_passed"] is True
