"""The ``filter=`` query grammar and paging parameters (notes/sources.md §2 "Pagination and filtering").

Grammar (notes §2): one ``filter`` parameter holding comma-separated clauses ``<field><op><value>``:

* comparisons ``>=``, ``<=``, ``>``, ``<`` (e.g. ``lastModified>=2024-04-01T00:00:00Z``,
  ``start>=2024-01-01,start<2024-02-01``);
* equality ``==`` / ``!=`` (``location.id==1``);
* contains ``~=`` (case-insensitive substring, ``lastName~=smi``);
* lists ``->[a,b,c]`` (``id->[1,2,3]``; commas inside the brackets belong to the list).

``page==N`` / ``pageSize==N`` inside ``filter`` are accepted as paging (the notes show
``filter=location.id==N,page==1`` for the aging report); the ``page``/``pageSize`` query parameters
win when both are given. Which fields each resource accepts is UNCONFIRMED; the sandbox accepts
``id``, ``lastModified`` and the reference ids it documents per resource, and answers 400
``INVALID_FILTER`` (naming the field, never the value) for anything else.

Values: timestamps are ISO 8601 (``Z``, an offset, or none = UTC) and compare at second
precision in UTC; dates ``YYYY-MM-DD``; ids integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from flit_sandboxes.ascend.errors import ApiError

_CLAUSE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*(==|!=|>=|<=|->|~=|>|<)\s*(.*?)\s*$", re.S)
_SQL_OPS = {"==": "=", "!=": "<>", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}
MAX_LIST = 500


@dataclass(frozen=True)
class FilterField:
    """A filterable field of a resource: its SQL expression and value kind (``int``/``ts``/``date``/``text``)."""

    sql: str
    kind: str


@dataclass(frozen=True)
class Clause:
    """One parsed clause: field name, operator and raw value text (a list for ``->``)."""

    field: str
    op: str
    value: str | list[str]


def split_clauses(text: str) -> list[str]:
    """Split a filter on commas that are not inside ``[...]``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a ``filter`` value into clauses.

    Raises:
        ApiError: 400 ``INVALID_FILTER`` for a clause that is not ``<field><op><value>``.
    """
    clauses: list[Clause] = []
    for raw in split_clauses(text or ""):
        match = _CLAUSE.match(raw)
        if not match:
            raise ApiError(400, "INVALID_FILTER", "filter clause is not <field><operator><value>")
        name, op, value = match.groups()
        if op == "->":
            if not (value.startswith("[") and value.endswith("]")):
                raise ApiError(400, "INVALID_FILTER", f"filter {name}: the -> operator takes a [list]")
            items = [v.strip() for v in value[1:-1].split(",") if v.strip()]
            if len(items) > MAX_LIST:
                raise ApiError(400, "INVALID_FILTER", f"filter {name}: at most {MAX_LIST} list values")
            clauses.append(Clause(name, op, items))
        else:
            clauses.append(Clause(name, op, value))
    return clauses


def to_db_timestamp(text: str) -> str:
    """ISO 8601 (``Z``/offset/naive = UTC) -> ``YYYY-MM-DD HH:MM:SS`` UTC, as the practice stores it.

    Raises:
        ValueError: not an ISO 8601 date or timestamp.
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _convert(name: str, kind: str, value: str) -> Any:
    try:
        if kind == "int":
            return int(value)
        if kind == "ts":
            return to_db_timestamp(value)
        if kind == "date":
            return date.fromisoformat(value.strip()[:10]).isoformat()
        return value
    except ValueError:
        raise ApiError(400, "INVALID_FILTER", f"filter {name}: value is not a valid {kind}") from None


def to_sql(clauses: list[Clause], fields: dict[str, FilterField]) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters for ``clauses`` over a resource's filterable ``fields``.

    ``page``/``pageSize`` clauses are skipped (see ``paging``).

    Raises:
        ApiError: 400 ``INVALID_FILTER`` for an unknown field, a wrong operator or a bad value.
    """
    conds: list[str] = []
    params: list[Any] = []
    for clause in clauses:
        if clause.field in ("page", "pageSize"):
            continue
        spec = fields.get(clause.field)
        if spec is None:
            raise ApiError(400, "INVALID_FILTER", f"filter field {clause.field!r} is not supported")
        if clause.op == "->":
            values = [_convert(clause.field, spec.kind, v) for v in clause.value]
            if not values:
                conds.append("0")
                continue
            conds.append(f"{spec.sql} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        elif clause.op == "~=":
            if spec.kind != "text":
                raise ApiError(400, "INVALID_FILTER", f"filter {clause.field}: ~= needs a text field")
            conds.append(f"instr(lower({spec.sql}), lower(?)) > 0")
            params.append(clause.value)
        else:
            conds.append(f"{spec.sql} {_SQL_OPS[clause.op]} ?")
            params.append(_convert(clause.field, spec.kind, clause.value))
    return conds, params


def paging(query: dict[str, str], clauses: list[Clause], *, default_size: int, max_size: int) -> tuple[int, int]:
    """``(page, pageSize)`` from the query parameters (or ``page==``/``pageSize==`` filter clauses).

    ``page`` is 1-based (default 1); ``pageSize`` defaults to ``default_size``.

    Raises:
        ApiError: 400 ``INVALID_PAGING`` for a non-integer, ``page < 1``, or ``pageSize`` outside
            ``1..max_size`` (the cap is UNCONFIRMED; the sandbox refuses rather than clamps).
    """
    from_filter = {c.field: c.value for c in clauses if c.field in ("page", "pageSize") and c.op == "=="}
    raw_page = query.get("page", from_filter.get("page", "1"))
    raw_size = query.get("pageSize", from_filter.get("pageSize", str(default_size)))
    try:
        page, size = int(str(raw_page)), int(str(raw_size))
    except ValueError:
        raise ApiError(400, "INVALID_PAGING", "page and pageSize must be integers") from None
    if page < 1:
        raise ApiError(400, "INVALID_PAGING", "page must be >= 1")
    if not 1 <= size <= max_size:
        raise ApiError(400, "INVALID_PAGING", f"pageSize must be between 1 and {max_size}")
    return page, size
