"""Documents in the reader's words: where a value comes from as a sentence, the CRM's type labels,
every source code with its meaning or "unknown code N", durations in minutes/hours/days/months."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from flit_pipelines.reports.design_doc import custom_field_design_markdown
from flit_pipelines.reports.source_codes import CodeLabels
from flit_pipelines.reports.wording import condition_text, days_text, duration_text, value_origin
from flit_pipelines.reports.workflow_rebuild import workflow_objects, workflow_rebuild_markdown, workflow_rebuild_spec
from flit_pipelines.sources.database import DatabaseSource
from flit_pipelines.sources.extract import run_extract
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR
from flit_sandboxes.dentrix_practice import build_practice


@pytest.fixture(scope="module")
def dentrix():
    return load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")


@pytest.fixture(scope="module")
def practice_frames(tmp_path_factory, dentrix) -> dict[str, pd.DataFrame]:
    """The workflow objects of a 40-patient demo practice, extracted as the report asset reads them."""
    db = tmp_path_factory.mktemp("practice") / "practice.db"
    build_practice(db, patients=40)
    source = DatabaseSource.from_url(f"sqlite:///{db}")
    out = {}
    for name in sorted(workflow_objects(dentrix)):
        parts: list[pd.DataFrame] = []
        run_extract(source, dentrix.objects[name], name, write=parts.append, quarantine=lambda q: None)
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def _row(md: str, first_cell: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_durations_in_units_people_use():
    assert [duration_text(m) for m in (15, 41.52, 90, 1440, 7981)] == [
        "15 min", "42 min", "1.5 hours", "1 day", "5.5 days"]
    assert [days_text(d) for d in (1, 3, 21, 182, 365, 730)] == [
        "1 day", "3 days", "3 weeks", "6 months", "1 year", "2 years"]


def test_workflow_rebuild_labels_every_status_code_and_names_unknown_ones(dentrix, practice_frames):
    assert "appt_status_codes" in workflow_objects(dentrix)  # the practice's code table is read too
    frames = dict(practice_frames)
    extra = frames["appointments"].iloc[[0]].assign(status_id=-107)  # a code nobody documents
    frames["appointments"] = pd.concat([frames["appointments"], extra], ignore_index=True)
    md = workflow_rebuild_markdown(workflow_rebuild_spec(dentrix, frames))
    assert _row(md, "-107")[1:3] == ["unknown code -107", "other"]
    codes = dict(zip(frames["appt_status_codes"]["defid"].astype(str), frames["appt_status_codes"]["descript"],
                     strict=True))
    assert _row(md, "-106")[1] == codes["-106"]  # the practice's own wording, from its code table
    assert _row(md, "-103")[1:3] == [codes["-103"], "no-show"]
    # without the code table: the documented meaning, then the value the field map sends for the code
    frames.pop("appt_status_codes")
    md = workflow_rebuild_markdown(workflow_rebuild_spec(dentrix, frames))
    assert _row(md, "-106")[1] == "finished visit" and _row(md, "150")[1] == "finished visit"
    assert _row(md, "-103")[1] == "No-show" and _row(md, "-104")[1] == "Cancelled"
    for line in md.splitlines():  # no status row without a meaning
        if line.startswith("| -") or line[2:3].isdigit():
            assert _row(md, line.split(" | ")[0][2:])[1], line


def test_workflow_rebuild_writes_intervals_lengths_and_lead_times_in_words(dentrix, practice_frames):
    md = workflow_rebuild_markdown(workflow_rebuild_spec(dentrix, practice_frames))
    prophy = _row(md, "PROPHY")
    assert prophy[3] == "6 months (182 days)"
    assert "Interval days" not in md and "≈ Months" not in md
    assert "condition: Recall_Type = PROPHY (every 6 months)" in md
    lead = next(x for x in md.splitlines() if x.startswith("Lead time from modified time"))
    assert re.search(r"median \d+(\.\d)? (days?|weeks?|months?) \(a quarter within", lead), lead
    clinic = load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml")
    start = pd.Timestamp("2024-01-01T08:00:00Z")
    enc = pd.DataFrame({"Id": [f"e{i}" for i in range(4)], "PATIENT": ["p1"] * 4,
                        "START": [start] * 4,
                        "STOP": [start + pd.Timedelta(minutes=m) for m in (7981, 7981, 15, 15)],
                        "ENCOUNTERCLASS": ["inpatient", "inpatient", "ambulatory", "ambulatory"],
                        "STATUS": ["completed"] * 4})
    md = workflow_rebuild_markdown(workflow_rebuild_spec(clinic, {"encounters": enc}))
    assert _row(md, "inpatient")[2:4] == ["5.5 days", "5.5 days"]
    assert _row(md, "ambulatory")[2] == "15 min"
    assert "7981" not in md


def test_design_doc_says_where_values_come_from_in_words_with_crm_labels(dentrix):
    md = custom_field_design_markdown(dentrix, None)
    recall = _row(md, "Recall_Date")
    assert recall[1] == "Date Picker (DATE)"
    assert recall[4] == "the latest due date of the patient's recalls"
    assert recall[-1] == "recalls.due_date"
    balance = _row(md, "Outstanding_Balance")
    assert balance[1] == "Monetary (MONETORY)"
    assert balance[4].startswith("the sum of the balance 0–30 days, balance 31–60 days")
    status = _row(md, "Treatment_Plan_Status")
    assert status[4] == "Completed when plan ID is set and plan open items is 0, otherwise Open"
    cdt = _row(md, "CDT_Codes")[4]
    assert "chartstatus is 105 (completed procedure)" in cdt and "proclogclass is unknown code 0" in cdt
    for line in md.splitlines():  # no code expression in a "Comes from" cell
        if line.startswith("| ") and not line.startswith(("| Field", "|---", "| Object")) and line.count(" | ") >= 7:
            comes_from = line.strip("|").split(" | ")[4]
            assert "`" not in comes_from and "==" not in comes_from and ".isin(" not in comes_from, line
    pipedrive = custom_field_design_markdown(load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml"), None)
    assert _row(pipedrive, "Outstanding balance")[1] == "Monetary (monetary)"
    assert _row(pipedrive, "Is provider")[4].startswith("Yes when ")
    salesforce = custom_field_design_markdown(load_spec(SPEC_DIR / "practicehub_to_salesforce.yaml"), None)
    assert _row(salesforce, "HIPAA_Notes__c")[1] == "Text Area (Long) (LongTextArea)"


def test_conditions_and_codes_in_words(dentrix):
    labels = CodeLabels(dentrix)
    assert labels.label("appointments", "status_id", "-104") == "Cancelled"  # the spec's value map
    assert labels.label("appointments", "status_id", "-107") == "unknown code -107"
    assert labels.label("patients", "status", "2") == "non-patient"  # documented (sources.md §1.1)
    assert labels.label("appointments", "reason", "Recare") is None  # free text is not a code
    text = condition_text("~status_id.isin([-103, -104]) & (amount > 0)",
                          lambda c, v: labels.label("appointments", c.split(".")[-1], v))
    assert text == "status ID is none of -103 (No-show), -104 (Cancelled) and amount is over 0"
    t = dentrix.targets["patients"]
    assert value_origin(dentrix, t, t.custom_fields["Dental_Patient"]) == 'always "Yes"'
    assert value_origin(dentrix, t, t.custom_fields["Preferred_Name"]) == "the patient's preferred name"


def test_every_documented_code_cites_its_source():
    from flit_pipelines.reports.source_codes import documented_codes

    for name, entry in documented_codes().items():
        assert "sources.md" in entry["cites"], name
        assert entry["codes"] and entry["applies_to"], name
