"""The SQLite plumbing under every sandbox's state file; each sandbox adds its own tables.

One file per sandbox app; it survives restarts. Every public method takes a process lock and
commits before returning (autocommit, or one ``transaction``), so a store can be shared between
uvicorn's event loop and worker threads. WAL mode + ``synchronous=NORMAL`` keeps a commit well
under a millisecond.

Common tables: ``meta (key, value)`` for small settings and counters, and a blob table for file
bytes whose name and key column the subclass sets (``BLOB_TABLE``, ``BLOB_KEY``) and creates in
its ``SCHEMA``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

_META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class SqliteStore:
    """Connection, lock, transactions, meta settings and file blobs of one state file.

    Args:
        path: SQLite file; created with its parent directory if missing.

    Subclasses set ``SCHEMA`` (their ``CREATE ... IF NOT EXISTS`` statements) and the blob table.
    """

    SCHEMA: ClassVar[str] = ""
    BLOB_TABLE: ClassVar[str] = "blobs"
    BLOB_KEY: ClassVar[str] = "id"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_META_SCHEMA + self.SCHEMA)
        self._closed = False
        # Class constants, never caller text: safe to format into SQL.
        self._blob_put = (f"INSERT INTO {self.BLOB_TABLE} ({self.BLOB_KEY}, content) VALUES (?, ?) "
                          f"ON CONFLICT({self.BLOB_KEY}) DO UPDATE SET content = excluded.content")
        self._blob_get = f"SELECT content FROM {self.BLOB_TABLE} WHERE {self.BLOB_KEY} = ?"
        self._blob_delete = f"DELETE FROM {self.BLOB_TABLE} WHERE {self.BLOB_KEY} = ?"

    def close(self) -> None:
        """Checkpoint and close the database; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one SQLite transaction (commit or roll back)."""
        with self._lock:
            if self._conn.in_transaction:  # nested use: join the outer transaction
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ----------------------------------------------------------------- meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A small string setting of the state file, or ``default``."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Write a small string setting of the state file."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ---------------------------------------------------------------- blobs
    def put_blob(self, key: int | str, content: bytes) -> None:
        """Store file bytes under ``key`` (replacing any)."""
        with self.transaction() as conn:
            conn.execute(self._blob_put, (key, sqlite3.Binary(content)))

    def get_blob(self, key: int | str) -> bytes | None:
        """File bytes stored under ``key``, or None."""
        with self._lock:
            row = self._conn.execute(self._blob_get, (key,)).fetchone()
        return bytes(row[0]) if row else None

    def delete_blob(self, key: int | str) -> None:
        """Forget the bytes under ``key`` (no error if absent)."""
        with self._lock:
            self._conn.execute(self._blob_delete, (key,))
