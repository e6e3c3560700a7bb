"""Dagster's SQLite event log with one kept connection per database file, instead of one per event.

Why: ``SqliteEventLogStorage._connect`` (Dagster 1.13) builds a new SQLAlchemy engine with ``NullPool``
for every statement it runs: each stored event and each read (dynamic partition lookups, the input
data-version lookups of every step) pays for a new engine (a fresh compiled-statement cache), a new
SQLite connection and, on close, the connection's teardown. In the demo that was ~15 % of a worker's
CPU (py-spy, 2026-12-08: ``create_engine`` + ``Engine.connect`` + ``Connection.close`` + ``dispose``);
three in-process runs of 40 partitioned assets with checks: 20.5-24.4 CPU s with Dagster's class, 7.7-8.1
with this one.
This subclass keeps one engine per database file (the index shard and the few run shards in use), each
keeping one connection open: Dagster already serialises ``_connect`` behind its own lock, so one
connection per file is all it uses at a time (two more, closed after use, while it first checks a
file's schema). Statements, schema, files and the WAL journal are
Dagster's own; only the connection lifetime changes. Several processes may share the files (SQLite
WAL, Dagster's busy timeout), as before.

Selected by an instance's ``dagster.yaml`` as ``event_log_storage`` (Dagster's "legacy" per-storage keys;
run and schedule storage keep their SQLite defaults under ``DAGSTER_HOME``). The tests' private instances
use it (``flit_pipelines_tests/conftest.py``), and so does the project's ``dagster_home/dagster.yaml``.

    event_log_storage:
      module: flit_pipelines.instance.sqlite_event_log
      class: PooledSqliteEventLogStorage

``base_dir`` defaults to ``<the instance's directory>/history/runs`` (where Dagster's default SQLite
storage keeps the event logs, so earlier runs stay visible).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._config import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

__all__ = ["KEEP_CONNECTIONS_ENV", "PooledSqliteEventLogStorage"]

_KEPT_FILES = 8  # engines kept open: the index shard plus the run shards of the runs in flight
# Only processes that set this keep connections (`flit run`, the test processes); any other process of the
# instance (a webserver, daemon or code server) uses Dagster's own connection per statement.
KEEP_CONNECTIONS_ENV = "FLIT_EVENT_LOG_KEEP_CONNECTIONS"


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose connections outlive one statement (see the module docstring).

    Args:
        base_dir: the directory of the event log files (``index.db`` and one ``<run_id>.db`` per run).
        inst_data: Dagster's configurable-class data (set by the instance).

    Thread-safe as Dagster's class is: every use of a connection holds ``self._db_lock``. Engines of
    files not used for a while are disposed (at most ``_KEPT_FILES`` stay open).
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._pending_inst_data = inst_data
        if base_dir is not None:
            super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any
                          ) -> PooledSqliteEventLogStorage:
        return cls(base_dir=config_value.get("base_dir"), inst_data=inst_data)

    def register_instance(self, instance: Any) -> None:
        """Without ``base_dir``: the instance's own directory (``<root>/history/runs``, Dagster's default
        place), known only here: ``DagsterInstance.from_config(dir)`` may name another directory than
        ``$DAGSTER_HOME``."""
        if not hasattr(self, "_base_dir"):
            super().__init__(os.path.join(instance.root_directory, "history", "runs"), self._pending_inst_data)
        super().register_instance(instance)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=QueuePool, pool_size=1,
                                   max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                                 "check_same_thread": False})
            self._engines[shard] = engine
            while len(self._engines) > _KEPT_FILES:
                _, old = self._engines.popitem(last=False)
                old.dispose()  # a checked-out connection is closed when returned
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if os.environ.get(KEEP_CONNECTIONS_ENV) != "1":  # Dagster's own: a connection per statement
            with super()._connect(shard) as conn:
                yield conn
            return
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close the kept connections, then Dagster's own teardown (its file watcher)."""
        self._dispose_engines()
        super().dispose()

    def wipe(self) -> None:
        """Dagster deletes the run files: close the kept connections to them first."""
        self._dispose_engines()
        super().wipe()

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

