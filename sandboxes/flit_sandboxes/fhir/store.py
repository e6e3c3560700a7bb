"""The FHIR sandbox's state file: every served resource, its version, ``meta.lastUpdated`` and deletion.

``load_directory`` reads a Bulk-export-shaped directory once (``<Type>.<n>.ndjson`` or
``.ndjson.gz``, one resource per line, whatever types are present) into ``resources``; each resource
gets ``meta.versionId`` 1 and ``meta.lastUpdated`` = the instant given (the context passes a day
before the load), as a server stamps what it stores. Edits (``update``: a JSON merge patch, RFC 7386)
bump both; ``delete`` keeps a tombstone (``deleted_at``) so exports with ``_since`` list it in
``deleted`` and reads answer 410. Reference search parameters used by ``_include``/``_revinclude``
are indexed in ``refs`` (``REFERENCE_PARAMS``).
Filters compare ``lu`` (epoch seconds); the JSON text already holds ``meta.lastUpdated``, so a page or
an export file is written without parsing a resource.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flit_sandboxes.kernel.store import SqliteStore

LOADED_KEY = "loaded_from"
_FILE = re.compile(r"^([A-Z][A-Za-z]+)(?:\.[^/]*)?\.ndjson(?:\.gz)?$")
_BATCH = 5_000

# (type, search parameter) -> element holding the reference (FHIR R4 search parameter definitions).
REFERENCE_PARAMS: dict[tuple[str, str], str] = {
    ("RelatedPerson", "patient"): "patient", ("Encounter", "patient"): "subject", ("Encounter", "subject"): "subject",
    ("Encounter", "practitioner"): "participant.individual", ("DocumentReference", "patient"): "subject",
    ("DocumentReference", "subject"): "subject", ("MedicationRequest", "patient"): "subject",
    ("Coverage", "beneficiary"): "beneficiary", ("Coverage", "patient"): "beneficiary",
    ("Claim", "patient"): "patient", ("ExplanationOfBenefit", "patient"): "patient",
    ("CarePlan", "patient"): "subject", ("Observation", "patient"): "subject", ("ImagingStudy", "patient"): "subject",
    ("Appointment", "patient"): "participant.actor", ("Appointment", "actor"): "participant.actor",
    ("PractitionerRole", "practitioner"): "practitioner", ("Patient", "link"): "link.other",
}


def instant(epoch: float) -> str:
    """FHIR ``instant`` text of epoch seconds (UTC, milliseconds)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def references(resource: dict[str, Any], element: str) -> list[str]:
    """The ``reference`` strings at ``element`` (dotted, lists flattened) of a resource."""
    nodes: list[Any] = [resource]
    for name in element.split("."):
        nxt: list[Any] = []
        for node in nodes:
            value = node.get(name) if isinstance(node, dict) else None
            nxt.extend(value if isinstance(value, list) else [value] if value is not None else [])
        nodes = nxt
    return [n["reference"] for n in nodes if isinstance(n, dict) and isinstance(n.get("reference"), str)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of ``target`` with ``patch`` (a new object; null removes a key)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FhirStore(SqliteStore):
    """Resources, tombstones and the reference index of one state file (thread-safe, ``SqliteStore``)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS resources (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
        lu REAL NOT NULL, deleted_at REAL, json TEXT NOT NULL, UNIQUE (type, id));
    CREATE INDEX IF NOT EXISTS resources_type_seq ON resources (type, seq);
    CREATE INDEX IF NOT EXISTS resources_type_lu ON resources (type, lu);
    CREATE TABLE IF NOT EXISTS refs (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS refs_target ON refs (type, param, target);
    CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, content BLOB NOT NULL);
    """

    # ----------------------------------------------------------------- loading
    def loaded(self) -> dict[str, Any] | None:
        """``{"directory", "files", "at"}`` of the directory loaded into this file, or None."""
        raw = self.get_meta(LOADED_KEY)
        return json.loads(raw) if raw else None

    def load_directory(self, directory: Path, now: float) -> dict[str, int]:
        """Load every ``<Type>.*.ndjson[.gz]`` of ``directory`` (module docstring); returns rows per type.

        Raises:
            ValueError: a line that is not a JSON resource with ``resourceType`` and ``id``, or whose
                type differs from its file's (names the file and line number, never content).
        """
        counts: dict[str, int] = {}
        stamp = instant(now)
        files = sorted(p for p in Path(directory).iterdir() if _FILE.match(p.name))
        with self.transaction() as conn:
            for path in files:
                match = _FILE.match(path.name)
                assert match is not None  # ``files`` holds matching names only
                rtype = match.group(1)
                opener = gzip.open if path.name.endswith(".gz") else open
                rows: list[tuple[Any, ...]] = []
                refs: list[tuple[str, str, str, str]] = []
                with opener(path, "rt", encoding="utf-8") as fh:
                    for number, line in enumerate(fh, start=1):
                        if not line.strip():
                            continue
                        try:
                            res = json.loads(line)
                            ident = res["id"]
                            if res.get("resourceType") != rtype or not isinstance(ident, str):
                                raise ValueError
                        except (ValueError, KeyError, TypeError):
                            raise ValueError(f"{path.name} line {number}: not a {rtype} resource with an id") from None
                        res["meta"] = {**(res.get("meta") or {}), "versionId": "1", "lastUpdated": stamp}
                        rows.append((rtype, ident, 1, now, json.dumps(res, separators=(",", ":"), ensure_ascii=False)))
                        refs.extend((rtype, ident, param, target) for (t, param), element in REFERENCE_PARAMS.items()
                                    if t == rtype for target in references(res, element))
                        if len(rows) >= _BATCH:
                            self._insert(conn, rows, refs)
                            counts[rtype] = counts.get(rtype, 0) + len(rows)
                            rows, refs = [], []
                self._insert(conn, rows, refs)
                counts[rtype] = counts.get(rtype, 0) + len(rows)
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                         "excluded.value", (LOADED_KEY, json.dumps({"directory": str(directory), "at": stamp,
                                                                     "files": [p.name for p in files]})))
        return counts

    @staticmethod
    def _insert(conn, rows: list[tuple], refs: list[tuple]) -> None:
        conn.executemany("INSERT OR REPLACE INTO resources (type, id, version, lu, json) VALUES (?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO refs (type, id, param, target) VALUES (?, ?, ?, ?)", refs)

    # ----------------------------------------------------------------- reads
    def types(self) -> dict[str, int]:
        """Live resources per type (tombstones excluded), types with tombstones only included with 0."""
        with self._lock:
            rows = self._conn.execute("SELECT type, SUM(deleted_at IS NULL) FROM resources GROUP BY type").fetchall()
        return {t: int(n or 0) for t, n in rows}

    def page(self, rtype: str, conds: list[tuple[str, float]], *, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """``(seq, json)`` of up to ``limit`` live resources of ``rtype`` after ``after_seq`` whose ``lu``
        meets every ``(operator, epoch)`` of ``conds``, in ``seq`` order."""
        where, params = self._where(rtype, conds)
        with self._lock:
            return self._conn.execute(f"SELECT seq, json FROM resources WHERE {where} AND seq > ? ORDER BY seq "
                                      "LIMIT ?", (*params, after_seq, limit)).fetchall()

    def count(self, rtype: str, conds: list[tuple[str, float]]) -> int:
        """Live resources of ``rtype`` meeting ``conds``."""
        where, params = self._where(rtype, conds)
        with self._lock:
            return self._conn.execute(f"SELECT COUNT(*) FROM resources WHERE {where}", params).fetchone()[0]

    @staticmethod
    def _where(rtype: str, conds: list[tuple[str, float]]) -> tuple[str, tuple]:
        ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "="}
        sql = ["type = ?", "deleted_at IS NULL"] + [f"lu {ops[op]} ?" for op, _ in conds]
        return " AND ".join(sql), (rtype, *(v for _, v in conds))

    def stream(self, rtype: str, since: float | None, skip: set[str]) -> Iterator[str]:
        """JSON text of every live resource of ``rtype`` (changed after ``since``), ids in ``skip``
        left out; read in batches, so an export of any size streams."""
        after = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, id, json FROM resources WHERE type = ? AND deleted_at IS NULL AND seq > ? "
                    + ("AND lu > ? " if since is not None else "") + "ORDER BY seq LIMIT ?",
                    (rtype, after, *((since,) if since is not None else ()), _BATCH)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            for _, ident, text in rows:
                if ident not in skip:
                    yield text

    def deleted_since(self, rtype: str, since: float) -> list[str]:
        """Ids of ``rtype`` deleted after ``since``."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM resources WHERE type = ? AND deleted_at > ? ORDER BY seq", (rtype, since))]

    def get(self, rtype: str, ident: str) -> tuple[str | None, bool]:
        """``(json, deleted)``: the resource's JSON (None when unknown) and whether it is a tombstone."""
        with self._lock:
            row = self._conn.execute("SELECT json, deleted_at FROM resources WHERE type = ? AND id = ?",
                                     (rtype, ident)).fetchone()
        return (row[0], row[1] is not None) if row else (None, False)

    def referencing(self, rtype: str, param: str, targets: list[str]) -> list[str]:
        """JSON of live ``rtype`` resources whose ``param`` references one of ``targets`` (``Type/id``)."""
        out: list[str] = []
        for start in range(0, len(targets), 500):
            chunk = targets[start:start + 500]
            with self._lock:
                out += [r[0] for r in self._conn.execute(
                    f"SELECT DISTINCT r.json FROM refs f JOIN resources r ON r.type = f.type AND r.id = f.id "
                    f"WHERE f.type = ? AND f.param = ? AND f.target IN ({', '.join('?' * len(chunk))}) "
                    "AND r.deleted_at IS NULL", (rtype, param, *chunk))]
        return out

    # ----------------------------------------------------------------- admin writes
    def update(self, rtype: str, ident: str, patch: dict[str, Any], now: float) -> dict[str, Any] | None:
        """Merge-patch a live resource, bump ``versionId`` and ``lastUpdated``; the new resource, or None."""
        with self.transaction() as conn:
            row = conn.execute("SELECT json, version FROM resources WHERE type = ? AND id = ? AND deleted_at IS NULL",
                               (rtype, ident)).fetchone()
            if row is None:
                return None
            res = merge_patch(json.loads(row[0]), patch)
            res.update(resourceType=rtype, id=ident)
            version = row[1] + 1
            res["meta"] = {**(res.get("meta") or {}), "versionId": str(version), "lastUpdated": instant(now)}
            conn.execute("UPDATE resources SET json = ?, version = ?, lu = ? WHERE type = ? AND id = ?",
                         (json.dumps(res, separators=(",", ":"), ensure_ascii=False), version, now, rtype, ident))
        return res

    def delete(self, rtype: str, ident: str, now: float) -> bool:
        """Tombstone a live resource; False when it is unknown or already deleted."""
        with self.transaction() as conn:
            changed = conn.execute("UPDATE resources SET deleted_at = ?, lu = ? WHERE type = ? AND id = ? AND "
                                   "deleted_at IS NULL", (now, now, rtype, ident)).rowcount
        return bool(changed)
