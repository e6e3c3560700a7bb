"""The field-level diff: comparison rules, then ``diff_target`` against the real Pipedrive sandbox with
values changed in the CRM through its API (tolerances abs / normalize / ignore, a deleted record, a
write-only field), and the report files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flit_pipelines.destinations.base import load_target
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.field_diff import (
    canon,
    compare,
    diff_target,
    flatten,
    summarize,
    write_reports,
)
from flit_pipelines.spec.model import DiffTolerance, MigrationSpec
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN

ALICE, BOB, CARA, DAN = (f"a0000000-0000-4000-8000-00000000000{i}" for i in range(1, 5))


def tol(**kw) -> DiffTolerance:
    return DiffTolerance(**kw)


def test_comparison_rules():
    assert compare(5, 5.0, None) == ("match", "")
    assert compare(None, "", None)[0] == "match" and compare([], None, None)[0] == "match"
    assert compare(["b", "a"], ["a", "b"], None)[0] == "match"  # plain lists compare as multisets
    assert compare([{"v": 1}, {"v": 2}], [{"v": 2}, {"v": 1}], None)[0] == "mismatch"  # entries keep order
    assert compare(136.8, 136.804, tol(abs=0.01)) == ("within_tolerance", "abs 0.01")
    assert compare(136.8, 137.8, tol(abs=0.01)) == ("mismatch", "outside abs 0.01")
    assert compare("Example  Street ", "example street", tol(normalize=["strip", "lower"]))[0] == "within_tolerance"
    assert compare("(555) 010-2000", "+1 555 010 2000", tol(normalize=["digits"]))[0] == "mismatch"  # 1 more digit
    assert compare("555-010-2000", "5550102000", tol(normalize=["digits"]))[0] == "within_tolerance"
    assert compare("2024-01-15T09:30:00Z", "2024-01-15 09:30:00", tol(normalize=["date"]))[0] == "within_tolerance"
    assert compare("2024-01-15T09:30:00-05:00", "2024-01-15 09:30:00", tol(normalize=["date"]))[0] == "mismatch"
    assert compare("a", "b", tol(ignore="the CRM rewrites it")) == ("within_tolerance", "ignored: the CRM rewrites it")
    assert canon({"b": 1, "a": [True, None]}) == {"a": [None, True], "b": 1.0}
    assert flatten({"a": {"b": 1, "c": {}}, "customFields": [{"id": "f1", "value": "x"}, {"id": "f2", "v": 1, "w": 2}],
                    "tags": ["t"]}) == {("a", "b"): 1, ("a", "c"): {}, ("customFields", "f1"): "x",
                                        ("customFields", "f2", "v"): 1, ("customFields", "f2", "w"): 2,
                                        ("tags",): ["t"]}
    with pytest.raises(ValueError):
        DiffTolerance(abs=0.01, ignore="x")
    with pytest.raises(ValueError):
        DiffTolerance(ignore=" ")


def with_tolerances(spec: MigrationSpec, tolerances: dict[str, dict]) -> MigrationSpec:
    raw = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    for target, rules in tolerances.items():
        raw["targets"][target]["diff_tolerances"] = rules
    return MigrationSpec.model_validate(raw)


def test_tolerance_names_must_be_fields_of_the_target(spec):
    assert with_tolerances(spec, {"billing": {"value": {"abs": 0.01}}}).targets["billing"].diff_tolerances
    with pytest.raises(ValueError, match="does not map"):
        with_tolerances(spec, {"billing": {"no_such_field": {"abs": 0.01}}})


class BirthdayWriteOnly(PipedriveDestination):
    """The same destination, as if Pipedrive never returned a person's birthday."""

    WRITE_ONLY_FIELDS = {**PipedriveDestination.WRITE_ONLY_FIELDS, "person": frozenset({"birthday"})}

    def read_fields(self, target_name, target, dest_ids):
        live = super().read_fields(target_name, target, dest_ids)
        return {k: {f: v for f, v in body.items() if f != "birthday"} for k, body in live.items()}


@pytest.fixture
def loaded(sandbox, spec, fixture_frames, tmp_path):
    client = PipedriveClient(sandbox, TOKEN)
    dest = PipedriveDestination(client, spec, files_root=FIXTURE_EXPORT)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    dest.ensure_schema()
    payloads = {}
    for name in ("organizations", "providers", "persons", "billing"):
        payloads[name] = build_payload(spec, name, fixture_frames)
        summary = load_target(spec=spec, target_name=name, payload=payloads[name], destination=dest, ledger=ledger,
                              run_id="r1", wave="sample", max_workers=2)
        assert summary.failed == 0, summary.errors
    xw = {n: dict(zip(*ledger.crosswalk_frame(spec.migration, n)[["source_id", "dest_id"]].T.values, strict=True))
          for n in ("persons", "billing")}
    yield {"client": client, "dest": dest, "ledger": ledger, "payloads": payloads, "xw": xw}
    client.close()


