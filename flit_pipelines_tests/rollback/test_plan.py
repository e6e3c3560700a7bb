"""``plan_rollback`` on a hand-built ledger (SQLite in tmp_path) for the clinic_to_pipedrive spec."""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.ledger import Ledger, RecordOutcome
from flit_pipelines.rollback.plan import PLAN_COLUMNS, R_ORPHAN, R_USER, plan_rollback
from flit_pipelines.spec import load_order, load_spec
from flit_pipelines.spec.load import SPEC_DIR

M = "clinic_to_pipedrive"


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC_DIR / f"{M}.yaml")


@pytest.fixture
def ledger(tmp_path):
    """Two runs: r1 (wave sample) and r2 (wave full), with matched, adopted, failed and orphan records."""
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")

    def rec(target, run, wave, *outcomes):
        led.record_many(migration=M, target=target, run_id=run, wave=wave, outcomes=list(outcomes))

    rec("organizations", "r1", "sample", RecordOutcome("o1", "create", dest_id="10", payload_hash="h"))
    rec("providers", "r1", "sample", RecordOutcome("p1", "match", dest_id="2", created_by_migration=False),
        RecordOutcome("p2", "fallback", dest_id="1", created_by_migration=False))
    rec("persons", "r1", "sample", RecordOutcome("s1", "create", dest_id="100", payload_hash="h"),
        RecordOutcome("s2", "update", dest_id="7", payload_hash="h", created_by_migration=False))
    led.save_prior_state(M, "persons", "7", {"name": "Before"})
    rec("visits", "r1", "sample", RecordOutcome("v1", "create", dest_id="500", payload_hash="h"))
    # run r2, wave full
    rec("persons", "r2", "full", RecordOutcome("s1", "skip", dest_id="100", payload_hash="h"),
        RecordOutcome("s2", "update", dest_id="7", payload_hash="h2"),
        RecordOutcome("s3", "create", dest_id="101", payload_hash="h"),
        RecordOutcome("s4", "update", dest_id="8", payload_hash="h", created_by_migration=False))
    led.save_prior_states(M, "persons", {"8": {"name": "Other"}, "9": {"name": "Orphan"}})
    rec("visits", "r2", "full", RecordOutcome("v2", "create", dest_id="501", payload_hash="h"),
        RecordOutcome("v3", "update", dest_id="502", payload_hash="h"),  # adopted after a crash
        RecordOutcome("v4", "fail", error="400 POST /api/v2/activities: bad"))
    return led


def rows(plan: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r) for r in plan[["target", "source_id", "dest_id", "action"]]
            .itertuples(index=False)]


def test_scope_all_reverse_fk_order_actions_and_users_kept(spec, ledger):
    plan = plan_rollback(spec, ledger, scope="all")
    assert list(plan.columns) == PLAN_COLUMNS
    order = list(reversed(load_order(spec)))
    seen = list(dict.fromkeys(plan["target"]))
    assert seen == [t for t in order if t in seen]
    assert order.index("visits") < order.index("persons") < order.index("organizations")
    assert rows(plan) == [
        ("visits", "v1", "500", "delete"), ("visits", "v2", "501", "delete"), ("visits", "v3", "502", "delete"),
        ("persons", "s1", "100", "delete"), ("persons", "s3", "101", "delete"),
        ("persons", "s2", "7", "restore"), ("persons", "s4", "8", "restore"), ("persons", None, "9", "restore"),
        ("providers", "p2", "1", "keep"), ("providers", "p1", "2", "keep"),
        ("organizations", "o1", "10", "delete"),
    ]
    reasons = dict(zip(plan["dest_id"], plan["reason"], strict=True))
    assert reasons["9"] == R_ORPHAN and reasons["1"] == reasons["2"] == R_USER
    assert not ((plan["target"] == "providers") & (plan["action"] != "keep")).any()


def test_scope_wave_takes_records_first_written_in_the_wave(spec, ledger):
    sample = plan_rollback(spec, ledger, scope="wave", wave="sample")
    assert rows(sample) == [
        ("visits", "v1", "500", "delete"), ("persons", "s1", "100", "delete"), ("persons", "s2", "7", "restore"),
        ("providers", "p2", "1", "keep"), ("providers", "p1", "2", "keep"), ("organizations", "o1", "10", "delete"),
    ]
    full = plan_rollback(spec, ledger, scope="wave", wave="full")
    # s1 was only skipped in full (first written in sample); s2 was updated again in full: restored;
    # v3 was adopted in full (its create was never recorded); the orphan prior state is in scope "all" only
    assert rows(full) == [
        ("visits", "v2", "501", "delete"), ("visits", "v3", "502", "delete"), ("persons", "s3", "101", "delete"),
        ("persons", "s2", "7", "restore"), ("persons", "s4", "8", "restore"),
    ]


def test_scope_run_matches_wave_of_that_run_and_bad_scopes_raise(spec, ledger):
    assert rows(plan_rollback(spec, ledger, scope="run", run_id="r2")) == rows(
        plan_rollback(spec, ledger, scope="wave", wave="full"))
    assert plan_rollback(spec, ledger, scope="run", run_id="nope").empty
    with pytest.raises(ValueError, match="needs a wave"):
        plan_rollback(spec, ledger, scope="wave")
    with pytest.raises(ValueError, match="scope must be one of"):
        plan_rollback(spec, ledger, scope="target")


def test_rolled_back_and_recreated_record_belongs_to_its_new_run(spec, ledger):
    ledger.record_rollback(migration=M, target="organizations", run_id="rb", outcomes=[
        RecordOutcome("o1", "delete", dest_id="10")], forget_source_ids=["o1"])
    ledger.record_many(migration=M, target="organizations", run_id="r3", wave="full",
                       outcomes=[RecordOutcome("o1", "create", dest_id="11", payload_hash="h")])
    assert ("organizations", "o1", "11", "delete") in rows(plan_rollback(spec, ledger, scope="run", run_id="r3"))
    assert not (plan_rollback(spec, ledger, scope="wave", wave="sample")["target"] == "organizations").any()
    events = ledger.audit_frame(M, wave="rollback")
    assert events[["target", "source_id", "dest_id", "operation", "status"]].values.tolist() == [
        ["organizations", "o1", "10", "delete", "ok"]]
