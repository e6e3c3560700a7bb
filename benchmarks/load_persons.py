"""Benchmark: load 2,000 persons into the Pipedrive sandbox at the real burst limit (40 requests / 2 s).

Run from the repository root:

    .venv/bin/python benchmarks/load_persons.py
    .venv/bin/python benchmarks/load_persons.py --patients 500      # quicker

What it does (everything under /tmp; the repo's data/ directory is not touched):

1. A synthetic export of ``--patients`` (2,000) patients (``build_clinic_export``, generator defaults),
   reused from ``/tmp/flit_bench/export-<params>/`` when already built.
2. Extract (as the extract assets: CsvExportSource -> run_extract -> Parquet) of the objects the
   ``organizations``, ``providers`` and ``persons`` payloads need; ``build_payload`` over the Parquet
   read-back.
3. The Pipedrive sandbox (``running_sandbox``, in-process uvicorn thread) with the Growth-plan
   api_token limit: ``burst_limit=40`` per ``window_seconds=2.0`` (20 requests/s allowed), default
   users (one admin, the spec's fallback owner).
4. Run 1, exactly as the Dagster assets call it, with a destination built by ``FlitResource``
   (client ``burst_limit`` from the spec (unset -> the client starts at 20 and adopts the server's
   ``x-ratelimit-limit``), ``pool_size = max_workers = 8``): ``ensure_schema`` (destination_schema
   asset), then ``load_target`` in ``load_order``: organizations -> providers -> persons, with the
   spec's ``max_workers`` (8).
5. Run 2: a fresh destination/client (a new Dagster run) and the same three loads again against the
   same ledger: persons must be ``unchanged`` = 2,000 with no write request.

Per phase it records wall time, the sandbox's request counts by operation (``GET /__sandbox/stats``,
not itself counted), the client's ``stats.snapshot()``, 429s seen by both sides, and, from a
``requests`` response hook on the client's session (observation only), the timestamp of every
response: achieved requests/s over the persons write stream and the busiest 2-second window.

Results: ``benchmarks/results/load_persons.json`` and a summary on stdout. No timing assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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
SPEC_PATH = REPO / "mapping_specs" / "clinic_to_pipedrive.yaml"
BENCH_ROOT = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench"))
RESULTS = REPO / "benchmarks" / "results" / "load_persons.json"

TOKEN = "bench-token"
BURST_LIMIT = 40  # Pipedrive Growth plan, api_token: 40 requests per 2 s window
WINDOW_SECONDS = 2.0
ALLOWED_RPS = BURST_LIMIT / WINDOW_SECONDS
TARGETS = ("organizations", "providers", "persons")
EXPORT_PARAMS = {  # build_clinic_export defaults, except the patient count
    "patients": 2_000, "seed": 7, "encounters_per_patient": 8.0, "claims_per_encounter": 1.0,
    "notes_per_patient": 3.0, "with_extras": True, "chunk_patients": 20_000,
}
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


git_state = partial(_git_state, "flit_pipelines", "mapping_specs")

def export_dir_for(params: dict) -> Path:
    tag = "p{patients}-s{seed}-e{encounters_per_patient}-c{claims_per_encounter}-n{notes_per_patient}" \
          "-x{x}-k{chunk_patients}".format(x=int(params["with_extras"]), **params)
    return BENCH_ROOT / f"export-{tag}"


def ensure_export(params: dict) -> tuple[Path, dict, bool]:
    from flit_sandboxes.clinic_export import build_clinic_export

    out = export_dir_for(params)
    marker = out / "rows.json"
    if marker.exists():
        doc = json.loads(marker.read_text())
        if doc.get("params") == params:
            return out, doc["rows"], True
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    rows = build_clinic_export(out, **params)
    marker.write_text(json.dumps({"params": params, "rows": rows, "seconds": round(time.perf_counter() - t0, 3)},
                                 indent=2))
    return out, rows, False


# ------------------------------------------------------------------------------------------------
# request accounting
# ------------------------------------------------------------------------------------------------

def sandbox_stats(base: str) -> dict:
    import requests

    resp = requests.get(f"{base}/__sandbox/stats", headers={"x-api-token": TOKEN}, timeout=30)
    resp.raise_for_status()
    return resp.json()["data"]


def classify(op: str) -> str:
    """Sandbox operation ``"METHOD /route/template"`` -> a request category."""
    method, path = op.split(" ", 1)
    if "Fields" in path or "/pipelines" in path or "/stages" in path:
        return "schema_writes" if method in WRITE_METHODS else "schema_reads"
    if path.startswith("/api/v1/users"):
        return "users_reads"
    if method in WRITE_METHODS:
        return "record_writes"
    return "record_reads"


def delta_ops(before: dict, after: dict) -> dict[str, int]:
    b, a = before["requests_by_operation"], after["requests_by_operation"]
    return {op: n - b.get(op, 0) for op, n in sorted(a.items()) if n - b.get(op, 0)}


def delta_client(before: dict, after: dict) -> dict:
    return {k: (after[k] - (before[k] or 0)) if k in ("requests", "retries", "responses_429", "responses_5xx")
            else after[k] for k in after}


class ResponseLog:
    """Every HTTP response the client receives (a ``requests`` response hook): arrival time, method,
    status, latency and the burst headers the client's limiter reacts to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[float, str, int, float, str | None, str | None]] = []

    def hook(self, resp, *args, **kwargs):
        h = resp.headers
        with self._lock:
            self.events.append((time.monotonic(), resp.request.method, resp.status_code,
                                resp.elapsed.total_seconds(), h.get("x-ratelimit-remaining"),
                                h.get("x-ratelimit-reset")))
        return resp

    def attach(self, client) -> None:
        client._session.hooks["response"].append(self.hook)  # observation only; behaviour unchanged

    def between(self, t0: float, t1: float) -> list[tuple]:
        with self._lock:
            return [e for e in self.events if t0 <= e[0] <= t1]


