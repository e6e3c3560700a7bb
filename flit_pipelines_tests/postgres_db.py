"""A fresh PostgreSQL database on the local server (127.0.0.1:5432, trust auth), dropped on exit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

PG = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def fresh_database(prefix: str = "flit_test") -> Iterator[str]:
    """Create a database named ``<prefix>_<random>``; yield its SQLAlchemy URL (psycopg2 driver); drop it
    (closing its connections) on exit. Raises psycopg2.OperationalError when the server is unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(f"{PG}/postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
