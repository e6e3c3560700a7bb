"""CSV export reader: required and renamed columns, extra columns, quarantine with reasons."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from flit_pipelines.sources import CsvExportSource, MissingColumnError, MissingFileError
from flit_pipelines.sources.extract import run_extract
from flit_pipelines_tests.conftest import FIXTURE_EXPORT


def _extract(spec, export_dir, name):
    good, quarantined = [], []
    stats = run_extract(CsvExportSource(export_dir), spec.objects[name], name, write=good.append,
                        quarantine=quarantined.append)
    g = pd.concat(good, ignore_index=True) if good else pd.DataFrame()
    q = pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame(columns=["source_id", "reason"])
    return stats, g, q


def test_real_sample_extracts_cleanly_and_lists_extra_columns(spec):
    from flit_pipelines.sources import resolve_directory

    stats, good, q = _extract(spec, resolve_directory(spec.source.default_directory), "patients")
    assert stats.rows_read == 11 and stats.rows_kept == 11 and len(q) == 0
    # SSN and the like are listed as extra columns and never read
    assert {"SSN", "DRIVERS", "PASSPORT"} <= set(stats.extra_columns)
    assert "SSN" not in good.columns
    assert good["ZIP"].iloc[0] == "02081"  # leading zero kept: ZIP is text
    assert str(good["BIRTHDATE"].dtype).startswith("datetime64")
    assert set(stats.missing_optional_columns) >= {"PHONE", "MRN"}


def test_missing_required_column_names_file_and_column(spec, tmp_path):
    shutil.copytree(FIXTURE_EXPORT, tmp_path / "export")
    path = tmp_path / "export" / "careplans.csv"
    df = pd.read_csv(path, dtype=str).drop(columns=["DESCRIPTION"])
    df.to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match=r"careplans.csv: required column 'DESCRIPTION' is missing"):
        _extract(spec, tmp_path / "export", "careplans")


def test_missing_file_is_an_error_unless_optional(spec, tmp_path):
    shutil.copytree(FIXTURE_EXPORT, tmp_path / "export")
    (tmp_path / "export" / "claims.csv").unlink()
    (tmp_path / "export" / "notes.csv").unlink()
    with pytest.raises(MissingFileError, match="claims.csv"):
        _extract(spec, tmp_path / "export", "claims")
    stats, good, q = _extract(spec, tmp_path / "export", "notes")
    assert stats.file_present is False and stats.rows_kept == 0


def test_renamed_column_is_a_spec_change_not_code(spec, tmp_path):
    shutil.copytree(FIXTURE_EXPORT, tmp_path / "export")
    path = tmp_path / "export" / "patients.csv"
    df = pd.read_csv(path, dtype=str).rename(columns={"FIRST": "GIVEN_NAME"})
    df["LOYALTY_TIER"] = "gold"  # an added column
    df.to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match="FIRST"):
        _extract(spec, tmp_path / "export", "patients")
    obj = spec.objects["patients"]
    renamed = obj.model_copy(update={"columns": {**obj.columns,
                                                 "FIRST": obj.columns["FIRST"].model_copy(update={"source": "GIVEN_NAME"})}})
    spec2 = spec.model_copy(update={"objects": {**spec.objects, "patients": renamed}})
    stats, good, _ = _extract(spec2, tmp_path / "export", "patients")
    assert good["FIRST"].tolist() == pd.read_csv(path, dtype=str)["GIVEN_NAME"].tolist()
    assert "LOYALTY_TIER" in stats.extra_columns


def test_bad_rows_are_quarantined_with_reasons_and_no_values(spec, tmp_path):
    shutil.copytree(FIXTURE_EXPORT, tmp_path / "export")
    path = tmp_path / "export" / "patients.csv"
    df = pd.read_csv(path, dtype=str)
    df.loc[0, "BIRTHDATE"] = "31/02/SECRET-VALUE"  # not a date
    df.loc[1, "GENDER"] = "Q"  # not an allowed value
    df.loc[2, "Id"] = df.loc[3, "Id"]  # duplicate primary key
    df.to_csv(path, index=False)
    stats, good, q = _extract(spec, tmp_path / "export", "patients")
    assert stats.rows_read == len(df)
    assert stats.quarantined == len(q) == 3  # row 0, row 1, and the second occurrence of the repeated Id
    assert stats.rows_kept + stats.quarantined == stats.rows_read
    reasons = " | ".join(q["reason"])
    assert "BIRTHDATE: not a date" in reasons
    assert "GENDER: isin" in reasons
    assert "duplicate primary key" in reasons
    assert "SECRET-VALUE" not in reasons  # reasons name columns and checks, never values
    assert sorted(q["row_number"].tolist())[:2] == [1, 2]
