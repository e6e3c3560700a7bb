"""Reading a sample of a source the proposer has never seen, through the readers' public API.

* a CSV export directory: every ``*.csv`` is an object (``CsvExportSource``);
* a database over a SQLAlchemy URL: every table **and view** of the schema, listed by SQLAlchemy
  inspection (``DatabaseSource.connection`` + ``sqlalchemy.inspect``), read with ``DatabaseSource.read``
  (SELECT only, ``limit``). A ``sqlite:///file.db`` URL attaches the file as schema ``admin``;
* an existing spec's own source (``--like`` without a source option): the spec's objects with every
  column relaxed to optional, through ``open_source``; API readers are asked for their header only
  (a sample page: reading pages would move their resumable cursors).

Only ``profile.SAMPLE_ROWS`` rows per object are read. Connection strings never reach a message.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from flit_pipelines.errors import SourceFormatError
from flit_pipelines.proposal.profile import SAMPLE_ROWS, SourceProfile, profile_frames
from flit_pipelines.sources.csv_export import CsvExportSource
from flit_pipelines.sources.registry import open_source
from flit_pipelines.spec.model import ColumnSpec, MigrationSpec, SourceObject

log = logging.getLogger(__name__)


def _take(batches, limit: int) -> tuple[pd.DataFrame | None, bool]:
    """The first ``limit`` rows of a reader's batches as text, and whether more rows exist."""
    parts, n, more = [], 0, False
    for batch in batches:
        if n >= limit:
            more = True
            break
        df = batch.to_pandas()
        take = df.iloc[: limit - n]
        parts.append(take)
        n += len(take)
        if len(take) < len(df):
            more = True
            break
    if not parts:
        return None, False
    return pd.concat(parts, ignore_index=True).astype("string"), more


def _relaxed(obj: SourceObject | None, headers: list[str], **where: str) -> SourceObject:
    """A SourceObject reading every header as optional text (no column can be 'missing')."""
    return SourceObject(columns={h: ColumnSpec(required=False) for h in headers}, **where)


def read_csv_directory(directory: str | Path, *, rows: int = SAMPLE_ROWS) -> SourceProfile:
    """Profile every ``*.csv`` of an export directory (object = file stem).

    Raises FileNotFoundError when the directory does not exist."""
    directory = Path(directory)
    src = CsvExportSource(directory)
    frames, locations, truncated = {}, {}, {}
    for path in sorted(directory.glob("*.csv")):
        try:  # the reader's own encoding and delimiter detection (a cp1252 or ;-separated export)
            headers = src.file_header(path.name).names
        except SourceFormatError as exc:  # an empty or binary file: nothing to profile, said in the notes
            log.warning("%s", exc)
            continue
        headers = list(dict.fromkeys(h for h in headers if h))
        if not headers:
            continue
        obj = _relaxed(None, headers, file=path.name)
        df, more = _take(src.read(obj), rows)
        frames[path.stem] = df if df is not None else pd.DataFrame({h: pd.Series(dtype="string") for h in headers})
        locations[path.stem], truncated[path.stem] = path.name, more
    return profile_frames(frames, locations=locations, truncated=truncated, kind="csv_export", where="csv directory")


def list_database_objects(url: str, schema: str | None = None) -> tuple[str | None, dict[str, list[str]]]:
    """``(schema, {table or view: [columns]})`` by SQLAlchemy inspection (tables and views)."""
    from sqlalchemy import inspect

    from flit_pipelines.sources.database import DatabaseSource

    src = DatabaseSource.from_url(url)
    try:
        with src.connection() as conn:
            insp = inspect(conn)
            if schema is None:
                schema = "admin" if conn.dialect.name == "sqlite" else insp.default_schema_name
            names = sorted(set(insp.get_table_names(schema=schema)) | set(insp.get_view_names(schema=schema)))
            return schema, {n: [c["name"] for c in insp.get_columns(n, schema=schema)] for n in names}
    finally:
        src.close()


def read_database(url: str, *, schema: str | None = None, rows: int = SAMPLE_ROWS) -> SourceProfile:
    """Profile every table and view of ``schema`` (default: ``admin`` on SQLite files, else the
    connection's default schema). Raises DatabaseConnectionError (redacted) when it cannot connect."""
    from flit_pipelines.sources.database import DatabaseSource

    schema, objects = list_database_objects(url, schema)
    src = DatabaseSource.from_url(url, chunk_rows=min(rows, 50_000))
    frames, locations, truncated = {}, {}, {}
    try:
        for name, columns in objects.items():
            table = f"{schema}.{name}" if schema else name
            obj = _relaxed(None, columns, table=table)
            df, _ = _take(src.read(obj, limit=rows + 1), rows)
            frames[name] = df if df is not None else pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
            locations[name], truncated[name] = table, df is not None and len(df) >= rows
    finally:
        src.close()
    return profile_frames(frames, locations=locations, truncated=truncated, kind="database",
                          where=f"database schema {schema}")


def read_spec_source(spec: MigrationSpec, *, rows: int = SAMPLE_ROWS) -> tuple[SourceProfile, dict[str, list[str]]]:
    """The existing spec's own source, as its readers see it now (``--like`` with no source option).

    Returns the profile of what could be sampled (CSV and database sources) and, per spec object,
    the headers the source offers (API sources: declared paths present plus new top-level fields)."""
    source = open_source(spec)
    frames: dict[str, pd.DataFrame] = {}
    locations: dict[str, str] = {}
    headers: dict[str, list[str]] = {}
    for oname, obj in spec.objects.items():
        relaxed = obj.model_copy(update={"columns": {n: c.model_copy(update={"required": False})
                                                     for n, c in obj.columns.items()}})
        report = source.header(relaxed)
        if not report.present:
            headers[oname] = []
            continue
        present = list(report.rename) + list(report.extra)
        headers[oname] = present
        locations[oname] = obj.file or obj.table or obj.endpoint or oname
        if spec.source.kind in ("csv_export", "database"):
            everything = _relaxed(None, present, **{k: v for k, v in (("file", obj.file), ("table", obj.table)) if v})
            reader = source.read(everything, limit=rows + 1) if spec.source.kind == "database" and hasattr(
                source, "dialect") else source.read(everything)
            df, _ = _take(reader, rows)
            if df is not None:
                frames[oname] = df
    return profile_frames(frames, locations=locations, kind=spec.source.kind, where=f"source of {spec.migration}"), headers
