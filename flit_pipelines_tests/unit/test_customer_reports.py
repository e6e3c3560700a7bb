"""Customer reports: audit log (CSV/Parquet), custom-field design Markdown, workflow-rebuild spec."""

from __future__ import annotations

import sqlite3
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update

from flit_pipelines.ledger.ledger import Ledger, RecordOutcome
from flit_pipelines.ledger.tables import audit_event
from flit_pipelines.reports.audit_log import AUDIT_COLUMNS, audit_summary, write_audit_log
from flit_pipelines.reports.design_doc import custom_field_design_markdown, field_triggers
from flit_pipelines.reports.workflow_rebuild import workflow_rebuild_markdown, workflow_rebuild_spec
from flit_sandboxes.dentrix_practice import build_practice
from flit_pipelines.sources.database import DatabaseSource
from flit_pipelines.sources.extract import empty_frame, run_extract
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR


# -- audit log ---------------------------------------------------------------------------------------
@pytest.fixture()
def ledger(tmp_path) -> Ledger:
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    led.record_many(migration="m", target="patients", run_id="r1", wave="w1", outcomes=[
        RecordOutcome("1", "create", dest_id="c1", payload_hash="h1"),
        RecordOutcome("2", "fail", error="422 invalid phone"),
    ])
    led.record_many(migration="m", target="appointments", run_id="r1", wave="w1", outcomes=[
        RecordOutcome("10", "update", dest_id="a10")])
    led.record_many(migration="m", target="patients", run_id="r2", wave="w2", outcomes=[  # other wave
        RecordOutcome("3", "create", dest_id="c3")])
    led.record_many(migration="other", target="patients", run_id="r9", wave="w1", outcomes=[  # other migration
        RecordOutcome("4", "create", dest_id="c4")])
    # fixed, distinct times; the appointment event is the earliest, so time order != insertion order
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with led.engine.begin() as conn:
        for i, secs in ((1, 10), (2, 20), (3, 5), (4, 30), (5, 40)):
            conn.execute(update(audit_event).where(audit_event.c.id == i).values(at=base + timedelta(seconds=secs)))
    return led


EXPECTED = [
    ("appointments", "10", "a10", "update", "ok", None, "2024-05-01T12:00:05.000000+00:00", "r1"),
    ("patients", "1", "c1", "create", "ok", None, "2024-05-01T12:00:10.000000+00:00", "r1"),
    ("patients", "2", None, "fail", "error", "422 invalid phone", "2024-05-01T12:00:20.000000+00:00", "r1"),
]


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_audit_log_csv_and_parquet_rows(ledger, tmp_path, chunk_rows):
    paths = write_audit_log(ledger, "m", "w1", tmp_path / "out", chunk_rows=chunk_rows)
    assert set(paths) == {"csv", "parquet", "summary"} and all(p.exists() for p in paths.values())

    csv = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert list(csv.columns) == list(AUDIT_COLUMNS)
    assert [tuple(r) for r in csv.itertuples(index=False)] == [
        tuple("" if v is None else v for v in row) for row in EXPECTED]

    pq_frame = pd.read_parquet(paths["parquet"])
    assert list(pq_frame.columns) == list(AUDIT_COLUMNS)
    assert str(pq_frame["at"].dtype).startswith("datetime64") and str(pq_frame["at"].dt.tz) == "UTC"
    got = [tuple(None if pd.isna(v) else v for v in r) for r in pq_frame.itertuples(index=False)]
    want = [(*row[:6], pd.Timestamp(row[6]), row[7]) for row in EXPECTED]
    assert got == want

    summary = audit_summary(tmp_path / "out")
    assert summary == {
        "migration": "m", "wave": "w1", "events": 3, "errors": 1,
        "by_target": {"appointments": {"events": 1, "errors": 0, "operations": {"update": 1}},
                      "patients": {"events": 2, "errors": 1, "operations": {"create": 1, "fail": 1}}},
    }


def test_audit_log_empty_wave_writes_headers(ledger, tmp_path):
    paths = write_audit_log(ledger, "m", "nothing", tmp_path)
    assert paths["csv"].read_text().strip() == ",".join(AUDIT_COLUMNS)
    assert len(pd.read_parquet(paths["parquet"])) == 0
    assert audit_summary(paths["summary"])["events"] == 0
    with pytest.raises(ValueError):
        write_audit_log(ledger, "m", "w1", tmp_path, chunk_rows=0)


# -- custom-field design -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dentrix_spec():
    return load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")


