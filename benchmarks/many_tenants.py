"""Many practices at once: N tenants of clinic_to_pipedrive, each into its own Pipedrive sandbox account at
the real rate limit, run (a) one after another and (b) all at once, through Dagster's run queue
(QueuedRunCoordinator + dagster-daemon, one run per destination account) with the Celery executor and two
workers (issue 15, "Measure").

    .venv/bin/python benchmarks/many_tenants.py [--tenants 8] [--patients 30] [--workers 2] [--modes sequential,concurrent]

Set-up, all under ``$FLIT_BENCH_DIR/many_tenants`` (default /tmp/flit_bench; deleted unless ``--keep``):

- Dagster instance on a fresh PostgreSQL database (127.0.0.1:5432), run queue with
  ``tag_concurrency_limits`` on ``flit/destination_account`` (applyLimitPerUniqueValue, limit 1), the pool
  default limit raised to N (see "Tenants" below), RabbitMQ broker on a virtual host of its own, results
  ``rpc://``; ``dagster-daemon run`` launches the queued runs; ``--workers`` ``dagster-celery`` workers
  with ceil(N / workers) processes each run every step.
- Per tenant: a synthetic clinic export (``build_clinic_export``, ``--patients`` patients, its own seed),
  its own data directory (Parquet, SQLite ledger, reports) and its own Pipedrive sandbox server (its own
  process and port) with burst limit 20 per 2 s: Pipedrive's lowest plan, the limit the client assumes by
  default (``destinations/pipedrive/transport.py``), so the account's ceiling is 10 requests/s.
- Tenants: until tenants land in the product (``flit_pipelines/tenants``), a tenant is emulated by run
  config (source directory, destination base URL, data directory: the launchpad's ``flit`` block) and the
  run tags ``flit/tenant`` and ``flit/destination_account``; every run of this emulation is partition
  ``full``. The migration's destination steps share the pool ``clinic_to_pipedrive_destination``, so the
  benchmark's instance raises the pool default to N: the queue's per-account limit keeps one run per
  account, and the chain of destination steps keeps one step per run (assets/factory.py). With tenants,
  ``tenant_run_config`` becomes ``{}`` and the partition key ``<tenant>.full`` (``tenants.keys``).

Measured per mode: wall time (first submission to last run end), each run's own duration and status,
every asset check's outcome, per account from the sandbox's request log (``GET /__sandbox/requests``):
requests, writes, 429s, write rate over its first-to-last write and its share of the account's ceiling,
and the proof that no two processes used the account at once (``overlapping_clients``); the aggregate
write rate as a share of N x the ceiling; peak RSS of every worker process (VmHWM). Results:
``benchmarks/results/many_tenants.json`` and a table on stdout. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import REPO, git_state, write_results  # noqa: E402

sys.path.insert(0, str(REPO))
import dagster as dg  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402

from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file  # noqa: E402
from flit_pipelines_tests.celery_workers import celery_workers, ensure_rabbitmq, rabbitmq_vhost  # noqa: E402
from flit_pipelines_tests.postgres_db import fresh_database  # noqa: E402
from flit_sandboxes.clinic_export import build_clinic_export  # noqa: E402
from flit_sandboxes.kernel.stats import overlapping_clients  # noqa: E402

M = "clinic_to_pipedrive"
JOB = f"{M}_migration"
TOKEN = "bench-token"
BURST, WINDOW = 20, 2.0  # requests per window per account: the ceiling is BURST / WINDOW requests/s
BIN = Path(sys.executable).parent
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
USERS = [{"id": 1, "name": "Sandbox Admin", "email": "admin@sandbox.example", "active_flag": True}]
RUN_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 2.0  # how often run status is read (waiting for runs, not for a rate limit)


@dataclass
class Tenant:
    """One emulated practice: its export, data directory and sandbox account."""

    name: str
    export: Path
    data: Path
    url: str = ""
    sandbox: subprocess.Popen | None = None
    run_id: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(tenant: Tenant, root: Path, env: dict) -> None:
    """Serve the tenant's Pipedrive account in its own process; wait until its port answers."""
    port = free_port()
    users = root / "users.json"
    users.write_text(json.dumps(USERS))
    log = (root / f"sandbox-{tenant.name}.log").open("wb")
    tenant.sandbox = subprocess.Popen(
        [str(BIN / "flit"), "sandbox", "serve", "pipedrive", "--port", str(port), "--state",
         str(root / f"pipedrive-{tenant.name}.db"), "--token", TOKEN, "--burst-limit", str(BURST),
         "--users-file", str(users)], env=env, stdout=log, stderr=subprocess.STDOUT)
    tenant.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"{tenant.url}/__sandbox/stats", headers={"x-api-token": TOKEN}, timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.5)  # the server is starting
    raise RuntimeError(f"sandbox of {tenant.name} did not start; see {log.name}")


