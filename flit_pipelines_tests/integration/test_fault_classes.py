"""The clinic migration survives every fault class in one run (issue 9.6, 9.17).

Each test injects one fault class into the Pipedrive sandbox (``POST /__sandbox/faults``), runs the
full wave once through Dagster, and checks that every source record is in the sandbox exactly once
(by its source key: 0 duplicates, 0 missing), that nothing failed, that every injected fault fired,
and that no patient value of the export reaches the run's event log or stderr. The fault classes:
a 429 storm far longer than the old per-request retry budget, 5xx bursts (on creates too), slow
responses (some past the client's timeout), dropped connections, answers lost after the write was
executed, and a mix of all of them.
"""

from __future__ import annotations

import pytest

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import approve_spec_file
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats
from flit_pipelines_tests.integration.faults import (add_faults, last_run_events, leaked, patient_values,
                                                     pending_faults)
from flit_pipelines_tests.spec_edit import edit_spec_file

M = "clinic_to_pipedrive"
ADMIN = {"x-api-token": TOKEN}
CREATES = ("/api/v2/persons", "/api/v2/organizations", "/api/v2/deals", "/api/v2/activities", "/api/v1/notes",
           "/api/v1/files")

FAULT_CLASSES = {
    # 300 consecutive 429s on the person creates: the old client gave up after 8 per request
    "429_storm": ([{"status": 429, "retry_after": 0, "count": 300, "path_prefix": "/api/v2/persons",
                    "method": "POST"}], {}),
    "5xx_bursts": ([{"status": 503, "count": 6, "path_prefix": "/api/v2/activities", "method": "POST"},
                    {"status": 502, "count": 5, "path_prefix": "/api/v1/notes", "method": "POST"},
                    {"status": 500, "count": 5, "path_prefix": "/api/v2/deals", "method": "POST"},
                    {"status": 504, "count": 4, "path_prefix": "/api/v2/persons", "method": "GET"}], {}),
    # the client's timeout is 1 s: 0.4 s answers are just slow, 2 s ones time out (abandoned unexecuted)
    "slow_responses": ([{"delay_seconds": 0.4, "count": 8, "path_prefix": "/api/v2/", "method": "GET"},
                        {"delay_seconds": 2.0, "count": 2, "path_prefix": "/api/v2/persons", "method": "POST"},
                        {"delay_seconds": 2.0, "count": 2, "path_prefix": "/api/v1/notes", "method": "POST"},
                        {"delay_seconds": 2.0, "count": 1, "path_prefix": "/api/v2/activities", "method": "GET"}],
                       {"request_timeout_seconds": 1}),
    # more drops than records: some creates are dropped again after their lookup (the old stack resent once)
    "dropped_connections": ([{"drop_connection": True, "count": 10, "path_prefix": "/api/v2/persons", "method": "POST"},
                             {"drop_connection": True, "count": 12, "path_prefix": "/api/v2/activities",
                              "method": "POST"},
                             {"drop_connection": True, "count": 2, "path_prefix": "/api/v2/deals", "method": "GET"},
                             {"drop_connection": True, "count": 1, "path_prefix": "/api/v1/files", "method": "POST"}],
                            {}),
    # executed, then the connection drops: the answer of a write never arrives
    "lost_answers": ([{"lose_response": True, "count": 2, "path_prefix": p, "method": "POST"} for p in CREATES], {}),
    "mixed": ([{"status": 429, "retry_after": 0, "count": 100, "after": 3, "path_prefix": "/api/v2/", "method": "POST"},
               {"status": 503, "count": 3, "path_prefix": "/api/v2/activities", "method": "POST"},
               {"drop_connection": True, "count": 2, "path_prefix": "/api/v1/notes", "method": "POST"},
               {"lose_response": True, "count": 2, "path_prefix": "/api/v2/deals", "method": "POST"},
               {"lose_response": True, "count": 1, "path_prefix": "/api/v2/persons", "method": "POST"},
               {"lose_response": True, "count": 1, "path_prefix": "/api/v1/files", "method": "POST"},
               {"delay_seconds": 2.0, "count": 1, "path_prefix": "/api/v2/organizations", "method": "POST"},
               {"delay_seconds": 0.3, "count": 5, "path_prefix": "/api/v1/", "method": "GET"},
               {"status": 504, "count": 2, "path_prefix": "/api/v2/itemSearch", "method": "GET"}],
              {"request_timeout_seconds": 1}),
}
KEYED = ("organizations", "persons", "visits", "treatment_plans", "billing", "clinical_notes", "relationship_notes")


