"""Tenants on one PostgreSQL ledger (``FLIT_LEDGER_URL``): a schema each, so one tenant's re-run or
rollback cannot read or touch another's rows. Against the local PostgreSQL server."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.ledger.ledger import RecordOutcome
from flit_pipelines.sources.registry import ConfigurationError
from flit_pipelines_tests.integration.test_postgres import pg_database  # noqa: F401 - the fixture

M = "clinic_to_pipedrive"


def test_each_tenant_has_its_own_ledger_schema_on_one_server(pg_database, monkeypatch):  # noqa: F811
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}"
    monkeypatch.setenv("FLIT_LEDGER_URL", url)
    ledgers = {t: FlitResource().for_tenant(t).ledger() for t in ("default", "north", "south-2")}
    for t, ledger in ledgers.items():
        ledger.record_many(migration=M, target="persons", run_id=f"run-{t}", wave="full",
                           outcomes=[RecordOutcome(source_id=f"{t}-p1", operation="create", dest_id="1"),
                                     RecordOutcome(source_id=f"{t}-p2", operation="create", dest_id="2")])
    # same migration, same target, same destination IDs: each tenant reads only its own rows
    for t, ledger in ledgers.items():
        assert sorted(ledger.crosswalk_frame(M, "persons")["source_id"]) == [f"{t}-p1", f"{t}-p2"]
    ledgers["north"].forget(M, "persons", ["north-p1", "south-2-p1", "default-p1"])  # a rollback's forget
    assert sorted(ledgers["north"].crosswalk_frame(M, "persons")["source_id"]) == ["north-p2"]
    assert sorted(ledgers["south-2"].crosswalk_frame(M, "persons")["source_id"]) == ["south-2-p1", "south-2-p2"]
    assert sorted(ledgers["default"].crosswalk_frame(M, "persons")["source_id"]) == ["default-p1", "default-p2"]
    with create_engine(url).connect() as conn:
        schemas = {r[0] for r in conn.execute(text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'crosswalk'"))}
    assert schemas == {"public", "flit_tenant_north", "flit_tenant_south_2"}


def test_a_tenant_on_a_sqlite_ledger_url_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIT_LEDGER_URL", f"sqlite:///{tmp_path / 'shared.db'}")
    with pytest.raises(ConfigurationError, match="tenant north: FLIT_LEDGER_URL is not a PostgreSQL URL"):
        FlitResource().for_tenant("north").ledger()
    assert FlitResource().ledger().url.endswith("shared.db")  # the default tenant keeps using it