def tenant_run_config(tenant: Tenant) -> dict:
    """The run config that makes one run serve ``tenant`` (the launchpad's ``flit`` block and the Parquet
    directories); secrets only by variable name (``PIPEDRIVE_API_TOKEN``)."""
    parquet = str(tenant.data / "parquet")
    return {"resources": {
        "flit": {"config": {"data_dir": str(tenant.data), M: {"source": {"directory": str(tenant.export)},
                                                               "destination": {"api_base": tenant.url}}}},
        "parquet": {"config": {"base_dir": parquet}},
        "flit_parquet": {"config": {"base_dir": parquet}}}}


def tenant_tags(tenant: Tenant) -> dict:
    """Run tags: the tenant, its destination account (the queue's limit key) and the wave partition."""
    return {"flit/tenant": tenant.name, "flit/destination_account": f"pipedrive-{tenant.name}",
            "dagster/partition": "full"}


def launch(tenant: Tenant, workspace: Path, env: dict, log: Path) -> subprocess.Popen:
    """Submit the tenant's run to the instance's run queue (``dagster job launch``)."""
    tenant.run_id = str(uuid.uuid4())
    return subprocess.Popen(
        [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", JOB, "--run-id", tenant.run_id,
         "--config-json", json.dumps(tenant_run_config(tenant)), "--tags", json.dumps(tenant_tags(tenant))],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)


