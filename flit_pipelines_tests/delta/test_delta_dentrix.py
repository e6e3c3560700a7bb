"""Delta pickup end to end for dentrix_to_highlevel: the practice database has modification times
(v_patient / v_appt ``modified_time_stamp``), so a tick reads only rows changed since the cursor,
lists keys to find deletions, and the destination sees exactly the changed records."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pandas as pd
import pytest
import requests

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.delta.runner import tick
from flit_pipelines_tests.integration.test_dental_highlevel_e2e import (  # noqa: F401 (fixtures)
    TOKEN,
    _env,
    highlevel,
    practice,
)

M = "dentrix_to_highlevel"


def _ops(url: str) -> dict[str, int]:
    resp = requests.get(url + "/__sandbox/stats", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    stats = resp.json().get("data", resp.json())
    return {op: n for op, n in stats["requests_by_operation"].items()
            if op.split(" ")[0] in ("POST", "PUT", "PATCH", "DELETE") and "/search" not in op
            and "/__sandbox" not in op}


def _diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


def _deletable_without_stage_change(con: sqlite3.Connection) -> list[int]:
    """Appointments whose deletion leaves the patient's lifecycle stage as it was (the spec's
    ``patient_lifecycle`` derives it from counts of upcoming (status 1, 2) and finished (-106, 150)
    visits): deleting any other one rightly updates that patient's opportunity too."""
    return [r[0] for r in con.execute(
        "SELECT appointment_id FROM v_appt a WHERE status_id NOT IN (-103, -104) AND ("
        " status_id NOT IN (1, 2, -106, 150)"
        " OR (status_id IN (1, 2) AND (SELECT count(*) FROM v_appt b WHERE b.patient_id = a.patient_id"
        "     AND b.status_id IN (1, 2)) >= 2)"
        " OR (status_id IN (-106, 150) AND (SELECT count(*) FROM v_appt b WHERE b.patient_id = a.patient_id"
        "     AND b.status_id IN (-106, 150)) >= 3)) ORDER BY appointment_id")]


@pytest.fixture
def db(tmp_path, practice):  # noqa: F811
    copy = tmp_path / "practice.db"
    shutil.copy(practice, copy)
    return copy


def test_changed_and_deleted_rows_reach_highlevel(tmp_path, monkeypatch, db, highlevel):  # noqa: F811
    _env(tmp_path, monkeypatch, M, highlevel, DENTRIX_DB_URL=f"sqlite:///{db}")
    assert run_wave(M, "full", quiet=True) is True
    ledger = FlitResource().ledger()
    # the window's first look compares with the fingerprints and key sets the full wave took before its
    # extracts (reference tables without timestamps, the key-scanned views): nothing changed, no delta wave
    first = tick(M)
    assert first.skip_reason.startswith("no source changes") and first.success is None
    since = pd.Timestamp(json.loads(first.cursor)["since"])
    assert tick(M).skip_reason.startswith("no source changes")
    before = _ops(highlevel)

    with sqlite3.connect(db) as con:
        ids = [r[0] for r in con.execute("SELECT patient_id FROM v_patient ORDER BY patient_id LIMIT 3")]
        con.executemany("UPDATE v_patient SET preferred_name = 'Changed', modified_time_stamp = "
                        "'2026-11-21 09:00:00' WHERE patient_id = ?", [(i,) for i in ids])
        loaded = set(ledger.crosswalk_frame(M, "appointments")["source_id"])
        kept = next(str(a) for a in _deletable_without_stage_change(con) if str(a) in loaded)
        con.execute("DELETE FROM v_appt WHERE appointment_id = ?", (int(kept),))
    result = tick(M)
    assert result.success is True and set(result.changed_objects) == {"patients", "appointments"}
    assert result.partition == "delta-" + (since - pd.Timedelta(minutes=5)).strftime("%Y%m%dT%H%M%S")  # overlap
    sent = _diff(before, _ops(highlevel))
    assert sent == {"PUT /contacts/{contactId}": 3, "DELETE /calendars/events/{eventId}": 1}, sent
    audit = ledger.audit_frame(M, run_id=result.run_id)
    changed = audit[audit["operation"].isin(["update", "create", "delete"])]
    assert sorted(zip(changed["target"], changed["operation"], changed["source_id"], strict=True)) == sorted(
        [("patients", "update", str(i)) for i in ids] + [("appointments", "delete", kept)])
    assert kept not in set(ledger.crosswalk_frame(M, "appointments")["source_id"])
    rep = report(M, result.partition)
    assert rep["all_checks_passed"] is True
    assert tick(M).skip_reason.startswith("no source changes")
