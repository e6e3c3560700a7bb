"""Benchmark: load 2,000 synthetic contacts into the HighLevel sandbox at the real rate limit
(100 requests / 10 s per location, notes/highlevel.md §2), through ``load_target``.

Run from the repository root:

    .venv/bin/python benchmarks/load_highlevel_contacts.py                 # ~4-5 min
    .venv/bin/python benchmarks/load_highlevel_contacts.py --contacts 300  # quicker

What it does (everything under /tmp; the repo's data/ directory is not touched):

1. ``--contacts`` (2,000) synthetic patients from Faker (seed 7, en_US): names, birth dates,
   addresses, E.164 phones, e-mails, a balance and a recall date; ``--family-share`` (15 %) of them
   are family members who share the e-mail and home phone of the previous patient, as in a real
   practice. The payload is built with the real ``build_payload`` from a small in-script spec
   (one ``contact`` target: 10 fields + 4 custom fields in 3 categories + the source key).
2. The HighLevel sandbox (``running_sandbox``, in-process uvicorn thread) with the documented
   limits: ``burst_limit=100`` per ``window_seconds=10`` (10 requests/s allowed) and the location's
   default duplicate rule (duplicates not allowed), so family members take the "shared contact
   info" path (an extra refused create per shared identifier, one GET each).
3. Run 1, built as ``destinations.registry.open_destination`` builds it (``HighLevelClient(base,
   token, location_id=..., pool_size=max_workers)``, 8 workers): ``ensure_schema``, then
   ``load_target``.
4. Run 2: a fresh client and destination (a new Dagster run) with the same ledger: every contact
   must be ``unchanged`` with no write request.

Per run it records wall time, the sandbox's request counts by operation (``GET /__sandbox/stats``,
not itself counted), the client's ``stats.snapshot()``, 429s on both sides, and, from a ``requests``
response hook on the client's session (observation only), every response's arrival time: achieved
requests/s as a share of the 10/s allowed, the busiest 10-second window, ``X-RateLimit-Remaining: 0``
answers. Results: ``benchmarks/results/load_highlevel_contacts.json`` and a summary on stdout.
No timing assertions.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

from _shared import git_state as _git_state, rate_stream, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BENCH_ROOT = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench"))
RESULTS = REPO / "benchmarks" / "results" / "load_highlevel_contacts.json"

TOKEN = "bench-token"
LOCATION = "loc_bench"
BURST_LIMIT = 100  # notes §2: 100 requests per 10 s per location
WINDOW_SECONDS = 10.0
ALLOWED_RPS = BURST_LIMIT / WINDOW_SECONDS
MAX_WORKERS = 8
WRITE_METHODS = ("POST", "PUT", "DELETE")

SPEC = {
    "migration": "bench_highlevel",
    "title": "Synthetic patients -> HighLevel (benchmark)",
    "environment": {
        "BENCH_EXPORT_DIR": {"description": "unused"},
        "HIGHLEVEL_API_BASE": {"description": "sandbox URL"},
        "HIGHLEVEL_TOKEN": {"description": "token", "secret": True},
        "HIGHLEVEL_LOCATION_ID": {"description": "location"},
    },
    "source": {"kind": "csv_export", "directory_env": "BENCH_EXPORT_DIR"},
    "destination": {
        "kind": "highlevel", "api_base_env": "HIGHLEVEL_API_BASE", "api_token_env": "HIGHLEVEL_TOKEN",
        "location_id_env": "HIGHLEVEL_LOCATION_ID",
        "settings": {"source_key_field": "Flit Source Key", "fallback_owner_email": "admin@sandbox.example",
                     "custom_field_folders": True, "max_workers": MAX_WORKERS, "time_zone": "America/Chicago"},
    },
    "waves": {"root": "patients", "sample_size": 200},
    "objects": {"patients": {"file": "patients.csv", "primary_key": "patient_id", "columns": {
        c: {} for c in ("patient_id", "first_name", "last_name", "email", "phone", "birth_date", "address",
                        "city", "state", "zip", "gender", "balance", "recall_date", "chart")}}},
    "targets": {"patients": {
        "entity": "contact", "from": "patients",
        "fields": {"firstName": {"column": "first_name"}, "lastName": {"column": "last_name"},
                   "email": {"column": "email"}, "phone": {"column": "phone"},
                   "dateOfBirth": {"column": "birth_date"}, "address1": {"column": "address"},
                   "city": {"column": "city"}, "state": {"column": "state"}, "postalCode": {"column": "zip"},
                   "gender": {"column": "gender"}, "country": {"value": "US"}, "source": {"value": "Benchmark"},
                   "tags": {"value": "Dental Patient"}},
        "custom_fields": {
            "Chart_Number": {"column": "chart", "type": "TEXT", "category": "Patient"},
            "Outstanding_Balance": {"column": "balance", "type": "MONETORY", "format": "money",
                                    "category": "Financial"},
            "Recall_Date": {"column": "recall_date", "type": "DATE", "category": "Clinical"},
            "Dental_Patient": {"value": "Yes", "type": "SINGLE_OPTIONS", "options": ["Yes", "No"],
                               "category": "Patient"}},
        "money": ["Outstanding_Balance"]}},
    "seed_objects": [{"name": "Patient", "sources": ["patients"], "targets": ["patients"], "lands_in": "Contact"}],
}


git_state = partial(_git_state, "flit_pipelines/destinations/highlevel", key="highlevel_destination_modified")

def synthetic_patients(n: int, family_share: float, seed: int = 7):
    """``n`` Faker patients; ``family_share`` of them share the previous patient's e-mail and phone."""
    import pandas as pd
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    rows, shared = [], 0
    for i in range(1, n + 1):
        first, last = fake.first_name(), fake.last_name()
        row = {"patient_id": str(100000 + i), "first_name": first, "last_name": last,
               "email": f"{first}.{last}.{i}@example.test".lower(),
               "phone": f"+1{rng.randint(201, 989)}{rng.randint(2000000, 9999999)}",
               "birth_date": fake.date_of_birth(minimum_age=1, maximum_age=95).isoformat(),
               "address": fake.street_address(), "city": fake.city(), "state": fake.state_abbr(),
               "zip": fake.zipcode(), "gender": rng.choice(["male", "female"]),
               "balance": f"{max(0.0, rng.gauss(80, 120)):.2f}" if rng.random() < 0.4 else None,
               "recall_date": fake.date_between("-1y", "+1y").isoformat() if rng.random() < 0.7 else None,
               "chart": f"CH{i:06d}"}
        if rows and rng.random() < family_share:
            row["email"], row["phone"], row["last_name"] = rows[-1]["email"], rows[-1]["phone"], rows[-1]["last_name"]
            shared += 1
        rows.append(row)
    return pd.DataFrame(rows).astype("string"), shared


