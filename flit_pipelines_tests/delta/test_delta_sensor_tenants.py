"""The delta-pickup sensor serves every tenant of a migration: two Dentrix practices (SQLite, read over
SQLAlchemy) declared as tenants, evaluated with ``build_sensor_context`` on a real Dagster instance. Each
tenant has its own window, cursor entry, partition, account tags and run_key; one tenant's broken source
does not stop the other's pickup."""

from __future__ import annotations

import json
import shutil
import sqlite3

import dagster as dg
import pandas as pd
import pytest

from flit_pipelines.delta.probe import baseline_file, baseline_fingerprints, save_baseline
from flit_pipelines.delta.tenant_cursor import join_cursors, split_cursor
from flit_pipelines.spec.load import SPEC_DIR
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, TENANT_TAG, tenant_run_tags
from flit_sandboxes.dentrix_practice import build_practice

M = "dentrix_to_highlevel"
TENANTS = ("north", "south")


@pytest.fixture
def env(tmp_path, monkeypatch):
    template = tmp_path / "template.db"
    build_practice(template, patients=12, seed=3)
    specs = tmp_path / "specs"
    (specs / "tenants").mkdir(parents=True)
    shutil.copy(SPEC_DIR / f"{M}.yaml", specs / f"{M}.yaml")
    lines = [f"migration: {M}", "tenants:"]
    dbs = {}
    for i, t in enumerate(TENANTS):
        dbs[t] = tmp_path / f"{t}.db"
        shutil.copy(template, dbs[t])
        monkeypatch.setenv(f"{t.upper()}_DB_URL", f"sqlite:///{dbs[t]}")
        lines += [f"  {t}:", f"    source: {{url_env: {t.upper()}_DB_URL}}",
                  f"    destination: {{api_base: 'http://127.0.0.1:{9000 + i}', location_id: loc_{t}}}"]
    (specs / "tenants" / f"{M}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("FLIT_SPEC_DIR", str(specs))
    monkeypatch.setenv("FLIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DENTRIX_DB_URL", raising=False)  # the default tenant has no source: its window never opens
    from flit_pipelines.definitions import defs

    d = defs()
    with dg.instance_for_test() as instance:
        yield {"dbs": dbs, "defs": d, "instance": instance, "sensor": d.resolve_sensor_def(f"{M}_delta_pickup"),
               "data": tmp_path / "data"}


def evaluate(env, cursor: str | None):
    ctx = dg.build_sensor_context(instance=env["instance"], instance_ref=env["instance"].get_ref(), cursor=cursor,
                                  definitions=env["defs"])
    return env["sensor"].evaluate_tick(ctx)


def complete_full_wave(env, tenant: str) -> None:
    """What the sensor reads of a tenant's finished full wave: its report's materialisation (partition
    ``<tenant>.full``), its extracts' modification columns and its source baseline, under its own data."""
    from flit_pipelines.assets.io_manager import ParquetStore
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.spec import load_all_specs

    root = env["data"] / "tenants" / tenant / "parquet"
    with sqlite3.connect(env["dbs"][tenant]) as con:
        for obj, table in (("patients", "v_patient"), ("appointments", "v_appt")):
            path = root / M / "extract" / obj / "full.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.read_sql(f"SELECT modified_time_stamp FROM {table}", con).to_parquet(path)
    spec = load_all_specs()[M]
    assert ParquetStore().for_tenant(tenant).root().path == str(root)
    save_baseline(baseline_file(root, M), baseline_fingerprints(FlitResource().for_tenant(tenant).source(spec), spec))
    env["instance"].report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey([M, "report"]),
                                                                       partition=f"{tenant}.full"))


