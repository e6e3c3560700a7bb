"""Reference for ``extract_odbc.py``: dlt's ``sql_database`` (pyarrow backend) reading the same tables.

Runs in its own environment, never the project's (dlt is not a project dependency):

    python3 -m venv /tmp/dltenv && /tmp/dltenv/bin/pip install "dlt[sql_database]" pyarrow psycopg2-binary
    .venv/bin/python benchmarks/extract_odbc.py --patients 50000 --keep-db   # prints the database name
    /tmp/dltenv/bin/python benchmarks/dlt_reference.py --db flit_bench_odbc_<...>

Each table is read in a fresh process (as ``extract_odbc.py`` does) with ``sql_table(...,
backend="pyarrow", chunk_size=50000)``, iterating the Arrow tables without a pipeline or destination:
extraction only, no validation (the product's ``extract`` figure also types, validates and
quarantines). Prints one JSON line per table: rows, wall seconds, CPU seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TABLES = ("v_patient", "v_appt", "fullproclog")


def read_one(db: str, table: str, chunk: int) -> dict:
    from dlt.sources.sql_database import sql_table

    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    t0, c0 = time.perf_counter(), time.process_time()
    rows = 0
    for part in sql_table(credentials=url, table=table, schema="admin", backend="pyarrow", chunk_size=chunk):
        rows += part.num_rows
    return {"table": table, "rows": rows, "seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--db", required=True)
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(json.dumps(read_one(a.db, a.one, a.chunk_rows)))
        return 0
    for table in TABLES:
        subprocess.run([sys.executable, __file__, "--db", a.db, "--chunk-rows", str(a.chunk_rows), "--one", table],
                       check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
