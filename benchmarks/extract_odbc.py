"""Benchmark: extraction of a Dentrix-shaped practice over ODBC (unixODBC + psqlODBC).

Run from the repository root (needs PostgreSQL on 127.0.0.1:5432, user postgres, trust auth, and the
"PostgreSQL Unicode" ODBC driver that ``scripts/dev`` installs):

    .venv/bin/python benchmarks/extract_odbc.py                     # 50,000 patients (~2.1 M rows)
    .venv/bin/python benchmarks/extract_odbc.py --patients 5000 --out /tmp/x.json

What it does:

1. ``build``: a fresh database ``flit_bench_odbc_<random>`` with ``build_practice(url, patients=N,
   dialect="postgresql")`` (schema ``admin``, COPY). Dropped at the end unless ``--keep-db``.
2. For each of ``v_patient``, ``v_appt``, ``fullproclog``, in its own fresh Python process (so
   ``ru_maxrss`` is that object's own peak):
   * ``read``: ``DatabaseSource.from_odbc(...).read(obj)`` only (SELECT, Arrow batches from the ODBC
     driver's buffers, canonical text conversion);
   * ``read_typed``: ``read_typed(obj)``, the batches the extract reads (the database's types kept);
   * ``extract``: ``run_extract`` over the same source (typed -> spec types -> Pandera -> quarantine) with
     write/quarantine callbacks that only count, i.e. the extract asset without Parquet.
   ``chunk_rows`` is the spec default (``DatabaseConfig.chunk_rows``, 50,000).
3. ``fullproclog`` read once more with ``UseDeclareFetch=0`` (psqlODBC's default: the driver buffers
   the whole result) to show what the streaming option the reader adds is worth.

Results: ``benchmarks/results/extract_odbc.json`` and a table on stdout. Timings are measurements, not
assertions. The connection string (no password: trust auth) is not written to the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

from _shared import git_state as _git_state

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "extract_odbc.json"
PG = dict(host="127.0.0.1", port=5432, user="postgres")
DRIVER = "PostgreSQL Unicode"
OBJECTS = ("v_patient", "v_appt", "fullproclog")


def conn_str(db: str, extra: str = "") -> str:
    return f"Driver={{{DRIVER}}};Server=127.0.0.1;Port=5432;Database={db};Uid=postgres;{extra}"


git_state = partial(_git_state, "flit_pipelines")

def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- phases (each in its own process: --phase NAME --phase-args JSON --phase-out FILE) ----------------


def phase_build(args: dict) -> dict:
    from flit_sandboxes.dentrix_practice import build_practice

    t0 = time.perf_counter()
    counts = build_practice(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{args['db']}",
                            patients=args["patients"], seed=args["seed"], dialect="postgresql")
    return {"rows": counts, "seconds": round(time.perf_counter() - t0, 3), "peak_rss_kib": peak_rss_kib()}


def phase_object(args: dict) -> dict:
    """Read (``mode=read``) or extract (``mode=extract``) one object over ODBC; counts only."""
    import pyarrow as pa

    from flit_sandboxes.dentrix_practice import source_objects
    from flit_pipelines.sources.database import DatabaseSource
    from flit_pipelines.sources.extract import run_extract

    obj = source_objects()[args["object"]]
    source = DatabaseSource.from_odbc(conn_str(args["db"], args.get("extra", "")), chunk_rows=args["chunk_rows"])
    dialect = source.dialect.name  # connects once: detection is not part of the timing
    after_imports = peak_rss_kib()
    batches = 0
    quarantined = 0
    t0, c0 = time.perf_counter(), time.process_time()
    if args["mode"] in ("read", "read_typed"):
        rows = 0
        for batch in getattr(source, args["mode"])(obj):
            rows += batch.num_rows
            batches += 1
        kept = rows
    else:
        def write(df) -> None:
            nonlocal batches
            batches += 1

        def quarantine(df) -> None:
            nonlocal quarantined
            quarantined += len(df)

        stats = run_extract(source, obj, args["object"], write=write, quarantine=quarantine)
        rows, kept = stats.rows_read, stats.rows_kept
    seconds = time.perf_counter() - t0
    return {"object": args["object"], "mode": args["mode"], "dialect": dialect, "rows": rows, "rows_kept": kept,
            "quarantined": quarantined, "batches": batches, "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - c0, 3), "rows_per_second": round(rows / seconds),
            "peak_rss_kib": peak_rss_kib(), "peak_rss_kib_before_read": after_imports,
            "arrow_pool_bytes_end": pa.total_allocated_bytes()}


PHASES = {"build": phase_build, "object": phase_object}


def run_phase(name: str, args: dict) -> dict:
    """Run one phase in a fresh interpreter; return its JSON result (with process wall time)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--phase", name, "--phase-args", json.dumps(args),
                        "--phase-out", out], check=True, cwd=REPO)
        doc = json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)
    doc["process_wall_seconds"] = round(time.perf_counter() - t0, 3)
    return doc