def test_diff_of_an_untouched_load_is_clean(spec, loaded):
    frame = diff_target(spec, "persons", loaded["payloads"]["persons"], loaded["ledger"], loaded["dest"], chunk=3)
    s = summarize(frame)
    assert s["passed"] is True and s["records"] == 4 and set(frame["status"]) == {"match"}
    fields = set(frame["field"])
    assert {"name", "birthday", "emails", "org_id", "owner_id", "MRN", "Insurance carrier"} <= fields
    assert not any(f.startswith("custom_fields.") for f in fields)  # account keys mapped back to spec names
    dan = frame[(frame["source_id"] == DAN) & (frame["field"] == "Latest HbA1c (%)")]
    assert dan[["expected", "actual"]].values.tolist() == [["5.9", "5.9"]]


def test_changed_values_tolerances_missing_records_and_write_only_fields(spec, loaded, tmp_path):
    client, xw = loaded["client"], loaded["xw"]
    # edits in the CRM: name case, a cent on a deal value, the insurance carrier, a deleted person
    client.update("person", int(xw["persons"][ALICE]), {"name": "ALICE101 EXAMPLE201"})
    bob_deal = next(d for s, d in xw["billing"].items() if s.endswith("000000000001"))
    deal = client.get("deal", int(bob_deal))
    client.update("deal", int(bob_deal), {"value": round(deal["value"] + 0.004, 3)})
    carrier = next(f for f in client.list_fields("person") if f["field_name"] == "Insurance carrier")["field_code"]
    client.update("person", int(xw["persons"][BOB]), {"custom_fields": {carrier: "Another Carrier"}})
    client.delete("person", int(xw["persons"][CARA]))

    strict = diff_target(spec, "persons", loaded["payloads"]["persons"], loaded["ledger"], loaded["dest"])
    bad = strict[strict["status"] != "match"].sort_values(["source_id", "field"])
    assert bad[["source_id", "field", "status", "actual"]].values.tolist() == [
        [ALICE, "name", "mismatch", "ALICE101 EXAMPLE201"],
        [BOB, "Insurance carrier", "mismatch", "Another Carrier"],
        [CARA, "*", "missing_record", ""]]
    s = summarize(strict)
    assert s["passed"] is False and s["mismatched_fields"] == {"name": 1, "Insurance carrier": 1}
    assert s["missing_records"] == 1 and "ALICE101" not in json.dumps(s)
    deals = diff_target(spec, "billing", loaded["payloads"]["billing"], loaded["ledger"], loaded["dest"])
    assert deals.loc[deals["status"] != "match", ["field", "status"]].values.tolist() == [["value", "mismatch"]]

    lenient = with_tolerances(spec, {
        "persons": {"name": {"normalize": ["strip", "lower"]},
                    "Insurance carrier": {"ignore": "office keeps carriers up to date in the CRM"}},
        "billing": {"value": {"abs": 0.01}}})
    frame = diff_target(lenient, "persons", loaded["payloads"]["persons"], loaded["ledger"], loaded["dest"])
    tolerated = frame[frame["status"] == "within_tolerance"].sort_values("field")
    assert tolerated[["field", "note"]].values.tolist() == [
        ["Insurance carrier", "ignored: office keeps carriers up to date in the CRM"],
        ["name", "normalize strip,lower"]]
    assert summarize(frame)["status_counts"]["missing_record"] == 1  # a deleted record is never tolerated
    deals = diff_target(lenient, "billing", loaded["payloads"]["billing"], loaded["ledger"], loaded["dest"])
    assert summarize(deals)["passed"] is True
    assert deals.loc[deals["status"] != "match", ["field", "note"]].values.tolist() == [["value", "abs 0.01"]]

    # a field the CRM never returns is "not readable", not a mismatch
    dest = BirthdayWriteOnly(loaded["client"], spec, files_root=FIXTURE_EXPORT)
    frame = diff_target(spec, "persons", loaded["payloads"]["persons"], loaded["ledger"], dest)
    unread = frame[frame["status"] == "not_readable"]
    assert sorted(unread["source_id"]) == [ALICE, BOB, DAN] and set(unread["field"]) == {"birthday"}
    assert unread["actual"].eq("").all() and unread["expected"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()

    # files: the part per target and the combined CSV, HTML and summary
    paths = write_reports(spec, "persons", strict, summarize(strict), tmp_path)
    write_reports(spec, "billing", deals, summarize(deals), tmp_path)
    combined = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert list(combined["target"].unique()) == ["persons", "billing"]  # load order
    doc = json.loads(paths["summary"].read_text())
    assert doc["passed"] is False and set(doc["targets"]) == {"persons", "billing"}
    page = paths["html"].read_text()
    assert "ALICE101 EXAMPLE201" in page and "Another Carrier" in page and "missing record" in page
