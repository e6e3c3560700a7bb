"""``flit demo --tenants 2``: two demo practices at once, each its own source and destination sandbox process
(the clinic migration into Pipedrive; the Dentrix migration into HighLevel)."""

from __future__ import annotations

import re

from flit_pipelines.cli import main

M = "clinic_to_pipedrive"


def test_demo_with_two_tenants_prints_one_line_per_tenant_and_exits_zero(tmp_path, monkeypatch, capsys):
    import flit_sandboxes.demo_tenants as demo_tenants

    for name in ("FLIT_SPEC_DIR", "FLIT_DATA_DIR", "CLINIC_EXPORT_DIR", "PIPEDRIVE_API_TOKEN",
                 *(demo_tenants.secret_env(f"practice-{i}", "destination", "api_token_env") for i in (1, 2))):
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


def test_demo_with_two_dentrix_tenants_loads_each_practice_into_its_own_highlevel_location(tmp_path, monkeypatch,
                                                                                           capsys):
    import sqlite3

    import flit_sandboxes.demo_tenants as demo_tenants

    d = "dentrix_to_highlevel"
    for name in ("FLIT_SPEC_DIR", "FLIT_DATA_DIR", "CLINIC_EXPORT_DIR", "PIPEDRIVE_API_TOKEN", "HIGHLEVEL_AGENCY_TOKEN",
                 *(demo_tenants.secret_env(f"practice-{i}", side, field) for i in (1, 2)
                   for side, field in (("source", "url_env"), ("destination", "api_token_env")))):
        monkeypatch.setenv(name, "")  # restored after the test: the demo sets them for its processes
    monkeypatch.setattr(demo_tenants, "DEMO_DATA_DIR", tmp_path / "demo")
    monkeypatch.setattr(demo_tenants, "BASE_PATIENTS", 4)  # 14 and 24 patients: a small practice each
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["demo", "--tenants", "2", "--only", d]) == 0
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith(f"{d} practice-")]
    assert len(lines) == 2, out
    accounts = set()
    for i, line in enumerate(lines, start=1):
        m = re.match(rf"{d} practice-{i}: (\d+) records created, all checks passed; "
                     rf"account (highlevel-[0-9a-f]{{12}});", line)
        assert m and int(m.group(1)) > 0, line
        accounts.add(m.group(2))
    assert len(accounts) == 2, out  # two HighLevel locations, one per practice
    demo = tmp_path / "demo"
    for i in (1, 2):  # each location holds exactly its own practice's patients (and nothing of the other's)
        folder = demo_tenants.practice_folder(demo, d, f"practice-{i}")
        with sqlite3.connect(folder / "practice.db") as con:
            patients = sorted(con.execute("SELECT first_name, last_name FROM v_patient").fetchall())
        assert len(patients) == 4 + 10 * i
        with sqlite3.connect(folder / "highlevel.db") as con:
            contacts = con.execute("SELECT json_extract(data, '$.firstName'), json_extract(data, '$.lastName'), "
                                   "json_extract(data, '$.locationId') FROM docs WHERE kind = 'contact' "
                                   "AND json_extract(data, '$.tags') LIKE '%Dental Patient%'").fetchall()
        assert sorted((f, last) for f, last, _ in contacts) == patients
        assert {loc for *_, loc in contacts} == {f"loc_dentrix_practice_{i}"}
        assert (demo / "tenants" / f"practice-{i}" / "reports" / d / "full" / "migration_report.json").exists()
