"""Benchmark: one full wave of the clinic migration per fault class, first run only (issue 9.6, 9.17).

Run from the repository root:

    .venv/bin/python benchmarks/fault_classes.py                 # 300 patients, every class (~20-30 min)
    .venv/bin/python benchmarks/fault_classes.py --only 429_storm lost_answers --patients 100

For each fault class a fresh Pipedrive sandbox (``burst_limit`` 200 per 2 s) gets the class's fault
rules (``POST /__sandbox/faults``), then the ``full`` wave of ``clinic_to_pipedrive`` runs once through
Dagster (``flit_pipelines.cli.run_wave``) over a synthetic 300-patient export (``build_clinic_export``,
seed 7, generator defaults). Recorded per class: records in the export's targets, HTTP requests the
sandbox answered, 429s it sent, retries the clients made (sum of the load reports' client stats),
wall time of the run, faults fired, failed records (ledger), and, by source key in the sandbox,
duplicates and missing records (must all be 0). Nothing here asserts: the tests do
(``flit_pipelines_tests/integration/test_fault_classes.py``). Results:
``benchmarks/results/fault_classes.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import REPO, git_state, write_results  # noqa: E402

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "sandboxes"))
M = "clinic_to_pipedrive"
TOKEN = "bench-token"
BENCH_ROOT = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench"))
RESULTS = REPO / "benchmarks" / "results" / "fault_classes.json"
USERS = [{"id": 1, "name": "Sandbox Admin", "email": "admin@sandbox.example", "active_flag": True}]
KEYED = ("organizations", "persons", "visits", "treatment_plans", "billing", "clinical_notes", "relationship_notes")
CREATES = ("/api/v2/persons", "/api/v2/organizations", "/api/v2/deals", "/api/v2/activities", "/api/v1/notes",
           "/api/v1/files")


def _rule(**kw) -> dict:
    return kw


FAULT_CLASSES: dict[str, tuple[list[dict], dict]] = {
    "baseline": ([], {}),
    "429_storm": ([_rule(status=429, retry_after=0, count=300, path_prefix="/api/v2/persons", method="POST")], {}),
    "5xx_bursts": ([_rule(status=503, count=30, path_prefix="/api/v2/activities", method="POST"),
                    _rule(status=502, count=20, path_prefix="/api/v2/deals", method="POST"),
                    _rule(status=500, count=15, path_prefix="/api/v1/notes", method="POST"),
                    # 504s on reads, fewer in a row than the 8 repeats a request gets (9 in a row on one
                    # read stop the wave: a 504 of the schema step's first listing did, at 10)
                    _rule(status=504, count=6, path_prefix="/api/v2/", method="GET")], {}),
    "slow_responses": ([_rule(delay_seconds=0.5, count=40, path_prefix="/api/", after=50),
                        _rule(delay_seconds=3.0, count=5, path_prefix="/api/v2/activities", method="POST"),
                        _rule(delay_seconds=3.0, count=5, path_prefix="/api/v1/notes", method="POST")],
                       {"request_timeout_seconds": 2}),
    "dropped_connections": ([_rule(drop_connection=True, count=10, path_prefix="/api/v2/persons", method="POST"),
                             _rule(drop_connection=True, count=10, path_prefix="/api/v2/activities", method="POST"),
                             _rule(drop_connection=True, count=5, path_prefix="/api/v2/deals", method="GET"),
                             _rule(drop_connection=True, count=3, path_prefix="/api/v1/files", method="POST")], {}),
    "lost_answers": ([_rule(lose_response=True, count=1 if p.endswith("organizations") else 5, path_prefix=p,
                            method="POST") for p in CREATES], {}),  # the export has 2 organizations
    "mixed": ([_rule(status=429, retry_after=0, count=150, after=20, path_prefix="/api/v2/", method="POST"),
               _rule(status=503, count=10, path_prefix="/api/v2/activities", method="POST"),
               _rule(drop_connection=True, count=5, path_prefix="/api/v1/notes", method="POST"),
               _rule(lose_response=True, count=5, path_prefix="/api/v2/deals", method="POST"),
               _rule(lose_response=True, count=3, path_prefix="/api/v2/persons", method="POST"),
               _rule(lose_response=True, count=2, path_prefix="/api/v1/files", method="POST"),
               _rule(delay_seconds=3.0, count=3, path_prefix="/api/v2/organizations", method="POST"),
               _rule(delay_seconds=0.3, count=20, path_prefix="/api/v1/", method="GET"),
               _rule(status=504, count=5, path_prefix="/api/v2/itemSearch", method="GET")],
              {"request_timeout_seconds": 2}),
}


def ensure_export(patients: int) -> Path:
    """The synthetic export (kept under ``$FLIT_BENCH_DIR`` and reused)."""
    from flit_sandboxes.clinic_export import build_clinic_export

    out = BENCH_ROOT / f"faults-export-p{patients}-s7"
    if not (out / "rows.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        rows = build_clinic_export(out, patients=patients, seed=7)
        (out / "rows.json").write_text(json.dumps(rows))
    return out


def _stats(base: str) -> dict:
    return requests.get(f"{base}/__sandbox/stats", headers={"x-api-token": TOKEN}, timeout=60).json()["data"]


def measure(name: str, export: Path, work: Path) -> dict:
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.cli import report, run_wave
    from flit_pipelines.destinations.pipedrive.client import PipedriveClient
    from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
    from flit_pipelines.spec import load_spec
    from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file
    from flit_sandboxes.pipedrive import running_sandbox

    rules, settings = FAULT_CLASSES[name]
    run_dir = work / name
    specs = run_dir / "specs"
    specs.mkdir(parents=True)
    (run_dir / "home").mkdir()
    text = (SPEC_DIR / f"{M}.yaml").read_text()
    extra = "".join(f"    {k}: {v}\n" for k, v in settings.items())
    (specs / f"{M}.yaml").write_text(text.replace("  settings:\n", "  settings:\n" + extra, 1))
    approve_spec_file(specs / f"{M}.yaml", "benchmark", "2026-11-21T00:00:00+00:00")
    with running_sandbox(run_dir / "pipedrive.db", TOKEN, burst_limit=200, window_seconds=2.0, users=USERS) as base:
        os.environ.update({"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(run_dir / "data"),
                           "CLINIC_EXPORT_DIR": str(export), "PIPEDRIVE_API_BASE": base, "PIPEDRIVE_API_TOKEN": TOKEN,
                           "DAGSTER_HOME": str(run_dir / "home")})
        os.environ.pop("FLIT_LEDGER_URL", None)
        for rule in rules:
            requests.post(f"{base}/__sandbox/faults", json=rule, headers={"x-api-token": TOKEN},
                          timeout=10).raise_for_status()
        before = _stats(base)
        t0 = time.perf_counter()
        ok = run_wave(M, "full", quiet=True, log_level="WARNING")
        wall = time.perf_counter() - t0
        after = _stats(base)
        rep = report(M, "full")
        spec = load_spec(specs / f"{M}.yaml")
        with PipedriveClient(base, TOKEN) as client:
            dest = PipedriveDestination(client, spec)
            expected = {t: set(FlitResource().ledger().crosswalk_frame(M, t)["source_id"]) for t in KEYED}
            duplicates = missing = 0
            for t in KEYED:
                counts = dest.source_key_counts(t, spec.targets[t])
                duplicates += sum(n - 1 for n in counts.values())
                rows = rep["targets"][t]["source_rows"] - rep["targets"][t]["quarantined"]
                missing += max(0, rows - len(counts))
            files = sum(1 for f in client.list("file") if f.get("active_flag") is not False)
        loads = list((run_dir / "data" / "reports" / M / "full" / "load").glob("*.json"))
        client_stats = [json.loads(p.read_text()).get("client", {}) for p in loads]
        pending = requests.get(f"{base}/__sandbox/faults", headers={"x-api-token": TOKEN}, timeout=10).json()["data"]
    targets = rep["targets"]
    return {
        "run_succeeded": ok, "all_checks_passed": rep["all_checks_passed"], "wall_seconds": round(wall, 1),
        "records": sum(t["source_rows"] or 0 for n, t in targets.items() if t["entity"] != "user"),
        "requests": after["requests_total"] - before["requests_total"],
        "responses_429": after["responses_by_status"].get("429", 0) - before["responses_by_status"].get("429", 0),
        "client_retries": sum(s.get("retries") or 0 for s in client_stats),
        "client_transport_errors": sum(s.get("transport_errors") or 0 for s in client_stats),
        "rate_limit_wait_seconds": round(sum(s.get("rate_limit_wait_seconds") or 0 for s in client_stats), 2),
        "faults_fired": after["faults_injected"] - before["faults_injected"],
        "faults_not_fired": sum(r["count"] for r in pending),
        "failed": sum(t["failed"] for t in targets.values()),
        "duplicates_by_source_key": duplicates, "missing_by_source_key": missing,
        "files_in_sandbox": files, "files_expected": targets["documents"]["created"],
        "keyed_records_checked": sum(len(v) for v in expected.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--only", nargs="+", choices=list(FAULT_CLASSES), default=list(FAULT_CLASSES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--merge", action="store_true", help="keep the other classes' results already in --out")
    args = parser.parse_args(argv)
    started, load0 = time.perf_counter(), os.getloadavg()
    export = ensure_export(args.patients)
    work = Path(tempfile.mkdtemp(prefix="flit_faults_", dir=BENCH_ROOT if BENCH_ROOT.exists() else None))
    results = {}
    try:
        for name in args.only:
            results[name] = measure(name, export, work)
            r = results[name]
            print(f"{name:20} records {r['records']:5}  requests {r['requests']:6}  429s {r['responses_429']:4}  "
                  f"retries {r['client_retries']:4}  {r['wall_seconds']:7.1f} s  failed {r['failed']}  "
                  f"dup {r['duplicates_by_source_key']}  missing {r['missing_by_source_key']}  "
                  f"faults {r['faults_fired']}/{r['faults_fired'] + r['faults_not_fired']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.merge and args.out.exists():
        earlier = json.loads(args.out.read_text())
        results = {**{k: v for k, v in earlier.get("results", {}).items() if k not in results}, **results}
        args.only = [n for n in FAULT_CLASSES if n in results]
    doc = {"benchmark": "fault_classes", "patients": args.patients, "export_rows": json.loads(
        (export / "rows.json").read_text()), "sandbox_burst": "200 per 2 s", "fault_rules": {
        n: {"rules": FAULT_CLASSES[n][0], "settings": FAULT_CLASSES[n][1]} for n in args.only},
        "results": results, "git": git_state("flit_pipelines", "sandboxes", "benchmarks"),
        "python": platform.python_version(), "cpus": os.cpu_count()}
    write_results(args.out, doc, loadavg_start=load0, started=started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
