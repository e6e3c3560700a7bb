"""A SQLite practice file is profiled through schema inspection on the locked (read-only) connection."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from flit_pipelines.proposal.sources import read_database
from flit_pipelines.sources.database import DatabaseSource
from flit_sandboxes.dentrix_practice import build_practice


def test_a_sqlite_practice_is_profiled_and_its_connection_stays_locked(tmp_path):
    path = tmp_path / "practice.db"
    build_practice(path, patients=20, seed=3)
    prof = read_database(f"sqlite:///{path}", rows=200)
    assert "v_patient" in prof.objects and prof.where == "database schema admin"
    assert prof.objects["v_patient"].rows_profiled == 20
    assert {"first_name", "last_name", "birth_date"} <= set(prof.objects["v_patient"].columns)
    src = DatabaseSource.from_url(f"sqlite:///{path}")
    try:
        with src.connection() as conn, pytest.raises(DBAPIError, match="not authorized"):
            conn.exec_driver_sql("PRAGMA query_only = OFF")
    finally:
        src.close()
