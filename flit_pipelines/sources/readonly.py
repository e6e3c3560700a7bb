"""The source database is only ever read: the statement guard and the login check.

A read-only *session* is a default, not a lock: PostgreSQL's ``SET SESSION CHARACTERISTICS AS
TRANSACTION READ ONLY`` is undone by ``SET TRANSACTION READ WRITE``; ODBC's ``SQL_ATTR_ACCESS_MODE``
is a hint drivers may ignore; a SQLite connection can ``ATTACH`` the same file again read-write. So:

* **statement guard** (``require_select``), applied where the database source issues SQL: exactly
  one statement, a ``SELECT`` (``WITH ... SELECT`` and set operations of SELECTs included), parsed
  with sqlglot (https://sqlglot.com) in the engine's dialect, and no data-changing or locking part
  anywhere in it (``INSERT/UPDATE/DELETE/MERGE`` in a CTE, ``SELECT ... INTO``, ``FOR UPDATE``).
  Anything else raises ``WriteStatementRefused`` before it reaches the driver.
* **SQLite lock** (``lock_sqlite``): besides the file being attached with ``mode=ro``, ``PRAGMA
  query_only`` refuses every write, and an authorizer (``sqlite3.Connection.set_authorizer``;
  SQLite "Compile-Time Authorization Callbacks") refuses ATTACH, DETACH and setting any pragma, so
  neither can be undone on the connection.
* **login check** (``login_write_access``), run once at connect time: whether the *login* could
  write, from the engine's catalog where it tells (PostgreSQL: superuser, INSERT/UPDATE/DELETE/
  TRUNCATE on any table, CREATE in any schema, via ``has_table_privilege``/``has_schema_privilege``;
  SQLite: the guard above makes the connection read-only). Other engines (SQL Server, FairCom
  c-treeACE, MariaDB/MySQL) are not checked here: the warning says what the practice's DBA must grant
  instead (SQL Server: ``db_datareader`` only, no ``db_datawriter``/``db_owner``/``sysadmin``;
  MariaDB/MySQL: ``GRANT SELECT`` only; c-treeACE: a user with SELECT privilege only).

Messages name statement kinds and privilege kinds, never a connection string, user name or value.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

__all__ = ["LoginCheck", "WriteStatementRefused", "lock_sqlite", "login_write_access", "require_select"]

log = logging.getLogger(__name__)

SQLGLOT_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "ctree": "tsql", "sqlite": "sqlite", "ansi": None}
_LEADING = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(\w+)", re.S)
_WRITING_NODES = tuple(getattr(exp, n) for n in ("Insert", "Update", "Delete", "Merge", "Into", "Lock", "Command",
                                                 "Create", "Drop", "Alter", "Copy", "Set", "Transaction", "Execute",
                                                 "Attach", "Detach", "Pragma", "Grant", "Revoke", "TruncateTable")
                       if hasattr(exp, n))


class WriteStatementRefused(PermissionError):
    """A statement other than one SELECT was about to be sent to the source database."""


def require_select(sql: str, dialect: str = "ansi") -> None:
    """Allow exactly one SELECT statement (``dialect``: the source's ``Dialect.name``).

    Raises WriteStatementRefused naming what was found (statement kind or part), never the SQL."""
    m = _LEADING.match(sql or "")
    first = m.group(1).upper() if m else ""
    if first not in ("SELECT", "WITH"):
        raise WriteStatementRefused(f"refused: only SELECT statements are sent to the source database "
                                    f"(this one starts with {first or 'nothing'})")
    try:
        statements = [s for s in sqlglot.parse(sql, read=SQLGLOT_DIALECTS.get(dialect)) if s is not None]
    except SqlglotError:
        raise WriteStatementRefused("refused: the statement could not be parsed as one SELECT") from None
    if len(statements) != 1:
        raise WriteStatementRefused(f"refused: {len(statements)} statements where one SELECT is allowed")
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        raise WriteStatementRefused(f"refused: a {type(stmt).__name__} statement is not a SELECT")
    bad = next(stmt.find_all(*_WRITING_NODES), None)
    if bad is not None:
        raise WriteStatementRefused(f"refused: a SELECT with a {type(bad).__name__} part could change data")


# --- SQLite ----------------------------------------------------------------------------------------

_SQLITE_DENIED = frozenset(getattr(sqlite3, n) for n in ("SQLITE_ATTACH", "SQLITE_DETACH") if hasattr(sqlite3, n))


# Pragmas that only describe the schema: their argument is a table or index name, not a new value
# (SQLAlchemy's inspector reads columns with ``PRAGMA main.table_xinfo("name")``).
_SQLITE_SCHEMA_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list", "index_info",
                                    "index_xinfo", "foreign_key_list", "database_list", "collation_list"})


def _authorize(action: int, arg1: Any, arg2: Any, _db: Any, _source: Any) -> int:
    if action in _SQLITE_DENIED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and arg2 is not None and str(arg1).lower() not in _SQLITE_SCHEMA_PRAGMAS:
        return sqlite3.SQLITE_DENY  # setting a pragma (query_only = OFF...)
    return sqlite3.SQLITE_OK


def lock_sqlite(conn: sqlite3.Connection) -> None:
    """From now on ``conn`` only reads: ``PRAGMA query_only`` makes every write fail with SQLite's
    "attempt to write a readonly database", and an authorizer refuses what could undo that (ATTACH,
    DETACH, setting any pragma: "not authorized"). Run after the practice file is attached."""
    conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(_authorize)


# --- the login ------------------------------------------------------------------------------------

_PG_WRITE_ACCESS = """
SELECT (SELECT CASE WHEN rolsuper THEN 1 ELSE 0 END FROM pg_roles WHERE rolname = current_user) AS superuser,
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_%'
           AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS writable_tables,
       (SELECT count(*) FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_%' AND has_schema_privilege(n.oid, 'CREATE')) AS creatable_schemas
"""

_ADVICE = {
    "postgresql": "grant the login CONNECT, USAGE on the schema and SELECT on the views only",
    "mssql": "use a login in db_datareader only (not db_datawriter, db_owner or sysadmin)",
    "ctree": "use a FairCom DB user with SELECT privilege only",
}
_DEFAULT_ADVICE = "use a login that may only SELECT (MariaDB/MySQL: GRANT SELECT only)"


@dataclass(frozen=True)
class LoginCheck:
    """What the connect-time check found: ``verified`` (the engine told us), and the kinds of write
    access the login has (empty: read-only login). Counts and kinds only."""

    dialect: str
    verified: bool
    write_access: list[str] = field(default_factory=list)

    @property
    def read_only(self) -> bool:
        """True when the engine confirmed the login cannot write."""
        return self.verified and not self.write_access


def login_write_access(cursor_execute, dialect: str) -> LoginCheck:
    """Check the login's privileges and log a warning when it could write (or cannot be checked).

    ``cursor_execute(sql) -> list of row tuples`` runs one SELECT on the new connection.
    SQLite is read-only by ``lock_sqlite``; PostgreSQL is asked (module docstring); other engines
    are reported as not verified."""
    if dialect == "sqlite":
        return LoginCheck(dialect, True)
    if dialect != "postgresql":
        log.warning("source database (%s): the login's privileges cannot be checked on this engine; only SELECT "
                    "statements are sent, but make sure the login is read-only: %s", dialect,
                    _ADVICE.get(dialect, _DEFAULT_ADVICE))
        return LoginCheck(dialect, False)
    try:
        superuser, tables, schemas = cursor_execute(_PG_WRITE_ACCESS)[0]
    except Exception as exc:  # a catalog we may not read: say so, do not stop the extract
        log.warning("source database (postgresql): the login's privileges could not be checked (%s); make sure "
                    "the login is read-only: %s", type(exc).__name__, _ADVICE["postgresql"])
        return LoginCheck(dialect, False)
    superuser, tables, schemas = int(superuser or 0), int(tables or 0), int(schemas or 0)  # psqlODBC: text
    access = (["superuser"] if superuser else []) + \
        ([f"INSERT/UPDATE/DELETE/TRUNCATE on {tables} tables or views"] if tables else []) + \
        ([f"CREATE in {schemas} schemas"] if schemas else [])
    if access:
        log.warning("source database (postgresql): the login can write (%s). The session is read-only and only "
                    "SELECT statements are sent, but a read-only login is the real guard: %s", "; ".join(access),
                    _ADVICE["postgresql"])
    return LoginCheck(dialect, True, access)
