"""Database reads straight into Arrow: typed batches (``read_typed``) and their vectorised conversion
to spec types (``sources.arrow_typed``) give exactly what the canonical-text path gives.

The practice databases (PostgreSQL over ODBC and SQLAlchemy, SQLite) come from the fixtures of
``test_database_source``; the text path is the same source seen through ``read`` only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from flit_pipelines.sources.arrow_typed import coerce_arrow, has_typed_path, source_column
from flit_pipelines.sources.database import DatabaseSource, coalesce_batches, rows_batch
from flit_pipelines.sources.extract import run_extract
from flit_pipelines.sources.validate import split_chunk
from flit_pipelines.spec.model import ColumnSpec, SourceObject
from flit_pipelines_tests.sources.test_database_source import (  # noqa: F401 - fixtures
    OBJECTS, odbc_conn_str, pg_practice, sources, sqlite_practice)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
STRICT_NOW = datetime(2023, 1, 1, tzinfo=UTC)


class TextOnly:
    """The same source without ``read_typed``: the extract parses canonical text, as before."""

    def __init__(self, source: DatabaseSource):
        self._source = source

    def header(self, obj):
        return self._source.header(obj)

    def read(self, obj, since=None):
        return self._source.read(obj, since)


def extract(source, obj: SourceObject, name: str, now: datetime = NOW):
    kept, quarantined = [], []
    stats = run_extract(source, obj, name, write=kept.append, quarantine=quarantined.append, now=now)
    good = pd.concat(kept, ignore_index=True) if kept else None
    bad = pd.concat(quarantined, ignore_index=True) if quarantined else None
    return stats, good, bad


def strict_appointments() -> SourceObject:
    """``v_appt`` with rules that quarantine typed values: amounts (decimals) as ``int``, a date that
    must not be after the clock (``STRICT_NOW``, inside the appointments' years), ``broken`` read as
    a bool, a minimum length."""
    base = OBJECTS["v_appt"]
    cols = dict(base.columns)
    cols["amount"] = ColumnSpec(type="int")
    cols["appointment_date"] = ColumnSpec(type="date", not_in_future=True)
    cols["broken"] = ColumnSpec(type="bool", nullable=False)
    cols["length"] = ColumnSpec(type="int", nullable=False, min=40)
    return base.model_copy(update={"columns": cols})


@pytest.mark.parametrize("kind", ["odbc", "postgresql", "sqlite"])
@pytest.mark.parametrize("table", ["v_patient", "v_appt", "fullproclog", "strict_appt"])
def test_typed_extract_equals_the_text_extract(kind, table, sources):
    obj = strict_appointments() if table == "strict_appt" else OBJECTS[table]
    src = sources[kind]
    now = STRICT_NOW if table == "strict_appt" else NOW
    typed_stats, typed_good, typed_bad = extract(src, obj, table, now)
    text_stats, text_good, text_bad = extract(TextOnly(src), obj, table, now)
    assert typed_stats == text_stats
    pd.testing.assert_frame_equal(typed_good, text_good, check_exact=True)
    if table == "strict_appt":
        assert typed_stats.quarantined > 0 and typed_stats.rows_kept > 0
        assert any("appointment_date: not_in_future" in r for r in typed_bad["reason"])
        assert any("length: greater_than_or_equal_to(40.0)" in r for r in typed_bad["reason"])
        pd.testing.assert_frame_equal(typed_bad, text_bad, check_exact=True)
    else:
        assert typed_bad is None and text_bad is None


def test_odbc_batches_keep_the_database_types(sources, pg_practice):
    batch = next(sources["odbc"].read_typed(OBJECTS["v_appt"]))
    types = dict(zip(batch.schema.names, batch.schema.types, strict=True))
    assert pa.types.is_integer(types["appointment_id"]) and pa.types.is_decimal(types["amount"])
    assert types["appointment_date"] == pa.date32() and pa.types.is_timestamp(types["modified_time_stamp"])
    assert types["patient_name"] == pa.string() and batch.num_rows == min(1000, pg_practice[1]["v_appt"])


def test_typed_since_and_limit_match_the_text_reads(sources):
    obj = OBJECTS["fullproclog"]
    for src in sources.values():
        since = datetime(2024, 1, 1)
        typed = pa.Table.from_batches(list(src.read_typed(obj, since=since)))
        text = pa.Table.from_batches(list(src.read(obj, since=since)))
        assert typed.num_rows == text.num_rows > 0
        assert [str(v) for v in typed.column("procid").to_pylist()] == text.column("procid").to_pylist()
        assert sum(b.num_rows for b in src.read_typed(obj, limit=7)) == 7


def test_typed_columns_convert_like_their_text():
    def conv(values, arrow_type, ctype):
        return coerce_arrow(pa.array(values, arrow_type), ctype).tolist()

    assert conv([1, None, 2 ** 53, 2 ** 53 + 1, -(2 ** 60)], pa.int64(), "int") == [1, pd.NA, 2 ** 53, pd.NA, pd.NA]
    assert conv([Decimal("278.00"), Decimal("12.50"), None], pa.decimal128(12, 2), "int") == [278, pd.NA, pd.NA]
    assert conv([1.0, 1.5, float("inf")], pa.float64(), "int") == [1, pd.NA, pd.NA]
    assert conv([Decimal("12.50"), None], pa.decimal128(12, 2), "money")[0] == 12.5
    assert conv([True, False], pa.bool_(), "float") == [1.0, 0.0]
    assert conv([1, 0, 2, None], pa.int32(), "bool") == [True, False, pd.NA, pd.NA]
    assert conv([date(2024, 1, 2), date(1, 1, 1), date(9999, 12, 31)], pa.date32(), "date") == [
        pd.Timestamp("2024-01-02", tz="UTC"), pd.NaT, pd.NaT]  # outside the nanosecond range: not a date
    naive = conv([datetime(2024, 1, 2, 3, 4, 5, 120000)], pa.timestamp("us"), "datetime")
    assert naive == [pd.Timestamp("2024-01-02 03:04:05.12", tz="UTC")]  # taken as UTC, like its text
    zoned = conv([datetime(2024, 1, 2, 8, 0, tzinfo=UTC)], pa.timestamp("us", "America/New_York"), "datetime")
    assert zoned == [pd.Timestamp("2024-01-02 08:00", tz="UTC")]
    assert str(coerce_arrow(pa.array([1], pa.int16()), "int").dtype) == "Int64"
    assert coerce_arrow(pa.array(["1"]), "int") is None and not has_typed_path(pa.time64("us"), "datetime")


def test_decimals_become_the_floats_their_text_parses_to():
    values = [Decimal(f"{i}.{i % 100:02d}") for i in range(-50_000, 50_000)] + [Decimal("0.10"), None]
    arr = pa.array(values, pa.decimal128(12, 2))
    parsed = pd.to_numeric(pd.Series([None if v is None else str(v) for v in values]), errors="coerce")
    np_equal = (coerce_arrow(arr, "money").fillna(-1.0) == parsed.fillna(-1.0)).all()
    assert np_equal  # bit for bit, not within a tolerance
    wide = pa.array([Decimal("123456789012345.123456789"), Decimal("10000000.000000000")], pa.decimal128(38, 9))
    assert coerce_arrow(wide, "money").tolist() == [123456789012345.123456789, 10000000.0]
    assert coerce_arrow(wide, "int").tolist() == [pd.NA, 10_000_000]


def test_source_columns_without_a_typed_path_come_as_canonical_text():
    assert source_column(pa.array([1, 2]), "string").to_pylist() == ["1", "2"]
    assert source_column(pa.array(["", "x"]), "int").to_pylist() == [None, "x"]
    assert source_column(pa.array([1.5, float("nan")]), "float").to_pylist() == [1.5, None]
    assert source_column(pa.array([Decimal("1.50")]), "money").type == pa.decimal128(3, 2)


def test_typed_and_text_chunks_quarantine_the_same_rows():
    obj = SourceObject(table="t", primary_key="id", columns={
        "id": ColumnSpec(type="int", nullable=False), "amt": ColumnSpec(type="money", min=0),
        "when": ColumnSpec(type="datetime", not_in_future=True), "ok": ColumnSpec(type="bool")})
    typed = pa.table({"id": pa.array([1, 2, 2, 3], pa.int64()),
                      "amt": pa.array([Decimal("1.00"), Decimal("-2.50"), None, Decimal("3")], pa.decimal128(9, 2)),
                      "when": pa.array([datetime(2024, 1, 1), datetime(2030, 1, 1), None, None], pa.timestamp("us")),
                      "ok": pa.array([1, 0, 5, None], pa.int8())})
    text = pa.table({c: source_column(typed.column(c).combine_chunks(), "string") for c in typed.column_names})
    results = [split_chunk(obj, "t", t.to_pandas(types_mapper=pd.ArrowDtype), first_row=1, now=NOW)
               for t in (typed, text)]
    pd.testing.assert_frame_equal(results[0].good, results[1].good)
    pd.testing.assert_frame_equal(results[0].quarantine, results[1].quarantine)
    assert results[0].quarantine["reason"].tolist() == [
        "amt: greater_than_or_equal_to(0.0); when: not_in_future", "ok: not a bool; id: duplicate primary key"]


def test_batches_are_recut_to_the_chunk_size():
    parts = [pa.record_batch({"a": list(range(i, i + n))}) for i, n in ((0, 3), (3, 5), (8, 1), (9, 4))]
    out = list(coalesce_batches(parts, 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 1]
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(13))
    mixed = rows_batch([(1, "a", Decimal("1.5")), (2, 3, None)], 3)
    assert mixed.column(0).type == pa.int64() and mixed.column(1).to_pylist() == ["a", "3"]
    assert pa.types.is_decimal(mixed.column(2).type)


@pytest.mark.parametrize("kind", ["odbc", "postgresql"])
def test_the_arrow_readers_connections_are_read_only_sessions(kind, sources):
    """arrow-odbc and ADBC open their own connections: the read-only session is set on them too."""
    sql = "SELECT current_setting('default_transaction_read_only') AS ro"
    with sources[kind]._backend.session() as session:
        batches = list(session.stream(sql, None))
    assert [v for b in batches for v in b.column(0).to_pylist()] == ["on"]
