"""``run_extract(write_table=...)`` (Arrow text, no Python strings) writes what ``write=`` frames give
through ``pa.Table.from_pandas``: the same rows, values, schema and quarantine (issue 12, CSV)."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow as pa

from flit_pipelines.sources import CsvExportSource
from flit_pipelines.sources.extract import arrow_schema, run_extract
from flit_pipelines_tests.conftest import FIXTURE_EXPORT


def _both(obj, name, export):
    schema = arrow_schema(obj)
    frames, tables, q1, q2 = [], [], [], []
    s1 = run_extract(CsvExportSource(export), obj, name, write=frames.append, quarantine=q1.append)
    s2 = run_extract(CsvExportSource(export), obj, name, write_table=tables.append, quarantine=q2.append)
    old = pa.concat_tables([pa.Table.from_pandas(f, schema=schema, preserve_index=False) for f in frames]
                           or [schema.empty_table()])
    new = pa.concat_tables(tables or [schema.empty_table()])
    return s1, s2, old, new, q1, q2


def test_every_sample_object_writes_the_same_table(spec):
    for name, obj in spec.objects.items():
        s1, s2, old, new, q1, q2 = _both(obj, name, FIXTURE_EXPORT)
        assert new.schema.equals(old.schema) and new.equals(old), name
        assert s1 == s2 and len(q1) == len(q2)


def test_tricky_text_writes_the_same_table_and_quarantine(spec, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    path = export / "patients.csv"
    one = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = pd.concat([one.assign(Id=one["Id"] + f"-{k}") for k in range(3)], ignore_index=True)  # 12 rows
    df.loc[0, "FIRST"] = "  Zoë 日本 "
    df.loc[1, "Id"] = " " + df.loc[1, "Id"]  # a key with whitespace: trimmed, warned
    df.loc[2, "BIRTHDATE"] = "2021-02-30"  # not a date
    df.loc[3, "Id"] = df.loc[4, "Id"]  # duplicate key in the chunk
    df.loc[5, "ZIP"] = "00123"  # leading zeros kept
    df.loc[7, "DEATHDATE"] = " 2020-01-05 "  # whitespace: the per-value parser's path
    df.loc[8, "CITY"] = ""
    df.to_csv(path, index=False)
    s1, s2, old, new, q1, q2 = _both(spec.objects["patients"], "patients", export)
    assert new.schema.equals(old.schema) and new.equals(old)
    assert s1 == s2 and s1.quarantined == 2
    quarantined = pd.concat(q2, ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(q1, ignore_index=True), quarantined)
    assert sorted(quarantined["reason"]) == ["BIRTHDATE: not a date", "Id: duplicate primary key"]
    assert s1.warnings == {"Id: whitespace_trimmed": 1}
    kept = new.to_pandas()
    assert kept["FIRST"].iloc[0] == "  Zoë 日本 " and "00123" in kept["ZIP"].tolist()
    assert pd.Timestamp("2020-01-05", tz="UTC") in kept["DEATHDATE"].tolist()


def test_exactly_one_writer_is_required(spec):
    obj = spec.objects["payers"]
    for kwargs in ({}, {"write": print, "write_table": print}):
        try:
            run_extract(CsvExportSource(FIXTURE_EXPORT), obj, "payers", quarantine=print, **kwargs)
        except ValueError as exc:
            assert "exactly one" in str(exc)
        else:
            raise AssertionError("no error")
