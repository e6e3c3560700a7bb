"""SQLite state of one sandbox "company account": records, field definitions, users, file bytes.

One file per sandbox (``state_path``); connection, locking, transactions, ``meta`` and file
blobs are the kernel's ``SqliteStore``.

Records (persons, organizations, deals, activities, pipelines, stages, notes, files) are JSON
documents in one table keyed by ``(kind, id)``. The fields the APIs filter on are mirrored into
indexed columns (``owner_id``, ``person_id``, ``org_id``, ``deal_id``, ``pipeline_id``,
``stage_id``, ``status``, ``add_time``, ``update_time``, ``is_deleted``). IDs are integers
increasing per kind, like Pipedrive's. Timestamps are stored as v2 strings (see ``clock``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flit_sandboxes.kernel.store import SqliteStore

_PLAIN_TERM = re.compile(r"^[A-Za-z0-9 @.+_-]+$")
MIRRORED_COLUMNS = ("owner_id", "person_id", "org_id", "deal_id", "pipeline_id", "stage_id", "status")
SORT_EXPRESSIONS = {
    "id": "id",
    "add_time": "add_time",
    "update_time": "update_time",
    # Extra sort keys of stages/activities; coalesce so keyset comparisons never meet NULL.
    "order_nr": "coalesce(json_extract(data, '$.order_nr'), 0)",
    "due_date": "coalesce(json_extract(data, '$.due_date'), '')",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    add_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    owner_id INTEGER, person_id INTEGER, org_id INTEGER, deal_id INTEGER,
    pipeline_id INTEGER, stage_id INTEGER, status TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS records_update ON records (kind, update_time, id);
CREATE INDEX IF NOT EXISTS records_person ON records (kind, person_id);
CREATE INDEX IF NOT EXISTS records_org ON records (kind, org_id);
CREATE INDEX IF NOT EXISTS records_deal ON records (kind, deal_id);
CREATE INDEX IF NOT EXISTS records_owner ON records (kind, owner_id);
CREATE TABLE IF NOT EXISTS fields (
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (entity, key)
);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS file_blobs (file_id INTEGER PRIMARY KEY, content BLOB NOT NULL);
"""


@dataclass
class RecordQuery:
    """Filters and ordering for ``SandboxStore.list_records``.

    Attributes:
        equals: mirrored column -> value (``owner_id``, ``person_id``, ... see MIRRORED_COLUMNS).
        json_equals: JSON path (``$.done``) -> value, for filters without a mirrored column.
        status_in: allowed ``status`` values (deals).
        ids: restrict to these ids.
        include_deleted: also return soft-deleted rows; ``only_deleted`` returns only those.
        updated_since / updated_until: stored-form timestamps (inclusive / exclusive).
        sort_by: a key of SORT_EXPRESSIONS; descending: sort direction.
        after: keyset position ``(sort value, id)`` to continue after (cursor pagination).
        offset: offset pagination (v1), used when ``after`` is None.
        limit: page size; the store fetches ``limit + 1`` rows so callers can see if more exist.
    """

    equals: dict[str, Any] = field(default_factory=dict)
    json_equals: dict[str, Any] = field(default_factory=dict)
    status_in: Sequence[str] | None = None
    ids: Sequence[int] | None = None
    include_deleted: bool = False
    only_deleted: bool = False
    updated_since: str | None = None
    updated_until: str | None = None
    sort_by: str = "id"
    descending: bool = False
    after: tuple[Any, int] | None = None
    offset: int = 0
    limit: int = 100


