"""Delta pickup end to end for practicehub_to_salesforce: the API's ``updated=`` filter brings only
what changed; a cancelled visit leaves the Event target (Event deleted) and becomes a Task."""

from __future__ import annotations

import sqlite3

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.delta.runner import tick
from flit_pipelines_tests.integration.test_practicehub_salesforce_e2e import M, _soql, _stats
from flit_pipelines_tests.integration.test_practicehub_salesforce_e2e import env  # noqa: F401 (fixture)

STAMP = "2026-11-21T10:00:00Z"


def test_changed_patients_and_a_cancelled_visit_reach_salesforce(env):  # noqa: F811
    assert run_wave(M, "full", quiet=True) is True
    assert tick(M).skip_reason.startswith("no source changes")  # API objects all carry updated_at
    stats = _stats(env["sf"])
    writes_before = {op: n for op, n in stats["requests_by_operation"].items() if op.split()[0] != "GET"}
    records_before = stats["records"]
    with sqlite3.connect(env["state"]) as con:
        con.execute("UPDATE patients SET mobile_phone = '(555) 010-0' || id, updated_at = ? WHERE id IN (1, 2)",
                    (STAMP,))
        (visit,) = con.execute("SELECT id FROM appointments WHERE status = 'completed' AND appointment_type <> "
                               "'Telehealth Consultation' ORDER BY id LIMIT 1").fetchone()
        con.execute("UPDATE appointments SET status = 'cancelled', cancelled_at = ?, cancellation_reason = "
                    "'patient request', updated_at = ? WHERE id = ?", (STAMP, STAMP, visit))
    result = tick(M)
    assert result.success is True and set(result.changed_objects) == {"patients", "appointments"}
    audit = FlitResource().ledger().audit_frame(M, run_id=result.run_id)
    writes = audit[audit["operation"].isin(["create", "update", "delete"])]
    assert sorted(zip(writes["target"], writes["operation"], writes["source_id"], strict=True)) == sorted([
        ("patients", "update", "1"), ("patients", "update", "2"),
        ("appointment_tasks", "create", str(visit)), ("appointment_events", "delete", str(visit))])
    phones = {r["Source_System_ID__c"]: r["MobilePhone"] for r in _soql(
        env["sf"], "SELECT Source_System_ID__c, MobilePhone FROM Contact WHERE Source_System_ID__c IN ('1', '2')")}
    assert phones == {"1": "(555) 010-01", "2": "(555) 010-02"}
    stats = _stats(env["sf"])
    sent = {op: n - writes_before.get(op, 0) for op, n in stats["requests_by_operation"].items()
            if op.split()[0] != "GET" and n != writes_before.get(op, 0)}
    assert sent == {"POST /services/oauth2/token": 5,  # one token per load step (a fresh client each)
                    "POST /services/data/v{version}/composite/sobjects": 1,  # the new Task
                    "PATCH /services/data/v{version}/composite/sobjects/{name}/{field}": 1,  # 2 Contacts upserted
                    "DELETE /services/data/v{version}/composite/sobjects": 1}  # the Event
    assert stats["records"]["Event"] == records_before["Event"] - 1
    assert stats["records"]["Task"] == records_before["Task"] + 1
    rep = report(M, result.partition)
    assert rep["all_checks_passed"] is True
    # rows read again: the changed ones plus those in the overlap before the cursor (skipped by hash)
    assert rep["delta"]["patients"]["rows_changed"] >= 2 and rep["delta"]["appointments"]["rows_changed"] >= 1
    assert tick(M).skip_reason.startswith("no source changes")
