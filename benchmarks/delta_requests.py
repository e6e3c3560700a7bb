"""Benchmark: requests sent by a delta wave with k changed records out of N (issue 5).

Run from the repository root:

    .venv/bin/python benchmarks/delta_requests.py          # N = 2,000 Dentrix / 500 PracticeHub patients (~15 min)
    .venv/bin/python benchmarks/delta_requests.py --patients 300 --only dentrix_to_highlevel

For each migration it seeds a source of N patients, runs the full wave through Dagster into the
destination sandbox, lets the delta sensor take the window's first look (``flit delta`` = one sensor
evaluation + the run it requests), then changes k patients in the source (k = 0, 10 and 1 % of N, each
in a fresh tick) and counts what the tick sent:

* ``dentrix_to_highlevel``: the demo practice in SQLite (database source: one filtered query per object,
  keys listed to find deletions; no HTTP on the source side) into the HighLevel sandbox;
* ``practicehub_to_salesforce``: the PracticeHub sandbox (the API's ``updated=`` filter; HTTP counted)
  into the Salesforce sandbox (Bulk API 2.0 / sObject Collections).

Destination requests are every HTTP request the sandbox answered during the tick (reads, searches,
writes, OAuth tokens), from its ``/__sandbox/stats``; writes are those that change records; records
written are the tick's create/update/delete audit events. Results: ``benchmarks/results/delta_requests.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import REPO, git_state, write_results  # noqa: E402

STAMP_DB, STAMP_API = "2026-11-21 09:{:02d}:00", "2026-11-21T09:{:02d}:00Z"


def _counts(url: str, headers: dict) -> dict[str, int]:
    body = requests.get(f"{url}/__sandbox/stats", headers=headers, timeout=60).json()
    return (body.get("data", body))["requests_by_operation"]


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0) and "/__sandbox" not in op}


def _is_write(op: str) -> bool:
    """A request that changes records: not a read, a search (HighLevel searches are POSTs) or a token."""
    return not op.startswith("GET") and "/search" not in op and "oauth2/token" not in op


def _approve(migration: str, specs: Path) -> None:
    from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file

    text = (SPEC_DIR / f"{migration}.yaml").read_text()
    (specs / f"{migration}.yaml").write_text(text.replace("requests_per_second: 0.9", "requests_per_second: 45"))
    approve_spec_file(specs / f"{migration}.yaml", "benchmark", "2026-11-21T00:00:00+00:00")


def _measure(migration: str, n: int, change, dest: tuple[str, dict], source: tuple[str, dict] | None) -> dict:
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.cli import run_wave
    from flit_pipelines.delta.runner import tick

    t0 = time.perf_counter()
    assert run_wave(migration, "full", quiet=True, log_level="WARNING"), "full wave failed"
    out: dict = {"full_wave_seconds": round(time.perf_counter() - t0, 1)}
    ledger = FlitResource().ledger()
    steps = [("first_look", 0), ("k=0", 0), ("k=10", 10), (f"k=1%={max(n // 100, 1)}", max(n // 100, 1))]
    for minute, (label, k) in enumerate(steps):
        if label != "first_look":
            change(k, minute)
        d0 = _counts(*dest)
        s0 = _counts(*source) if source else {}
        t = time.perf_counter()
        result = tick(migration)
        row = {"k": k, "seconds": round(time.perf_counter() - t, 2), "skip_reason": result.skip_reason,
               "partition": result.partition, "success": result.success,
               "changed_objects": result.changed_objects}
        sent = _delta(d0, _counts(*dest))
        row["destination_requests"] = sum(sent.values())
        row["destination_writes"] = sum(v for op, v in sent.items() if _is_write(op))
        row["destination_by_operation"] = sent
        if source:
            row["source_requests"] = sum(_delta(s0, _counts(*source)).values())
        if result.run_id:
            audit = ledger.audit_frame(migration, run_id=result.run_id)
            row["records_written"] = audit["operation"].isin(["create", "update", "delete"]).groupby(
                audit["target"]).sum().loc[lambda s: s > 0].to_dict()
        out[label] = row
        print(f"{migration} {label}: {row}")
    return out


def dentrix(n: int, work: Path) -> dict:
    from flit_sandboxes.dentrix_practice import build_practice
    from flit_sandboxes.highlevel import running_sandbox

    db = work / "practice.db"
    build_practice(db, patients=n, seed=7)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT first_name, last_name, email FROM v_provider ORDER BY provider_id").fetchall()
    users = [{"email": "admin@sandbox.example", "firstName": "Practice", "lastName": "Admin", "role": "admin"}]
    users += [{"email": e, "firstName": f, "lastName": s, "role": "user"} for f, s, e in rows]
    pipelines = [{"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]}]
    token = "bench-token"
    with running_sandbox(work / "highlevel.db", token, location_id="loc_bench", users=users, pipelines=pipelines,
                         agency_token="bench-agency", burst_limit=5000) as url:
        os.environ.update({"DENTRIX_DB_URL": f"sqlite:///{db}", "HIGHLEVEL_API_BASE": url, "HIGHLEVEL_TOKEN": token,
                           "HIGHLEVEL_LOCATION_ID": "loc_bench", "HIGHLEVEL_AGENCY_TOKEN": "bench-agency"})

        def change(k: int, minute: int) -> None:
            with sqlite3.connect(db) as con:
                ids = [r[0] for r in con.execute("SELECT patient_id FROM v_patient ORDER BY patient_id LIMIT ?", (k,))]
                con.executemany("UPDATE v_patient SET preferred_name = ?, modified_time_stamp = ? WHERE patient_id = ?",
                                [(f"Changed {minute}", STAMP_DB.format(minute), i) for i in ids])

        return _measure("dentrix_to_highlevel", n, change, (url, {"Authorization": f"Bearer {token}"}), None)


def practicehub(n: int, work: Path) -> dict:
    from flit_sandboxes.practicehub import build_practicehub
    from flit_sandboxes.practicehub import running_sandbox as running_practicehub
    from flit_sandboxes.salesforce import running_sandbox as running_salesforce
    from flit_sandboxes.salesforce.server import fetch_token

    state = work / "practicehub.db"
    build_practicehub(state, patients=n, seed=7)
    with sqlite3.connect(state) as con:
        practitioners = con.execute("SELECT first_name, last_name, email FROM practitioners ORDER BY id").fetchall()
    users = [{"Email": "admin@sandbox.example", "FirstName": "Org", "LastName": "Admin", "IsActive": True}]
    users += [{"Email": e, "FirstName": f, "LastName": s, "IsActive": True} for f, s, e in practitioners]
    with ExitStack() as stack:
        ph = stack.enter_context(running_practicehub(state, api_key="bench-key", rate_per_second=50))
        sf = stack.enter_context(running_salesforce(work / "salesforce.db", client_id="c", client_secret="s",
                                                    users=users, bulk_delay_seconds=0.05))
        os.environ.update({"PRACTICEHUB_API_BASE": f"{ph}/api", "PRACTICEHUB_API_KEY": "bench-key",
                           "SALESFORCE_INSTANCE_URL": sf, "SALESFORCE_CLIENT_ID": "c", "SALESFORCE_CLIENT_SECRET": "s"})
        sf_headers = {"Authorization": f"Bearer {fetch_token(sf, 'c', 's')['access_token']}"}

        def change(k: int, minute: int) -> None:
            with sqlite3.connect(state) as con:
                con.execute("UPDATE patients SET mobile_phone = ?, updated_at = ? WHERE id <= ?",
                            (f"(555) 010-{minute:04d}", STAMP_API.format(minute), k))

        return _measure("practicehub_to_salesforce", n, change, (sf, sf_headers),
                        (ph, {"x-practicehub-key": "bench-key"}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=2000, help="Dentrix practice size (1 %% = 20)")
    ap.add_argument("--practicehub-patients", type=int, default=500,
                    help="PracticeHub practice size (its full wave into the in-process Salesforce sandbox is slow)")
    ap.add_argument("--only", choices=["dentrix_to_highlevel", "practicehub_to_salesforce"], default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "delta_requests.json"))
    args = ap.parse_args()
    started, load0 = time.perf_counter(), os.getloadavg()
    doc: dict = {"benchmark": "delta_requests", "patients": {"dentrix_to_highlevel": args.patients,
                                                             "practicehub_to_salesforce": args.practicehub_patients},
                 "python": platform.python_version(),
                 **git_state("flit_pipelines", "mapping_specs")}
    for migration, fn in (("dentrix_to_highlevel", dentrix), ("practicehub_to_salesforce", practicehub)):
        if args.only and args.only != migration:
            continue
        work = Path(tempfile.mkdtemp(prefix="flit_delta_bench_"))
        specs = work / "specs"
        specs.mkdir()
        _approve(migration, specs)
        (work / "home").mkdir()
        os.environ.update({"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(work / "data"),
                           "DAGSTER_HOME": str(work / "home")})
        os.environ.pop("FLIT_LEDGER_URL", None)
        try:
            doc[migration] = fn(args.practicehub_patients if fn is practicehub else args.patients, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    write_results(Path(args.out), doc, loadavg_start=load0, started=started)


if __name__ == "__main__":
    main()
