"""The pieces of a SOQL run that ``query`` (rows) and ``aggregate`` (groups) share: where a query reads
(``Source``), field paths resolved against the schema, values read along them, literals typed by the
field, comparisons and LIKE patterns (semantics: ``query``'s module docstring)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flit_sandboxes.salesforce.errors import SfError
from flit_sandboxes.salesforce.ids import normalize
from flit_sandboxes.salesforce.perms import Permissions
from flit_sandboxes.salesforce.schema import NUMBER_TYPES, Field, Schema, SObject
from flit_sandboxes.salesforce.soql import Literal, Query, malformed
from flit_sandboxes.salesforce.values import parse_datetime

__all__ = ["Record", "Source", "_Path", "_bad_field", "_compare", "_like", "_literal", "_resolve", "_value", "_walk"]

Record = dict[str, Any]


@dataclass
class Source:
    """Where a query reads: the schema, visibility, rows and records by Id, and the URL base of rows.

    Args:
        rows: ``(object name, include deleted) -> records``.
        lookup: ``id -> (object name, record)`` or None (for relationship paths).
        url: ``(object name, id) -> attributes.url``.
        perms: visibility (None: everything visible, e.g. Tooling).
    """

    schema: Schema
    rows: Callable[[str, bool], list[Record]]
    lookup: Callable[[str], tuple[str, Record] | None]
    url: Callable[[str, str], str]
    perms: Permissions | None = None

    def object(self, name: str) -> SObject | None:
        sobject = self.schema.get(name)
        if sobject is None or not sobject.queryable or (self.perms is not None and not self.perms.can_see(sobject)):
            return None
        return sobject

    def field(self, sobject: SObject, name: str) -> Field | None:
        return self.perms.visible_field(sobject, name) if self.perms is not None else sobject.field(name)


@dataclass
class _Path:
    text: str
    steps: list[Field]  # reference fields followed
    final: Field
    targets: list[SObject]  # the object the final field is read on, per candidate type


def _bad_field(query: Query, name: str, object_name: str, column: int) -> SfError:
    return malformed(query.text, column, f"No such column '{name}' on entity '{object_name}'. If you are attempting "
                     "to use a custom field, be sure to append the '__c' after the custom field name. Please reference "
                     "your WSDL or the describe call for the appropriate names.", "INVALID_FIELD")


def _resolve(source: Source, query: Query, sobject: SObject, text: str) -> _Path:
    column = query.text.find(text) + 1
    parts = text.split(".")
    if len(parts) > 1 and parts[0].lower() == sobject.name.lower():
        parts = parts[1:]  # "Contact.LastName" is allowed
    steps: list[Field] = []
    current = [sobject]
    for part in parts[:-1]:
        ref = next((r for o in current for r in [o.relationship(part)] if r is not None
                    and source.field(o, r.name) is not None), None)
        if ref is None:
            raise malformed(query.text, column, f"Didn't understand relationship '{part}' in field path. If you are "
                            "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                            "relationship name. Please reference your WSDL or the describe call for the appropriate "
                            "names.", "INVALID_FIELD")
        steps.append(ref)
        current = [o for o in (source.object(n) for n in source.schema.targets(ref)) if o is not None]
    finals = [(o, f) for o in current if (f := source.field(o, parts[-1])) is not None]
    if not finals:
        raise _bad_field(query, parts[-1], current[0].name if current else sobject.name, column)
    return _Path(text, steps, finals[0][1], [o for o, _ in finals])


def _walk(source: Source, record: Record, path: _Path) -> tuple[Record | None, str | None]:
    """The record the final field is read on (and its object name), following the references."""
    current: Record | None = record
    object_name: str | None = None
    for step in path.steps:
        target = current.get(step.name) if current else None
        found = source.lookup(target) if target else None
        if found is None:
            return None, None
        object_name, current = found
    return current, object_name


def _value(source: Source, record: Record, path: _Path) -> Any:
    holder, object_name = _walk(source, record, path)
    if holder is None:
        return None
    if path.steps and object_name is not None and object_name not in {o.name for o in path.targets}:
        return None
    value = holder.get(path.final.name)
    return bool(value) if path.final.type == "boolean" else value


def _literal(query: Query, path: _Path, literal: Literal, column: int) -> Any:
    kind, field_type, value = literal.kind, path.final.type, literal.value
    if kind == "null":
        return None
    if field_type in ("id", "reference"):
        if kind != "string":
            raise malformed(query.text, column, f"invalid ID field: {value}", "INVALID_QUERY_FILTER_OPERATOR")
        normal = normalize(value)
        if normal is None:
            raise malformed(query.text, column, f"invalid ID field: {value}", "INVALID_QUERY_FILTER_OPERATOR")
        return normal
    if field_type in ("date", "datetime"):
        if kind == "string":
            raise malformed(query.text, column, f"value of filter criterion for field '{path.final.name}' must be of "
                            f"type {'date' if field_type == 'date' else 'dateTime'} and should not be enclosed in "
                            "quotes", "INVALID_QUERY_FILTER_OPERATOR")
        if kind == "datekw":
            return _date_keyword(value)
        if kind == "date":
            return value if field_type == "date" else (value, "date")
        if kind == "datetime":
            stored = parse_datetime(value)
            return stored if field_type == "datetime" else stored[:10]
    if field_type == "boolean":
        if kind != "boolean":
            raise malformed(query.text, column, f"value of filter criterion for field '{path.final.name}' must be of "
                            "type boolean and should not be enclosed in quotes", "INVALID_QUERY_FILTER_OPERATOR")
        return value
    if field_type in NUMBER_TYPES:
        if kind != "number":
            raise malformed(query.text, column, f"value of filter criterion for field '{path.final.name}' must be of "
                            "type double and should not be enclosed in quotes", "INVALID_QUERY_FILTER_OPERATOR")
        return value
    if kind != "string":
        raise malformed(query.text, column, f"value of filter criterion for field '{path.final.name}' must be of type "
                        "string and should be enclosed in quotes", "INVALID_QUERY_FILTER_OPERATOR")
    return value.lower()


def _date_keyword(word: str) -> tuple[str, str]:
    today = date.today()
    if word in ("TODAY", "YESTERDAY", "TOMORROW"):
        day = today + timedelta(days={"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[word])
        return day.isoformat(), day.isoformat()
    days = int(word.split(":")[1])
    if word.startswith("LAST"):
        return (today - timedelta(days=days)).isoformat(), today.isoformat()
    return today.isoformat(), (today + timedelta(days=days)).isoformat()


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, tuple):  # a date range (keywords) or a date against a dateTime field
        day = left[:10] if isinstance(left, str) else None
        low, high = (right[0], right[0]) if right[1] == "date" else right
        inside = day is not None and low <= day <= high
        if day is None:
            return op == "!="
        return {"=": inside, "!=": not inside, "<": day < low, "<=": day <= high, ">": day > high, ">=": day >= low}[op]
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
