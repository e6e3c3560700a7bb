"""Dentrix practice database reader: SELECT-only, over ODBC (arrow-odbc, pyodbc) or a SQLAlchemy URL.

Follows ``/work/shared/notes/sources.md`` §1: Dentrix G is FairCom c-treeACE SQL over its ODBC driver
(database ``DentrixSQL``), Dentrix Enterprise is SQL Server (ODBC Driver 18); the developer views live
in schema ``admin``; §1.2's modified-at columns drive ``since`` (delta pickup). Dialect differences
are in ``flit_pipelines.sources.dialects``.

Guarantees:

* **SELECT only, built here**: ``SELECT <declared columns> FROM <spec table> [WHERE <modified_at> > ?]
  [ORDER BY <primary key>]``; names are validated identifiers, values bound parameters.
* **Read-only session** where the engine allows: pyodbc ``readonly=True`` (SQL_ATTR_ACCESS_MODE;
  arrow-odbc offers no such attribute), PostgreSQL ``SET SESSION CHARACTERISTICS AS TRANSACTION READ
  ONLY`` on every connection, the arrow-odbc and ADBC ones included (psqlODBC ignores the ODBC
  attribute), SQLite files attached with ``mode=ro``. ODBC defines the attribute as a hint; whether
  the SQL Server and c-treeACE drivers enforce it is not verified, so there the DDP's read-only
  login is the real guard.
* **Only SELECT reaches the driver** (``sources.readonly.require_select``, every driver): a session
  default can be switched back (``SET TRANSACTION READ WRITE``), so the two session methods that
  issue SQL refuse anything but one SELECT. SQLite connections are locked by an authorizer (no
  ATTACH, no writes, no pragma changes).
* **Login check at connect time** (``sources.readonly.login_write_access``, once per source): a
  warning says when the login itself can write (PostgreSQL: superuser, write privileges, CREATE) or
  when the engine cannot be asked; ``DatabaseSource.login_check`` holds the result.
* **Straight into Arrow, typed**: over ODBC, rows go from the driver's column buffers into Arrow
  arrays (arrow-odbc; pyodbc only connects first to learn the engine, check the login and probe
  columns); PostgreSQL URLs over ADBC (libpq binary COPY into Arrow; SQLAlchemy still connects
  for the login check and the column probe); other URLs build each column with ``pa.array`` from
  the driver's values (SQLite stays there: its connection is locked by an authorizer ADBC lacks).
  ``read_typed`` keeps the database's types where they map onto the spec's (``sources.arrow_typed``)
  and is what the extract reads; ``read`` gives every column as canonical text.
* **Bounded memory**: batches of ``chunk_rows`` rows (arrow-odbc fetch buffers capped at
  ``ODBC_FETCH_BUFFER_BYTES`` and re-cut to ``chunk_rows``; SQLAlchemy ``yield_per``, a server-side
  cursor on PostgreSQL; psqlODBC gets ``UseDeclareFetch``).
* **Canonical text** (``sources.base``, ``sources.canonical_text``), converted column-wise with
  pyarrow: integers ``123``, decimals/floats in plain notation without trailing zeros (``278``,
  ``12.5``; never ``1e+20``), dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``,
  booleans ``true``/``false`` (``1``/``0`` for numeric spec types); empty text becomes null.
* **Redacted errors**: connection strings, URLs, passwords and values never appear in an exception
  or a log line; errors carry the object name, the driver's error class and SQLSTATE.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pyarrow as pa

from flit_pipelines.sources.arrow_typed import source_column
from flit_pipelines.sources.canonical_text import arrow_text, column_text  # noqa: F401 - column_text re-exported
from flit_pipelines.sources.database_arrow import (
    ODBC_FETCH_BUFFER_BYTES, adbc_postgresql_uri, adbc_stream, coalesce_batches, rows_batch)
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


# --- connections ---------------------------------------------------------------------------------------


class _OdbcSession:
    """One pyodbc connection: column probe and chunked SELECT."""

    placeholder = "?"

    def __init__(self, conn: Any, chunk_rows: int, dialect: str, open_arrow: Any):
        self.conn, self.chunk_rows, self.dialect, self.open_arrow = conn, chunk_rows, dialect, open_arrow

    def columns(self, sql: str) -> list[str]:
        require_select(sql, self.dialect)
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            return [d[0] for d in cur.description]
        finally:
            cur.close()

    def stream(self, sql: str, since: Any) -> Generator[pa.RecordBatch, None, None]:
        """The SELECT's rows as typed Arrow batches of ``chunk_rows`` (arrow-odbc: the driver's
        column buffers straight into Arrow arrays, on a second connection of the same string with
        the same read-only session)."""
        require_select(sql, self.dialect)
        conn = self.open_arrow()
        reader = conn.read_arrow_batches(
            sql, batch_size=self.chunk_rows, max_bytes_per_batch=ODBC_FETCH_BUFFER_BYTES,
            parameters=None if since is None else [since if isinstance(since, str) else since.isoformat(sep=" ")])
        try:
            yield from coalesce_batches(reader, self.chunk_rows)
        finally:
            del reader, conn  # statement, then connection (arrow-odbc frees both when released)


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
        import arrow_odbc

        self._arrow_odbc = arrow_odbc
        self.errors: tuple[type[BaseException], ...] = (pyodbc.Error, arrow_odbc.Error)
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
        dialect = self._dialect
        assert dialect is not None  # found on the first connection (above)
        try:
            for stmt in dialect.session_sql:
                conn.execute(stmt)
        except self._pyodbc.Error as exc:
            conn.close()
            raise DatabaseConnectionError(f"ODBC session setup failed: {describe_error(exc)}") from None
        if self.login is None:
            self.login = login_write_access(lambda q: conn.cursor().execute(q).fetchall(), dialect.name)
        return conn

    def open_arrow(self) -> Any:
        """An arrow-odbc connection of the effective string (after ``_connect``), with the dialect's
        read-only session statements run on it."""
        try:
            conn = self._arrow_odbc.connect(self._effective, login_timeout_sec=LOGIN_TIMEOUT_S)
            for stmt in self.dialect.session_sql:
                conn.execute(stmt)
        except self._arrow_odbc.Error:
            raise DatabaseConnectionError("ODBC connection for the Arrow reader failed") from None
        return conn

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self._connect().close()
        assert self._dialect is not None  # _connect found it
        return self._dialect

    @contextmanager
    def session(self) -> Iterator[_OdbcSession]:
        conn = self._connect()
        try:
            yield _OdbcSession(conn, self.chunk_rows, self.dialect.name, self.open_arrow)
        finally:
            conn.close()

    def close(self) -> None:
        pass


class _SqlAlchemySession:
    """One SQLAlchemy connection: column probe and chunked SELECT (``yield_per`` streams)."""

    def __init__(self, conn: Any, chunk_rows: int, dialect: Dialect, adbc_uri: str | None = None):
        self.conn, self.chunk_rows, self.dialect = conn, chunk_rows, dialect.name
        self._session_sql, self._adbc_uri = dialect.session_sql, adbc_uri
        # the driver's parameter marker: ADBC PostgreSQL numbers them, SQLAlchemy names them
        self.placeholder = "$1" if adbc_uri else ":since"

    def columns(self, sql: str) -> list[str]:
        from sqlalchemy import text

        require_select(sql, self.dialect)
        result = self.conn.execute(text(sql))
        try:
            return list(result.keys())
        finally:
            result.close()

    def stream(self, sql: str, since: Any) -> Generator[pa.RecordBatch, None, None]:
        """The SELECT's rows in batches of ``chunk_rows``: over ADBC for PostgreSQL (on its own
        connection with the same read-only session), else each column typed by ``pa.array`` from the
        driver's Python values (a column mixing types, SQLite's dynamic typing, as canonical text)."""
        from sqlalchemy import text

        require_select(sql, self.dialect)
        if self._adbc_uri is not None:  # PostgreSQL: ADBC reads straight into Arrow
            yield from adbc_stream(self._adbc_uri, self._session_sql, sql, [] if since is None else [since],
                                   self.chunk_rows)
            return
        result = self.conn.execution_options(yield_per=self.chunk_rows).execute(
            text(sql), {} if since is None else {"since": since})
        try:
            width = len(result.keys())
            for rows in result.partitions(self.chunk_rows):
                yield rows_batch(rows, width)
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
        self._adbc_uri = None if u.get_backend_name() == "sqlite" else adbc_postgresql_uri(u)
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
        if self._adbc_uri is not None:
            from adbc_driver_manager import Error as AdbcError

            self.errors += (AdbcError,)
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
        except self.errors + (FileNotFoundError,) as exc:
            if isinstance(exc, FileNotFoundError):
                raise DatabaseConnectionError("database connection failed: SQLite file not found") from None
            raise DatabaseConnectionError(f"database connection failed: {describe_error(exc)}") from None
        try:
            if self.login is None:
                from sqlalchemy import text

                self.login = login_write_access(lambda q: conn.execute(text(q)).fetchall(), self.dialect.name)
            yield _SqlAlchemySession(conn, self.chunk_rows, self.dialect, self._adbc_uri)
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
        assert self._backend.login is not None  # the first session checks the login
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
        return self._read(obj, since, limit, arrow_text)

    def read_typed(self, obj: SourceObject, since: datetime | None = None, *,
                   limit: int | None = None) -> Iterator[pa.RecordBatch]:
        """As ``read``, but a column keeps the database's Arrow type where it maps onto its spec type
        (``arrow_typed.has_typed_path``: numbers for int/float/money, dates and timestamps for
        date/datetime, booleans and integers for bool); string columns and every other pairing come
        as canonical text. What ``extract.run_extract`` reads: no value goes through Python or text
        on its way to the typed extract."""
        return self._read(obj, since, limit, source_column)

    def _read(self, obj: SourceObject, since: datetime | None, limit: int | None,
              convert: Callable[[pa.Array, str], pa.Array]) -> Iterator[pa.RecordBatch]:
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
            param = since_parameter(dialect, since) if since_col is not None and since is not None else None
            log.debug("reading %s: %d columns, since filter %s", table, len(report.rename), since_col is not None)
            position = {canon: i for i, canon in enumerate(report.rename.values())}
            batches = session.stream(sql, param)
            try:
                while True:
                    try:
                        native = next(batches, None)
                    except self._backend.errors as exc:
                        raise DatabaseSourceError(f"{table}: read failed: {describe_error(exc)}") from None
                    if native is None:
                        return
                    n = native.num_rows
                    try:
                        arrays = [convert(native.column(position[name]), types[name]) if name in position
                                  else pa.nulls(n, pa.string()) for name in names]
                    except ValueError as exc:  # a column type with no text form (message names no value)
                        raise DatabaseSourceError(f"{table}: {exc}") from None
                    yield pa.RecordBatch.from_arrays(arrays, names=names)
            finally:
                batches.close()  # the cursor goes before its connection, also when the consumer stops early

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
