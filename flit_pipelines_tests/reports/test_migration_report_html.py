"""The migration report for people: the HTML page (charts, reasons for every difference, timeline) and
the terminal summary, from report dicts and from a real clinic wave through Dagster."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg

from flit_pipelines.cli import run_wave
from flit_pipelines.reports.charts import svg_text
from flit_pipelines.reports.html_report import HTML_NAME, migration_report_html, report_view
from flit_pipelines.reports.outcomes import segments, shortfall
from flit_pipelines.reports.terminal import print_summary
from flit_pipelines.reports.timeline import run_timeline
from flit_pipelines_tests.conftest import FIXTURE_EXPORT

M = "clinic_to_pipedrive"


class _Cells(HTMLParser):
    """``{target: {column: text}}`` from the report's ``<tr data-target><td data-col>`` cells, and
    whether the page refers to anything outside itself."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.external: list[str] = []
        self._row: str | None = None
        self._col: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe") or any(
                str(v or "").startswith(("http://", "https://", "//")) for k, v in a.items() if k in ("src", "href")):
            self.external.append(tag)
        if tag == "tr" and "data-target" in a:
            self._row = a["data-target"]
            self.rows[self._row] = {}
        if tag == "td" and self._row and "data-col" in a:
            self._col = a["data-col"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._col = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._row and self._col:
            self.rows[self._row][self._col] = self.rows[self._row].get(self._col, "") + data.strip()


def parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


def _entry(**kw) -> dict:
    base = {"entity": "file", "source_object": "attachments", "source_rows": 54, "quarantined": 0,
            "quarantine_reasons": {}, "quarantine_reasons_extract": {}, "quarantine_reasons_load": {},
            "created": 16, "updated": 0, "unchanged": 11, "failed": 0, "flagged": 0, "adopted": 0, "matched": 0,
            "fallback_owner": 0, "held_for_phi_review": 0, "destination_count": 27, "filtered_by_target": 27,
            "filter_rule": "owner_type == 'patient'", "destination_errors": {}, "quarantined_at_extract": 0,
            "checks": {"counts_reconcile": True}, "check_details": {"counts_reconcile": "54 source - 0 quarantined = 27"},
            "loaded": True}
    return {**base, **kw}


def _report(targets: dict, wave: str = "full", **kw) -> dict:
    return {"migration": "practicehub_to_salesforce", "title": "PracticeHub -> Salesforce", "wave": wave,
            "source_kind": "practicehub_api", "destination_kind": "salesforce", "all_checks_passed": True,
            "targets": targets, "unmatched_providers": {"count": 1, "source_ids": ["p9"]}, "seed_objects": [],
            "phi_review": {"held": 0, "approved": 24, "by_target": {"patient_files": {"held": 0, "approved": 16}}},
            "delta": None, "field_diff": None, "fls_checklist": None, "schema_document": None, **kw}


# -- reasons for every difference ---------------------------------------------------------------------
def test_every_shortfall_has_its_reasons_and_an_unexplained_rest_is_named():
    filtered = shortfall(_entry(), "Salesforce")
    assert filtered["missing"] == 27 and filtered["unexplained"] == 0
    assert filtered["reasons"] == [{"count": 27, "reason": "left out on purpose: this target takes only rows "
                                                         "where owner type is patient"}]
    mixed = shortfall(_entry(source_rows=120, destination_count=0, created=0, unchanged=0, filtered_by_target=0,
                             filter_rule=None, failed=100, quarantined_at_extract=5,
                             quarantine_reasons_extract={"column note_text: empty": 5},
                             quarantine_reasons_load={"lookup contact: parent not loaded": 90},
                             destination_errors={"lookup contact: parent not loaded": 90,
                                                 "422 body.contactId: invalid": 10}), "HighLevel")
    assert mixed["missing"] == 120
    assert mixed["reasons"] == [{"count": 90, "reason": "lookup contact: parent not loaded"},
                                {"count": 10, "reason": "refused by HighLevel: 422 body.contactId: invalid"},
                                {"count": 5, "reason": "quarantined at extract: column note_text: empty"}]
    assert mixed["unexplained"] == 15  # 120 missing, 105 explained: printed, never silent
    assert segments(_entry(source_rows=120, destination_count=0, created=0, unchanged=0, filtered_by_target=0,
                           failed=100, quarantined_at_extract=5))["unaccounted"] == 15


def test_html_shows_chart_numbers_reasons_and_timeline_and_escapes_text():
    evil = "<script>alert(1)</script>"
    rep = _report({"patient_files": _entry(),
                   "invoices": _entry(entity="custom_object", source_rows=10, destination_count=8, created=8,
                                      unchanged=0, filtered_by_target=0, filter_rule=None, failed=2,
                                      destination_errors={evil: 2},
                                      checks={"counts_reconcile": False, "money_sums_reconcile": True})},
                  all_checks_passed=False)
    events = [{"step_key": "practicehub_to_salesforce__load__invoices", "event_type": "STEP_START", "timestamp": 100.0},
              {"step_key": "practicehub_to_salesforce__load__invoices", "event_type": "STEP_FAILURE", "timestamp": 104.5},
              {"step_key": "practicehub_to_salesforce__extract__attachments", "event_type": "STEP_START", "timestamp": 90.0},
              {"step_key": "practicehub_to_salesforce__extract__attachments", "event_type": "STEP_SUCCESS",
               "timestamp": 92.25},
              {"step_key": "practicehub_to_salesforce__report", "event_type": "STEP_START", "timestamp": 105.0}]
    timeline = run_timeline(events, "practicehub_to_salesforce")
    assert [(s["label"], s["seconds"], s["status"]) for s in timeline] == [
        ("extract attachments", 2.2, "succeeded"), ("load invoices", 4.5, "failed"), ("report", None, "running")]
    html = migration_report_html(rep, timeline)
    cells = parse(html)
    assert cells.external == []  # self-contained: no script, stylesheet, image or link to fetch
    assert html.count("<svg") == 2  # records per object, timeline
    assert cells.rows["patient_files"]["migrated"] == "16" and cells.rows["patient_files"]["filtered"] == "27"
    assert cells.rows["invoices"]["failed"] == "2" and cells.rows["invoices"]["destination_count"] == "8"
    assert "27 left out on purpose: this target takes only rows where owner type is patient" in html
    assert evil not in html and "refused by Salesforce: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "invoices: counts_reconcile" in html and "Not every check passed" in html
    assert "load invoices" in svg_text(report_view(rep, timeline)["timeline_svg"])
    assert "source 54 → Salesforce 27" in svg_text(report_view(rep, timeline)["records_svg"])


def test_terminal_summary_shows_the_sample_waves_creates_full_headers_and_reasons(capsys):
    sample = _report({"patient_files": _entry(created=27, unchanged=0)}, wave="sample")
    full = _report({"patient_files": _entry(created=0, unchanged=27)})
    print_summary([sample, full], "/data/reports/x/full/migration_report.html")
    out = capsys.readouterr().out
    assert "sample then full waves, all checks passed" in out
    for header in ("created (sample)", "created (full)", "not migrated", "in Salesforce"):
        assert header in out
    row = next(line for line in out.splitlines() if "patient_files" in line)
    assert re.search(r"patient_files\s*│\s*54\s*│\s*27\s*│\s*0\s*│\s*0\s*│\s*27\s*│\s*27\s*│\s*27\s*│\s*ok", row), row
    assert ("Why Salesforce holds fewer records than the source:\n  patient_files: 54 in the source, 27 in "
            "Salesforce:\n    27 left out on purpose: this target takes only rows where owner type is patient\n") in out
    assert "HTML report: /data/reports/x/full/migration_report.html" in out


# -- a real wave -------------------------------------------------------------------------------------
def test_clinic_wave_writes_the_html_report_with_the_json_numbers_and_no_patient_names(migration_env):
    assert run_wave(M, "full", quiet=True) is True
    out = Path(migration_env["tmp"]) / "data" / "reports" / M / "full"
    html = (out / HTML_NAME).read_text(encoding="utf-8")
    rep = json.loads((out / "migration_report.json").read_text(encoding="utf-8"))
    assert "<svg" in html
    cells = parse(html)
    assert cells.external == [] and set(cells.rows) == set(rep["targets"])
    for name, t in rep["targets"].items():
        seg = segments(t)
        expect = {"source_rows": t["source_rows"], "destination_count": t["destination_count"], **seg}
        got = cells.rows[name]
        for col, value in expect.items():
            if col in got:
                assert got[col] == ("–" if value is None else str(value)), (name, col)
    assert cells.rows["persons"]["migrated"] == str(rep["targets"]["persons"]["created"]) == "4"
    assert cells.rows["visits"]["source_rows"] == "8"
    # the run's timeline comes from the instance's event log
    assert "load persons" in html and "run timeline" in html.lower()
    # practice staff's page carries no patient value
    with open(FIXTURE_EXPORT / "patients.csv", newline="", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    for p in people:
        for col in ("FIRST", "LAST", "EMAIL", "SSN", "ADDRESS"):
            if p.get(col):
                assert p[col] not in html, col
    # the report asset names the page in its metadata
    with dg.DagsterInstance.get() as instance:
        mat = instance.get_latest_materialization_event(dg.AssetKey([M, "report"]))
    assert mat.asset_materialization.metadata["html_report"].value == str(out / HTML_NAME)
