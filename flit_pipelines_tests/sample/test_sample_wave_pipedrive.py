"""The sample wave of clinic_to_pipedrive through Dagster into the Pipedrive sandbox over real HTTP:
stratified selection file, field diff passing with its CSV/HTML, then a value changed in the CRM
makes ``field_diff_clean`` fail naming the field (and only that field)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines_tests.conftest import TOKEN

M = "clinic_to_pipedrive"
ALICE = "a0000000-0000-4000-8000-000000000001"


def sample_dir() -> Path:
    return Path(os.environ["FLIT_DATA_DIR"]) / "reports" / M / "sample"


def load_doc(target: str) -> dict:
    return json.loads((sample_dir() / "load" / f"{target}.json").read_text())


def test_sample_wave_diff_passes_then_names_a_field_changed_in_the_crm(migration_env):
    assert run_wave(M, "sample", quiet=True) is True
    rep = report(M, "sample")
    assert rep["all_checks_passed"] is True, {t: r["checks"] for t, r in rep["targets"].items()}

    # the fixture has 4 patients: min(200, 4) = all of them, picked for strata first
    selection = pd.read_csv(sample_dir() / "sample_selection.csv", dtype=str, keep_default_na=False)
    assert len(selection) == 4 and set(selection["role"]) <= {"stratum", "fill"}
    assert ALICE in set(selection["root_id"])
    assert "treatment_plans" in ";".join(selection["strata"])

    diff = rep["field_diff"]
    assert diff["passed"] is True
    loaded = [n for n, t in rep["targets"].items() if t["entity"] != "user" and t["created"]]
    assert set(loaded) <= set(diff["targets"])
    persons = diff["targets"]["persons"]
    assert persons["records"] == 4 and persons["status_counts"]["mismatch"] == 0
    assert persons["status_counts"]["match"] > 4 * 10
    rows = pd.read_csv(sample_dir() / "field_diff.csv", dtype=str, keep_default_na=False)
    assert {"target", "source_id", "dest_id", "field", "status", "expected", "actual"} <= set(rows.columns)
    assert set(rows["target"]) == set(diff["targets"])
    alice_name = rows[(rows["target"] == "persons") & (rows["source_id"] == ALICE) & (rows["field"] == "name")]
    assert alice_name["status"].tolist() == ["match"] and alice_name["actual"].str.contains("Alice101").all()
    page = (sample_dir() / "field_diff.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Summary per record type" in page and "<script" not in page
    # the check's metadata carries counts, never a value
    check = load_doc("persons")["checks"]["field_diff_clean"]
    assert check["passed"] is True and "Alice101" not in json.dumps(check)

    # someone edits Alice's name in Pipedrive: the re-run loads nothing new, the diff names the field
    xw = rows[(rows["target"] == "persons") & (rows["source_id"] == ALICE)]["dest_id"].iloc[0]
    client = PipedriveClient(migration_env["sandbox"], TOKEN)
    client.update("person", int(xw), {"name": "Alice Edited"})
    assert run_wave(M, "sample", quiet=True) is True  # non-blocking: the run still succeeds
    rep2 = report(M, "sample")
    assert rep2["all_checks_passed"] is False
    assert rep2["targets"]["persons"]["checks"]["field_diff_clean"] is False
    assert rep2["targets"]["persons"]["checks"]["counts_reconcile"] is True
    check = load_doc("persons")["checks"]["field_diff_clean"]
    assert check["metadata"]["mismatched_fields"] == {"name": 1}
    assert "name: 1" in check["description"] and "Alice Edited" not in json.dumps(check)
    rows = pd.read_csv(sample_dir() / "field_diff.csv", dtype=str, keep_default_na=False)
    bad = rows[rows["status"] == "mismatch"]
    assert bad[["target", "source_id", "field", "actual"]].values.tolist() == [
        ["persons", ALICE, "name", "Alice Edited"]]
    assert "Alice Edited" in (sample_dir() / "field_diff.html").read_text()