def rate_profile(events: list[tuple]) -> dict:
    """Rates over a list of (t, method, status, latency, remaining, reset): all responses and the
    write stream alone; latency; how often the server said ``x-ratelimit-remaining: 0`` (the client
    then pauses every thread for ``x-ratelimit-reset`` s); pauses between bursts."""
    def stream(ts: list[float]) -> dict:
        return rate_stream(ts, window_seconds=WINDOW_SECONDS, allowed_rps=ALLOWED_RPS, window_label="busiest_2s_window")

    all_ts = sorted(e[0] for e in events)
    write_ts = sorted(e[0] for e in events if e[1] in WRITE_METHODS)
    out = {"all_responses": stream(all_ts), "writes": stream(write_ts)}
    lat = sorted(e[3] for e in events)
    if lat:
        out["latency_ms"] = {"median": round(1000 * lat[len(lat) // 2], 1),
                             "p90": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1),
                             "max": round(1000 * lat[-1], 1)}
    zero = [e for e in events if e[4] == "0"]
    out["remaining_0_responses"] = len(zero)
    out["remaining_0_reset_values"] = dict(Counter(e[5] for e in zero))
    gaps = [b - a for a, b in zip(all_ts, all_ts[1:], strict=False) if b - a > 0.5]
    out["gaps_over_0_5s"] = {"count": len(gaps), "total_seconds": round(sum(gaps), 3),
                             "mean_seconds": round(sum(gaps) / len(gaps), 3) if gaps else None}
    return out


# ------------------------------------------------------------------------------------------------
# pipeline steps
# ------------------------------------------------------------------------------------------------

def extract_and_payloads(spec, flit, work: Path) -> tuple[dict, dict]:
    """Extract the objects the three payloads need (as the extract asset), then build the payloads."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flit_pipelines.sources.extract import arrow_schema, empty_frame, run_extract
    from flit_pipelines.transform.payload import build_payload, needed_objects

    source = flit.source(spec)
    ledger = flit.ledger()
    objects = list(dict.fromkeys(o for t in TARGETS for o in needed_objects(spec, t)))
    timings: dict = {"extract": {}, "payload": {}}
    (work / "extract").mkdir(parents=True, exist_ok=True)
    for name in objects:
        obj = spec.objects[name]
        t0 = time.perf_counter()
        schema = arrow_schema(obj)
        path = work / "extract" / f"{name}.parquet"
        writer = pq.ParquetWriter(str(path), schema)
        quarantined: list = []
        try:
            stats = run_extract(source, obj, name, quarantine=quarantined.append,
                                write=lambda df, w=writer, s=schema: w.write_table(
                                    pa.Table.from_pandas(df, schema=s, preserve_index=False)))
            if stats.rows_kept == 0:
                writer.write_table(pa.Table.from_pandas(empty_frame(obj), schema=schema, preserve_index=False))
        finally:
            writer.close()
        q = pd.concat(quarantined) if quarantined else pd.DataFrame(columns=["source_id", "row_number", "reason"])
        ledger.replace_quarantine(migration=spec.migration, wave="full", stage="extract", obj=name,
                                  run_id="bench-extract", rows=q)
        timings["extract"][name] = {"rows_read": stats.rows_read, "rows_kept": stats.rows_kept,
                                    "quarantined": stats.quarantined, "seconds": round(time.perf_counter() - t0, 3)}
    payloads = {}
    for target in TARGETS:
        t0 = time.perf_counter()
        frames = {o: pd.read_parquet(work / "extract" / f"{o}.parquet") for o in needed_objects(spec, target)}
        payloads[target] = build_payload(spec, target, frames)
        timings["payload"][target] = {"rows": len(payloads[target]), "columns": len(payloads[target].columns),
                                      "seconds": round(time.perf_counter() - t0, 3)}
    return payloads, timings


def run_loads(label: str, spec, flit, base: str, payloads: dict, *, schema_step: bool) -> dict:
    """One migration run: optional destination_schema step, then the three loads in load order."""
    from flit_pipelines.destinations.base import load_target
    from flit_pipelines.spec import load_order

    # Built as the assets build it. In Dagster each asset step builds its own; here one destination
    # (one client, one limiter) serves all steps of a run, so run 1's later steps reuse its schema.
    dest = flit.destination(spec)
    log = ResponseLog()
    log.attach(dest.client)
    ledger = flit.ledger()
    max_workers = int(spec.destination.settings.get("max_workers", 8))
    order = [t for t in load_order(spec) if t in TARGETS]
    phases: dict = {}

    def phase(name: str, fn):
        s0, c0, t0 = sandbox_stats(base), dest.client.stats.snapshot(), time.monotonic()
        p0, cpu0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - p0, time.process_time() - cpu0
        t1, c1, s1 = time.monotonic(), dest.client.stats.snapshot(), sandbox_stats(base)
        ops = delta_ops(s0, s1)
        cats = Counter()
        for op, n in ops.items():
            cats[classify(op)] += n
        sandbox_requests = sum(ops.values())
        doc = {
            "wall_seconds": round(wall, 3),
            "sandbox_requests": sandbox_requests,
            "sandbox_requests_by_category": dict(cats),
            "sandbox_requests_by_operation": ops,
            "sandbox_429": s1["rate_limited_429"] - s0["rate_limited_429"],
            "sandbox_daily_tokens_used": s0["rate_limits"]["daily_remaining"] - s1["rate_limits"]["daily_remaining"],
            "client_stats_delta": delta_client(c0, c1),
            "requests_per_second_over_phase": round(sandbox_requests / wall, 3) if wall else None,
            "share_of_allowed_over_phase": round(sandbox_requests / wall / ALLOWED_RPS, 4) if wall else None,
            "client_response_rates": rate_profile(log.between(t0, t1)),
            "process_cpu_seconds": round(cpu, 3),  # client + in-process sandbox together
            "loadavg_end": os.getloadavg(),
        }
        if result is not None:
            doc["summary"] = result.as_dict() if hasattr(result, "as_dict") else result
        phases[name] = doc
        s = doc.get("summary") or {}
        print(f"  [{label}] {name:<20} {wall:8.2f} s  requests {sandbox_requests:>5}  "
              f"429 sandbox/client {doc['sandbox_429']}/{doc['client_stats_delta']['responses_429']}  "
              + (f"created {s.get('created')} unchanged {s.get('unchanged')} matched {s.get('matched')} "
                 f"fallback {s.get('fallback')} failed {s.get('failed')}" if s and "created" in s else ""),
              flush=True)
        return result

    t_run = time.perf_counter()
    if schema_step:  # the destination_schema asset (its own client in Dagster; same limiter here)
        phase("destination_schema", lambda: {"custom_fields": sum(len(v) for v in dest.ensure_schema(spec)
                                                                  ["custom_fields"].values())})
    for target in order:
        phase(f"load_{target}", lambda t=target: load_target(
            spec=spec, target_name=t, payload=payloads[t], destination=dest, ledger=ledger,
            run_id=f"bench-{label}", wave="full", max_workers=max_workers))
    run_wall = time.perf_counter() - t_run
    dest.client.close()
    return {"wall_seconds": round(run_wall, 3), "client_stats_total": dest.client.stats.snapshot(),
            "phases": phases}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--patients", type=int, default=EXPORT_PARAMS["patients"])
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)

    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    params = dict(EXPORT_PARAMS, patients=a.patients)
    git_at_start = git_state()
    t_all = time.perf_counter()
    loadavg_start = os.getloadavg()
    export_dir, export_rows, reused = ensure_export(params)
    print(f"export {export_dir} ({'reused' if reused else 'generated'}): "
          f"{export_rows['patients.csv']:,} patients, {sum(export_rows.values()):,} rows")

    with tempfile.TemporaryDirectory(prefix="load-", dir=BENCH_ROOT) as tmp:
        work = Path(tmp)
        # Everything the project reads from the environment, set here (never the repo's data/ dir).
        os.environ.update({
            "CLINIC_EXPORT_DIR": str(export_dir),
            "FLIT_DATA_DIR": str(work / "data"),
            "FLIT_LEDGER_URL": f"sqlite:///{(work / 'ledger.db').resolve()}",
            "PIPEDRIVE_API_TOKEN": TOKEN,
        })
        from flit_pipelines.assets.resources import FlitResource
        from flit_sandboxes.pipedrive import running_sandbox
        from flit_pipelines.spec import load_spec

        spec = load_spec(SPEC_PATH)
        flit = FlitResource()
        t0 = time.perf_counter()
        payloads, prep = extract_and_payloads(spec, flit, work)
        prep_seconds = time.perf_counter() - t0
        print(f"extract + payloads: {prep_seconds:.1f} s; payload rows "
              + ", ".join(f"{t} {len(p):,}" for t, p in payloads.items()))

        with running_sandbox(work / "pipedrive.db", TOKEN, burst_limit=BURST_LIMIT,
                             window_seconds=WINDOW_SECONDS) as base:
            os.environ["PIPEDRIVE_API_BASE"] = base
            print(f"sandbox {base}: burst {BURST_LIMIT} / {WINDOW_SECONDS:g} s ({ALLOWED_RPS:g} req/s allowed)")
            run1 = run_loads("run1", spec, flit, base, payloads, schema_step=True)
            run2 = run_loads("run2", spec, flit, base, payloads, schema_step=False)
            final_stats = sandbox_stats(base)

    persons1 = run1["phases"]["load_persons"]
    persons2 = run2["phases"]["load_persons"]
    w = persons1["client_response_rates"]["writes"]
    print("\npersons, run 1:")
    print(f"  loaded (created)              {persons1['summary']['created']:,} of {persons1['summary']['payload_rows']:,}"
          f" (failed {persons1['summary']['failed']}, adopted {persons1['summary']['adopted']})")
    print(f"  wall time                     {persons1['wall_seconds']:.2f} s")
    print(f"  requests (sandbox)            {persons1['sandbox_requests']:,} "
          f"{persons1['sandbox_requests_by_category']}")
    print(f"  requests/s over the load      {persons1['requests_per_second_over_phase']:.2f} "
          f"= {persons1['share_of_allowed_over_phase']:.1%} of {ALLOWED_RPS:g}/s")
    print(f"  write stream                  {w['count']:,} writes in {w['first_to_last_seconds']:.2f} s = "
          f"{w['requests_per_second']:.2f}/s = {w['share_of_allowed']:.1%} of allowed; busiest 2 s window "
          f"{w['busiest_2s_window']} (limit {BURST_LIMIT})")
    r = persons1["client_response_rates"]
    print(f"  latency (client, ms)          {r.get('latency_ms')}")
    print(f"  'x-ratelimit-remaining: 0'    {r['remaining_0_responses']} responses (reset values "
          f"{r['remaining_0_reset_values']}); pauses > 0.5 s between responses: {r['gaps_over_0_5s']}")
    print(f"  429s: client {persons1['client_stats_delta']['responses_429']}, sandbox {persons1['sandbox_429']}"
          f" (whole benchmark: sandbox {final_stats['rate_limited_429']})")
    print("persons, run 2 (re-run, fresh client, same ledger):")
    print(f"  unchanged {persons2['summary']['unchanged']:,}, created {persons2['summary']['created']}, "
          f"updated {persons2['summary']['updated']}; write requests "
          f"{persons2['sandbox_requests_by_category'].get('record_writes', 0)}; all requests "
          f"{persons2['sandbox_requests']} in {persons2['wall_seconds']:.2f} s")
    print(f"  run 2 total: {run2['wall_seconds']:.2f} s, {sum(p['sandbox_requests'] for p in run2['phases'].values())}"
          f" requests {dict(sum((Counter(p['sandbox_requests_by_category']) for p in run2['phases'].values()), Counter()))}")

    doc = {
        "benchmark": "load_persons",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "git": {"at_start": git_at_start, "at_end": git_state()},
        "export": {"params": params, "dir": str(export_dir), "reused": reused, "rows": export_rows},
        "sandbox": {"burst_limit": BURST_LIMIT, "window_seconds": WINDOW_SECONDS, "allowed_rps": ALLOWED_RPS,
                    "users": "default (one admin, admin@sandbox.example)", "in_process": True},
        "max_workers": int(spec.destination.settings.get("max_workers", 8)),
        "prepare": {"seconds": round(prep_seconds, 3), **prep},
        "run1": run1,
        "run2": run2,
        "sandbox_final": {k: final_stats[k] for k in ("requests_total", "rate_limited_429", "responses_by_status",
                                                      "entities", "rate_limits")},
    }
    write_results(a.out, doc, loadavg_start=loadavg_start, started=t_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
