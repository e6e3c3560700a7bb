"""A sample smaller than the source, end to end: 300 synthetic clinic patients, ``sample_size: 100``.
The sample wave loads exactly the selected patients, every stratum, their guarantors as parents, and
only their child rows; counts reconcile, the field diff passes, and a re-run selects the same sample."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from flit_pipelines.cli import report, run_wave
from flit_sandboxes.clinic_export import build_clinic_export
from flit_pipelines.spec.load import approve_spec_file
from flit_pipelines_tests.spec_edit import edit_spec_file

M = "clinic_to_pipedrive"


def test_a_stratified_sample_of_a_larger_export(migration_env, tmp_path):
    export = tmp_path / "synthetic"
    build_clinic_export(export, patients=300, seed=23, encounters_per_patient=1.5, notes_per_patient=0.5)
    os.environ["CLINIC_EXPORT_DIR"] = str(export)
    spec_path = migration_env["specs"] / f"{M}.yaml"
    edit_spec_file(spec_path, "  sample_size: 200\n", "  sample_size: 100\n")
    approve_spec_file(spec_path, "test reviewer", "2026-11-21T00:00:00+00:00")

    assert run_wave(M, "sample", quiet=True) is True
    rep = report(M, "sample")
    assert rep["all_checks_passed"] is True, {t: r["checks"] for t, r in rep["targets"].items()}
    out = Path(os.environ["FLIT_DATA_DIR"]) / "reports" / M / "sample"
    sel = pd.read_csv(out / "sample_selection.csv", dtype=str, keep_default_na=False)
    roles = sel["role"].value_counts().to_dict()
    assert roles.get("stratum", 0) + roles.get("fill", 0) == 100
    parents = sel[sel["role"] == "parent"]

    # guarantors of sampled patients who were not sampled themselves come along as parents
    rel = pd.read_csv(export / "relationships.csv", dtype=str, keep_default_na=False)
    guarantors = rel[(rel["IS_GUARANTOR"] == "true") & rel["PATIENT"].isin(sel["root_id"])]
    assert set(guarantors["RELATED_PATIENT"]) <= set(sel["root_id"])
    sampled = set(sel.loc[sel["role"] != "parent", "root_id"])
    assert set(parents["root_id"]) == set(guarantors["RELATED_PATIENT"]) - sampled and len(parents) > 0
    assert (parents["parent_of"] != "").all()

    # every stratum is covered up to at_least (or all of its eligible roots)
    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    for obj, label in (("careplans.csv", "treatment_plans"), ("notes.csv", "clinical_notes"),
                       ("documents.csv", "documents"), ("claims.csv", "billing")):
        key = "PATIENTID" if obj == "claims.csv" else "PATIENT"
        eligible = set(pd.read_csv(export / obj, dtype=str, keep_default_na=False)[key]) & set(patients["Id"])
        covered = eligible & set(sel["root_id"])
        assert len(covered) >= min(5, len(eligible)), label
    payers = pd.read_csv(export / "payer_transitions.csv", dtype=str, keep_default_na=False)
    several = set(payers["PATIENT"].value_counts().loc[lambda s: s >= 2].index)
    assert len(several & set(sel["root_id"])) >= min(5, len(several))

    # exactly the selected patients and their child rows were loaded
    t = rep["targets"]
    assert t["persons"]["created"] + t["persons"]["quarantined"] == len(sel)
    enc = pd.read_csv(export / "encounters.csv", dtype=str, keep_default_na=False)
    assert t["visits"]["source_rows"] == int(enc["PATIENT"].isin(sel["root_id"]).sum())
    assert rep["field_diff"]["passed"] is True and rep["field_diff"]["targets"]["persons"]["records"] == \
        t["persons"]["created"]

    # deterministic: a re-run picks the same sample and loads nothing new
    first = sel
    assert run_wave(M, "sample", quiet=True) is True
    again = pd.read_csv(out / "sample_selection.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(first, again)
    assert all(r["created"] == 0 for r in report(M, "sample")["targets"].values())
