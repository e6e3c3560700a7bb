"""Declarable value rules (spec model + ``sources.rules``) and the cross-chunk duplicate-key check."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from pydantic import ValidationError

from flit_pipelines.sources.validate import SeenKeys, split_chunk
from flit_pipelines.spec.model import ColumnSpec, SourceObject

VISITS = SourceObject.model_validate({
    "file": "visits.csv", "primary_key": "id",
    "checks": [{"left": "stop", "op": ">=", "right": "start"},
               {"left": "paid", "op": "<=", "right": "cost", "on_fail": "warn", "name": "paid within cost"}],
    "columns": {"id": {"type": "int", "nullable": False}, "born": {"type": "date", "not_in_future": True},
                "start": {"type": "datetime"}, "stop": {"type": "datetime"},
                "cost": {"type": "money", "min": 0, "max": 10_000},
                "paid": {"type": "money", "min": 0, "on_fail": {"min": "warn"}},
                "name": {"max_length": 5, "isin": ["ann", "bob", "cy", "dee"], "on_fail": {"isin": "warn"}}}})


def frame(**cols) -> pd.DataFrame:
    base = {"id": "1", "born": "1990-01-01", "start": "2024-01-01T10:00:00Z", "stop": "2024-01-01T11:00:00Z",
            "cost": "10", "paid": "5", "name": "ann"}
    n = max(len(v) for v in cols.values())
    return pd.DataFrame({k: cols.get(k, [v] * n) for k, v in base.items()}, dtype="string").assign(
        id=[str(i + 1) for i in range(n)])


def split(df, now=datetime(2026, 12, 1, tzinfo=UTC), seen=None):
    return split_chunk(VISITS, "visits", df, first_row=1, now=now, seen_keys=seen)


def test_each_rule_quarantines_or_warns_as_declared():
    df = frame(born=["1990-01-01", "2030-01-01", None, None, None, None, None, None],
               stop=[None, None, "2024-01-01T09:00:00Z", None, None, None, None, None],
               cost=["10", "10", "10", "-1", "10001", "10", "10", "10"],
               paid=["5", "5", "5", "5", "5", "-3", "50", "50"],
               name=["ann", "ann", "ann", "ann", "ann", "zed", "annabel", "bob"])
    r = split(df)
    assert r.quarantine.set_index("row_number")["reason"].to_dict() == {
        2: "born: not_in_future", 3: "stop >= start", 4: "cost: greater_than_or_equal_to(0.0)",
        5: "cost: less_than_or_equal_to(10000.0)", 7: "name: max_length 5"}
    assert r.good["id"].tolist() == [1, 6, 8]  # rows 6 and 8 fail warn rules only
    # warnings count the rows kept: row 4 (paid > cost) and row 7 (unknown name) are quarantined anyway
    assert dict(r.warnings) == {"paid: greater_than_or_equal_to(0.0)": 1, "name: isin(['ann', 'bob', 'cy', 'dee'])": 1,
                                "paid within cost": 1}


def test_an_empty_value_passes_isin_and_pattern():
    """An optional coded column left empty (the bundled Synthea sample has no encounter STATUS) is not a
    wrong code: isin and pattern judge values, ``nullable`` judges emptiness."""
    obj = SourceObject.model_validate({"file": "v.csv", "primary_key": "id", "columns": {
        "id": {"type": "int"}, "status": {"required": False, "isin": ["completed", "no-show"]},
        "code": {"required": False, "pattern": "^[A-Z]\\d+$"}}})
    df = pd.DataFrame({"id": ["1", "2", "3", "4"], "status": [None, "completed", "lost", None],
                       "code": [None, "D1", None, "x9"]}, dtype="string")
    r = split_chunk(obj, "v", df, first_row=1, now=datetime(2026, 12, 1, tzinfo=UTC), seen_keys=None)
    assert r.quarantine.set_index("row_number")["reason"].to_dict() == {
        3: "status: isin(['completed', 'no-show'])", 4: "code: str_matches('^[A-Z]\\\\d+$')"}
    assert r.good["id"].tolist() == [1, 2]


def test_not_in_future_follows_the_injected_clock():
    df = frame(born=["2030-01-01"])
    assert len(split(df, now=datetime(2029, 12, 31, tzinfo=UTC)).quarantine) == 1
    assert len(split(df, now=datetime(2030, 1, 2, tzinfo=UTC)).quarantine) == 0


def test_default_rules_apply_without_a_spec_change():
    df = frame(name=["a\x00b", "c\x07", "d" * 70_000, "bob"])
    plain = VISITS.model_copy(update={"columns": {**VISITS.columns, "name": ColumnSpec()}})
    r = split_chunk(plain, "visits", df, first_row=1, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert r.quarantine["reason"].tolist() == ["name: nul_bytes", "name: max_length 65536"]
    assert dict(r.warnings) == {"name: control_characters": 1}


@pytest.mark.parametrize("column, bad", [
    ({"type": "string", "min": 1}, "min"), ({"type": "int", "max_length": 3}, "max_length"),
    ({"type": "int", "not_in_future": True}, "not_in_future"), ({"type": "date", "isin": ["x"]}, "isin"),
    ({"type": "money", "min": 5, "max": 1}, "min is greater than max")])
def test_rules_must_fit_the_column_type(column, bad):
    with pytest.raises(ValidationError, match=bad):
        ColumnSpec.model_validate(column)


def test_row_checks_name_declared_comparable_columns():
    cols = {"a": {"type": "date"}, "b": {"type": "money"}}

    def obj(right: str) -> SourceObject:
        return SourceObject.model_validate({"file": "x.csv", "columns": cols,
                                            "checks": [{"left": "a", "op": ">", "right": right}]})

    with pytest.raises(ValidationError, match=r"columns \['c'\] are not declared"):
        obj("c")
    with pytest.raises(ValidationError, match="not of comparable types"):
        obj("b")
    with pytest.raises(ValidationError):  # no expressions: an operator from the list only
        SourceObject.model_validate({"file": "x.csv", "columns": cols,
                                     "checks": [{"left": "a", "op": "__import__('os')", "right": "a"}]})


def test_an_integer_key_repeated_in_a_later_chunk_is_quarantined():
    seen = SeenKeys()
    first = split(frame(cost=["1", "2", "3"]), seen=seen)
    assert first.good["id"].tolist() == [1, 2, 3] and len(seen) == 3
    later = frame(cost=["4", "5"]).assign(id=["2", "4"])
    r = split(later, seen=seen)
    assert r.good["id"].tolist() == [4]
    assert r.quarantine["reason"].tolist() == ["id: duplicate primary key (seen in an earlier chunk)"]
    assert len(seen) == 4


def test_text_keys_are_compared_as_text():
    seen = SeenKeys()
    seen.add(pd.Series(["a1", "b2"], dtype="string"))
    assert seen.repeats(pd.Series(["b2", "c3", None], dtype="string")).tolist() == [True, False, False]
    assert seen.repeats(pd.Series(["B2"], dtype="string")).tolist() == [False]


def test_a_delta_with_unreadable_rows_reports_no_deletions(spec, tmp_path):
    """A malformed row's key is unknown: the delta must not take its record for deleted."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    from upath import UPath

    from flit_pipelines.delta.extract import extract_delta
    from flit_pipelines.sources import CsvExportSource
    from flit_pipelines.sources.extract import arrow_schema, run_extract
    from flit_pipelines_tests.conftest import FIXTURE_EXPORT

    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    obj = spec.objects["patients"]
    full = []
    run_extract(CsvExportSource(export), obj, "patients", write=full.append, quarantine=lambda q: None)
    folder = tmp_path / "parquet"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(pd.concat(full), schema=arrow_schema(obj), preserve_index=False),
                   folder / "full.parquet")
    lines = (export / "patients.csv").read_bytes().split(b"\n")
    lines[2] += b",ONE FIELD TOO MANY"  # Bob's row can no longer be read
    (export / "patients.csv").write_bytes(b"\n".join(lines))
    quarantined = []
    snap = extract_delta(CsvExportSource(export), obj, "patients", UPath(folder / "delta-20261201T000000.parquet"),
                         "delta-20261201T000000", quarantined.append, key_scan=True)
    assert snap.deleted.empty, snap.deleted.tolist()
    assert snap.deletions_suspended is True
    assert snap.stats.rows_unreadable == 1 and len(quarantined[0]) == 1
    kept = pd.read_parquet(folder / "delta-20261201T000000.parquet")
    assert "a0000000-0000-4000-8000-000000000002" in set(kept["Id"])  # Bob keeps his last good state
