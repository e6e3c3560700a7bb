"""PostgreSQL: the committed Dagster instance config and the ledger, against the local server."""

from __future__ import annotations

import shutil
import uuid

import psycopg2
import pytest
from sqlalchemy import create_engine, text

from flit_pipelines.cli import report, run_wave
from flit_pipelines.runtime import PROJECT_ROOT, default_dagster_home

PG = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def pg_database():
    name = f"flit_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg2.connect(f"{PG}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:  # pragma: no cover - the CI machine has PostgreSQL
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for this test: {exc}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def test_postgres_selected_by_environment(monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    assert default_dagster_home() == PROJECT_ROOT / "dagster_home"
    monkeypatch.setenv("DAGSTER_PG_URL", f"{PG}/dagster")
    assert default_dagster_home() == PROJECT_ROOT / "dagster_home" / "postgres"


def test_migration_on_postgres_instance_and_ledger(migration_env, pg_database, monkeypatch):
    home = migration_env["tmp"] / "pg_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}")
    monkeypatch.setenv("FLIT_LEDGER_URL", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}")

    assert run_wave("clinic_to_pipedrive", "full", quiet=True) is True
    assert report("clinic_to_pipedrive", "full")["all_checks_passed"] is True

    engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}")
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT count(*) FROM runs")).scalar()
        materializations = conn.execute(text(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")).scalar()
        persons = conn.execute(text(
            "SELECT count(*) FROM crosswalk WHERE migration = 'clinic_to_pipedrive' AND target = 'persons'")).scalar()
        audit = conn.execute(text("SELECT count(*) FROM audit_event WHERE operation = 'create'")).scalar()
    engine.dispose()
    assert runs == 1
    assert materializations >= 30  # every asset of the group, in Postgres event storage
    assert persons == 4
    assert audit > 20
