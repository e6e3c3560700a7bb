"""``flit phi list|approve --tenant NAME``: the PHI review queue of one tenant, read from and approved in that
tenant's own ledger (``<data>/tenants/<tenant>/ledger.db``); the default tenant's queue is not touched."""

from __future__ import annotations

import shutil

import pandas as pd

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file

M = "clinic_to_pipedrive"
HOLD = "held for PHI review: "


def hold(tenant: str, source_ids: list[str], patterns: str) -> None:
    """What a full wave's load writes for held notes: quarantine rows with the hold reason, and the report folder."""
    ledger = FlitResource().for_tenant(tenant).ledger()
    ledger.replace_quarantine(migration=M, wave="full", stage="load", obj="clinical_notes", run_id="r-" + tenant,
                              rows=pd.DataFrame({"source_id": source_ids, "row_number": [None] * len(source_ids),
                                                 "reason": [HOLD + patterns] * len(source_ids)}))
    (FlitResource().for_tenant(tenant).data_path() / "reports" / M / "full").mkdir(parents=True, exist_ok=True)


def test_phi_list_and_approve_serve_one_tenants_queue(tmp_path, monkeypatch, capsys):
    specs = tmp_path / "specs"
    (specs / "tenants").mkdir(parents=True)
    shutil.copy(SPEC_DIR / f"{M}.yaml", specs / f"{M}.yaml")
    approve_spec_file(specs / f"{M}.yaml", "test reviewer", "2026-11-21T00:00:00+00:00")
    (specs / "tenants" / f"{M}.yaml").write_text(
        f"migration: {M}\ntenants:\n  riverside:\n    destination: {{api_base: 'https://riverside.example'}}\n")
    monkeypatch.setenv("FLIT_SPEC_DIR", str(specs))
    monkeypatch.setenv("FLIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FLIT_LEDGER_URL", raising=False)
    hold("default", ["note-default-1"], "ssn")
    hold("riverside", ["note-river-1", "note-river-2"], "dob, phone")

    assert main(["phi", "list", M, "--tenant", "riverside"]) == 0
    out = capsys.readouterr().out
    assert f"{M} (tenant riverside): 2 held for PHI review, 0 approved" in out
    assert "note-river-1" in out and "note-river-2" in out and "note-default-1" not in out

    assert main(["phi", "approve", M, "clinical_notes", "--source-id", "note-default-1", "--by", "Dr Reviewer",
                 "--tenant", "riverside"]) == 1  # held in the default tenant's ledger, not riverside's
    assert main(["phi", "approve", M, "clinical_notes", "--all", "--by", "Dr Reviewer", "--tenant", "riverside"]) == 0
    assert f"{M} (tenant riverside) clinical_notes: 2 approved by Dr Reviewer" in capsys.readouterr().out
    assert sorted(FlitResource().for_tenant("riverside").ledger().phi_approvals(M)["source_id"]) == [
        "note-river-1", "note-river-2"]
    assert FlitResource().ledger().phi_approvals(M).empty  # the default tenant's queue is untouched

    assert main(["phi", "list", M]) == 0
    out = capsys.readouterr().out
    assert f"{M}: 1 held for PHI review, 0 approved" in out and "note-default-1" in out and "note-river" not in out
    assert main(["phi", "list", M, "--tenant", "hilltop"]) == 2  # no such tenant: named, nothing created
    assert "has no tenant 'hilltop'" in capsys.readouterr().err
