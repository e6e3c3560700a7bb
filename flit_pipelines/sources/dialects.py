"""SQL dialect differences of the practice databases the database source reads, kept in one place.

Engines (``/work/shared/notes/sources.md`` §1.0): Dentrix G runs FairCom c-treeACE SQL (``ctree``),
Dentrix Enterprise Microsoft SQL Server (``mssql``); PostgreSQL and SQLite hold the synthetic practice
(``flit_sandboxes.dentrix_practice``) the tests and benchmarks read. Anything else is read as
``ansi`` (SQL:2008 ``FETCH FIRST``).

What differs, and what this module builds from it:

* identifiers: table and column names come from the spec (or from the database's own column list) and
  must match ``IDENTIFIER`` (``schema.name`` for tables); nothing else is ever put into SQL text, every
  value is a bound parameter (``?`` for pyodbc, ``:since`` for SQLAlchemy ``text()``);
* row limiting: ``SELECT TOP n`` (SQL Server, c-treeACE; [DXCORE-JS] uses ``TOP`` on Dentrix G),
  ``LIMIT n`` (PostgreSQL, SQLite), ``FETCH FIRST n ROWS ONLY`` (others);
* the delta filter ``<modified_at> > :since`` (§1.2) and the form of its parameter (a ``datetime`` for
  the drivers, ISO text for SQLite, whose practice file stores timestamps as text);
* a stable order: ``ORDER BY`` the primary key when the object has one;
* a read-only session (SQL statements run once per connection) and, for psqlODBC, the connection
  options that make it stream rows through a server cursor instead of buffering the whole result;
* which SQLSTATEs mean "no such table or view" (a missing view is a ``MissingFileError`` upstream);
* SQLite has no schemas: the practice file is attached read-only as ``admin`` (``attach_sqlite_readonly``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# SQLSTATEs for "base table or view not found": ODBC 3 / SQL Server (42S02), ODBC 2 (S0002),
# PostgreSQL undefined_table / invalid_schema_name (42P01 / 3F000).
_MISSING_STATES = frozenset({"42S02", "S0002", "42P01", "3F000"})
# FairCom ctreeSQL puts its own negative code in the message ("[ctreeSQL] -20148 ..." in §1.0);
# -20005 + "not found" is our reading of its "table/view not found" error: unverified, a fallback for
# a driver that reports no standard SQLSTATE.
_CTREE_MISSING = re.compile(r"-20005\b")

LimitStyle = Literal["top", "limit", "fetch"]


class InvalidIdentifierError(ValueError):
    """A table or column name that is not a plain SQL identifier (the name is quoted in the message)."""


@dataclass(frozen=True)
class Dialect:
    """How to talk to one database engine.

    Attributes:
        name: ``ctree`` | ``mssql`` | ``postgresql`` | ``sqlite`` | ``ansi``.
        quote: opening and closing identifier quote characters.
        limit_style: ``top`` | ``limit`` | ``fetch`` (see module docstring).
        session_sql: statements run once on every new connection (read-only session).
        odbc_stream_options: ODBC connection-string attributes added (when absent) so the driver
            streams a result instead of buffering it; ``{chunk}`` is replaced by the chunk size.
        since_as_text: bind ``since`` as ISO text (timestamps stored as text) instead of a datetime.
    """

    name: str
    quote: tuple[str, str] = ('"', '"')
    limit_style: LimitStyle = "fetch"
    session_sql: tuple[str, ...] = ()
    odbc_stream_options: dict[str, str] = field(default_factory=dict)
    since_as_text: bool = False

    def quote_identifier(self, name: str) -> str:
        """``name`` validated and quoted (case preserved, e.g. ``"patient_id"`` or ``[patient_id]``)."""
        return f"{self.quote[0]}{validate_identifier(name)}{self.quote[1]}"


DIALECTS: dict[str, Dialect] = {
    "ctree": Dialect("ctree", limit_style="top"),
    "mssql": Dialect("mssql", quote=("[", "]"), limit_style="top"),
    "postgresql": Dialect(
        "postgresql", limit_style="limit",
        session_sql=("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",),
        # psqlODBC buffers a whole result set unless told to use DECLARE/FETCH cursors
        odbc_stream_options={"UseDeclareFetch": "1", "Fetch": "{chunk}"}),
    "sqlite": Dialect("sqlite", limit_style="limit", since_as_text=True),
    "ansi": Dialect("ansi"),
}


def dialect_from_dbms_name(dbms_name: str | None) -> Dialect:
    """The dialect of an ODBC connection from ``conn.getinfo(pyodbc.SQL_DBMS_NAME)``.

    c-treeACE / FairCom DB SQL -> ``ctree``; Microsoft SQL Server -> ``mssql``; PostgreSQL; SQLite;
    anything else (or ``None``) -> ``ansi``.
    """
    low = (dbms_name or "").lower()
    if any(k in low for k in ("c-tree", "ctree", "faircom")):
        return DIALECTS["ctree"]
    if "sql server" in low:
        return DIALECTS["mssql"]
    if "postgres" in low:
        return DIALECTS["postgresql"]
    if "sqlite" in low:
        return DIALECTS["sqlite"]
    return DIALECTS["ansi"]


def dialect_from_sqlalchemy(name: str) -> Dialect:
    """The dialect of a SQLAlchemy engine from ``engine.dialect.name`` (``postgresql``, ``mssql``, ...)."""
    return DIALECTS.get(name, DIALECTS["ansi"])


def validate_identifier(name: str) -> str:
    """``name`` if it is a plain identifier (letters, digits, ``_``; not starting with a digit).

    Raises InvalidIdentifierError otherwise.
    """
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise InvalidIdentifierError(f"not a plain SQL identifier: {name!r}")
    return name


def table_reference(table: str) -> str:
    """A spec table name (``admin.v_patient`` or ``v_patient``) validated part by part.

    Left unquoted on purpose: the engine folds its case the way the spec writer expects (FairCom:
    upper-case table names work only unquoted). Raises InvalidIdentifierError.
    """
    parts = str(table).split(".")
    if not 1 <= len(parts) <= 2:
        raise InvalidIdentifierError(f"not a [schema.]table name: {table!r}")
    return ".".join(validate_identifier(p) for p in parts)


def probe_sql(table: str) -> str:
    """A zero-row query whose cursor description lists the object's columns."""
    return f"SELECT * FROM {table_reference(table)} WHERE 1 = 0"


