"""The sample wave of practicehub_to_salesforce through Dagster (PracticeHub and Salesforce sandboxes
over real HTTP): every target's field diff passes. Sandboxes and environment come from the full-wave
test (``integration/test_practicehub_salesforce_e2e.py``: fixture ``env``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd

from flit_pipelines.cli import report, run_wave
from flit_pipelines_tests.integration.test_practicehub_salesforce_e2e import M, env  # noqa: F401


def test_practicehub_sample_wave_field_diff_passes(env):  # noqa: F811
    assert run_wave(M, "sample", quiet=True) is True
    rep = report(M, "sample")
    failed = {t: [c for c, ok in r["checks"].items() if not ok] for t, r in rep["targets"].items()}
    assert rep["all_checks_passed"] is True, {t: c for t, c in failed.items() if c}
    out = Path(os.environ["FLIT_DATA_DIR"]) / "reports" / M / "sample"
    with sqlite3.connect(env["state"]) as con:
        patients = con.execute("SELECT COUNT(*) FROM patients").fetchone()[0]
        multi = con.execute("SELECT COUNT(*) FROM (SELECT patient_id FROM insurances GROUP BY patient_id "
                            "HAVING COUNT(*) > 1)").fetchone()[0]
    selection = pd.read_csv(out / "sample_selection.csv", dtype=str, keep_default_na=False)
    assert len(selection) == patients  # fewer than 100: all of them
    diff = rep["field_diff"]
    assert diff["passed"] is True
    for name, t in rep["targets"].items():
        if t["entity"] != "user" and t["created"]:
            s = diff["targets"][name]
            assert s["records"] == t["created"] and s["status_counts"]["match"] > 0, name
    rows = pd.read_csv(out / "field_diff.csv", dtype=str, keep_default_na=False)
    assert not rows["status"].isin(["mismatch", "missing_record"]).any()
    # the junction's relationship columns are named by their lookups
    assert {"Patient__c", "Practitioner__c"} <= set(rows.loc[rows["target"] == "care_team", "field"])
    several = selection["strata"].str.contains("several insurances")
    assert int(several.sum()) == multi
