"""The sample wave of both Dentrix migrations through Dagster into a HighLevel sandbox over real HTTP:
every target's field diff passes. Sources, sandboxes and environment come from the full-wave tests
(``integration/test_dental_highlevel_e2e.py``: the demo practice, the HighLevel sandbox, ``_env``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd

from flit_pipelines.cli import report, run_wave
from flit_sandboxes.ascend import running_sandbox as running_ascend
from flit_pipelines_tests.integration.test_dental_highlevel_e2e import _env, highlevel, practice  # noqa: F401


def assert_sample_diff_passes(m: str, patients: int) -> dict:
    """Run the sample wave; every check (field_diff_clean included) passes; the selection holds
    every patient (fewer than 100) and the diff covers every target that loaded records."""
    assert run_wave(m, "sample", quiet=True) is True
    rep = report(m, "sample")
    failed = {t: {c: ok for c, ok in r["checks"].items() if not ok} for t, r in rep["targets"].items()}
    assert rep["all_checks_passed"] is True, {t: c for t, c in failed.items() if c}
    out = Path(os.environ["FLIT_DATA_DIR"]) / "reports" / m / "sample"
    selection = pd.read_csv(out / "sample_selection.csv", dtype=str, keep_default_na=False)
    assert len(selection) == patients and selection["root_id"].is_unique
    diff = rep["field_diff"]
    assert diff["passed"] is True
    for name, t in rep["targets"].items():
        if t["entity"] != "user" and t["created"]:
            s = diff["targets"][name]
            assert s["records"] == t["created"] and s["status_counts"]["match"] > 0, name
    rows = pd.read_csv(out / "field_diff.csv", dtype=str, keep_default_na=False)
    assert not rows["status"].isin(["mismatch", "missing_record"]).any()
    return {"report": rep, "rows": rows, "selection": selection}


def test_dentrix_sample_wave_field_diff_passes(tmp_path, monkeypatch, practice, highlevel):  # noqa: F811
    m = "dentrix_to_highlevel"
    _env(tmp_path, monkeypatch, m, highlevel, DENTRIX_DB_URL=f"sqlite:///{practice}")
    with sqlite3.connect(practice) as con:
        patients = con.execute("SELECT COUNT(*) FROM v_patient").fetchone()[0]
    got = assert_sample_diff_passes(m, patients)
    # appointment flags HighLevel accepts but never returns are reported as not readable
    unread = got["rows"][got["rows"]["status"] == "not_readable"]
    assert set(unread["target"]) <= {"appointments", "documents"}
    strata = set("; ".join(got["selection"]["strata"]).split("; "))
    assert {"appointments", "missed_appointments", "visit_notes", "family members"} <= strata


def test_henry_schein_one_sample_wave_field_diff_passes(tmp_path, monkeypatch, practice, highlevel):  # noqa: F811
    m = "henry_schein_one_to_highlevel"
    with running_ascend(practice, client_id="cid", client_secret="secret", organization_id="org") as ascend:
        _env(tmp_path, monkeypatch, m, highlevel, ASCEND_API_BASE=f"{ascend}/ascend-gateway/api",
             ASCEND_TOKEN_URL=f"{ascend}/oauth/client_credential/accesstoken", ASCEND_CLIENT_ID="cid",
             ASCEND_CLIENT_SECRET="secret", ASCEND_ORGANIZATION_ID="org")
        with sqlite3.connect(practice) as con:
            patients = con.execute("SELECT COUNT(*) FROM v_patient").fetchone()[0]
        got = assert_sample_diff_passes(m, patients)
        assert got["report"]["field_diff"]["targets"]["treatment_plans"]["records"] > 0
