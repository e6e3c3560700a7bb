"""The customer's audit log of one wave: every record event, as CSV and Parquet, plus a summary.

Readable by practice staff: one row per audit event (target, source ID, destination ID, operation,
status, error, time, run ID) in time order. Only IDs, operations, statuses and the destination's
error text are written; the ledger holds no patient values.

Streams the ledger in chunks (server-side cursor on PostgreSQL), so memory stays bounded on large
ledgers; files are written to temporary names and renamed when complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import and_, select

from flit_pipelines.ledger.tables import audit_event
from flit_pipelines.reports.staff_csv import write_staff_csv

AUDIT_COLUMNS: tuple[str, ...] = ("target", "source_id", "dest_id", "operation", "status", "error", "at", "run_id")

AUDIT_SCHEMA = pa.schema([
    ("target", pa.string()), ("source_id", pa.string()), ("dest_id", pa.string()), ("operation", pa.string()),
    ("status", pa.string()), ("error", pa.string()), ("at", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
])

DEFAULT_CHUNK_ROWS = 50_000


def _typed(chunk: pd.DataFrame) -> pd.DataFrame:
    """Text columns as nullable strings, ``at`` as UTC timestamps (naive SQLite values are UTC)."""
    out = chunk.loc[:, list(AUDIT_COLUMNS)].copy()
    for c in AUDIT_COLUMNS:
        if c != "at":
            out[c] = out[c].astype("string")
    out["at"] = pd.to_datetime(out["at"], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    return out


def audit_chunks(ledger, migration: str, wave: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS):
    """Yield the wave's audit events as typed frames of at most ``chunk_rows`` rows, ordered by
    (``at``, event id). Columns: ``AUDIT_COLUMNS``. Raises ValueError for ``chunk_rows < 1``;
    SQLAlchemy errors from the ledger database propagate."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    c = audit_event.c
    q = (select(*(getattr(c, n) for n in AUDIT_COLUMNS))
         .where(and_(c.migration == migration, c.wave == wave))
         .order_by(c.at, c.id))
    with ledger.engine.connect().execution_options(stream_results=True, yield_per=chunk_rows) as conn:
        result = conn.execute(q)
        while True:
            rows = result.fetchmany(chunk_rows)
            if not rows:
                break
            yield _typed(pd.DataFrame(rows, columns=list(AUDIT_COLUMNS)))


def _add_summary(summary: dict[str, Any], chunk: pd.DataFrame) -> None:
    err = chunk["status"].eq("error").fillna(False)
    summary["events"] += len(chunk)
    summary["errors"] += int(err.sum())
    counts = chunk.groupby(["target", "operation"], dropna=False).size()
    errs = chunk[err].groupby("target").size()
    for (target, op), n in counts.items():
        t = summary["by_target"].setdefault(str(target), {"events": 0, "errors": 0, "operations": {}})
        t["events"] += int(n)
        t["operations"][str(op)] = t["operations"].get(str(op), 0) + int(n)
    for target, n in errs.items():
        summary["by_target"][str(target)]["errors"] += int(n)


def write_audit_log(ledger, migration: str, wave: str, out_dir: str | Path, *,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict[str, Path]:
    """Write ``audit_log.csv``, ``audit_log.parquet`` and ``audit_log_summary.json`` into ``out_dir``.

    Args:
        ledger: a ``flit_pipelines.ledger.Ledger`` (SQLite or PostgreSQL).
        migration, wave: which events (one partition of one migration).
        out_dir: created if missing; existing files of these names are replaced atomically.
        chunk_rows: rows fetched and written per chunk (bounds memory).

    Output rows, one per audit event of the wave ordered by time then event id, columns
    ``target, source_id, dest_id, operation, status, error, at, run_id``; ``at`` is UTC (ISO 8601 in
    the CSV, ``timestamp[us, UTC]`` in Parquet); missing values are empty in the CSV, null in Parquet.
    CSV cells a spreadsheet would run as a formula start with ``'`` (``reports.staff_csv``); the
    Parquet file keeps the values as they are.
    A wave without events gives header-only files.

    The summary JSON (also what ``audit_summary`` returns)::

        {"migration", "wave", "events": int, "errors": int,
         "by_target": {target: {"events": int, "errors": int, "operations": {operation: int}}}}

    Returns ``{"csv": Path, "parquet": Path, "summary": Path}``.
    Raises ValueError for ``chunk_rows < 1``; OSError when ``out_dir`` is not writable; SQLAlchemy
    errors from the ledger. On an error no partial file replaces an existing one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "audit_log.csv", "parquet": out / "audit_log.parquet",
             "summary": out / "audit_log_summary.json"}
    tmp = {k: p.with_name(p.name + ".tmp") for k, p in paths.items()}
    summary: dict[str, Any] = {"migration": migration, "wave": wave, "events": 0, "errors": 0, "by_target": {}}
    writer = pq.ParquetWriter(tmp["parquet"], AUDIT_SCHEMA)
    try:
        with open(tmp["csv"], "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(AUDIT_COLUMNS) + "\n")
            for chunk in audit_chunks(ledger, migration, wave, chunk_rows=chunk_rows):
                csv = chunk.copy()
                csv["at"] = csv["at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
                write_staff_csv(csv, fh, header=False, lineterminator="\n")
                writer.write_table(pa.Table.from_pandas(chunk, schema=AUDIT_SCHEMA, preserve_index=False))
                _add_summary(summary, chunk)
        writer.close()
        tmp["summary"].write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    except BaseException:
        writer.close()
        for p in tmp.values():
            p.unlink(missing_ok=True)
        raise
    for k, p in paths.items():
        tmp[k].replace(p)
    return paths


def audit_summary(path_or_dir: str | Path) -> dict[str, Any]:
    """Read the summary written by ``write_audit_log`` (a directory or the JSON path).
    Raises FileNotFoundError when it was not written."""
    p = Path(path_or_dir)
    if p.is_dir():
        p = p / "audit_log_summary.json"
    return json.loads(p.read_text(encoding="utf-8"))
