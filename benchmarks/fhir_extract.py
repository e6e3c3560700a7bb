"""Benchmark: FHIR extraction through the sandbox's Bulk export vs reading the same NDJSON from disk,
and requests per 1,000 patients, Bulk export vs search paging.

Run from the repository root (about 20 minutes on 2 cores; generated data is cached):

    .venv/bin/python benchmarks/fhir_extract.py
    .venv/bin/python benchmarks/fhir_extract.py --patients 2000 --request-patients 200 --out /tmp/x.json

What it does:

1. **Generate** ``--patients`` patients' worth of NDJSON (default 10,000) by replicating the bundled
   Synthea Bulk export (13 patients) with new ids: copy k rewrites every UUID's last 6 hex digits to k,
   so ids and the references between them stay consistent. Types ``--types`` (default Patient and
   Encounter: 1 + ~93 resources per patient, ~1.5 GB at 10,000 patients). Cached under
   ``$FLIT_BENCH_DIR`` (default ``/tmp/flit_bench``).
2. **Floor**: in a fresh process, the spec's ``patients`` and ``encounters`` objects read straight from
   those files exactly as the reader processes stored export files (``bulk.read_lines`` ->
   ``flatten.chunked`` -> ``ResourcePlan.batch``: JSON parse, FHIR R4B model validation, path
   evaluation). Rows/s and peak RSS (``ru_maxrss``); once more without the model validation, to show
   what the validation costs and what is left for a vectorised flattening to win.
3. **Bulk**: the FHIR sandbox (``flit sandbox serve fhir``, its own process, export delay 0) serves the
   directory; in a fresh process ``FhirSource`` (mode bulk) reads the same two objects: kick-off,
   polling, gzip file downloads, job deletion, then the same flattening. Rows/s, peak RSS and the
   reader's request counters. The sandbox's one-time import of the files is timed separately.
4. **Requests per 1,000 patients**: ``--request-patients`` (default 1,000) patients of every type the
   spec reads, every spec object read once in bulk mode and once in search mode (``_count`` 500, the
   spec's page size), model validation off (it changes no request). Requests counted by the reader.

Nothing asserts on a timing. Results: ``benchmarks/results/fhir_extract.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "flit_pipelines" / "sample_data" / "fhir_bulk_sample"
BENCH = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench"))
TOKEN = "bench-fhir-token"
_UUID = re.compile(rb"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{6})([0-9a-f]{6})")
SPEC_TYPES = ("Patient", "Organization", "Location", "Practitioner", "PractitionerRole", "Encounter",
              "MedicationRequest", "DocumentReference")


def generate(patients: int, types: tuple[str, ...]) -> tuple[Path, dict[str, int]]:
    """The replicated export (module docstring, step 1); returns (directory, resources per type)."""
    copies = -(-patients // 13)
    out = BENCH / f"fhir_{copies * 13}_{'_'.join(types)}"
    done = out / "rows.json"
    if done.exists():
        return out, json.loads(done.read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    counts = {}
    for rtype in types:
        lines = (SAMPLE / f"{rtype}.000.ndjson").read_bytes().splitlines()
        n = 0
        with open(out / f"{rtype}.000.ndjson", "wb") as fh:
            for k in range(copies):
                tail = f"{k:06x}".encode()
                for line in lines:
                    fh.write(_UUID.sub(lambda m: m.group(1) + tail, line) + b"\n")
                    n += 1
        counts[rtype] = n
    done.write_text(json.dumps(counts))
    return out, counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data: Path, state: Path) -> tuple[subprocess.Popen, str, float]:
    """The FHIR sandbox in its own process; returns (process, base URL, seconds until it answered)."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flit_sandboxes.cli", "sandbox", "serve", "fhir", "--port",
                             str(port), "--state", str(state), "--data", str(data), "--token", TOKEN,
                             "--export-delay", "0", "--burst-limit", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the FHIR sandbox exited") from None
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}/fhir", time.perf_counter() - started


