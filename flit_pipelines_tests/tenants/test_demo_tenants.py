"""``flit demo --tenants 2``: two demo practices at once, each its own export and Pipedrive sandbox process."""

from __future__ import annotations

import re

from flit_pipelines.cli import main

M = "clinic_to_pipedrive"


def test_demo_with_two_tenants_prints_one_line_per_tenant_and_exits_zero(tmp_path, monkeypatch, capsys):
    import flit_sandboxes.demo_tenants as demo_tenants

    for name in ("FLIT_SPEC_DIR", "FLIT_DATA_DIR", "CLINIC_EXPORT_DIR", "PIPEDRIVE_API_TOKEN",
                 "PRACTICE_1_PIPEDRIVE_TOKEN", "PRACTICE_2_PIPEDRIVE_TOKEN"):
        monkeypatch.setenv(name, "")  # restored after the test: the demo sets them for its processes
    monkeypatch.setattr(demo_tenants, "DEMO_DATA_DIR", tmp_path / "demo")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["demo", "--tenants", "2", "--only", M]) == 0
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith(f"{M} practice-")]
    assert len(lines) == 2, out
    accounts = set()
    for i, line in enumerate(lines, start=1):
        m = re.match(rf"{M} practice-{i}: (\d+) records created, all checks passed; account (pipedrive-[0-9a-f]{{12}});",
                     line)
        assert m, line
        assert int(m.group(1)) > 0
        accounts.add(m.group(2))
    assert len(accounts) == 2  # two accounts, one per practice
    for i in (1, 2):
        assert (tmp_path / "demo" / "tenants" / f"practice-{i}" / "reports" / M / "full" / "migration_report.json").exists()
    assert main(["campaign", "status", M]) == 0  # the campaign view reads the same data
    status = capsys.readouterr().out
    assert re.search(r"practice-1\s+full passed", status) and re.search(r"practice-2\s+full passed", status)
