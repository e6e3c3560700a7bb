"""The sandbox org's state file (SQLite) and its in-memory working copy.

Tables (besides the kernel's ``meta``): ``records`` (one JSON row per record, any object, soft-deleted rows
kept with ``IsDeleted: true``), ``custom_objects`` / ``custom_fields`` (the Tooling metadata, replayed at
start-up), ``jobs`` (Bulk 2.0 job info JSON) and ``files`` (ContentVersion bytes and Bulk CSV uploads and
results, keyed ``cv:<id>`` / ``job:<id>:<part>``).

``Tables`` holds every record in memory (the sandbox's orgs are small) with lazy per-field indexes for
external-ID / unique / idLookup look-ups; writes go through ``Txn`` so a request's changes are committed
to SQLite and memory together, or dropped (``allOrNone``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from flit_sandboxes.kernel.store import SqliteStore

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, object TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_object ON records (object);
CREATE TABLE IF NOT EXISTS custom_objects (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
                                           data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_fields (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                                          object TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, content BLOB NOT NULL);
"""


class SalesforceStore(SqliteStore):
    """The state file: records, custom metadata, Bulk jobs and file bytes."""

    SCHEMA = _SCHEMA
    BLOB_TABLE = "files"
    BLOB_KEY = "key"

    def load_records(self) -> Iterator[tuple[str, str, Record]]:
        """``(object, id, record)`` of every stored record."""
        with self._lock:
            rows = self._conn.execute("SELECT object, id, data FROM records").fetchall()
        for object_name, record_id, data in rows:
            yield object_name, record_id, json.loads(data)

    def write_records(self, rows: Iterable[tuple[str, str, Record]], meta: dict[str, str]) -> None:
        """Insert or replace records and set ``meta`` keys, in one transaction."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO records (id, object, data) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                [(record_id, object_name, json.dumps(record)) for object_name, record_id, record in rows])
            for key, value in meta.items():
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def hard_delete(self, record_ids: list[str]) -> None:
        """Remove records for good."""
        with self.transaction() as conn:
            conn.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in record_ids])

    # ------------------------------------------------------------ metadata
    def save_custom_object(self, name: str, data: dict[str, Any]) -> None:
        """Insert or replace one custom object's metadata."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO custom_objects (name, data) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET data = excluded.data", (name, json.dumps(data)))

    def save_custom_field(self, field_id: str, object_name: str, name: str, data: dict[str, Any]) -> None:
        """Insert or replace one custom field's metadata."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO custom_fields (id, object, name, data) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                         (field_id, object_name, name, json.dumps(data)))

    def custom_metadata(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """``("object"|"field", object name, field name or "", data)`` in creation order (objects first)."""
        with self._lock:
            objects = self._conn.execute("SELECT name, data FROM custom_objects ORDER BY seq").fetchall()
            fields = self._conn.execute("SELECT object, name, data FROM custom_fields ORDER BY seq").fetchall()
        return ([("object", name, "", json.loads(data)) for name, data in objects]
                + [("field", obj, name, json.loads(data)) for obj, name, data in fields])

    # ----------------------------------------------------------------- jobs
    def save_job(self, job_id: str, data: dict[str, Any]) -> None:
        """Insert or replace one Bulk job's info."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO jobs (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                         (job_id, json.dumps(data)))

    def load_jobs(self) -> list[dict[str, Any]]:
        """Every stored job's info."""
        with self._lock:
            rows = self._conn.execute("SELECT data FROM jobs ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def delete_job(self, job_id: str) -> None:
        """Forget a job and its files."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            conn.execute("DELETE FROM files WHERE key LIKE ?", (f"job:{job_id}:%",))


def norm(value: Any, case_sensitive: bool = False) -> Any:
    """The index key of a value: strings lower-cased unless ``case_sensitive``; None stays None."""
    if isinstance(value, str) and not case_sensitive:
        return value.lower()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Tables:
    """Every record in memory, by Id and by object, with lazy field indexes; thread-safe."""

    def __init__(self, store: SalesforceStore):
        self.store = store
        self.lock = threading.RLock()
        self.by_id: dict[str, Record] = {}
        self.type_of: dict[str, str] = {}
        self.by_object: dict[str, dict[str, Record]] = {}
        self._indexes: dict[tuple[str, str, bool], dict[Any, set[str]]] = {}
        for object_name, record_id, record in store.load_records():
            self._put(object_name, record_id, record)

    def _put(self, object_name: str, record_id: str, record: Record) -> None:
        self.by_id[record_id] = record
        self.type_of[record_id] = object_name
        self.by_object.setdefault(object_name, {})[record_id] = record

    def get(self, record_id: str) -> Record | None:
        """The record with this (canonical 18-character) Id, deleted or not."""
        return self.by_id.get(record_id)

    def rows(self, object_name: str) -> list[Record]:
        """Every record of an object (deleted included), in insertion order."""
        with self.lock:
            return list(self.by_object.get(object_name, {}).values())

    def count(self, object_name: str) -> int:
        """Live records of an object."""
        with self.lock:
            return sum(1 for r in self.by_object.get(object_name, {}).values() if not r.get("IsDeleted"))

    def index(self, object_name: str, field_name: str, case_sensitive: bool = False) -> dict[Any, set[str]]:
        """``norm(value) -> {ids}`` for a field (built on first use, then maintained)."""
        key = (object_name, field_name, case_sensitive)
        with self.lock:
            found = self._indexes.get(key)
            if found is None:
                found = {}
                for record_id, record in self.by_object.get(object_name, {}).items():
                    value = record.get(field_name)
                    if value is not None:
                        found.setdefault(norm(value, case_sensitive), set()).add(record_id)
                self._indexes[key] = found
            return found

    def apply(self, changes: dict[str, tuple[str, Record]], meta: dict[str, str]) -> None:
        """Persist ``{id: (object, record)}`` and ``meta``, then update memory and indexes."""
        with self.lock:
            self.store.write_records(((obj, rid, rec) for rid, (obj, rec) in changes.items()), meta)
            for record_id, (object_name, record) in changes.items():
                old = self.by_id.get(record_id)
                for (obj, field_name, sensitive), index in self._indexes.items():
                    if obj != object_name:
                        continue
                    if old is not None and old.get(field_name) is not None:
                        index.get(norm(old[field_name], sensitive), set()).discard(record_id)
                    if record.get(field_name) is not None:
                        index.setdefault(norm(record[field_name], sensitive), set()).add(record_id)
                self._put(object_name, record_id, record)

    def purge(self, record_ids: list[str]) -> None:
        """Hard-delete records from the file and memory."""
        with self.lock:
            self.store.hard_delete(record_ids)
            for record_id in record_ids:
                record = self.by_id.pop(record_id, None)
                object_name = self.type_of.pop(record_id, None)
                if object_name is not None:
                    self.by_object.get(object_name, {}).pop(record_id, None)
                if record is not None:
                    for (obj, field_name, sensitive), index in self._indexes.items():
                        if obj == object_name and record.get(field_name) is not None:
                            index.get(norm(record[field_name], sensitive), set()).discard(record_id)


class Txn:
    """Staged changes over ``Tables``: reads see them, ``commit`` persists them, dropping forgets them."""

    def __init__(self, tables: Tables):
        self.tables = tables
        self.staged: dict[str, tuple[str, Record]] = {}
        self._overlay: dict[tuple[str, str, bool], dict[Any, set[str]]] = {}
        self.meta: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}  # file bytes written after the commit
        self.purge: list[str] = []  # hard-deleted Ids removed after the commit

    def get(self, record_id: str) -> Record | None:
        """The staged or stored record (deleted included)."""
        staged = self.staged.get(record_id)
        return staged[1] if staged else self.tables.get(record_id)

    def type_of(self, record_id: str) -> str | None:
        """The object name of a staged or stored record."""
        staged = self.staged.get(record_id)
        return staged[0] if staged else self.tables.type_of.get(record_id)

    def live(self, record_id: str) -> Record | None:
        """The record if it exists and is not deleted."""
        record = self.get(record_id)
        return record if record is not None and not record.get("IsDeleted") else None

    def find(self, object_name: str, field_name: str, value: Any, case_sensitive: bool = False) -> list[str]:
        """Ids of live records of ``object_name`` whose ``field_name`` matches ``value``."""
        key = norm(value, case_sensitive)
        found = set()
        for record_id in self.tables.index(object_name, field_name, case_sensitive).get(key, ()):
            if record_id not in self.staged:
                record = self.tables.get(record_id)
                if record is not None and not record.get("IsDeleted"):
                    found.add(record_id)
        for record_id in self._overlay_index(object_name, field_name, case_sensitive).get(key, ()):
            record = self.staged[record_id][1]
            if not record.get("IsDeleted"):
                found.add(record_id)
        return sorted(found)

    def _overlay_index(self, object_name: str, field_name: str, case_sensitive: bool) -> dict[Any, set[str]]:
        key = (object_name, field_name, case_sensitive)
        index = self._overlay.get(key)
        if index is None:
            index = {}
            for record_id, (obj, record) in self.staged.items():
                if obj == object_name and record.get(field_name) is not None:
                    index.setdefault(norm(record[field_name], case_sensitive), set()).add(record_id)
            self._overlay[key] = index
        return index

    def put(self, object_name: str, record: Record) -> None:
        """Stage a new or changed record (``record["Id"]`` is its key)."""
        record_id = record["Id"]
        old = self.staged.get(record_id)
        for (obj, field_name, sensitive), index in self._overlay.items():
            if obj != object_name:
                continue
            if old is not None and old[1].get(field_name) is not None:
                index.get(norm(old[1][field_name], sensitive), set()).discard(record_id)
            if record.get(field_name) is not None:
                index.setdefault(norm(record[field_name], sensitive), set()).add(record_id)
        self.staged[record_id] = (object_name, record)

    def staged_of(self, object_name: str) -> list[Record]:
        """Staged records of one object."""
        return [record for obj, record in self.staged.values() if obj == object_name]

    def commit(self) -> None:
        """Persist everything staged (one SQLite transaction)."""
        if self.staged or self.meta:
            self.tables.apply(self.staged, self.meta)
        self.staged = {}
        self._overlay = {}
