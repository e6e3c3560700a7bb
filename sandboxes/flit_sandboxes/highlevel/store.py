"""SQLite state of one HighLevel sandbox sub-account (location); survives restarts.

One table of JSON documents keyed by ``(kind, id)`` with a ``parent`` column (the contact id of a
note/task, the calendar id of an appointment, ...) and two indexed lookup keys (``email_key``,
``phone_key``: the normalised identifiers the duplicate rule matches on, set by ``contacts``).
Listing order is insertion order (``rowid``; updates keep it).
Kinds: ``contact``, ``note``, ``task``, ``custom_field``, ``calendar``, ``appointment``, ``user``,
``object``, ``record``, ``association``, ``relation``, ``media``, ``pipeline``, ``opportunity``,
``object_field``, ``field_folder``, ``document``; uploaded bytes live in ``blobs``. Ids are
20-character alphanumeric strings like the vendor's (``"6dvNaf7VhkQ9snc5vnjJ"``).

Connection, locking, ``meta`` and the ``blobs`` table are the kernel's ``SqliteStore``; every
public method takes its lock and commits before returning (autocommit).
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from flit_sandboxes.kernel.store import SqliteStore

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    email_key TEXT,
    phone_key TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs (kind, parent);
CREATE INDEX IF NOT EXISTS docs_email ON docs (kind, email_key);
CREATE INDEX IF NOT EXISTS docs_phone ON docs (kind, phone_key);
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, content BLOB NOT NULL);
"""


def new_id() -> str:
    """A random vendor-style id (20 alphanumerics)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))


class HighLevelStore(SqliteStore):
    """Documents of one sandbox location (see module docstring).

    Args:
        path: SQLite file; created (with its directory) if missing.
    """

    SCHEMA = _SCHEMA
    BLOB_TABLE = "blobs"
    BLOB_KEY = "id"

    # ------------------------------------------------------------- documents
    def insert(self, kind: str, data: dict[str, Any], *, parent: str | None = None,
               doc_id: str | None = None, lookup: dict[str, str | None] | None = None) -> dict[str, Any]:
        """Store ``data`` under a new id (or ``doc_id``); returns the document with ``id`` set.

        ``lookup``: optional ``{"email_key": ..., "phone_key": ...}`` for ``find_by``.
        """
        lookup = lookup or {}
        with self._lock:
            doc = dict(data, id=doc_id or new_id())
            self._conn.execute(
                "INSERT INTO docs (kind, id, parent, email_key, phone_key, data) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, doc["id"], parent, lookup.get("email_key"), lookup.get("phone_key"), json.dumps(doc)),
            )
            return doc

    def upsert(self, kind: str, doc: dict[str, Any], *, parent: str | None = None) -> None:
        """Insert or replace the document with ``doc["id"]`` (keeps its original order)."""
        with self._lock:
            if self.get(kind, doc["id"]) is None:
                self.insert(kind, doc, parent=parent, doc_id=doc["id"])
            else:
                self.replace(kind, doc)

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        """The document, or None."""
        with self._lock:
            row = self._conn.execute("SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, doc_id)).fetchone()
            return json.loads(row[0]) if row else None

    def replace(self, kind: str, doc: dict[str, Any], *, lookup: dict[str, str | None] | None = None,
                parent: str | None = None) -> None:
        """Overwrite an existing document (matched by ``doc["id"]``); ``lookup`` as ``insert``
        (None keeps the stored lookup keys); ``parent`` moves it to another parent (None keeps it)."""
        with self._lock:
            if parent is not None:
                self._conn.execute("UPDATE docs SET parent = ? WHERE kind = ? AND id = ?", (parent, kind, doc["id"]))
            if lookup is None:
                self._conn.execute("UPDATE docs SET data = ? WHERE kind = ? AND id = ?",
                                   (json.dumps(doc), kind, doc["id"]))
            else:
                self._conn.execute(
                    "UPDATE docs SET data = ?, email_key = ?, phone_key = ? WHERE kind = ? AND id = ?",
                    (json.dumps(doc), lookup.get("email_key"), lookup.get("phone_key"), kind, doc["id"]),
                )

    def find_by(self, kind: str, column: str, value: str, *, exclude: str | None = None) -> dict[str, Any] | None:
        """Oldest document whose lookup ``column`` (``email_key``/``phone_key``) equals ``value``."""
        if column not in ("email_key", "phone_key"):
            raise ValueError(f"unknown lookup column {column}")
        with self._lock:
            # ``column`` is one of two literals (checked above), never caller text.
            sql = f"SELECT data FROM docs WHERE kind = ? AND {column} = ? AND id != ? ORDER BY rowid LIMIT 1"
            row = self._conn.execute(sql, (kind, value, exclude or "")).fetchone()
            return json.loads(row[0]) if row else None

    def delete(self, kind: str, doc_id: str) -> bool:
        """Delete a document; True if it existed."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
            return cursor.rowcount > 0

    def delete_children(self, kind: str, parent: str) -> None:
        """Delete every ``kind`` document of ``parent`` (a deleted contact's notes/tasks)."""
        with self._lock:
            self._conn.execute("DELETE FROM docs WHERE kind = ? AND parent = ?", (kind, parent))

    def list(self, kind: str, *, parent: str | None = None) -> list[dict[str, Any]]:
        """All documents of ``kind`` (of ``parent`` if given), in creation order."""
        with self._lock:
            if parent is None:
                rows = self._conn.execute("SELECT data FROM docs WHERE kind = ? ORDER BY rowid", (kind,))
            else:
                rows = self._conn.execute(
                    "SELECT data FROM docs WHERE kind = ? AND parent = ? ORDER BY rowid", (kind, parent))
            return [json.loads(row[0]) for row in rows.fetchall()]

    def counts(self) -> dict[str, int]:
        """Number of documents per kind (admin stats)."""
        with self._lock:
            rows = self._conn.execute("SELECT kind, count(*) FROM docs GROUP BY kind").fetchall()
            return {kind: count for kind, count in rows}
