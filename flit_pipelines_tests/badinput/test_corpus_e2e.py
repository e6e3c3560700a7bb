"""Bad input end to end: full waves through Dagster into the Pipedrive sandbox over real HTTP (issue 9).

A wave over an export with malformed rows completes, migrates every good row, quarantines the bad
ones with reasons and lines, and its counts reconcile; an unusable file stops its extract with a
message naming file and line; an unexpected exception carrying source text is scrubbed. In every
run the corpus's marker values appear nowhere in stderr, the Dagster event log (``all_logs`` and
the SQLite files of the instance), compute logs, asset metadata or the extract reports.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._serdes import serialize_value

from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines_tests.badinput.corpus import FAMILY, GIVEN, LICENCE, MARKERS, PASSPORT, SSN, insert, marker_line
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN

M = "clinic_to_pipedrive"
CORPUS_ONLY = (SSN, GIVEN, FAMILY, PASSPORT, LICENCE)  # reports may hold the fixture's IDs, never these


def _export(migration_env, monkeypatch) -> Path:
    export = migration_env["tmp"] / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    monkeypatch.setenv("CLINIC_EXPORT_DIR", str(export))
    return export


def _latest_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    return instance.get_runs(filters=dg.RunsFilter(job_name=f"{M}_migration"), limit=1)[0]


def _assert_nothing_leaked(migration_env, captured: str) -> dg.DagsterRun:
    """Markers nowhere in stderr/stdout, the event log of the last run, any file of the Dagster
    instance (SQLite event log, compute logs), or the reports directory."""
    found = [m for m in MARKERS if m in captured]
    assert not found, f"stdout/stderr hold {found}"
    with dg.DagsterInstance.get() as instance:
        run = _latest_run(instance)
        logs = instance.all_logs(run.run_id)
        assert logs
        for entry in logs:
            text = serialize_value(entry)
            found = [m for m in MARKERS if m in text]
            assert not found, f"event log entry {entry.dagster_event_type} holds {found}"
    home = Path(os.environ["DAGSTER_HOME"])
    assert any(p.suffix == ".db" for p in home.rglob("*"))  # the SQLite event log is among what is read
    for path in [p for p in home.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        found = [m for m in MARKERS if m.encode() in data]
        assert not found, f"{path.relative_to(home)} holds {found}"
    for path in [p for p in (migration_env["tmp"] / "data" / "reports").rglob("*") if p.is_file()]:
        data = path.read_bytes()
        found = [m for m in CORPUS_ONLY if m.encode() in data]
        assert not found, f"report {path.name} holds {found}"
    return run


def test_a_wave_over_malformed_rows_completes_reconciles_and_leaks_nothing(migration_env, capfd, monkeypatch):
    export = _export(migration_env, monkeypatch)
    # patients.csv: a Windows (cp1252) export with accented names, an unterminated quote and a ragged row
    insert(export, "patients", 3, marker_line(export).replace(GIVEN.encode(), b'"' + GIVEN.encode()))
    insert(export, "patients", 5, marker_line(export, Id="a0000000-0000-4000-8000-000000000098") + b",EXTRA")
    text = (export / "patients.csv").read_text(encoding="utf-8").replace("Alice101", "Alicé101")
    (export / "patients.csv").write_bytes(text.encode("cp1252"))
    # encounters.csv: blank and whitespace lines, an infinite cost, a visit ending before it starts
    enc = (export / "encounters.csv").read_text().split("\n")
    bad_cost = enc[1].replace("e0000000-0000-4000-8000-000000000001", "e0000000-0000-4000-8000-000000000099")
    bad_cost = bad_cost.replace("Encounter for symptom", f"{GIVEN} {SSN}").replace(",85.55,85.55,", ",inf,85.55,")
    bad_time = enc[2].replace("e0000000-0000-4000-8000-000000000002", "e0000000-0000-4000-8000-000000000098")
    bad_time = bad_time.replace("2024-02-05T10:30:00Z", "2024-02-05T09:30:00Z")
    enc[3:3] = ["", "  ", bad_cost, bad_time]
    (export / "encounters.csv").write_text("\n".join(enc))
    # notes.csv: a NUL byte in a note
    notes = (export / "notes.csv").read_bytes()
    (export / "notes.csv").write_bytes(notes + b"ae000000-0000-4000-8000-000000000099,"
                                       b"a0000000-0000-4000-8000-000000000001,,2024-01-20T10:00:00Z,,phone,"
                                       b"\"Called " + FAMILY.encode() + b"\x00 back\"\n")

    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    assert (t["persons"]["source_rows"], t["persons"]["created"], t["persons"]["quarantined"]) == (6, 4, 2)
    assert t["persons"]["quarantine_reasons"] == {"unterminated quote (the quoted value never closes)": 1,
                                                  "row has 29 fields, the header 28": 1}
    assert (t["visits"]["source_rows"], t["visits"]["created"], t["visits"]["quarantined"]) == (10, 8, 2)
    assert set(t["visits"]["quarantine_reasons"]) == {"BASE_ENCOUNTER_COST: finite", "STOP >= START"}
    assert (t["clinical_notes"]["created"], t["clinical_notes"]["quarantined"]) == (3, 1)

    data = migration_env["tmp"] / "data" / "reports" / M / "full" / "extract"
    doc = json.loads((data / "patients.json").read_text())
    assert doc["source_format"]["encoding"] == "cp1252" and doc["rows_unreadable"] == 2
    assert json.loads((data / "encounters.json").read_text())["blank_lines"] == 2
    lines = pd.read_csv(data / "patients_quarantine.csv")
    assert lines[["row_number", "line"]].values.tolist() == [[2, 3], [4, 5]]

    client = PipedriveClient(migration_env["sandbox"], TOKEN)
    names = sorted(p["name"] for p in client.list("person"))
    assert names == ["Alicé101 Example201", "Bob102 Example201", "Cara103 Example201", "Dan104 Sample301"]
    with dg.DagsterInstance.get() as instance:
        run = _latest_run(instance)
        mats = [e for e in instance.all_logs(run.run_id)
                if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
        meta = next(e.asset_materialization.metadata for e in mats
                    if e.asset_materialization.asset_key == dg.AssetKey([M, "extract", "encounters"]))
        assert meta["warnings"].value == {} and meta["blank_lines"].value == 2
        assert meta["source_format"].value["delimiter"] == ","
    out, err = capfd.readouterr()
    _assert_nothing_leaked(migration_env, out + err)


def test_an_unusable_file_stops_its_extract_naming_file_and_line(migration_env, capfd, monkeypatch):
    export = _export(migration_env, monkeypatch)
    (export / "encounters.csv").write_bytes(b"PK\x03\x04\x00\x00" + SSN.encode() + b"\n" + GIVEN.encode())
    assert run_wave(M, "full", quiet=True) is False
    with dg.DagsterInstance.get() as instance:
        failures = [e for e in instance.all_logs(_latest_run(instance).run_id)
                    if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    # the first step that reads the file stops with the reader's message (the extract here)
    messages = {e.step_key: e.dagster_event.step_failure_data.error.to_string() for e in failures}
    assert [k for k, v in messages.items() if "encounters.csv, line 1: the header row holds NUL bytes" in v], messages
    out, err = capfd.readouterr()
    _assert_nothing_leaked(migration_env, out + err)


def test_an_unexpected_error_carrying_values_is_scrubbed(migration_env, capfd, monkeypatch):
    _export(migration_env, monkeypatch)
    import flit_pipelines.sources.extract as extract_module

    real = extract_module.split_chunk

    def explode(obj, name, *args, **kwargs):
        if name == "patients":
            try:
                raise KeyError(f"{GIVEN} {FAMILY}")
            except KeyError as inner:
                raise ValueError(f"CSV parse error: Expected 27 columns, got 9: {SSN},{PASSPORT}") from inner
        return real(obj, name, *args, **kwargs)

    monkeypatch.setattr(extract_module, "split_chunk", explode)
    assert run_wave(M, "full", quiet=True) is False
    with dg.DagsterInstance.get() as instance:
        failures = [e for e in instance.all_logs(_latest_run(instance).run_id)
                    if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    (failure,) = [e for e in failures if "patients" in e.step_key]
    error = failure.dagster_event.step_failure_data.error
    text = error.to_string()
    assert "ScrubbedError" in text and "builtins.ValueError raised at" in text
    assert f"{M}/extract/patients" in text
    out, err = capfd.readouterr()
    _assert_nothing_leaked(migration_env, out + err)

