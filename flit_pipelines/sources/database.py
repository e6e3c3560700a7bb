"""Dentrix practice database reader: SELECT-only, over ODBC (pyodbc) or a SQLAlchemy URL.

Follows ``/work/shared/notes/sources.md`` §1: Dentrix G is FairCom c-treeACE SQL over its ODBC driver
(database ``DentrixSQL``), Dentrix Enterprise is SQL Server (ODBC Driver 18); the developer views live
in schema ``admin``; §1.2's modified-at columns drive ``since`` (delta pickup). Dialect differences
are in ``flit_pipelines.sources.dialects``.

Guarantees:

* **SELECT only, built here**: ``SELECT <declared columns> FROM <spec table> [WHERE <modified_at> > ?]
  [ORDER BY <primary key>]``; names are validated identifiers, values bound parameters.
* **Read-only session** where the engine allows: pyodbc ``readonly=True`` (SQL_ATTR_ACCESS_MODE),
  PostgreSQL ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`` on every connection (psqlODBC
  ignores the ODBC attribute), SQLite files attached with ``mode=ro``. ODBC defines the attribute as
  a hint; whether the SQL Server and c-treeACE drivers enforce it is not verified, so there the DDP's
  read-only login is the real guard.
* **Only SELECT reaches the driver** (``sources.readonly.require_select``, every driver): a session
  default can be switched back (``SET TRANSACTION READ WRITE``), so the two session methods that
  issue SQL refuse anything but one SELECT. SQLite connections are locked by an authorizer (no
  ATTACH, no writes, no pragma changes).
* **Login check at connect time** (``sources.readonly.login_write_access``, once per source): a
  warning says when the login itself can write (PostgreSQL: superuser, write privileges, CREATE) or
  when the engine cannot be asked; ``DatabaseSource.login_check`` holds the result.
* **Bounded memory**: rows are fetched ``chunk_rows`` at a time (pyodbc ``fetchmany``; SQLAlchemy
  ``yield_per``, a server-side cursor on PostgreSQL; psqlODBC gets ``UseDeclareFetch``).
* **Canonical text** (``sources.base``), converted column-wise with pyarrow: integers ``123``,
  decimals/floats in plain notation without trailing zeros (``278``, ``12.5``; never ``1e+20``),
  dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``, booleans ``true``/``false``
  (``1``/``0`` for numeric spec types); empty text becomes null, as in the CSV reader.
* **Redacted errors**: connection strings, URLs, passwords and values never appear in an exception
  or a log line; errors carry the object name, the driver's error class and SQLSTATE.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flit_pipelines.sources.csv_export import HeaderReport, MissingColumnError, MissingFileError
from flit_pipelines.sources.dialects import (
    Dialect,
    attach_sqlite_readonly,
    dialect_from_dbms_name,
    dialect_from_sqlalchemy,
    is_missing_object,
    odbc_connection_string,
    probe_sql,
    select_sql,
    since_parameter,
    sqlstate,
    table_reference,
)
from flit_pipelines.sources.readonly import LoginCheck, lock_sqlite, login_write_access, require_select
from flit_pipelines.spec.model import SourceObject

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 30
# What an SQLSTATE class means, for error messages that cannot quote the driver's text.
_STATE_HINTS = {"01": "warning; unixODBC: driver library not loadable", "08": "cannot connect",
                "28": "login rejected", "3D": "database not found", "IM": "ODBC driver or data source not found",
                "42": "syntax error or access rule violation", "25": "read-only transaction",
                "HY": "driver error", "HYT": "timeout"}


class DatabaseSourceError(RuntimeError):
    """A database error, redacted: object name, driver error class and SQLSTATE; never a connection
    string, password or value."""


class DatabaseConnectionError(DatabaseSourceError):
    """Connecting failed (bad driver, server, database or login); the message names no credential."""


def describe_error(exc: BaseException) -> str:
    """``"<DriverErrorClass> SQLSTATE <state> (<meaning>)"``: safe to log, no driver message text."""
    orig = getattr(exc, "orig", None) or exc
    state = sqlstate(exc)
    if state is None:
        return type(orig).__name__
    hint = _STATE_HINTS.get(state[:3]) or _STATE_HINTS.get(state[:2])
    return f"{type(orig).__name__} SQLSTATE {state}" + (f" ({hint})" if hint else "")


# --- canonical text, column-wise ---------------------------------------------------------------------

_NUMERIC_TYPES = frozenset({"int", "float", "money"})


def _strip_zeros(text: pa.Array) -> pa.Array:
    """``278.00`` -> ``278``, ``-0.50`` -> ``-0.5`` (plain decimals only)."""
    text = pc.replace_substring_regex(text, r"^(-?\d+\.\d*?)0+$", r"\1")
    return pc.replace_substring_regex(text, r"^(-?\d+)\.$", r"\1")


def _float_text(arr: pa.Array) -> pa.Array:
    arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
    text = pc.cast(arr, pa.string())
    exp = pc.fill_null(pc.match_substring(text, "e"), False)
    if pc.any(exp).as_py():
        # pyarrow writes 1e+20 / 1.2e-07; the few such values get numpy's positional form
        out = text.to_numpy(zero_copy_only=False)
        vals = arr.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(exp.to_numpy(zero_copy_only=False)):
            out[i] = np.format_float_positional(vals[i], trim="-")
        text = pa.array(out, pa.string())
    return text


def _narrow_time(arr: pa.Array, unit_type: pa.DataType) -> pa.Array:
    """Drop an all-zero fraction (``11:09:33.000000`` -> ``11:09:33``); keep it when any is set."""
    try:
        return arr.cast(unit_type)
    except pa.ArrowInvalid:
        return arr


def arrow_text(arr: pa.Array, ctype: str = "string") -> pa.Array:
    """One column as canonical text (``pa.string()``); ``ctype`` is the spec type.

    Raises ValueError for a type with no text form (lists, structs, non-UTF-8 binary).
    """
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        arr = arr.cast(pa.string())
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(arr, pa.int8()) if ctype in _NUMERIC_TYPES else arr, pa.string())
    if pa.types.is_integer(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_floating(t):
        return _float_text(arr)
    if pa.types.is_decimal(t):
        return _strip_zeros(pc.cast(arr, pa.string()))
    if pa.types.is_timestamp(t):
        if ctype == "date":
            day = arr.cast(pa.date32())
            if pc.all(pc.equal(day.cast(t), arr)).as_py() is not False:
                return pc.cast(day, pa.string())
        return pc.cast(_narrow_time(arr, pa.timestamp("s", t.tz)), pa.string())
    if pa.types.is_date(t):
        return pc.cast(arr.cast(pa.date32()), pa.string())
    if pa.types.is_time(t):
        return pc.cast(_narrow_time(arr, pa.time32("s")), pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return arrow_text(arr.cast(pa.string()), ctype)
        except pa.ArrowInvalid:
            raise ValueError("binary column is not UTF-8 text") from None
    raise ValueError(f"no text form for column type {t}")


def _scalar_text(v: Any) -> str | None:
    """Text of one value (only for columns that mix Python types, e.g. SQLite's dynamic typing)."""
    if v is None:
        return None
    try:
        return arrow_text(pa.array([v])).to_pylist()[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
        return str(v)


def column_text(values: Sequence[Any], ctype: str = "string") -> pa.Array:
    """A column of Python values (as a DB-API driver returns them) as canonical text."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed types in one column: convert value by value (rare; SQLite only in practice)
        return pa.array([_scalar_text(v) for v in values], pa.string())
    return arrow_text(arr, ctype)


# --- connections ---------------------------------------------------------------------------------------


class _OdbcSession:
    """One pyodbc connection: column probe and chunked SELECT."""

    placeholder = "?"

    def __init__(self, conn: Any, chunk_rows: int, dialect: str):
        self.conn, self.chunk_rows, self.dialect = conn, chunk_rows, dialect

    def columns(self, sql: str) -> list[str]:
        require_select(sql, self.dialect)
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return [d[0] for d in cur.description]
        finally:
            cur.close()

    def stream(self, sql: str, since: Any) -> Iterator[list]:
        require_select(sql, self.dialect)
        cur = self.conn.cursor()
        try:
            cur.arraysize = self.chunk_rows
            cur.execute(sql, *([] if since is None else [since]))
            while rows := cur.fetchmany(self.chunk_rows):
                yield rows
        finally:
            cur.close()


class _OdbcBackend:
    """Connections from an ODBC connection string (kept private; never shown)."""

    def __init__(self, conn_str: str, chunk_rows: int):
        try:
            import pyodbc
        except ImportError:
            raise DatabaseConnectionError(
                "pyodbc cannot load unixODBC (libodbc): install the unixodbc package (scripts/dev does)") from None
        self._pyodbc = pyodbc
        self._conn_str = conn_str
        self._effective: str | None = None
        self._dialect: Dialect | None = None
        self.chunk_rows = chunk_rows
        self.errors: tuple[type[BaseException], ...] = (pyodbc.Error,)
        self.login: LoginCheck | None = None

    def __repr__(self) -> str:
        return "<ODBC connection (redacted)>"

    def _open(self, conn_str: str) -> Any:
        try:
            return self._pyodbc.connect(conn_str, readonly=True, autocommit=True, timeout=LOGIN_TIMEOUT_S)
        except self._pyodbc.Error as exc:
            raise DatabaseConnectionError(f"ODBC connection failed: {describe_error(exc)}") from None

    def _connect(self) -> Any:
        if self._effective is not None:
            conn = self._open(self._effective)
        else:
            # first connection: learn the engine, then reconnect if it needs streaming options
            conn = self._open(self._conn_str)
            try:
                name = conn.getinfo(self._pyodbc.SQL_DBMS_NAME)
            except self._pyodbc.Error:
                name = None
            self._dialect = dialect_from_dbms_name(name)
            self._effective = odbc_connection_string(self._conn_str, self._dialect, self.chunk_rows)
            if self._effective != self._conn_str:
                conn.close()
                conn = self._open(self._effective)
        try:
            for stmt in self._dialect.session_sql:
                conn.execute(stmt)
        except self._pyodbc.Error as exc:
            conn.close()
            raise DatabaseConnectionError(f"ODBC session setup failed: {describe_error(exc)}") from None
        if self.login is None:
            self.login = login_write_access(lambda q: conn.cursor().execute(q).fetchall(), self._dialect.name)
        return conn

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self._connect().close()
        return self._dialect

    @contextmanager
    def session(self) -> Iterator[_OdbcSession]:
        conn = self._connect()
        try:
            yield _OdbcSession(conn, self.chunk_rows, self.dialect.name)
        finally:
            conn.close()

    def close(self) -> None:
        pass


class _SqlAlchemySession:
    """One SQLAlchemy connection: column probe and chunked SELECT (``yield_per`` streams)."""

    placeholder = ":since"

    def __init__(self, conn: Any, chunk_rows: int, dialect: str):
        self.conn, self.chunk_rows, self.dialect = conn, chunk_rows, dialect

    def columns(self, sql: str) -> list[str]:
        from sqlalchemy import text

        require_select(sql, self.dialect)
        result = self.conn.execute(text(sql))
        try:
            return list(result.keys())
        finally:
            result.close()

    def stream(self, sql: str, since: Any) -> Iterator[list]:
        from sqlalchemy import text

        require_select(sql, self.dialect)
        result = self.conn.execution_options(yield_per=self.chunk_rows).execute(
            text(sql), {} if since is None else {"since": since})
        try:
            yield from result.partitions(self.chunk_rows)
        finally:
            result.close()


def _sqlite_creator(path: str):
    """A connection factory: in-memory main database with the practice file attached read-only as
    admin, then locked (``readonly.lock_sqlite``: no further ATTACH, no writes)."""
    def create() -> sqlite3.Connection:
        conn = sqlite3.connect("file::memory:", uri=True, check_same_thread=False)
        attach_sqlite_readonly(conn, path)
        lock_sqlite(conn)
        return conn
    return create


class _SqlAlchemyBackend:
    """Connections from a SQLAlchemy URL (kept private; never shown)."""

    def __init__(self, url: str, chunk_rows: int):
        from sqlalchemy import create_engine, event, exc
        from sqlalchemy.engine import make_url

        try:
            u = make_url(url)
        except exc.ArgumentError:
            raise DatabaseConnectionError("database URL is not a valid SQLAlchemy URL") from None
        if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
            self.engine = create_engine("sqlite://", creator=_sqlite_creator(u.database))
        else:
            connect_args = {"readonly": True} if u.get_driver_name() == "pyodbc" else {}
            try:
                self.engine = create_engine(u, connect_args=connect_args)
            except (exc.ArgumentError, ImportError) as e:
                raise DatabaseConnectionError(f"database URL not usable: {type(e).__name__}") from None
        self.dialect = dialect_from_sqlalchemy(self.engine.dialect.name)
        if self.dialect.session_sql:
            event.listen(self.engine, "connect", self._on_connect)
        self.chunk_rows = chunk_rows
        self.errors: tuple[type[BaseException], ...] = (exc.DBAPIError, sqlite3.Error)
        self.login: LoginCheck | None = None

    def __repr__(self) -> str:
        return "<database URL (redacted)>"

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for stmt in self.dialect.session_sql:
            cur.execute(stmt)
        cur.close()
        dbapi_conn.commit()  # the SET ran inside the driver's implicit transaction

    @contextmanager
    def session(self) -> Iterator[_SqlAlchemySession]:
        try:
            conn = self.engine.connect()
        except (*self.errors, FileNotFoundError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise DatabaseConnectionError("database connection failed: SQLite file not found") from None
            raise DatabaseConnectionError(f"database connection failed: {describe_error(exc)}") from None
        try:
            if self.login is None:
                from sqlalchemy import text

                self.login = login_write_access(lambda q: conn.execute(text(q)).fetchall(), self.dialect.name)
            yield _SqlAlchemySession(conn, self.chunk_rows, self.dialect.name)
        finally:
            conn.close()

    def close(self) -> None:
        self.engine.dispose()


# --- the source ------------------------------------------------------------------------------------------


class DatabaseSource:
    """Reads spec objects (``table: admin.v_patient``) from a practice database (Source protocol).

    Build with ``from_odbc`` or ``from_url``; each ``header``/``read`` opens its own connection and
    closes it when done (a ``read`` holds one while its batches are consumed).

    ``chunk_rows`` (constructors, >= 1): rows fetched and yielded per record batch.
    """

    def __init__(self, backend: _OdbcBackend | _SqlAlchemyBackend):
        self._backend = backend

    @staticmethod
    def _chunk(chunk_rows: int) -> int:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        return int(chunk_rows)

    @property
    def chunk_rows(self) -> int:
        """Rows per fetch and per record batch."""
        return self._backend.chunk_rows

    @classmethod
    def from_odbc(cls, conn_str: str, *, chunk_rows: int = 50_000) -> "DatabaseSource":
        """A source over an ODBC connection string (``Driver={...};...`` or ``DSN=...``).

        Dentrix G: the string ``DENTRIXAPI_GetConnectionString`` returns (c-treeACE ODBC driver,
        database ``DentrixSQL``, §1.0); Enterprise: ``Driver={ODBC Driver 18 for SQL Server};...``.
        Connects lazily. Raises DatabaseConnectionError when pyodbc cannot load unixODBC, ValueError
        for ``chunk_rows < 1``.
        """
        return cls(_OdbcBackend(conn_str, cls._chunk(chunk_rows)))

    @classmethod
    def from_url(cls, url: str, *, chunk_rows: int = 50_000) -> "DatabaseSource":
        """A source over a SQLAlchemy URL: ``postgresql+psycopg2://...``, ``mssql+pyodbc://...``, or
        ``sqlite:///practice.db`` (the file attached read-only as ``admin``).

        Raises DatabaseConnectionError for an unusable URL (the URL is not quoted).
        """
        return cls(_SqlAlchemyBackend(url, cls._chunk(chunk_rows)))

    def __repr__(self) -> str:
        return f"DatabaseSource({self._backend!r}, chunk_rows={self.chunk_rows})"

    @property
    def dialect(self) -> Dialect:
        """The engine's dialect (ODBC: detected on the first connection)."""
        return self._backend.dialect

    @property
    def login_check(self) -> LoginCheck:
        """Whether the login can write (``readonly.LoginCheck``), checked on the first connection
        (connects now if none was made yet). Raises DatabaseConnectionError like ``header``."""
        if self._backend.login is None:
            with self._backend.session():
                pass
        return self._backend.login

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection with the source's read-only session (pyodbc connection or SQLAlchemy
        Connection), for diagnostics and tests; closed on exit."""
        with self._backend.session() as session:
            yield session.conn

    def close(self) -> None:
        """Release pooled connections (SQLAlchemy); the source can still be used afterwards."""
        self._backend.close()

    def __enter__(self) -> "DatabaseSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probe(self, session: Any, obj: SourceObject, table: str) -> HeaderReport:
        try:
            real = session.columns(probe_sql(table))
        except self._backend.errors as exc:
            if not is_missing_object(exc):
                raise DatabaseSourceError(f"{table}: column probe failed: {describe_error(exc)}") from None
            if obj.optional:
                return HeaderReport(file=table, present=False, missing_optional=list(obj.columns))
            raise MissingFileError(f"{table}: view or table not found in the database") from None
        # ODBC drivers fold identifier case differently: match case-insensitively, select real names
        by_lower = {name.lower(): name for name in real}
        rename: dict[str, str] = {}
        missing_optional: list[str] = []
        for name, col in obj.columns.items():
            src = col.source or name
            found = by_lower.get(src.lower())
            if found is not None:
                rename[found] = name
            elif col.required:
                raise MissingColumnError(f"{table}: required column {src!r} is missing")
            else:
                missing_optional.append(name)
        extra = [c for c in real if c not in rename]
        return HeaderReport(file=table, present=True, rename=rename, missing_optional=missing_optional,
                            extra=extra)

    def header(self, obj: SourceObject) -> HeaderReport:
        """Compare the view's columns (zero-row probe) with the spec.

        ``rename`` maps the database's column names to canonical names (matched case-insensitively
        on ``ColumnSpec.source`` or the canonical name); ``file`` is the table name.

        Raises:
            MissingFileError: the view/table does not exist and ``obj.optional`` is false
                (optional: ``present=False``, zero rows).
            MissingColumnError: a required column is absent (names table and column).
            DatabaseConnectionError, DatabaseSourceError: connection or query failure (redacted).
        """
        table = self._table(obj)
        with self._backend.session() as session:
            return self._probe(session, obj, table)

    def read(self, obj: SourceObject, since: datetime | None = None, *,
             limit: int | None = None) -> Iterator[pa.RecordBatch]:
        """Yield text record batches (<= ``chunk_rows`` rows) of the declared columns, canonical names
        in spec order; absent optional columns are all-null.

        ``since`` (naive, source-local time; §1.2) keeps rows whose ``obj.modified_at`` is after it;
        an object without a modified-at column is read whole (logged). ``limit`` caps the rows
        (``TOP``/``LIMIT``). Rows come ordered by ``obj.primary_key`` when it is set and present.

        Raises: as ``header``; ValueError for an aware ``since``; DatabaseSourceError mid-stream.
        """
        table = self._table(obj)
        names = list(obj.columns)
        types = {n: c.type for n, c in obj.columns.items()}
        with self._backend.session() as session:
            report = self._probe(session, obj, table)
            if not report.present:
                return
            real_of = {canon: real for real, canon in report.rename.items()}
            since_col = self._since_column(obj, real_of, since)
            dialect = self._backend.dialect
            sql = select_sql(dialect, table, list(report.rename), since_column=since_col,
                             order_by=real_of.get(obj.primary_key) if obj.primary_key else None,
                             limit=limit, placeholder=session.placeholder)
            param = since_parameter(dialect, since) if since_col is not None else None
            log.debug("reading %s: %d columns, since filter %s", table, len(report.rename), since_col is not None)
            canon = [report.rename[real] for real in report.rename]
            rows_iter = session.stream(sql, param)
            try:
                while True:
                    try:
                        rows = next(rows_iter, None)
                    except self._backend.errors as exc:
                        raise DatabaseSourceError(f"{table}: read failed: {describe_error(exc)}") from None
                    if rows is None:
                        return
                    try:
                        batch = self._batch(rows, canon, names, types)
                    except ValueError as exc:  # a column type with no text form (message names no value)
                        raise DatabaseSourceError(f"{table}: {exc}") from None
                    yield batch
            finally:
                rows_iter.close()  # the cursor goes before its connection, also when the consumer stops early

    @staticmethod
    def _batch(rows: list, canon: list[str], names: list[str], types: dict[str, str]) -> pa.RecordBatch:
        n = len(rows)
        cols = dict(zip(canon, zip(*rows))) if n else {c: () for c in canon}
        arrays = [column_text(cols[name], types[name]) if name in cols else pa.nulls(n, pa.string())
                  for name in names]
        return pa.RecordBatch.from_arrays(arrays, names=names)

    @staticmethod
    def _since_column(obj: SourceObject, real_of: dict[str, str], since: datetime | None) -> str | None:
        if since is None:
            return None
        if since.tzinfo is not None:
            raise ValueError("since must be a naive datetime in the source's local time")
        if obj.modified_at is None or obj.modified_at not in real_of:
            log.warning("%s has no modified-at column: read in full despite since", obj.table)
            return None
        return real_of[obj.modified_at]

    @staticmethod
    def _table(obj: SourceObject) -> str:
        if not obj.table:
            raise ValueError("a database source object needs a table")
        return table_reference(obj.table)