def change(db, stamp: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute(f"UPDATE v_patient SET preferred_name = 'Changed', modified_time_stamp = '{stamp}' "
                    "WHERE patient_id IN (1, 2)")


def test_every_tenant_has_its_own_window_cursor_partition_and_tags(env, monkeypatch):
    from flit_pipelines.spec import load_all_specs

    spec = load_all_specs()[M]
    closed = evaluate(env, None)  # no tenant's full wave has completed: three windows not open
    assert not closed.run_requests
    for t in ("default", *TENANTS):
        assert f"{t}: delta window not open" in closed.skip_message

    for t in TENANTS:
        complete_full_wave(env, t)
    first = evaluate(env, None)  # both windows open; nothing changed since the full waves' baselines
    assert not first.run_requests, first.run_requests
    assert "north: no source changes" in first.skip_message and "south: no source changes" in first.skip_message
    assert "default: delta window not open" in first.skip_message
    cursors = split_cursor(first.cursor)
    assert set(cursors) == set(TENANTS)  # the default tenant's window never opened: no cursor of its own

    change(env["dbs"]["north"], "2026-11-21 09:30:00")  # one tenant changed, the other not
    changed = evaluate(env, first.cursor)
    (req,) = changed.run_requests
    assert req.partition_key.startswith("north.delta-") and req.run_key.startswith(req.partition_key + ":")
    assert req.tags[TENANT_TAG] == "north" and req.tags["flit/changed_objects"] == "patients"
    north_tags, south_tags = (tenant_run_tags(spec, t) for t in TENANTS)
    account = req.tags[DESTINATION_ACCOUNT_TAG]
    assert account == north_tags[DESTINATION_ACCOUNT_TAG] != south_tags[DESTINATION_ACCOUNT_TAG]
    assert [list(r.partition_keys) for r in changed.dynamic_partitions_requests] == [[req.partition_key]]
    after = split_cursor(changed.cursor)
    assert json.loads(after["north"])["since"] == "2026-11-21T09:30:00"
    assert json.loads(after["north"])["ticks_with_changes"] == 1
    assert after["south"] == cursors["south"]  # the unchanged tenant's cursor did not move

    again = evaluate(env, changed.cursor)
    assert not again.run_requests and "north: no source changes since 2026-11-21T09:30:00" in again.skip_message

    # the same change in both: two runs, each its own partition, tags and run_key
    for t in TENANTS:
        change(env["dbs"][t], "2026-11-22 10:00:00")
    both = evaluate(env, again.cursor)
    by_tenant = {r.tags[TENANT_TAG]: r for r in both.run_requests}
    assert set(by_tenant) == set(TENANTS)
    # each from its own cursor: north's since is its last change minus the overlap, south's its full wave's
    assert by_tenant["north"].partition_key == "north.delta-20261121T092500"
    assert by_tenant["south"].partition_key.startswith("south.delta-")
    assert by_tenant["north"].run_key != by_tenant["south"].run_key
    assert by_tenant["south"].tags[DESTINATION_ACCOUNT_TAG] == south_tags[DESTINATION_ACCOUNT_TAG]

    # a tenant whose source cannot be opened: the other's pickup goes on; alone, the tick fails naming it
    monkeypatch.delenv("SOUTH_DB_URL")
    change(env["dbs"]["north"], "2026-11-23 11:00:00")
    broken = evaluate(env, both.cursor)
    (only,) = broken.run_requests
    assert only.tags[TENANT_TAG] == "north"
    assert split_cursor(broken.cursor)["south"] == split_cursor(both.cursor)["south"]
    with pytest.raises(Exception, match="tenant south: dentrix_to_highlevel source: none of its settings"):
        evaluate(env, broken.cursor)


def test_cursor_text_keeps_one_entry_per_tenant_and_reads_a_single_tenant_cursor_as_the_default():
    legacy = json.dumps({"full_at": 1.0, "since": "2026-11-21T09:30:00", "fingerprints": {}, "ticks_with_changes": 2})
    assert split_cursor(legacy) == {"default": legacy}
    assert split_cursor(None) == {} and split_cursor("") == {}
    text = join_cursors({"north": legacy, "south": None})
    assert json.loads(text) == {"tenants": {"north": json.loads(legacy)}}
    assert json.loads(split_cursor(text)["north"]) == json.loads(legacy)
    with pytest.raises(ValueError):
        split_cursor("[1, 2]")


def test_flit_delta_tick_of_one_tenant_reads_its_own_source_and_cursor_file(env, tmp_path, monkeypatch):
    from flit_pipelines.delta.runner import cursor_path, tick

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:  # the tick runs on DAGSTER_HOME's instance, as `flit delta` does
        env["instance"] = instance
        for t in TENANTS:
            complete_full_wave(env, t)
    change(env["dbs"]["north"], "2026-11-21 09:30:00")
    north = tick(M, tenant="north", execute=False)  # look only: what would run, the cursor stays
    assert north.partition.startswith("north.delta-") and north.changed_objects == ["patients"]
    assert not cursor_path(M, "north").exists()
    south = tick(M, tenant="south", execute=False)
    assert south.skip_reason.startswith("no source changes")
    saved = json.loads(cursor_path(M, "south").read_text())["cursor"]
    assert cursor_path(M, "south") == env["data"] / "tenants" / "south" / "delta" / M / "cursor.json"
    assert json.loads(saved)["full_at"] is not None
    assert tick(M, execute=False).skip_reason.startswith("delta window not open")  # the default tenant: no full wave
