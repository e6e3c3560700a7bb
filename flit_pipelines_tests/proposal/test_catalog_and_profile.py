"""Catalogs, static spec validation, recognisers and the PHI-free profile (no HTTP)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from flit_pipelines.catalog import load_catalog
from flit_pipelines.proposal.profile import profile_column
from flit_pipelines.proposal.recognise import recognise
from flit_pipelines.spec import load_all_specs, load_spec
from flit_pipelines.spec.load import SPEC_DIR, SpecError
from flit_pipelines_tests.spec_edit import replace_once


def test_catalogs_carry_vendor_facts():
    hl = load_catalog("highlevel")
    contact = hl.entity("contact")
    assert contact.fields["gender"].create_only and contact.fields["companyName"].create_only
    assert not contact.fields["email"].create_only
    assert contact.lookups["assignedTo"].entity == "user"
    assert hl.custom_fields.types["money"] == "MONETORY"
    pd_ = load_catalog("pipedrive")
    assert pd_.entity("deal").fields["title"].required
    assert pd_.entity("deal").fields["status"].values == ("open", "won", "lost")
    assert pd_.entity("file").fields["file"].write_only
    sf = load_catalog("salesforce")
    assert sf.entity("sobject", "Contact").fields["LastName"].required
    assert sf.entity("sobject", "Treatment_Record__c").open
    assert sum(load_catalog("pipedrive").synonym_counts().values()) > 10


def test_every_spec_passes_static_validation():
    assert set(load_all_specs()) == {"clinic_to_pipedrive", "dentrix_to_highlevel", "henry_schein_one_to_highlevel",
                                     "practicehub_to_salesforce", "fhir_clinic_to_pipedrive"}


def test_unknown_field_and_formatter_are_rejected_at_load_with_path_and_line(tmp_path):
    text = (SPEC_DIR / "clinic_to_pipedrive.yaml").read_text()
    bad = tmp_path / "clinic_to_pipedrive.yaml"
    bad.write_text(replace_once(text, "      birthday: {column: BIRTHDATE, format: date}",
                                "      birth_day: {column: BIRTHDATE, format: date}"))
    with pytest.raises(SpecError) as err:
        load_spec(bad)
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if ln.strip().startswith("birth_day:"))
    assert f"{bad}:{line}:" in str(err.value) and "'birth_day' is not a field of pipedrive person" in str(err.value)
    bad.write_text(replace_once(text, "due_date: {column: START, format: date}", "due_date: {column: START, format: dat}"))
    with pytest.raises(SpecError, match="formatter 'dat' does not exist"):
        load_spec(bad)
    shutil.copy(SPEC_DIR / "clinic_to_pipedrive.yaml", bad)
    assert load_spec(bad).migration == "clinic_to_pipedrive"


def test_recognisers_accept_what_they_name():
    rec, _ = recognise(pd.Series(["1234567893", "1245319599"]))  # valid NPI check digits (CMS examples)
    assert rec["npi"] == 1.0
    rec, _ = recognise(pd.Series(["1234567890"]))
    assert rec["npi"] == 0.0
    rec, fmt = recognise(pd.Series(["03/14/1985", "11/02/1983"]))
    assert rec["date"] == 1.0 and fmt == "%m/%d/%Y"
    rec, _ = recognise(pd.Series(["(508) 555-0100", "+1 617 555 0199"]))
    assert rec["phone"] == 1.0 and rec["email"] == 0.0
    rec, _ = recognise(pd.Series(["a.b@mail.example", "x@y.org"]))
    assert rec["email"] == 1.0
    rec, _ = recognise(pd.Series(["999-10-0001", "999-10-0002"]))
    assert rec["ssn"] == 1.0
    rec, _ = recognise(pd.Series(["E11.9", "I10", "D0120"]))
    assert rec["icd10"] == pytest.approx(2 / 3, abs=0.01) and rec["cdt"] == pytest.approx(1 / 3, abs=0.01)


def test_value_lists_only_for_coded_columns():
    codes = profile_column("GENDER", pd.Series(["M", "F", "F", "M", "F", "M"]), 6)
    assert codes.values == ["F", "M"]
    names = profile_column("LAST", pd.Series(["Smith", "Smith", "Jones", "Jones", "Smith", "Jones"]), 6)
    assert names.values is None and names.value_counts is None
    zips = profile_column("ZIP", pd.Series(["02081", "02081", "02081", "02090"]), 4)
    assert zips.values is None and zips.shape == "99999"


def test_drift_check_reuses_the_profile_of_an_unchanged_sample_and_redoes_a_changed_one(tmp_path, monkeypatch):
    """The sample and full waves read the same source: the second drift check takes the cached profile
    (same documents, no recogniser run); a changed value makes a new profile."""
    from flit_pipelines.proposal import drift
    from flit_pipelines.sources.csv_export import CsvExportSource
    from flit_pipelines_tests.conftest import FIXTURE_EXPORT

    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    spec = load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml")
    calls = []
    real = drift.profile_frames
    monkeypatch.setattr(drift, "profile_frames", lambda *a, **k: calls.append(1) or real(*a, **k))
    reports = tmp_path / "reports"
    first = drift.check_source(spec, CsvExportSource(export), reports / "sample")
    second = drift.check_source(spec, CsvExportSource(export), reports / "full")
    assert first.passed and second.passed and len(calls) == 1
    assert (reports / "sample" / "source_profile.json").read_text() == (reports / "full" / "source_profile.json").read_text()
    assert (reports / "sample" / "data_dictionary.csv").read_text() == (reports / "full" / "data_dictionary.csv").read_text()
    patients = export / "patients.csv"
    lines = patients.read_text().splitlines()
    patients.write_text("\n".join(lines[:-1]) + "\n")  # one patient fewer: another sample
    drift.check_source(spec, CsvExportSource(export), reports / "delta")
    assert len(calls) == 2


def test_date_shape_admits_every_value_a_date_format_parses():
    """``recognise`` tries dates only on columns with a value of ``_DATE_SHAPE``: every value pandas parses
    under one of DATE_FORMATS (with dropped leading zeros, a space for a digit, one digit more or less)
    must have that shape, or a date column would lose its date share."""
    import numpy as np

    from flit_pipelines.proposal.recognise import _DATE_SHAPE, DATE_FORMATS

    moments = pd.to_datetime(np.random.default_rng(7).integers(-2_000_000_000, 2_000_000_000, 300), unit="s")
    texts = []
    for fmt in DATE_FORMATS:
        for x in moments.strftime(fmt):
            texts += [x, x.replace("0", ""), x.replace("-0", "-").replace("/0", "/"), x[:-1], x + "0",
                      x.replace("0", " ", 1)]
    values = pd.Series([t.strip() for t in texts if t.strip()]).drop_duplicates()
    parsed_somehow = pd.Series(False, index=values.index)
    for fmt in DATE_FORMATS:
        parsed_somehow |= pd.to_datetime(values, format=fmt, errors="coerce").notna()
    assert parsed_somehow.sum() > 1000
    assert values[parsed_somehow].str.match(_DATE_SHAPE).all()
    assert not pd.Series(["12.50", "Smith", "A00.1", "555-1234", "12345"]).str.match(_DATE_SHAPE).any()
