"""Benchmark: HTTP requests and wall time to load 10,000 records into the Salesforce sandbox through
``load_target`` with Bulk API 2.0 jobs versus REST sObject Collections.

Run from the repository root:

    .venv/bin/python benchmarks/load_salesforce_bulk.py                  # ~1-3 min
    .venv/bin/python benchmarks/load_salesforce_bulk.py --records 2000   # quicker

What it does (everything under a temporary directory; the repo's data/ directory is not touched):

1. ``--records`` (10,000) synthetic patients (Faker, seed 7): names, e-mails, E.164 phones, birth
   dates, a balance, a status and an original create date, plus one recall per patient. The
   payloads are built with the real ``build_payload`` from a small in-script spec with two targets:
   ``patients`` (Contact: 5 standard fields, OwnerId from a user lookup with the fallback owner,
   3 custom fields + the external ID) and ``recalls`` (Task: Subject, ActivityDate, Status, the
   original create date, and the **relationship column** ``Contact:Who.Source_System_ID__c``).
2. Per scenario, a fresh Salesforce sandbox (``running_sandbox``, in-process uvicorn thread, default
   ``bulk_delay_seconds=0.2`` of simulated job processing) and a fresh SQLite ledger; the destination
   is built as ``registry.open_destination`` builds it (``SalesforceDestination.connect``: OAuth client
   credentials + simple-salesforce with ``api_version`` 62.0); ``ensure_schema`` (timed apart), then
   ``load_target`` for users, patients, recalls:

   * ``bulk_chunk_10000``: ``chunk_rows=10,000`` -> one Bulk API 2.0 upsert job per target;
   * ``bulk_chunk_5000``: ``chunk_rows=5,000`` (the ``load_target`` default) -> two jobs per target;
   * ``collections_chunk_5000``: ``collections_threshold`` above the chunk size -> REST sObject
     Collections upserts, 200 records per request;
   * ``rerun``: after ``bulk_chunk_10000``, a fresh destination over the same ledger loads the same
     payloads again (every record unchanged: zero jobs expected).

Per scenario: wall time, records written, the client's HTTP requests by route (a ``requests`` response
hook counts every request on the session: OAuth, /limits, SOQL, Bulk job calls, Collections), the
sandbox's own per-operation counts (``GET /__sandbox/stats``, not itself counted), Bulk job/poll
counters, and **HTTP requests per 10,000 records loaded**. Results:
``benchmarks/results/load_salesforce_bulk.json`` and a table on stdout. No timing assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from _shared import git_state as _git_state

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "load_salesforce_bulk.json"

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"
USERS = [{"Email": "admin@sandbox.example", "FirstName": "Sandbox", "LastName": "Admin"},
         {"Email": "dr.one@clinic.example", "FirstName": "Dr", "LastName": "One"},
         {"Email": "dr.two@clinic.example", "FirstName": "Dr", "LastName": "Two"}]

SPEC = {
    "migration": "bench_salesforce",
    "title": "Synthetic patients -> Salesforce (benchmark)",
    "environment": {
        "BENCH_EXPORT_DIR": {"description": "unused"},
        "SALESFORCE_INSTANCE_URL": {"description": "sandbox URL"},
        "SALESFORCE_CLIENT_ID": {"description": "consumer key", "secret": True},
        "SALESFORCE_CLIENT_SECRET": {"description": "consumer secret", "secret": True},
    },
    "source": {"kind": "csv_export", "directory_env": "BENCH_EXPORT_DIR"},
    "destination": {
        "kind": "salesforce", "api_base_env": "SALESFORCE_INSTANCE_URL", "client_id_env": "SALESFORCE_CLIENT_ID",
        "client_secret_env": "SALESFORCE_CLIENT_SECRET",
        "settings": {"api_version": "62.0", "fallback_owner_email": "admin@sandbox.example",
                     "time_zone": "America/Chicago", "collections_threshold": 200,
                     "bulk_poll_seconds": 0.25, "bulk_poll_max_seconds": 2.0, "daily_api_floor": 1000},
    },
    "waves": {"root": "patients", "sample_size": 200},
    "objects": {
        "providers": {"file": "providers.csv", "primary_key": "provider_id",
                      "columns": {"provider_id": {}, "email": {}}},
        "patients": {"file": "patients.csv", "primary_key": "patient_id", "columns": {
            c: {} for c in ("patient_id", "first_name", "last_name", "email", "phone", "birth_date", "provider_id",
                            "balance", "status", "created_at")}},
        "recalls": {"file": "recalls.csv", "primary_key": "recall_id", "columns": {
            c: {} for c in ("recall_id", "patient_id", "provider_id", "title", "due", "done", "created_at")}},
    },
    "targets": {
        "users": {"entity": "user", "from": "providers", "match": {"by": "email", "column": "email"}},
        "patients": {
            "entity": "sobject", "from": "patients", "options": {"sobject": "Contact"},
            "fields": {"FirstName": {"column": "first_name"}, "LastName": {"column": "last_name"},
                       "Email": {"column": "email"}, "Phone": {"column": "phone"},
                       "Birthdate": {"column": "birth_date"}},
            "lookups": {"OwnerId": {"target": "users", "column": "provider_id", "fallback": "owner"}},
            "custom_fields": {
                "Source_Created_At__c": {"column": "created_at", "type": "DateTime"},
                "Balance__c": {"column": "balance", "type": "Currency"},
                "Patient_Status__c": {"column": "status", "type": "Picklist", "options": ["Active", "Inactive"]}},
            "money": ["Balance__c"]},
        "recalls": {
            "entity": "sobject", "from": "recalls", "options": {"sobject": "Task"},
            "fields": {"Subject": {"column": "title"}, "ActivityDate": {"column": "due"},
                       "Status": {"column": "done", "value_map": {"true": "Completed", "false": "Not Started"}}},
            "custom_fields": {"Source_Created_At__c": {"column": "created_at", "type": "DateTime"}},
            "lookups": {"WhoId": {"target": "patients", "column": "patient_id", "required": True},
                        "OwnerId": {"target": "users", "column": "provider_id", "fallback": "owner"}}},
    },
    "seed_objects": [{"name": "Patient", "sources": ["patients"], "targets": ["patients"], "lands_in": "Contact"}],
}
ORDER = ["users", "patients", "recalls"]


git_state = partial(_git_state, "flit_pipelines/destinations/salesforce", key="salesforce_destination_uncommitted")

def frames(n: int, seed: int = 7):
    import pandas as pd
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    providers = pd.DataFrame([{"provider_id": "D1", "email": "Dr.One@clinic.example"},
                              {"provider_id": "D2", "email": "dr.two@clinic.example"},
                              {"provider_id": "D3", "email": "left@clinic.example"}]).astype("string")
    patients, recalls = [], []
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        pid = f"P{i:06d}"
        prov = rng.choice(["D1", "D2", "D3", None])
        patients.append({
            "patient_id": pid, "first_name": first, "last_name": last,
            "email": f"{first}.{last}.{i}@example.test".lower(), "phone": f"+1555{rng.randrange(10**7):07d}",
            "birth_date": fake.date_of_birth(minimum_age=1, maximum_age=95).isoformat(), "provider_id": prov,
            "balance": f"{rng.randrange(0, 50000) / 100:.2f}", "status": rng.choice(["Active", "Inactive"]),
            "created_at": fake.date_time_between("-15y", "-1d").isoformat(sep=" ")})
        recalls.append({"recall_id": f"R{i:06d}", "patient_id": pid, "provider_id": prov,
                        "title": "Six-month recall", "due": fake.date_between("-1y", "+1y").isoformat(),
                        "done": rng.choice(["true", "false"]),
                        "created_at": fake.date_time_between("-2y", "-1d").isoformat(sep=" ")})
    return {"providers": providers, "patients": pd.DataFrame(patients).astype("string"),
            "recalls": pd.DataFrame(recalls).astype("string")}


def sandbox_stats(url: str) -> dict:
    import requests

    token = requests.post(f"{url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(CLIENT_ID, CLIENT_SECRET), timeout=30).json()["access_token"]
    resp = requests.get(f"{url}/__sandbox/stats", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return resp.json()["data"]


def op_delta(after: dict, before: dict) -> dict[str, int]:
    a, b = after.get("requests_by_operation") or {}, before.get("requests_by_operation") or {}
    return {k: a[k] - b.get(k, 0) for k in sorted(a) if a[k] - b.get(k, 0)}


def run_scenario(name: str, data: dict, work: Path, *, chunk_rows: int, settings: dict,
                 rerun: bool = False) -> dict:
    from flit_pipelines.destinations.base import load_target
    from flit_pipelines.destinations.salesforce.destination import SalesforceDestination
    from flit_pipelines.ledger import Ledger
    from flit_sandboxes.salesforce import running_sandbox
    from flit_pipelines.spec.model import MigrationSpec
    from flit_pipelines.transform.payload import build_payload

    raw = json.loads(json.dumps(SPEC))
    raw["destination"]["settings"].update(settings)
    spec = MigrationSpec.model_validate(raw)
    payloads = {t: build_payload(spec, t, data) for t in ORDER}
    root = work / name
    root.mkdir()
    ledger = Ledger(f"sqlite:///{root / 'ledger.db'}")
    out: dict = {"chunk_rows": chunk_rows, "settings": settings}
    with running_sandbox(root / "org.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, users=USERS) as url:
        def connect() -> SalesforceDestination:
            return SalesforceDestination.connect(spec, instance_url=url, client_id=CLIENT_ID,
                                                 client_secret=CLIENT_SECRET)

        def load_all(dest: SalesforceDestination, run: str) -> dict:
            summaries, per_target = {}, {}
            for t in ORDER:
                req0, s0 = dest.client.stats.requests, sandbox_stats(url)
                t0 = time.perf_counter()
                summary = load_target(spec=spec, target_name=t, payload=payloads[t], destination=dest, ledger=ledger,
                                      run_id=run, wave="w1", chunk_rows=chunk_rows)
                per_target[t] = {"wall_seconds": round(time.perf_counter() - t0, 3),
                                 "client_requests": dest.client.stats.requests - req0,
                                 "sandbox_requests": op_delta(sandbox_stats(url), s0)}
                summaries[t] = summary.as_dict()
            return {"summaries": summaries, "per_target": per_target}

        dest = connect()
        t0 = time.perf_counter()
        schema = dest.ensure_schema()
        out["schema"] = {"wall_seconds": round(time.perf_counter() - t0, 3),
                         "client_requests": dest.client.stats.requests, "created": schema["created"]}
        before, req0 = sandbox_stats(url), dest.client.stats.requests
        routes0 = dest.client.stats.snapshot()["by_route"]
        t0 = time.perf_counter()
        first = load_all(dest, "r1")
        wall = time.perf_counter() - t0
        requests_total = dest.client.stats.requests - req0
        written = sum(s["records_sent"] for s in first["summaries"].values())
        out["load"] = {
            **first, "wall_seconds": round(wall, 3), "records_written": written,
            "records_per_second": round(written / wall, 1) if wall else None,
            "client_requests": requests_total,
            "requests_per_10k_records": round(requests_total / written * 10_000, 1) if written else None,
            "client_requests_by_route": {k: v - routes0.get(k, 0) for k, v in
                                         dest.client.stats.snapshot()["by_route"].items() if v - routes0.get(k, 0)},
            "sandbox_requests": op_delta(sandbox_stats(url), before), "bulk": dest.writer.stats.snapshot(),
            "limits": dest.client.limits.snapshot(),
            "failed": sum(s["failed"] for s in first["summaries"].values())}
        if rerun:
            again = connect()  # a new Dagster run: fresh client and destination, same ledger
            before, t0 = sandbox_stats(url), time.perf_counter()
            second = load_all(again, "r2")
            out["rerun"] = {**second, "wall_seconds": round(time.perf_counter() - t0, 3),
                            "client_requests": again.client.stats.requests,
                            "client_requests_by_route": again.client.stats.snapshot()["by_route"],
                            "sandbox_requests": op_delta(sandbox_stats(url), before),
                            "bulk": again.writer.stats.snapshot()}
        out["sandbox_final"] = {k: v for k, v in sandbox_stats(url).items() if k in ("records", "bulk_jobs")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    n = args.records
    data = frames(n)
    started = git_state()
    scenarios = {
        "bulk_chunk_10000": {"chunk_rows": 10_000, "settings": {}, "rerun": True},
        "bulk_chunk_5000": {"chunk_rows": 5_000, "settings": {}},
        "collections_chunk_5000": {"chunk_rows": 5_000, "settings": {"collections_threshold": 1_000_000}},
    }
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="flit_sf_bench_") as tmp:
        for name, cfg in scenarios.items():
            print(f"-- {name} ...", flush=True)
            results[name] = run_scenario(name, data, Path(tmp), chunk_rows=cfg["chunk_rows"],
                                         settings=cfg["settings"], rerun=cfg.get("rerun", False))
    doc = {
        "benchmark": "load_salesforce_bulk",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_end": list(os.getloadavg())},
        "git": {"at_start": started, "at_end": git_state()},
        "input": {"patients": n, "recalls": n, "records": 2 * n, "faker_seed": 7},
        "sandbox": {"in_process": True, "bulk_delay_seconds": 0.2, "api_version": "62.0"},
        "scenarios": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\n{'scenario':<26}{'records':>9}{'requests':>10}{'req/10k':>9}{'wall s':>9}{'rec/s':>9}{'jobs':>6}{'failed':>7}")
    for name, r in results.items():
        load = r["load"]
        print(f"{name:<26}{load['records_written']:>9}{load['client_requests']:>10}"
              f"{load['requests_per_10k_records']:>9}{load['wall_seconds']:>9}{load['records_per_second']:>9}"
              f"{load['bulk']['jobs']:>6}{load['failed']:>7}")
        if "rerun" in r:
            rr = r["rerun"]
            print(f"{'  rerun (same ledger)':<26}{0:>9}{rr['client_requests']:>10}{'-':>9}{rr['wall_seconds']:>9}"
                  f"{'-':>9}{rr['bulk']['jobs']:>6}{'':>7}")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