def set_settings(env: dict, settings: dict) -> None:
    """Add destination settings to the approved spec copy (a spec change) and approve it again."""
    if not settings:
        return
    path = env["specs"] / f"{M}.yaml"
    lines = "".join(f"    {k}: {v}\n" for k, v in settings.items())
    edit_spec_file(path, "  settings:\n", "  settings:\n" + lines)
    approve_spec_file(path, "test reviewer", "2026-11-21T00:00:00+00:00")


@pytest.mark.parametrize("fault_class", list(FAULT_CLASSES))
def test_every_record_lands_once_in_one_run(fault_class, migration_env, fixture_frames, capfd):
    rules, settings = FAULT_CLASSES[fault_class]
    set_settings(migration_env, settings)
    base = migration_env["sandbox"]
    injected = add_faults(base, ADMIN, rules)

    assert run_wave(M, "full", quiet=True, log_level="DEBUG") is True  # one run, no re-run by hand
    output = capfd.readouterr()
    assert pending_faults(base, ADMIN) == []  # every injected fault fired
    assert sandbox_stats(base)["faults_injected"] == injected

    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    spec = load_spec(migration_env["specs"] / f"{M}.yaml")
    dest = PipedriveDestination(PipedriveClient(base, TOKEN), spec)
    for name in KEYED:
        t = spec.targets[name]
        expected = {f"{name}:{sid}": 1 for sid in fixture_frames[t.from_][spec.objects[t.from_].primary_key]}
        assert dest.source_key_counts(name, t) == expected, name  # 0 duplicates, 0 missing
        assert (rep["targets"][name]["failed"], rep["targets"][name]["quarantined"]) == (0, 0), name
    docs = fixture_frames["documents"]
    files = [f for f in dest.client.list("file") if f.get("active_flag") is not False]
    assert sorted(f["name"] for f in files) == sorted(p.rsplit("/", 1)[-1] for p in docs["FILE_PATH"])
    assert rep["targets"]["documents"]["failed"] == 0
    dest.client.close()

    values = patient_values(FIXTURE_EXPORT) + [TOKEN]
    assert leaked(last_run_events(), values) == []
    assert leaked(output.out + output.err, values) == []


def test_an_echoing_refusal_fails_only_its_record_and_its_values_go_nowhere(migration_env, capfd):
    """A 400 that echoes the request (the patient's name, birthdate, e-mail, address and the API
    token header, as vendors' validation errors and proxies do: the sandbox's ``echo`` fault) fails
    that record with the vendor's code and the field names only: no value reaches the ledger, the
    load reports, the event log or stderr."""
    add_faults(migration_env["sandbox"], ADMIN, [{"status": 400, "echo": True, "count": 1,
                                                  "path_prefix": "/api/v2/persons", "method": "POST"}])
    run_wave(M, "full", quiet=True, log_level="DEBUG")  # the failed person fails its checks: that is expected
    output = capfd.readouterr()
    audit = FlitResource().ledger().audit_frame(M, target="persons")
    errors = audit.loc[audit["operation"] == "fail", "error"].tolist()
    assert len(errors) == 1 and errors[0].startswith("Pipedrive 400 on POST /api/v2/persons: invalid request body")
    assert '"birthday"' in errors[0] and errors[0].endswith("[ERR_BAD_REQUEST]")
    values = patient_values(FIXTURE_EXPORT) + [TOKEN]
    reports = "".join(p.read_text() for p in (migration_env["tmp"] / "data" / "reports").rglob("*.json"))
    for where, text in {"ledger": " ".join(audit["error"].dropna()), "reports": reports,
                        "event log": last_run_events(), "stdout/stderr": output.out + output.err}.items():
        assert leaked(text, values) == [], where


def test_a_storm_longer_than_the_patience_stops_the_wave_cleanly(migration_env):
    """A 429 storm asking for 10 s per answer against a 5 s patience: the wave stops at once with a
    message naming the setting and what to do; no record is marked failed, nothing is duplicated."""
    set_settings(migration_env, {"rate_limit_patience_seconds": 5})
    add_faults(migration_env["sandbox"], ADMIN, [{"status": 429, "retry_after": 10, "count": 50,
                                                  "path_prefix": "/api/v2/persons", "method": "POST"}])
    assert run_wave(M, "full", quiet=True) is False
    events = last_run_events()
    assert "rate_limit_patience_seconds" in events and "Re-run the wave" in events
    audit = FlitResource().ledger().audit_frame(M)
    assert (audit["operation"] == "fail").sum() == 0  # a 429 never fails a record
    assert sandbox_stats(migration_env["sandbox"])["entities"].get("person", {}).get("active", 0) == 0
