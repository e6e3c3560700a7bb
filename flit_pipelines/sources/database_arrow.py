"""Arrow record batches from database drivers, bounded to ``chunk_rows`` rows.

* ``coalesce_batches``: re-cuts a driver's batches (arrow-odbc sizes its fetch buffer by the columns'
  declared widths, ADBC by bytes) into batches of exactly ``chunk_rows`` rows.
* ``rows_batch``: DB-API rows (SQLAlchemy's fallback drivers) as typed Arrow columns.
* ``adbc_stream``: a SELECT over ADBC's PostgreSQL driver (libpq, binary COPY straight into Arrow),
  on its own connection with the dialect's read-only session statements run first. The caller
  (``database.DatabaseSource``) has passed the statement through ``readonly.require_select``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from flit_pipelines.sources.canonical_text import column_text, strip_zeros

__all__ = ["ODBC_FETCH_BUFFER_BYTES", "adbc_postgresql_uri", "adbc_stream", "coalesce_batches", "rows_batch"]

# The arrow-odbc transit buffer's cap (it is sized by the columns' declared widths, not the values;
# a second one fills while the first is converted): bounds memory for wide text columns.
ODBC_FETCH_BUFFER_BYTES = 64 * 1024 * 1024


def coalesce_batches(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut ``batches`` into batches of exactly ``rows`` rows (the last one shorter): a driver's
    fetch buffer may hold fewer rows than a chunk when its columns are declared wide."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
                pending, count = [], 0
    if count:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def _native_column(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return column_text(values)  # mixed types in one column (SQLite's dynamic typing): canonical text


def rows_batch(rows: Sequence[Sequence[Any]], width: int) -> pa.RecordBatch:
    """DB-API rows as one batch of ``width`` positional columns (``c0``...), each typed by
    ``pa.array`` (Decimal -> decimal128, datetime -> timestamp, ...)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * width
    return pa.RecordBatch.from_arrays([_native_column(c) for c in cols], names=[f"c{i}" for i in range(width)])


def _without_extensions(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Extension columns as their storage: ADBC gives PostgreSQL ``numeric`` as an opaque
    extension over its text (``278.00``), which then takes the canonical-text path."""
    if not any(isinstance(t, pa.BaseExtensionType) for t in batch.schema.types):
        return batch
    cols = [_numeric(c.storage) if isinstance(c.type, pa.BaseExtensionType) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _numeric(text: pa.Array) -> pa.Array:
    """PostgreSQL ``numeric`` text in canonical form (``278.00`` -> ``278``): its digits are kept
    exactly and parsed like a file's (a fixed decimal type would have to guess the scale)."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return text
    return strip_zeros(text)


def adbc_postgresql_uri(url: Any) -> str | None:
    """The libpq URI of a SQLAlchemy ``postgresql[+driver]://`` URL (``sqlalchemy.engine.URL``), or
    None for other engines or when the ADBC PostgreSQL driver is not installed. Never logged."""
    if url.get_backend_name() != "postgresql":
        return None
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def adbc_stream(uri: str, session_sql: Sequence[str], sql: str, params: Sequence[Any],
                chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Rows of ``sql`` (``$1``-style parameters ``params``) as batches of ``chunk_rows`` rows.

    Raises the driver's errors (``adbc_driver_manager.Error``: DB-API classes with ``sqlstate``)."""
    import adbc_driver_postgresql.dbapi as adbc

    conn = adbc.connect(uri)
    try:
        cur = conn.cursor()
        try:
            for stmt in session_sql:
                cur.execute(stmt)
            conn.commit()  # the session characteristics, set inside the driver's implicit transaction
            cur.execute(sql, parameters=tuple(params) or None)
            yield from coalesce_batches(map(_without_extensions, cur.fetch_record_batch()), chunk_rows)
        finally:
            cur.close()
    finally:
        conn.close()
