"""The delta-pickup sensor evaluated with ``build_sensor_context`` against a real source (the demo
Dentrix practice, SQLite, read over SQLAlchemy) and a real Dagster instance: the window, the cursor,
duplicate ticks."""

from __future__ import annotations

import json
import shutil
import sqlite3

import dagster as dg
import pandas as pd
import pytest

from flit_pipelines.delta import sensor as delta_sensor
from flit_pipelines.delta.probe import baseline_file, baseline_fingerprints, save_baseline
from flit_pipelines.delta.tenant_cursor import split_cursor
from flit_pipelines.delta.window import DeltaCursor
from flit_sandboxes.dentrix_practice import build_practice
from flit_pipelines.spec.load import SPEC_DIR

M = "dentrix_to_highlevel"


@pytest.fixture(scope="module")
def practice_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("practice") / "practice.db"
    build_practice(path, patients=12, seed=3)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch, practice_template):
    db = tmp_path / "practice.db"
    shutil.copy(practice_template, db)
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPEC_DIR / f"{M}.yaml", specs / f"{M}.yaml")
    for k, v in {"FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(tmp_path / "data"),
                 "DENTRIX_DB_URL": f"sqlite:///{db}"}.items():
        monkeypatch.setenv(k, v)
    from flit_pipelines.definitions import defs

    d = defs()
    with dg.instance_for_test() as instance:
        yield {"db": db, "defs": d, "instance": instance, "sensor": d.resolve_sensor_def(f"{M}_delta_pickup"),
               "data": tmp_path / "data"}


def evaluate(env, cursor: str | None):
    ctx = dg.build_sensor_context(instance=env["instance"], instance_ref=env["instance"].get_ref(), cursor=cursor,
                                  definitions=env["defs"])
    return env["sensor"].evaluate_tick(ctx)


def since_of(cursor: str, tenant: str = "default") -> str | None:
    """The ``since`` of one tenant in the sensor's cursor (one entry per tenant)."""
    return json.loads(split_cursor(cursor)[tenant])["since"]


def complete_full_wave(env) -> None:
    """What the sensor reads of a finished full wave: the report's materialisation and the extracts'
    modification columns (written here from the practice itself)."""
    with sqlite3.connect(env["db"]) as con:
        for obj, table in (("patients", "v_patient"), ("appointments", "v_appt")):
            stamps = pd.read_sql(f"SELECT modified_time_stamp FROM {table}", con)
            path = env["data"] / "parquet" / M / "extract" / obj / "full.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            stamps.to_parquet(path)
    env["instance"].report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey([M, "report"]), partition="full"))


