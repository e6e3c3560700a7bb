"""Per-record accounting without Dagster: quarantined rows keep their values, derived values name the
input rows they miss, non-finite numbers are refused, holds and flags follow the spec, and a run's
process liveness is judged with an injected clock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from flit_pipelines.assets.record_issues import holds_and_flags
from flit_pipelines.reconcile.quarantined import quarantined_values
from flit_pipelines.runs import HEARTBEAT_TAG, HOST_TAG, PID_TAG, dead_reason
from flit_pipelines.sources import CsvExportSource
from flit_pipelines.sources.validate import split_chunk
from flit_pipelines.transform.payload import build_payload_checked
from flit_pipelines_tests.conftest import FIXTURE_EXPORT

F1, F2, F3 = (f"f0000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
F1_CHARGE = "f1000000-0000-4000-8000-000000000001"
F2_COPAY = "f1000000-0000-4000-8000-000000000010"  # F2's second PAYMENT row (COPAY 27.36)
LOST_AMOUNT = "derived value charges is missing 1 of 1 input rows (quarantined at extract: AMOUNT: not a money)"


def _quarantine(spec, frames, ids: list[str], reason: str, **nulls) -> tuple[dict, pd.DataFrame]:
    """Frames without the transactions ``ids``, and those rows as the extract would quarantine them."""
    tx = frames["claims_transactions"]
    bad = tx[tx["ID"].isin(ids)].assign(**{c: pd.NA for c in nulls})
    rows = bad.add_prefix("value:").assign(source_id=bad["ID"].to_numpy(), row_number=1, reason=reason)
    return {**frames, "claims_transactions": tx[~tx["ID"].isin(ids)]}, quarantined_values(
        spec.objects["claims_transactions"], rows.reset_index(drop=True))


def test_quarantine_rows_carry_their_typed_values(spec):
    text = next(CsvExportSource(FIXTURE_EXPORT).read(spec.objects["claims_transactions"])).to_pandas().astype("string")
    text.loc[0, "AMOUNT"] = "$1,234.50"
    result = split_chunk(spec.objects["claims_transactions"], "claims_transactions", text, first_row=1)
    q = quarantined_values(spec.objects["claims_transactions"], result.quarantine)
    assert q[["source_id", "reason", "CLAIMID", "TYPE"]].values.tolist() == [
        [F1_CHARGE, "AMOUNT: not a money", F1, "CHARGE"]]
    assert pd.isna(q.loc[0, "AMOUNT"]) and q.loc[0, "PAYMENTS"] == 0.0  # what parsed is kept


def test_a_derived_value_names_the_input_rows_it_misses(spec, fixture_frames):
    frames, q = _quarantine(spec, fixture_frames, [F1_CHARGE, F2_COPAY], "AMOUNT: not a money")
    payload, issues = build_payload_checked(spec, "billing", frames, {"claims_transactions": q})
    assert payload.set_index("source_id")["value"].to_dict() == {F1: 0.0, F2: 168.51, F3: 136.80}
    by_record = issues.set_index("source_id")["reason"]
    assert by_record[F1] == LOST_AMOUNT  # its only CHARGE row
    # the COPAY is a PAYMENT: the charges of F2 are whole, its payment fields are not
    assert by_record[F2].startswith("derived value paid_to_date is missing 1 of 4 input rows (quarantined at "
                                    "extract: AMOUNT: not a money); derived value last_payment_date is missing 1 of 4")
    assert F3 not in by_record.index and set(issues["kind"]) == {"derived_input_missing"}


def test_a_quarantined_row_without_its_key_is_reported_as_unattributed(spec, fixture_frames):
    frames, q = _quarantine(spec, fixture_frames, [F1_CHARGE], "CLAIMID: not nullable", CLAIMID=True)
    _, issues = build_payload_checked(spec, "billing", frames, {"claims_transactions": q})
    assert issues[["source_id", "kind", "reason"]].astype(object).where(issues.notna(), None).values.tolist() == [
        [None, "unattributed_input",
         "1 quarantined row(s) of claims_transactions have no value to tell which billing record they belong to"]]


def test_an_infinite_number_is_refused_per_record(spec, fixture_frames):
    tx = fixture_frames["claims_transactions"].copy()
    tx.loc[tx["ID"] == F1_CHARGE, "AMOUNT"] = np.inf
    payload, issues = build_payload_checked(spec, "billing", {**fixture_frames, "claims_transactions": tx}, {})
    assert np.isinf(payload.set_index("source_id").loc[F1, "value"])
    assert issues.values.tolist() == [
        [F1, "not_finite", "refused: field value: not a finite number (infinity cannot be sent in a JSON body)"]]


@pytest.mark.parametrize("mode, held, flagged", [("hold", [F1], []), ("flag", [], [F1])])
def test_derived_losses_are_held_or_flagged_as_the_spec_says(spec, mode, held, flagged):
    spec = spec.model_copy(update={"targets": {**spec.targets, "billing": spec.targets["billing"].model_copy(
        update={"on_derive_input_loss": mode})}})
    issues = pd.DataFrame({"source_id": [F1, F2, None], "kind": ["derived_input_missing", "not_finite",
                                                                  "unattributed_input"],
                           "reason": [LOST_AMOUNT, "refused: field value: not a finite number", "2 rows"]})
    holds, doc = holds_and_flags(spec, "billing", issues.astype("string"))
    assert sorted(holds.index) == sorted(held + [F2])  # non-finite numbers are always refused
    assert doc["flagged"] == [{"source_id": s, "reason": LOST_AMOUNT} for s in flagged]
    assert doc["unattributed_inputs"] == ["2 rows"] and doc["held"] == len(held) + 1


def test_a_run_is_dead_when_its_process_is_gone_or_its_heartbeat_is_stale():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # exited and reaped: the pid is free
    host = socket.gethostname()
    assert dead_reason({PID_TAG: str(gone.pid), HOST_TAG: host}, now=0) == f"its process {gone.pid} on {host} is gone"
    assert dead_reason({PID_TAG: str(os.getpid()), HOST_TAG: host, HEARTBEAT_TAG: "0"}, now=1e9) is None  # alive
    other = {PID_TAG: "4242", HOST_TAG: "elsewhere", HEARTBEAT_TAG: "1000"}
    assert dead_reason(other, now=1100, stale_after=120) is None
    assert dead_reason(other, now=1121, stale_after=120) == (
        "no heartbeat from its process 4242 on elsewhere for 121 s (limit 120 s)")
    assert dead_reason({}, now=1e9) is None  # not a `flit run`: left to Dagster's run monitoring