def phase(args: argparse.Namespace) -> None:
    """One measured phase in this (fresh) process; prints its JSON."""
    from flit_pipelines.sources.fhir import BearerAuth, FhirClient, FhirSource
    from flit_pipelines.sources.fhir.bulk import read_lines
    from flit_pipelines.sources.fhir.flatten import ResourcePlan, chunked
    from flit_pipelines.sources.fhir.source import resource_type
    from flit_pipelines.spec.load import SPEC_DIR, load_spec

    spec = load_spec(SPEC_DIR / "fhir_clinic_to_pipedrive.yaml")
    names = args.objects.split(",")
    objects = {n: spec.objects[n] for n in names}
    rows, per = 0, {}
    started = time.perf_counter()
    if args.phase == "floor":
        for name, obj in objects.items():
            rtype = resource_type(obj)[0]
            plan = ResourcePlan(obj, rtype, validate=not args.no_validate)
            n = sum(plan.batch(chunk).num_rows for chunk in chunked(read_lines(Path(args.data) / f"{rtype}.000.ndjson")))
            per[name] = n
            rows += n
        stats = {}
    else:
        client = FhirClient(args.url, BearerAuth(TOKEN), requests_per_second=1000)
        src = FhirSource(client, state_dir=Path(args.state), objects=objects, mode=args.phase, run_id="bench",
                         page_size=500, poll_interval=0.2, validate=not args.no_validate)
        for name, obj in objects.items():
            n = sum(b.num_rows for b in src.read(obj))
            per[name] = n
            rows += n
        stats = src.stats.snapshot()
    seconds = time.perf_counter() - started
    print(json.dumps({"phase": args.phase, "rows": rows, "per_object": per, "seconds": round(seconds, 2),
                      "rows_per_second": round(rows / seconds, 1), "validate": not args.no_validate,
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "reader_stats": stats}))


def run_phase(name: str, objects: list[str], **options: str | bool) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--objects", ",".join(objects)]
    for key, value in options.items():
        if value is True:
            cmd.append(f"--{key.replace('_', '-')}")
        elif value:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ}).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"  {name:<6} {result['rows']:>10,} rows {result['seconds']:>8.1f} s {result['rows_per_second']:>10,.0f} rows/s "
          f"peak RSS {result['peak_rss_mib']:,.0f} MiB")
    return result


def main() -> None:
    sys.path[:0] = [str(REPO), str(REPO / "sandboxes")]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "sandboxes"), os.environ.get("PYTHONPATH", "")])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", choices=["floor", "bulk", "search"])
    ap.add_argument("--objects", default="patients,encounters")
    ap.add_argument("--data")
    ap.add_argument("--url")
    ap.add_argument("--state")
    ap.add_argument("--no-validate", action="store_true")
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--types", default="Patient,Encounter")
    ap.add_argument("--request-patients", type=int, default=1_000)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fhir_extract.json"))
    args = ap.parse_args()
    if args.phase:
        phase(args)
        return
    from _shared import git_state

    started, load_start = time.perf_counter(), os.getloadavg()
    doc: dict = {"git": git_state("flit_pipelines/sources/fhir", "sandboxes/flit_sandboxes/fhir"),
                 "python": platform.python_version(), "cpus": os.cpu_count()}
    data, counts = generate(args.patients, tuple(args.types.split(",")))
    doc["throughput"] = {"patients": counts.get("Patient"), "resources": counts,
                         "bytes": sum(p.stat().st_size for p in data.glob("*.ndjson"))}
    print(f"{counts} in {data} ({doc['throughput']['bytes'] / 1e6:,.0f} MB)")
    objects = ["patients", "encounters"]
    doc["throughput"]["floor"] = run_phase("floor", objects, data=str(data))
    doc["throughput"]["floor_without_validation"] = run_phase("floor", objects, data=str(data), no_validate=True)
    with tempfile.TemporaryDirectory(dir=BENCH) as tmp:
        proc, url, load_seconds = serve(data, Path(tmp) / "fhir.db")
        try:
            doc["throughput"]["sandbox_import_seconds"] = round(load_seconds, 1)
            doc["throughput"]["bulk"] = run_phase("bulk", objects, url=url, state=str(Path(tmp) / "state"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    floor, bulk = doc["throughput"]["floor"], doc["throughput"]["bulk"]
    doc["throughput"]["bulk_rows_per_second_as_share_of_floor"] = round(
        bulk["rows_per_second"] / floor["rows_per_second"], 3)

    small, small_counts = generate(args.request_patients, SPEC_TYPES)
    spec_objects = ["patients", "patient_links", "organizations", "locations", "providers", "practitioner_roles",
                    "encounters", "medications", "notes", "documents"]
    requests = {"patients": small_counts["Patient"], "resources": small_counts}
    with tempfile.TemporaryDirectory(dir=BENCH) as tmp:
        proc, url, _ = serve(small, Path(tmp) / "fhir.db")
        try:
            for mode in ("bulk", "search"):
                r = run_phase(mode, spec_objects, url=url, state=str(Path(tmp) / mode), no_validate=True)
                requests[mode] = {"requests": r["reader_stats"]["requests"], "seconds": r["seconds"],
                                  "rows": r["rows"], "reader_stats": r["reader_stats"]}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    per = 1000 / small_counts["Patient"]
    for mode in ("bulk", "search"):
        requests[mode]["requests_per_1000_patients"] = round(requests[mode]["requests"] * per, 1)
    doc["requests"] = requests
    print(f"requests per 1,000 patients: bulk {requests['bulk']['requests_per_1000_patients']}, "
          f"search {requests['search']['requests_per_1000_patients']}")
    from _shared import write_results

    write_results(Path(args.out), doc, loadavg_start=load_start, started=started)


if __name__ == "__main__":
    main()