def test_window_cursor_and_duplicate_ticks(env, monkeypatch):
    closed = evaluate(env, None)
    assert not closed.run_requests and "full wave has not completed" in closed.skip_message

    complete_full_wave(env)
    first = evaluate(env, None)  # first look of the window: fingerprints and key sets are new
    assert len(first.run_requests) == 1
    cursor = DeltaCursor.parse(split_cursor(first.cursor)["default"])
    with sqlite3.connect(env["db"]) as con:
        newest = con.execute("SELECT MAX(modified_time_stamp) FROM v_patient").fetchone()[0]
        newest = max(newest, con.execute("SELECT MAX(modified_time_stamp) FROM v_appt").fetchone()[0])
    assert cursor.since.replace("T", " ") >= newest
    request = first.run_requests[0]
    assert request.partition_key.startswith("delta-")
    assert [r.partition_keys for r in first.dynamic_partitions_requests] == [[request.partition_key]]

    again = evaluate(env, first.cursor)
    assert not again.run_requests and again.skip_message.startswith("no source changes")
    assert since_of(again.cursor) == cursor.since
    # a cursor stored before tenants (one DeltaCursor) is the default tenant's: the window goes on from it
    legacy = evaluate(env, split_cursor(first.cursor)["default"])
    assert not legacy.run_requests and legacy.skip_message.startswith("no source changes")
    assert split_cursor(legacy.cursor) == split_cursor(again.cursor)

    with sqlite3.connect(env["db"]) as con:
        con.execute("UPDATE v_patient SET preferred_name = 'Changed', modified_time_stamp = '2026-11-21 09:30:00' "
                    "WHERE patient_id IN (1, 2)")
    changed = evaluate(env, again.cursor)
    (req,) = changed.run_requests
    assert req.tags["flit/changed_objects"] == "patients"
    assert since_of(changed.cursor) == "2026-11-21T09:30:00"
    keys = {k.path[-1] for k in req.asset_selection if k.path[1] == "load"}
    assert "patients" in keys and "appointments" not in keys  # only targets fed by patients
    assert req.partition_key == "delta-" + (pd.Timestamp(cursor.since) - pd.Timedelta(minutes=5)).strftime(
        "%Y%m%dT%H%M%S")
    # the same tick evaluated twice (a daemon restart before the cursor was stored): the same run_key
    twice = evaluate(env, again.cursor)
    assert twice.run_requests[0].run_key == req.run_key
    assert evaluate(env, changed.cursor).skip_message.startswith("no source changes")

    full_at = json.loads(split_cursor(changed.cursor)["default"])["full_at"]
    monkeypatch.setattr(delta_sensor, "now", lambda: full_at + 48 * 3600 + 1)
    late = evaluate(env, changed.cursor)
    assert not late.run_requests and late.skip_message.startswith("delta window closed at")
    assert "48 h after the full wave" in late.skip_message


def test_window_is_configurable_within_24_to_48_hours():
    from pydantic import ValidationError

    from flit_pipelines.spec.model import DeltaConfig

    assert DeltaConfig(window_hours=24).window_hours == 24
    with pytest.raises(ValidationError):
        DeltaConfig(window_hours=72)
    with pytest.raises(ValidationError):
        DeltaConfig(window_hours=12)


def test_ticks_that_do_not_move_the_cursor_get_their_own_partition():
    from datetime import datetime

    from flit_pipelines.delta.window import next_partition, since_of

    used = {"delta-20240426T235500"}
    second = next_partition(datetime(2024, 4, 26, 23, 55), used.__contains__)
    assert second == "delta-20240426T235500-002" and since_of(second) == datetime(2024, 4, 26, 23, 55)
    used |= {second} | {f"delta-20240426T235500-{n:03d}" for n in range(3, 11)}
    eleventh = next_partition(datetime(2024, 4, 26, 23, 55), used.__contains__)
    assert eleventh == "delta-20240426T235500-011" and sorted(used | {eleventh})[-1] == eleventh


def save_full_wave_baseline(env) -> None:
    """What the full wave's source-profile step writes before its extracts read the source."""
    from flit_pipelines.assets.io_manager import ParquetStore
    from flit_pipelines.sources.registry import open_source
    from flit_pipelines.spec.load import load_all_specs

    spec = load_all_specs()[M]
    save_baseline(baseline_file(ParquetStore().root(), M), baseline_fingerprints(open_source(spec), spec))


def test_the_first_tick_compares_with_the_full_waves_baseline(env):
    save_full_wave_baseline(env)
    baseline = json.loads(baseline_file(env["data"] / "parquet", M).read_text())["fingerprints"]
    assert "patients#keys" in baseline and "appointments#keys" in baseline
    assert all(len(v) == 64 for v in baseline.values())  # content hashes, no values
    complete_full_wave(env)
    first = evaluate(env, None)  # nothing changed since the full wave started: no delta wave
    assert not first.run_requests and first.skip_message.startswith("no source changes")

    with sqlite3.connect(env["db"]) as con:  # a deletion leaves no timestamp: only the key set shows it
        con.execute("DELETE FROM v_appt WHERE appointment_id = (SELECT MIN(appointment_id) FROM v_appt)")
    (req,) = evaluate(env, None).run_requests  # the same first look, after the deletion
    assert req.tags["flit/changed_objects"] == "appointments"