def select_sql(dialect: Dialect, table: str, columns: list[str], *, since_column: str | None = None,
               order_by: str | None = None, limit: int | None = None, placeholder: str = "?") -> str:
    """``SELECT <columns> FROM <table> [WHERE <since_column> > ?] [ORDER BY <pk>] [limit]``.

    ``columns``, ``since_column`` and ``order_by`` are the database's own column names (quoted);
    ``placeholder`` is the driver's parameter marker (``?`` pyodbc, ``:since`` SQLAlchemy).
    Raises InvalidIdentifierError for a bad name, ValueError for an empty column list or ``limit < 0``.
    """
    if not columns:
        raise ValueError(f"{table}: nothing to select")
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")
    cols = ", ".join(dialect.quote_identifier(c) for c in columns)
    top = f"TOP {int(limit)} " if limit is not None and dialect.limit_style == "top" else ""
    sql = f"SELECT {top}{cols} FROM {table_reference(table)}"
    if since_column is not None:
        sql += f" WHERE {dialect.quote_identifier(since_column)} > {placeholder}"
    if order_by is not None:
        sql += f" ORDER BY {dialect.quote_identifier(order_by)}"
    if limit is not None and dialect.limit_style == "limit":
        sql += f" LIMIT {int(limit)}"
    elif limit is not None and dialect.limit_style == "fetch":
        sql += f" FETCH FIRST {int(limit)} ROWS ONLY"
    return sql


def since_parameter(dialect: Dialect, since: datetime) -> datetime | str:
    """The bound value for ``<modified_at> > ?``.

    ``since`` must be naive: Dentrix stores the practice server's local time without a zone, so an
    aware value has no single right conversion (ValueError). SQLite gets ISO text with a space
    separator, which compares correctly with its ``YYYY-MM-DD HH:MM:SS`` text.
    """
    if since.tzinfo is not None:
        raise ValueError("since must be a naive datetime in the source's local time")
    return since.isoformat(sep=" ") if dialect.since_as_text else since


def odbc_connection_string(conn_str: str, dialect: Dialect, chunk_rows: int) -> str:
    """``conn_str`` plus the dialect's streaming options the string does not already set."""
    present = {part.split("=", 1)[0].strip().lower() for part in conn_str.split(";") if "=" in part}
    extra = [f"{k}={v.format(chunk=chunk_rows)}" for k, v in dialect.odbc_stream_options.items()
             if k.lower() not in present]
    if not extra:
        return conn_str
    return conn_str.rstrip().rstrip(";") + ";" + ";".join(extra) + ";"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error (pyodbc ``args[0]``, psycopg2 ``pgcode``), through SQLAlchemy's
    wrapper; ``None`` when the driver gives none (sqlite3)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if code:
        return str(code)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0]
    return None


def is_missing_object(exc: BaseException) -> bool:
    """True when a failed probe means "no such table or view" (not a permission or connection error)."""
    if sqlstate(exc) in _MISSING_STATES:
        return True
    orig = getattr(exc, "orig", None) or exc
    text = str(orig)
    if isinstance(orig, sqlite3.OperationalError):
        return text.startswith("no such table")
    return bool(_CTREE_MISSING.search(text)) and "not found" in text.lower()


def attach_sqlite_readonly(conn: sqlite3.Connection, path: str | Path, schema: str = "admin") -> None:
    """Attach a SQLite practice file read-only as ``schema`` so ``admin.v_patient`` resolves.

    ``conn`` must have been opened with ``uri=True`` (``mode=ro`` is a URI parameter). The file must
    exist (FileNotFoundError; SQLite would otherwise fail later with a less clear error).
    """
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise FileNotFoundError(f"SQLite database file not found: {p}")
    conn.execute(f"ATTACH DATABASE ? AS {validate_identifier(schema)}", (f"{p.as_uri()}?mode=ro",))