# --- driver ------------------------------------------------------------------------------------------


def _admin():
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    conn.autocommit = True
    return conn


def _odbc_versions(db: str) -> dict:
    import pyodbc

    conn = pyodbc.connect(conn_str(db), readonly=True)
    try:
        return {"driver": DRIVER, "driver_version": conn.getinfo(pyodbc.SQL_DRIVER_VER),
                "dbms": f"{conn.getinfo(pyodbc.SQL_DBMS_NAME)} {conn.getinfo(pyodbc.SQL_DBMS_VER)}",
                "pyodbc": pyodbc.version}
    finally:
        conn.close()


def _fmt(r: dict) -> str:
    return (f"{r['rows']:>10,} rows {r['seconds']:8.2f} s {r['rows_per_second']:>9,} rows/s "
            f"peak RSS {r['peak_rss_kib'] / 1024:7.0f} MiB ({r['peak_rss_kib_before_read'] / 1024:.0f} before read)")


def measure(db: str, chunk_rows: int) -> dict:
    modes = ("read", "read_typed", "extract")
    runs: dict[str, dict] = {m: {} for m in modes}
    for mode in modes:
        for name in OBJECTS:
            r = run_phase("object", {"db": db, "object": name, "mode": mode, "chunk_rows": chunk_rows})
            runs[mode][name] = r
            print(f"  {mode:<10} {name:<12} {_fmt(r)}", flush=True)
    for mode in modes:
        objs = runs[mode].values()
        rows, secs = sum(o["rows"] for o in objs), sum(o["seconds"] for o in objs)
        runs[mode]["total"] = {"rows": rows, "seconds": round(secs, 3), "rows_per_second": round(rows / secs),
                               "peak_rss_kib": max(o["peak_rss_kib"] for o in objs)}
        t = runs[mode]["total"]
        print(f"  {mode:<10} {'total':<12} {t['rows']:>10,} rows {t['seconds']:8.2f} s "
              f"{t['rows_per_second']:>9,} rows/s peak RSS {t['peak_rss_kib'] / 1024:7.0f} MiB")
    r = run_phase("object", {"db": db, "object": "fullproclog", "mode": "read", "chunk_rows": chunk_rows,
                             "extra": "UseDeclareFetch=0;"})
    runs["read_without_declare_fetch"] = {"fullproclog": r}
    print(f"  read    fullproclog  {_fmt(r)}  <- UseDeclareFetch=0 (driver buffers the result)")
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--patients", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--chunk-rows", type=int, default=None, help="default: the spec default (50,000)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the benchmark database")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--phase-args", help=argparse.SUPPRESS)
    p.add_argument("--phase-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    sys.path.insert(0, str(REPO))
    if a.phase:
        Path(a.phase_out).write_text(json.dumps(PHASES[a.phase](json.loads(a.phase_args))))
        return 0

    from flit_pipelines.spec.model import DatabaseConfig

    chunk_rows = a.chunk_rows or DatabaseConfig.model_fields["chunk_rows"].default
    db = f"flit_bench_odbc_{uuid.uuid4().hex[:10]}"
    git_at_start = git_state()
    t0 = time.perf_counter()
    admin = _admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    try:
        print(f"building {a.patients:,} patients into PostgreSQL database {db} ...", flush=True)
        build = run_phase("build", {"db": db, "patients": a.patients, "seed": a.seed})
        built = ", ".join(f"{k} {build['rows'][k]:,}" for k in OBJECTS)
        print(f"  built {sum(build['rows'].values()):,} rows in {build['seconds']:.1f} s ({built})")
        odbc = _odbc_versions(db)
        print(f"extracting over ODBC ({odbc['driver']} {odbc['driver_version']}), chunk_rows={chunk_rows:,}:")
        runs = measure(db, chunk_rows)
    finally:
        if not a.keep_db:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
    doc = {
        "benchmark": "extract_odbc",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_end": os.getloadavg()},
        "git": {"at_start": git_at_start, "at_end": git_state()},
        "patients": a.patients, "seed": a.seed, "chunk_rows": chunk_rows, "odbc": odbc,
        "build": build, "benchmark_wall_seconds": round(time.perf_counter() - t0, 3), **runs,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