class ResponseLog:
    """Every HTTP response the client receives (arrival time, method, status, latency, remaining)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[float, str, int, float, str | None]] = []

    def hook(self, resp, *args, **kwargs):
        with self._lock:
            self.events.append((time.monotonic(), resp.request.method, resp.status_code,
                                resp.elapsed.total_seconds(), resp.headers.get("x-ratelimit-remaining")))
        return resp

    def attach(self, client) -> None:
        client._session.hooks["response"].append(self.hook)  # observation only


def rate_profile(events: list[tuple]) -> dict:
    """Achieved rates: all responses and writes; busiest 10 s window; remaining-0 answers; latency."""
    def stream(ts: list[float]) -> dict:
        return rate_stream(ts, window_seconds=WINDOW_SECONDS, allowed_rps=ALLOWED_RPS, window_label="busiest_10s_window")

    out = {"all_responses": stream(sorted(e[0] for e in events)),
           "writes": stream(sorted(e[0] for e in events if e[1] in WRITE_METHODS))}
    lat = sorted(e[3] for e in events)
    if lat:
        out["latency_ms"] = {"median": round(1000 * lat[len(lat) // 2], 1),
                             "p90": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1), "max": round(1000 * lat[-1], 1)}
    out["remaining_0_responses"] = sum(1 for e in events if e[4] == "0")
    out["status_counts"] = dict(Counter(str(e[2]) for e in events))
    return out


def sandbox_stats(base: str) -> dict:
    import requests

    resp = requests.get(f"{base}/__sandbox/stats", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    resp.raise_for_status()
    return resp.json()["data"]


def delta_ops(before: dict, after: dict) -> dict[str, int]:
    b, a = before["requests_by_operation"], after["requests_by_operation"]
    return {op: n - b.get(op, 0) for op, n in sorted(a.items()) if n - b.get(op, 0)}


def run(label: str, spec, base: str, payload, ledger) -> dict:
    """One migration run with a fresh client/destination: schema step, then the contact load."""
    from flit_pipelines.destinations.base import load_target
    from flit_pipelines.destinations.highlevel.client import HighLevelClient
    from flit_pipelines.destinations.highlevel.destination import HighLevelDestination

    client = HighLevelClient(base, TOKEN, location_id=LOCATION, pool_size=MAX_WORKERS)  # as the registry builds it
    dest = HighLevelDestination(client, spec, files_root=None)
    log = ResponseLog()
    log.attach(client)
    phases: dict = {}

    def phase(name: str, fn):
        s0, c0 = sandbox_stats(base), client.stats.snapshot()
        n0 = len(log.events)
        p0 = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - p0
        s1, c1 = sandbox_stats(base), client.stats.snapshot()
        ops = delta_ops(s0, s1)
        requests_n = sum(ops.values())
        doc = {"wall_seconds": round(wall, 3), "sandbox_requests": requests_n, "sandbox_requests_by_operation": ops,
               "write_requests": sum(n for op, n in ops.items() if op.split()[0] in WRITE_METHODS
                                     and "/search" not in op),
               "sandbox_429": s1["rate_limited_429"] - s0["rate_limited_429"],
               "client_stats_delta": {k: (c1[k] or 0) - (c0[k] or 0) for k in
                                      ("requests", "retries", "responses_429", "responses_5xx", "transport_errors")},
               "requests_per_second_over_phase": round(requests_n / wall, 3) if wall else None,
               "share_of_allowed_over_phase": round(requests_n / wall / ALLOWED_RPS, 4) if wall else None,
               "client_response_rates": rate_profile(log.events[n0:]),
               "loadavg_end": os.getloadavg()}
        if result is not None:
            doc["summary"] = result.as_dict() if hasattr(result, "as_dict") else result
        phases[name] = doc
        s = doc.get("summary") or {}
        print(f"  [{label}] {name:<18} {wall:8.2f} s  requests {requests_n:>5} (writes {doc['write_requests']})  "
              f"429 sandbox/client {doc['sandbox_429']}/{doc['client_stats_delta']['responses_429']}  "
              + (f"created {s.get('created')} unchanged {s.get('unchanged')} failed {s.get('failed')}"
                 if "created" in s else ""), flush=True)
        return result

    t0 = time.perf_counter()
    phase("destination_schema", lambda: {"custom_fields": sum(len(v) for v in
                                                              dest.ensure_schema(spec)["custom_fields"].values())})
    phase("load_patients", lambda: load_target(spec=spec, target_name="patients", payload=payload, destination=dest,
                                               ledger=ledger, run_id=f"bench-{label}", wave="full",
                                               max_workers=MAX_WORKERS))
    wall = time.perf_counter() - t0
    client.close()
    return {"wall_seconds": round(wall, 3), "client_stats_total": client.stats.snapshot(), "phases": phases}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--contacts", type=int, default=2_000)
    ap.add_argument("--family-share", type=float, default=0.15)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)

    from flit_pipelines.ledger import Ledger
    from flit_sandboxes.highlevel import running_sandbox
    from flit_pipelines.spec.model import MigrationSpec
    from flit_pipelines.transform.payload import build_payload

    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    git_at_start = git_state()
    loadavg_start = os.getloadavg()
    t_all = time.perf_counter()
    spec = MigrationSpec.model_validate(SPEC)
    frame, shared = synthetic_patients(a.contacts, a.family_share)
    payload = build_payload(spec, "patients", {"patients": frame})
    print(f"{len(payload):,} synthetic patients ({shared} family members sharing e-mail and phone)")

    with tempfile.TemporaryDirectory(prefix="hl-load-", dir=BENCH_ROOT) as tmp:
        work = Path(tmp)
        ledger = Ledger(f"sqlite:///{(work / 'ledger.db').resolve()}")
        with running_sandbox(work / "highlevel.db", TOKEN, location_id=LOCATION, burst_limit=BURST_LIMIT,
                             window_seconds=WINDOW_SECONDS) as base:
            print(f"sandbox {base}: {BURST_LIMIT} requests / {WINDOW_SECONDS:g} s ({ALLOWED_RPS:g} req/s allowed), "
                  "duplicate contacts not allowed")
            run1 = run("run1", spec, base, payload, ledger)
            run2 = run("run2", spec, base, payload, ledger)
            final = sandbox_stats(base)

    load1, load2 = run1["phases"]["load_patients"], run2["phases"]["load_patients"]
    r = load1["client_response_rates"]
    s1 = load1["summary"]
    print("\ncontacts, run 1:")
    print(f"  loaded                    {s1['created']:,} created of {s1['payload_rows']:,} "
          f"(failed {s1['failed']}, adopted {s1['adopted']}); contacts in the sandbox "
          f"{final['documents'].get('contact', 0):,}")
    print(f"  wall time                 {load1['wall_seconds']:.2f} s")
    print(f"  requests                  {load1['sandbox_requests']:,} ({load1['sandbox_requests_by_operation']})")
    print(f"  requests/s over the load  {load1['requests_per_second_over_phase']:.3f} = "
          f"{load1['share_of_allowed_over_phase']:.1%} of {ALLOWED_RPS:g}/s")
    print(f"  busiest 10 s window       {r['all_responses'].get('busiest_10s_window')} (limit {BURST_LIMIT})")
    print(f"  429s                      client {load1['client_stats_delta']['responses_429']}, "
          f"sandbox {load1['sandbox_429']} (whole benchmark: sandbox {final['rate_limited_429']})")
    print(f"  latency ms                {r.get('latency_ms')}; 'X-RateLimit-Remaining: 0' answers "
          f"{r['remaining_0_responses']}")
    s2 = load2["summary"]
    print("contacts, run 2 (fresh client, same ledger):")
    print(f"  unchanged {s2['unchanged']:,}, created {s2['created']}, updated {s2['updated']}; write requests "
          f"{load2['write_requests']}; all requests {load2['sandbox_requests']} in {load2['wall_seconds']:.2f} s; "
          f"run 2 total {run2['wall_seconds']:.2f} s")

    doc = {
        "benchmark": "load_highlevel_contacts",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "git": {"at_start": git_at_start, "at_end": git_state()},
        "input": {"contacts": a.contacts, "family_members_sharing_email_phone": shared, "faker_seed": 7},
        "sandbox": {"burst_limit": BURST_LIMIT, "window_seconds": WINDOW_SECONDS, "allowed_rps": ALLOWED_RPS,
                    "allow_duplicate_contact": False, "in_process": True},
        "max_workers": MAX_WORKERS,
        "run1": run1,
        "run2": run2,
        "sandbox_final": {k: final.get(k) for k in ("requests_total", "rate_limited_429", "responses_by_status",
                                                    "documents", "rate_limits")},
    }
    write_results(a.out, doc, loadavg_start=loadavg_start, started=t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
