"""The PracticeHub sandbox's state file: one table per resource (``resources.RESOURCES``) + kernel meta.

Pages are ``ORDER BY id LIMIT/OFFSET`` with a ``COUNT(*)`` under the same filter for
``total_entries``; each row is rendered to JSON text by SQLite (``Resource.json_sql``), so a page
costs a few milliseconds whatever the practice size. The demo practice is written once
(``builder.build_practicehub``) and recorded in meta ``seeded`` (``{"patients", "seed", "counts"}``);
the only later writes are the admin ``touch`` (simulated edits for delta tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flit_sandboxes.kernel.store import SqliteStore
from flit_sandboxes.practicehub.resources import RESOURCES, Resource

SEEDED_KEY = "seeded"


class PracticeHubStore(SqliteStore):
    """Connection, resource tables and queries of one state file (thread-safe, see ``SqliteStore``)."""

    SCHEMA = "\n".join(r.ddl() for r in RESOURCES)

    # ----------------------------------------------------------------- seeding
    def seeded(self) -> dict[str, Any] | None:
        """``{"patients", "seed", "counts"}`` of the practice in this file, or None when empty."""
        raw = self.get_meta(SEEDED_KEY)
        return json.loads(raw) if raw else None

    def insert(self, resource: Resource, columns: Mapping[str, Sequence[Any]]) -> None:
        """Insert rows given column-wise (Python scalars or None); call inside ``transaction``."""
        names = list(columns)
        sql = f"INSERT INTO {resource.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        with self.transaction() as conn:
            conn.executemany(sql, zip(*(columns[n] for n in names), strict=True))

    # ----------------------------------------------------------------- reads
    def page(self, resource: Resource, conds: list[str], params: dict[str, Any], *, offset: int, limit: int,
             server: str) -> tuple[list[str], int]:
        """``(JSON text of each row, total rows under conds)`` for one page.

        ``conds`` are SQL conditions using named ``params`` (from ``routes.filters``); ``server`` is
        ``scheme://host`` for URL fields.
        """
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM {resource.name}{where}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {resource.json_sql()} FROM {resource.name}{where} ORDER BY id LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset, "server": server}).fetchall()
        return [r[0] for r in rows], total

    def get(self, resource: Resource, ident: int, server: str) -> str | None:
        """JSON text of one row, or None."""
        with self._lock:
            row = self._conn.execute(f"SELECT {resource.json_sql()} FROM {resource.name} WHERE id = :id",
                                     {"id": ident, "server": server}).fetchone()
        return row[0] if row else None

    def attachment(self, ident: int) -> dict[str, Any] | None:
        """``{"id", "file_name", "content_type", "size_bytes"}`` of an attachment, or None."""
        with self._lock:
            row = self._conn.execute("SELECT id, file_name, content_type, size_bytes FROM attachments WHERE id = ?",
                                     (ident,)).fetchone()
        return None if row is None else dict(zip(("id", "file_name", "content_type", "size_bytes"), row, strict=True))

    def policy_document(self, ident: int) -> dict[str, Any] | None:
        """``{"id", "document_type", "version"}`` of a policy document, or None."""
        with self._lock:
            row = self._conn.execute("SELECT id, document_type, version FROM policy_documents WHERE id = ?",
                                     (ident,)).fetchone()
        return None if row is None else dict(zip(("id", "document_type", "version"), row, strict=True))

    def counts(self) -> dict[str, int]:
        """Rows per resource path."""
        with self._lock:
            return {r.path: self._conn.execute(f"SELECT COUNT(*) FROM {r.name}").fetchone()[0] for r in RESOURCES}

    # ----------------------------------------------------------------- admin
    def touch(self, resource: Resource, ids: Iterable[int], updated_at: str) -> int:
        """Set ``updated_at`` of rows ``ids`` (a simulated edit); returns how many rows exist."""
        id_list = [int(i) for i in ids]
        with self.transaction() as conn:
            changed = 0
            for start in range(0, len(id_list), 500):
                chunk = id_list[start:start + 500]
                changed += conn.execute(
                    f"UPDATE {resource.name} SET updated_at = ? WHERE id IN ({', '.join('?' * len(chunk))})",
                    (updated_at, *chunk)).rowcount
        return changed