def wait_runs(instance: dg.DagsterInstance, run_ids: list[str]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        runs = [instance.get_run_by_id(r) for r in run_ids]
        if all(r is not None and r.is_finished for r in runs):
            return
        time.sleep(POLL_SECONDS)
    raise RuntimeError("runs did not finish in time")


def run_doc(instance: dg.DagsterInstance, tenant: Tenant) -> dict:
    """Status, start/end (unix s), duration and check outcomes of the tenant's run."""
    record = instance.get_run_record_by_id(tenant.run_id)
    checks = [e.dagster_event.event_specific_data for e in instance.all_logs(
        tenant.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    workers = {e.dagster_event.engine_event_data.metadata["Celery worker"].value.split("@")[0]
               for e in instance.all_logs(tenant.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
               if "Celery worker" in (e.dagster_event.engine_event_data.metadata or {})}
    return {"run_id": tenant.run_id, "status": record.dagster_run.status.value, "start": record.start_time,
            "end": record.end_time, "seconds": round(record.end_time - record.start_time, 2)
            if record.start_time and record.end_time else None,
            "checks": len(checks), "checks_failed": sorted(c.check_name for c in checks if not c.passed),
            "celery_workers": sorted(workers)}


def account_doc(tenant: Tenant) -> dict:
    """What the tenant's account saw: from its request log and counters."""
    headers = {"x-api-token": TOKEN}
    log = requests.get(f"{tenant.url}/__sandbox/requests", headers=headers, timeout=60).json()["data"]
    stats = requests.get(f"{tenant.url}/__sandbox/stats", headers=headers, timeout=60).json()["data"]
    writes = sorted(r["started"] for r in log if r["method"] in WRITE_METHODS and r["status"].startswith("2"))
    span = writes[-1] - writes[0] if len(writes) > 1 else 0.0
    rate = (len(writes) - 1) / span if span else None
    limited = sum(r["status"] == "429" for r in log)
    overlaps = overlapping_clients(log)
    return {"requests": len(log), "writes": len(writes), "responses_429": limited,
            "share_429": round(limited / len(log), 5) if log else None,
            "first_write": writes[0] if writes else None, "last_write": writes[-1] if writes else None,
            "writes_per_second": round(rate, 3) if rate else None,
            "requests_per_second_over_write_window": round(sum(
                writes[0] <= r["started"] <= writes[-1] for r in log) / span, 3) if span else None,
            "share_of_ceiling": round(rate / (BURST / WINDOW), 4) if rate else None,
            "clients": len({r["client"] for r in log}), "overlapping_requests_of_two_clients": len(overlaps),
            "persons": stats["entities"].get("person", {}).get("active", 0)}


def peak_rss(workers) -> dict:
    """VmHWM (KiB) of every process of every worker (the CLI, celery's main process, its pool children)."""
    out = {}
    for w in workers:
        procs = {}
        for pid in w.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:60]
            procs[str(pid)] = {"vm_hwm_kib": hwm, "cmd": cmd}
        out[w.name] = {"processes": procs, "max_process_kib": max((p["vm_hwm_kib"] for p in procs.values()), default=0),
                       "sum_kib": sum(p["vm_hwm_kib"] for p in procs.values())}
    return out


def run_mode(mode: str, tenants: list[Tenant], root: Path, workspace: Path, env: dict,
             instance: dg.DagsterInstance) -> dict:
    """Start fresh accounts, submit the tenants' runs (one after another, or all at once), measure."""
    base = root / mode
    base.mkdir()
    for t in tenants:
        t.data = base / t.name
        start_sandbox(t, base, env)
    log = base / "launch.log"
    started = time.time()
    try:
        if mode == "sequential":
            for t in tenants:
                launch(t, workspace, env, log).wait()
                wait_runs(instance, [t.run_id])
        else:
            for p in [launch(t, workspace, env, log) for t in tenants]:
                p.wait()
            wait_runs(instance, [t.run_id for t in tenants])
        runs = {t.name: run_doc(instance, t) for t in tenants}
        accounts = {t.name: account_doc(t) for t in tenants}
    finally:
        for t in tenants:
            if t.sandbox is not None:
                t.sandbox.terminate()
                t.sandbox.wait(timeout=30)
    ends = [r["end"] for r in runs.values() if r["end"]]
    firsts = [a["first_write"] for a in accounts.values() if a["first_write"]]
    lasts = [a["last_write"] for a in accounts.values() if a["last_write"]]
    writes = sum(a["writes"] for a in accounts.values())
    window = (max(lasts) - min(firsts)) if firsts and lasts else 0.0
    aggregate = writes / window if window else None
    ceiling = len(tenants) * BURST / WINDOW
    return {"wall_seconds": round(max(ends) - started, 2) if ends else None,
            "runs_succeeded": sum(r["status"] == "SUCCESS" for r in runs.values()),
            "checks_failed": {n: r["checks_failed"] for n, r in runs.items() if r["checks_failed"]},
            "aggregate_writes_per_second": round(aggregate, 3) if aggregate else None,
            "aggregate_share_of_n_ceilings": round(aggregate / ceiling, 4) if aggregate else None,
            "max_share_429": max((a["share_429"] or 0) for a in accounts.values()),
            "accounts_with_two_clients_at_once": [n for n, a in accounts.items()
                                                  if a["overlapping_requests_of_two_clients"]],
            "runs": runs, "accounts": accounts}


def instance_yaml(n: int) -> dict:
    return {"storage": {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}},
            "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator",
                                "config": {"dequeue_interval_seconds": 1}},
            "concurrency": {"pools": {"default_limit": n},
                            "runs": {"max_concurrent_runs": n, "tag_concurrency_limits": [
                                {"key": "flit/destination_account", "value": {"applyLimitPerUniqueValue": True},
                                 "limit": 1}]}},
            "telemetry": {"enabled": False}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenants", type=int, default=8)
    ap.add_argument("--patients", type=int, default=30, help="patients per tenant's export")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--modes", default="sequential,concurrent")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "many_tenants.json")
    args = ap.parse_args(argv)
    t0, load0 = time.perf_counter(), os.getloadavg()
    reason = ensure_rabbitmq()
    if reason:
        print(f"many_tenants: {reason}", file=sys.stderr)
        return 1
    root = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench")) / f"many_tenants_{uuid.uuid4().hex[:6]}"
    (root / "specs").mkdir(parents=True)
    shutil.copy(SPEC_DIR / f"{M}.yaml", root / "specs" / f"{M}.yaml")
    approve_spec_file(root / "specs" / f"{M}.yaml", "benchmark", "2026-12-08T00:00:00+00:00")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(args.tenants)))
    workspace = root / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "flit_pipelines.definitions", "attribute": "defs", "working_directory": str(REPO),
        "location_name": "flit_pipelines"}}]}))
    tenants = []
    for i in range(args.tenants):
        export = root / "exports" / f"t{i + 1}"
        build_clinic_export(export, patients=args.patients, seed=100 + i)
        tenants.append(Tenant(f"t{i + 1}", export, root))
    doc = {"benchmark": "many_tenants", "migration": M, "tenants": args.tenants, "patients_per_tenant": args.patients,
           "workers": args.workers, "processes_per_worker": math.ceil(args.tenants / args.workers),
           "account_ceiling_requests_per_second": BURST / WINDOW, "cpu_count": os.cpu_count(),
           **git_state("flit_pipelines", "benchmarks", "sandboxes")}
    with fresh_database("flit_bench") as pg, rabbitmq_vhost() as broker:
        env = {k: v for k, v in os.environ.items() if k not in ("FLIT_LEDGER_URL", "FLIT_DATA_DIR")}
        env.update({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": pg, "FLIT_EXECUTOR": "celery",
                    "FLIT_CELERY_BROKER": broker, "FLIT_CELERY_BACKEND": "rpc://", "FLIT_SPEC_DIR": str(root / "specs"),
                    "FLIT_DATA_DIR": str(root / "unused"), "PIPEDRIVE_API_TOKEN": TOKEN,
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                    "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "sandboxes"), os.environ.get("PYTHONPATH", "")])})
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "DAGSTER_PG_URL")})
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=root,
                                  stdout=(root / "daemon.log").open("wb"), stderr=subprocess.STDOUT)
        try:
            with celery_workers(args.workers, env, root / "workers", prefix="bench",
                                concurrency=math.ceil(args.tenants / args.workers)) as workers, \
                    dg.DagsterInstance.get() as instance:
                for mode in args.modes.split(","):
                    doc[mode] = run_mode(mode, tenants, root, workspace, env, instance)
                    summary = {k: v for k, v in doc[mode].items() if k not in ("runs", "accounts")}
                    print(mode, json.dumps(summary))
                doc["worker_peak_rss"] = peak_rss(workers)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    write_results(args.out, doc, loadavg_start=load0, started=t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