def _row(md: str, field: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {field} |"))


def test_design_markdown_highlevel(dentrix_spec):
    md = custom_field_design_markdown(dentrix_spec, None)
    recall = _row(md, "Recall_Date")
    assert "DATE" in recall and "Date-based reminder workflow" in recall and "recalls" in recall
    assert "due_date" in recall
    bal = _row(md, "Outstanding_Balance")
    assert "MONETORY" in bal and "Balance-threshold workflow" in bal
    status = _row(md, "Treatment_Plan_Status")
    assert "Open, Completed" in status and "true → Completed; false → Open" in status
    assert "Status-change workflow" in status
    assert "### Folder: Clinical" in md and "### Folder: Financial" in md
    assert "`No-Show`: Tag-added workflow" in md
    assert "has not run yet" in md


def test_design_markdown_with_destination_documents(dentrix_spec):
    hl = {"custom_fields": {"contact": [
            {"name": "Recall_Date", "dataType": "DATE", "id": "f1", "fieldKey": "contact.recall_date",
             "category": "Clinical", "created": True},
            {"name": "Flit Source Key", "dataType": "TEXT", "id": "f0", "fieldKey": "contact.flit_source_key"}]},
          "folders": {"contact": {"mode": "manual", "folders": {}, "manual": {"Clinical": ["Recall_Date"]}}},
          "pipelines": {"Patient Lifecycle": {"id": "p1", "stages": {"New Patient": "s1"}}},
          "calendars": {"Dentrix Appointments": "cal1"}}
    md = custom_field_design_markdown(dentrix_spec, hl)
    assert "contact.recall_date" in _row(md, "Recall_Date")
    assert "- [ ] Clinical: Recall_Date" in md and "Patient Lifecycle" in md and "Dentrix Appointments" in md
    assert "contact.flit_source_key" in md  # technical field listed separately

    sf_spec = load_spec(SPEC_DIR / "practicehub_to_salesforce.yaml")
    sf = {"custom_fields": [{"object": "Contact", "name": "MRN__c", "full_name": "Contact.MRN__c", "type": "Text"}],
          "fls_checklist": {"fields": [{"object": "Contact", "field": "Contact.MRN__c", "type": "Text",
                                        "category": "Clinical", "managed_by_migration": True,
                                        "integration_user_read": True, "integration_user_edit": True}],
                            "steps": ["Review other grants."]}}
    md = custom_field_design_markdown(sf_spec, sf)
    assert "Contact.MRN__c" in _row(md, "MRN__c")
    assert "Field-level security checklist" in md and "- [ ] Review other grants." in md
    assert "Balance-threshold" not in _row(md, "Copay__c") and "Amount condition" in _row(md, "Copay__c")
    # partial / odd documents never raise
    for odd in ({}, {"custom_fields": None}, {"custom_fields": {"person": None}}, {"fls_checklist": []}):
        custom_field_design_markdown(load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml"), odd)


def test_field_triggers_by_type():
    assert "Balance-threshold" in field_triggers("Amount_Due__c", "Currency")[0]
    assert "Status-change" in field_triggers("Plan status", "enum", ["Active"])[0]
    assert field_triggers("Notes", "LARGE_TEXT") == []


# -- workflow rebuild ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def practice(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("practice") / "practice.db"
    build_practice(path, patients=40)
    return path


@pytest.fixture(scope="module")
def frames(practice, dentrix_spec) -> dict[str, pd.DataFrame]:
    source = DatabaseSource.from_url(f"sqlite:///{practice}")
    out = {}
    for name in ("recalls", "appointments", "appt_status_codes"):
        parts: list[pd.DataFrame] = []
        run_extract(source, dentrix_spec.objects[name], name, write=parts.append, quarantine=lambda q: None)
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def test_workflow_rebuild_recalls_match_sql(practice, dentrix_spec, frames):
    doc = workflow_rebuild_spec(dentrix_spec, frames)
    con = sqlite3.connect(practice)
    rows = con.execute("SELECT recall_type, patient_id, CAST(julianday(due_date) - julianday(prior_date) AS INTEGER) "
                       "FROM v_patient_recall").fetchall()
    con.close()
    expected: dict[str, dict] = {}
    for rtype, pat, days in rows:
        e = expected.setdefault(rtype, {"patients": set(), "days": []})
        e["patients"].add(pat)
        e["days"].append(days)
    assert set(expected) <= {"PROPHY", "BWX", "PERIO"} and {"PROPHY", "BWX"} <= set(expected)
    (obj,) = doc["recalls"]["objects"]
    got = {r["recall_type"]: r for r in obj["types"]}
    assert set(got) == set(expected)
    for rtype, e in expected.items():
        assert got[rtype]["patients"] == len(e["patients"])
        assert got[rtype]["interval_days_median"] == statistics.median(e["days"])
        assert got[rtype]["interval_days_mode"] == min(statistics.multimode(e["days"]))
    md = workflow_rebuild_markdown(doc)
    assert "| PROPHY |" in md and "| BWX |" in md
    assert "Custom Date Reminder' on contact field Recall_Date" in md


def test_workflow_rebuild_appointments_match_sql(practice, dentrix_spec, frames):
    doc = workflow_rebuild_spec(dentrix_spec, frames)
    (appt,) = doc["appointments"]["objects"]
    con = sqlite3.connect(practice)
    counts = dict(con.execute("SELECT status_id, COUNT(*) FROM v_appt GROUP BY status_id").fetchall())
    con.close()
    assert appt["no_show"] == counts.get(-103, 0) and appt["cancelled"] == counts.get(-104, 0)
    by_value = {s["value"]: s for s in appt["statuses"]}
    assert by_value["-103"]["meaning"] == "no-show" and by_value["-104"]["meaning"] == "cancelled"
    assert by_value["-106"]["meaning"] == "completed"
    assert sum(t["count"] for t in appt["types"]) == sum(counts.values())
    assert appt["lead_time"]["basis"] == "modified"
    names = [w["name"] for w in doc["workflows"]]
    assert "No-show follow-up" in names and any(n.startswith("Appointment reminder") for n in names)


def test_workflow_rebuild_degrades_without_recalls():
    for spec_file in ("clinic_to_pipedrive.yaml", "practicehub_to_salesforce.yaml", "henry_schein_one_to_highlevel.yaml"):
        spec = load_spec(SPEC_DIR / spec_file)
        doc = workflow_rebuild_spec(spec, {n: empty_frame(o) for n, o in spec.objects.items()})
        assert doc["recalls"]["available"] is False and "no recall object" in doc["recalls"]["note"]
        assert doc["appointments"]["available"] is True
        assert "no recall object" in workflow_rebuild_markdown(doc)
    doc = workflow_rebuild_spec(load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml"), {})
    assert doc["recalls"]["objects"][0]["note"] == "object not extracted"
    workflow_rebuild_markdown(doc)