class SandboxStore(SqliteStore):
    """The persistent state of one sandbox account (see module docstring).

    Args:
        path: SQLite file; created with its parent directory if missing.
    """

    SCHEMA = _SCHEMA
    BLOB_TABLE = "file_blobs"
    BLOB_KEY = "file_id"

    def next_id(self, name: str) -> int:
        """Allocate the next integer id of sequence ``name`` (1, 2, 3, ...)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sequences (name, last_id) VALUES (?, 1) "
                "ON CONFLICT(name) DO UPDATE SET last_id = last_id + 1",
                (name,),
            )
            return conn.execute("SELECT last_id FROM sequences WHERE name = ?", (name,)).fetchone()[0]

    # -------------------------------------------------------------- records
    def insert_record(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Assign the next id of ``kind``, store the document and return it (id as first key).

        ``doc`` must carry ``add_time`` and ``update_time`` (stored form).
        """
        with self.transaction() as conn:
            doc = {"id": self.next_id(kind), **{key: value for key, value in doc.items() if key != "id"}}
            conn.execute(
                "INSERT INTO records (kind, id, is_deleted, add_time, update_time, "
                + ", ".join(MIRRORED_COLUMNS)
                + ", data) VALUES (?, ?, ?, ?, ?, "
                + ", ".join("?" for _ in MIRRORED_COLUMNS)
                + ", ?)",
                self._row_values(kind, doc),
            )
        return doc

    def update_record(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace the stored document ``doc["id"]`` of ``kind`` with ``doc``; returns ``doc``."""
        values = self._row_values(kind, doc)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE records SET is_deleted = ?, add_time = ?, update_time = ?, "
                + ", ".join(f"{column} = ?" for column in MIRRORED_COLUMNS)
                + ", data = ? WHERE kind = ? AND id = ?",
                values[2:] + (kind, doc["id"]),
            )
        return doc

    @staticmethod
    def _row_values(kind: str, doc: dict[str, Any]) -> tuple[Any, ...]:
        deleted = bool(doc.get("is_deleted")) or doc.get("active_flag") is False
        mirrored = tuple(_scalar(doc.get(column)) for column in MIRRORED_COLUMNS)
        return (
            (kind, doc["id"], int(deleted), doc["add_time"], doc["update_time"])
            + mirrored
            + (json.dumps(doc, separators=(",", ":"), ensure_ascii=False),)
        )

    def get_record(self, kind: str, record_id: int, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """The document ``record_id`` of ``kind``, or None (also None if soft-deleted, unless asked)."""
        sql = "SELECT data FROM records WHERE kind = ? AND id = ?"
        if not include_deleted:
            sql += " AND is_deleted = 0"
        with self._lock:
            row = self._conn.execute(sql, (kind, record_id)).fetchone()
        return json.loads(row[0]) if row else None

    def list_records(self, kind: str, query: RecordQuery) -> list[dict[str, Any]]:
        """Documents of ``kind`` matching ``query``, at most ``query.limit + 1`` of them.

        Ordered by ``(sort_by, id)``; the extra row tells the caller another page exists.

        Raises:
            KeyError: unknown ``sort_by`` or ``equals`` column.
        """
        sort_sql = SORT_EXPRESSIONS[query.sort_by]
        clauses = ["kind = ?"]
        params: list[Any] = [kind]
        if query.only_deleted:
            clauses.append("is_deleted = 1")
        elif not query.include_deleted:
            clauses.append("is_deleted = 0")
        for column, value in query.equals.items():
            if column not in MIRRORED_COLUMNS:
                raise KeyError(column)
            clauses.append(f"{column} = ?")
            params.append(value)
        for json_path, value in query.json_equals.items():
            clauses.append("json_extract(data, ?) = ?")
            params.extend([json_path, _scalar(value)])
        if query.status_in is not None:
            clauses.append(f"status IN ({', '.join('?' for _ in query.status_in)})")
            params.extend(query.status_in)
        if query.ids is not None:
            clauses.append(f"id IN ({', '.join('?' for _ in query.ids)})")
            params.extend(query.ids)
        if query.updated_since:
            clauses.append("update_time >= ?")
            params.append(query.updated_since)
        if query.updated_until:
            clauses.append("update_time < ?")
            params.append(query.updated_until)
        direction = "DESC" if query.descending else "ASC"
        if query.after is not None:
            value, last_id = query.after
            op = "<" if query.descending else ">"
            if query.sort_by == "id":
                clauses.append(f"id {op} ?")
                params.append(last_id)
            else:
                clauses.append(f"({sort_sql} {op} ? OR ({sort_sql} = ? AND id {op} ?))")
                params.extend([value, value, last_id])
        sql = (
            f"SELECT data FROM records WHERE {' AND '.join(clauses)} "
            f"ORDER BY {sort_sql} {direction}, id {direction} LIMIT ? OFFSET ?"
        )
        params.extend([query.limit + 1, query.offset if query.after is None else 0])
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [json.loads(row[0]) for row in rows]

    def scan_records(self, kind: str, *, contains: str | None = None) -> list[dict[str, Any]]:
        """All live documents of ``kind`` (id order), optionally pre-filtered by a case-insensitive
        substring of their JSON (used by search; callers re-check the matched field).

        The pre-filter is skipped for terms SQLite cannot compare safely in JSON text (non-ASCII
        case folding, characters JSON escapes), so it only ever narrows, never drops, matches."""
        sql = "SELECT data FROM records WHERE kind = ? AND is_deleted = 0"
        params: list[Any] = [kind]
        if contains and _PLAIN_TERM.match(contains):
            sql += " AND instr(lower(data), ?) > 0"
            params.append(contains.lower())
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        return [json.loads(row[0]) for row in rows]

    def max_json_value(self, kind: str, json_path: str, *, equals: dict[str, Any] | None = None) -> Any:
        """``max(json_extract(data, json_path))`` over live records of ``kind`` (e.g. next order_nr)."""
        sql = "SELECT max(json_extract(data, ?)) FROM records WHERE kind = ? AND is_deleted = 0"
        params: list[Any] = [json_path, kind]
        for column, value in (equals or {}).items():
            if column not in MIRRORED_COLUMNS:
                raise KeyError(column)
            sql += f" AND {column} = ?"
            params.append(value)
        with self._lock:
            return self._conn.execute(sql, params).fetchone()[0]

    def count_records(self) -> dict[str, dict[str, int]]:
        """``{kind: {"active": n, "deleted": m}}`` for every kind present."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, is_deleted, count(*) FROM records GROUP BY kind, is_deleted"
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for kind, deleted, number in rows:
            counts.setdefault(kind, {"active": 0, "deleted": 0})["deleted" if deleted else "active"] = number
        return counts

    # --------------------------------------------------------------- fields
    def list_fields(self) -> list[tuple[str, dict[str, Any]]]:
        """All field definitions as ``(entity, definition)`` in creation order."""
        with self._lock:
            rows = self._conn.execute("SELECT entity, data FROM fields ORDER BY position").fetchall()
        return [(entity, json.loads(data)) for entity, data in rows]

    def save_field(self, entity: str, definition: dict[str, Any]) -> None:
        """Insert or replace a field definition (keyed by ``definition["key"]``)."""
        with self.transaction() as conn:
            position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM fields").fetchone()[0]
            conn.execute(
                "INSERT INTO fields (entity, key, position, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(entity, key) DO UPDATE SET data = excluded.data",
                (entity, definition["key"], position, json.dumps(definition)),
            )

    # ---------------------------------------------------------------- users
    def upsert_users(self, users: Sequence[dict[str, Any]]) -> None:
        """Insert or replace users by ``id`` (idempotent seeding)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO users (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                [(user["id"], json.dumps(user)) for user in users],
            )

    def list_users(self) -> list[dict[str, Any]]:
        """All users, id order."""
        with self._lock:
            rows = self._conn.execute("SELECT data FROM users ORDER BY id").fetchall()
        return [json.loads(row[0]) for row in rows]


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return json.dumps(value)
