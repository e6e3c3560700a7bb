"""Running parsed SOQL over the org (``GET /query``, ``/queryAll``, Tooling ``/query``, Bulk query jobs).

Semantics (notes §2.4; details UNCONFIRMED where the notes are silent):

- The object must exist and be visible (custom objects need object read permission) else 400
  ``INVALID_TYPE`` "sObject type 'X' is not supported. ..."; every field and relationship path must be
  visible else 400 ``INVALID_FIELD`` "No such column 'F' on entity 'E'. ..." or "Didn't understand
  relationship 'R' in field path. ...".
- Text comparisons (``=``, ``!=``, ``IN``, ``LIKE``) are case-insensitive; Ids compare in 18-character form
  (15-character literals accepted; a malformed Id literal is ``INVALID_QUERY_FILTER_OPERATOR`` "invalid ID
  field: x"); date/dateTime/boolean/number fields need unquoted literals of their type (a quoted value is
  ``INVALID_QUERY_FILTER_OPERATOR`` "value of filter criterion for field 'F' must be of type date and should
  not be enclosed in quotes").
- ``ORDER BY``: nulls first ascending, last descending (``NULLS FIRST|LAST`` overrides); text sorts
  case-insensitively. Default order: insertion order.
- ``query`` leaves out deleted rows, ``queryAll`` keeps them (``IsDeleted`` true).
- ContentDocumentLink needs a filter on ``ContentDocumentId`` or ``LinkedEntityId`` with ``=`` or ``IN``
  (``MALFORMED_QUERY`` "Implementation restriction: ...", a real-org rule).
- Records: ``{"attributes": {"type", "url"}, <fields in SELECT order>}``; a relationship path nests as
  ``{"Patient__r": {"attributes": {...}, "Source_System_ID__c": "P-1"}}`` (``null`` when the lookup is
  empty); base64 fields show their blob URL; dateTimes as ``2024-05-01T09:30:00.000+0000``.
- Parent-to-child sub-queries (SOQL and SOSL Reference, "Relationship Queries"): ``(SELECT ... FROM
  Treatment_Records__r ...)`` names a child relationship of the queried object (describe ``childRelationships``,
  any case; unknown or invisible -> 400 ``INVALID_TYPE`` "Didn't understand relationship 'X' in FROM part of
  query call. ..."). Each record carries it under the canonical name as a nested query result ``{"totalSize",
  "done": true, "records": [...]}`` of the non-deleted children (its WHERE, ORDER BY, and LIMIT per parent
  applied), or ``null`` when there are none (UNCONFIRMED: nested results are never paged).
- Aggregate queries (GROUP BY or aggregate functions) are answered by ``aggregate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flit_sandboxes.salesforce.errors import SfError, unsupported_object_message
from flit_sandboxes.salesforce.ids import normalize
from flit_sandboxes.salesforce.schema import TEXT_TYPES, Field, SObject
from flit_sandboxes.salesforce.soql import Aggregate, Compare, FieldItem, Logic, Query, malformed, parse
from flit_sandboxes.salesforce.values import to_json

from flit_sandboxes.salesforce import aggregate
from flit_sandboxes.salesforce.query_paths import (  # shared with aggregate
    Record,
    Source,
    _compare,
    _like,
    _literal,
    _Path,
    _resolve,
    _value,
)

_CDL_KEYS = {"contentdocumentid", "linkedentityid"}


@dataclass
class _Child:
    """A parent-to-child sub-query: its runner, the reference field pointing at the parent, the canonical name."""

    runner: Runner
    ref: Field
    name: str
    index: dict[str, list[Record]] | None = None  # parent Id -> matching children, filled on first use


class Runner:
    """One query's compiled form: resolved paths, the filter, ordering and rendering.

    Args:
        source: where the query reads.
        text: the SOQL text, or an already parsed (sub-)query.
        sobject: the object a sub-query reads (its ``object`` is a relationship name); None: ``FROM`` names it.

    Raises:
        SfError: 400 ``MALFORMED_QUERY`` / ``INVALID_TYPE`` / ``INVALID_FIELD`` /
            ``INVALID_QUERY_FILTER_OPERATOR`` (module docstring).
    """

    def __init__(self, source: Source, text: str | Query, sobject: SObject | None = None):
        self.source = source
        self.query = text if isinstance(text, Query) else parse(text)
        self.sobject = sobject or source.object(self.query.object)
        if self.sobject is None:
            column = self.query.text.find(self.query.object) + 1
            raise malformed(self.query.text, column, unsupported_object_message(self.query.object), "INVALID_TYPE")
        self.paths = {p: _resolve(source, self.query, self.sobject, p) for p in self._all_paths()}
        self.filter = self._compile(self.query.where) if self.query.where is not None else None
        self.children = [self._child(sub) for sub in self.query.subqueries]
        self.grouping = aggregate.Grouping(self) if self.query.aggregate else None
        aliased = next((i for i in self.query.items if isinstance(i, FieldItem) and i.alias), None)
        if aliased is not None and self.grouping is None:
            raise malformed(self.query.text, aliased.column, f"unexpected token: '{aliased.alias}'")
        ordered = next((k for k, _, _ in self.query.order if isinstance(k, Aggregate)), None)
        if ordered is not None and self.grouping is None:
            raise malformed(self.query.text, ordered.column, "Aggregate functions in ORDER BY need an aggregate query")
        self.include_deleted = False
        if self.sobject.name == "ContentDocumentLink" and not self._cdl_filtered(self.query.where):
            raise SfError(400, "MALFORMED_QUERY", "Implementation restriction: ContentDocumentLink requires a "
                          "filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or "
                          "multiple Id's using the IN operator.")

    def _all_paths(self) -> list[str]:
        query = self.query
        paths = list(query.fields) + list(query.group_by)
        paths += [i.path for i in query.items if isinstance(i, Aggregate)]
        paths += [k.path if isinstance(k, Aggregate) else k for k, _, _ in query.order]

        def visit(node: Any) -> None:
            if isinstance(node, Compare):
                paths.append(node.path)
            elif isinstance(node, Logic):
                for part in node.parts:
                    visit(part)

        visit(query.where)
        visit(query.having)
        return list(dict.fromkeys(paths))

    def _child(self, sub: Query) -> _Child:
        found = self.source.schema.child_relationship(self.sobject, sub.object)  # type: ignore[arg-type]
        if found is None or self.source.object(found[0].name) is None \
                or self.source.field(found[0], found[1].name) is None:
            raise malformed(sub.text, sub.text.find(sub.object, sub.column) + 1,
                            f"Didn't understand relationship '{sub.object}' in FROM part of query call. If you are "
                            "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                            "relationship name. Please reference your WSDL or the describe call for the appropriate "
                            "names.", "INVALID_TYPE")
        child, ref = found
        return _Child(Runner(self.source, sub, child), ref, str(ref.child_relationship))

    def _cdl_filtered(self, node: Any) -> bool:
        if isinstance(node, Compare):
            return self.paths[node.path].final.name.lower() in _CDL_KEYS and not self.paths[node.path].steps \
                and node.op in ("=", "IN")
        if isinstance(node, Logic) and node.kind == "and":
            return any(self._cdl_filtered(part) for part in node.parts)
        return False

    def _compile(self, node: Any) -> Callable[[Record], bool]:
        if isinstance(node, Logic):
            parts = [self._compile(p) for p in node.parts]
            if node.kind == "and":
                return lambda r: all(p(r) for p in parts)
            if node.kind == "or":
                return lambda r: any(p(r) for p in parts)
            return lambda r: not parts[0](r)
        path = self.paths[node.path]
        if node.op in ("IN", "NOTIN", "INCLUDES", "EXCLUDES"):
            wanted = [_literal(self.query, path, v, node.column) for v in node.value]
            if node.op in ("INCLUDES", "EXCLUDES"):
                sets = [{x.lower() for x in str(w).split(";")} for w in wanted if w is not None]

                def includes(r: Record) -> bool:
                    have = {x.lower() for x in str(_value(self.source, r, path) or "").split(";") if x}
                    return any(s <= have for s in sets)

                return includes if node.op == "INCLUDES" else (lambda r: not includes(r))
            positive = node.op == "IN"
            return lambda r: any(_compare(self._left(r, path), "=", w) for w in wanted) == positive
        if node.op == "LIKE":
            if path.final.type not in TEXT_TYPES:
                raise malformed(self.query.text, node.column, f"invalid operator on field '{path.final.name}'",
                                "INVALID_QUERY_FILTER_OPERATOR")
            regex = _like(node.value.value)
            return lambda r: (v := self._left(r, path)) is not None and bool(regex.fullmatch(str(v)))
        right = _literal(self.query, path, node.value, node.column)
        return lambda r: _compare(self._left(r, path), node.op, right)

    def _left(self, record: Record, path: _Path) -> Any:
        value = _value(self.source, record, path)
        if isinstance(value, str) and path.final.type in ("id", "reference"):
            return normalize(value) or value
        if isinstance(value, str) and path.final.type in TEXT_TYPES:
            return value.lower()
        return value

    def rows(self, include_deleted: bool, *, paged: bool = True) -> list[Record]:
        """The matching stored records, ordered, offset and limited (not rendered; ``paged`` False: no OFFSET or
        LIMIT); for an aggregate query its ``AggregateResult`` rows (rendered)."""
        self.include_deleted = include_deleted
        rows = [r for r in self.source.rows(self.sobject.name, include_deleted)  # type: ignore[union-attr]
                if include_deleted or not r.get("IsDeleted")]
        if self.filter is not None:
            rows = [r for r in rows if self.filter(r)]
        if self.grouping is not None:
            return self.grouping.results(rows)
        for path_text, descending, nulls_last in reversed(self.query.order):
            path = self.paths[path_text]

            def key(r: Record, path: _Path = path) -> Any:
                value = _value(self.source, r, path)
                return value.lower() if isinstance(value, str) else value

            present = [r for r in rows if key(r) is not None]
            missing = [r for r in rows if key(r) is None]
            present.sort(key=key, reverse=descending)
            rows = present + missing if nulls_last else missing + present
        if not paged:
            return rows
        rows = rows[self.query.offset:]
        if self.query.limit is not None:
            rows = rows[:self.query.limit]
        return rows

    def render(self, record: Record) -> Record:
        """One result row (module docstring); aggregate rows are already rendered."""
        if self.grouping is not None:
            return record
        name = self.sobject.name  # type: ignore[union-attr]
        out: Record = {"attributes": {"type": name, "url": self.source.url(name, record["Id"])}}
        children = iter(self.children)
        for item in self.query.items:
            if isinstance(item, Query):
                child = next(children)
                out[child.name] = self._children_of(child, record)
            else:
                self._render_path(out, record, self.paths[item.path])
        return out

    def _children_of(self, child: _Child, record: Record) -> Record | None:
        if child.index is None:
            child.index = {}
            for row in child.runner.rows(self.include_deleted, paged=False):
                parent = normalize(row.get(child.ref.name) or "")
                if parent:
                    child.index.setdefault(parent, []).append(row)
        found = child.index.get(normalize(record["Id"]) or record["Id"], [])[:child.runner.query.limit]
        if not found:
            return None
        return {"totalSize": len(found), "done": True, "records": [child.runner.render(r) for r in found]}

    def _render_path(self, out: Record, record: Record, path: _Path) -> None:
        """Write one SELECT path of ``record`` into ``out`` (nesting relationship objects)."""
        holder: Record = out
        current: Record | None = record
        for step in path.steps:
            target = current.get(step.name) if current else None
            found = self.source.lookup(target) if target else None
            rel = step.relationship_name or step.name
            if found is None:
                holder[rel] = holder.get(rel) if isinstance(holder.get(rel), dict) else None
                return
            object_name, current = found
            nested = holder.get(rel)
            if not isinstance(nested, dict):
                nested = {"attributes": {"type": object_name, "url": self.source.url(object_name, current["Id"])}}
                holder[rel] = nested
            holder = nested
        if path.final.type == "base64":
            object_name = holder.get("attributes", {}).get("type", self.sobject.name)  # type: ignore[union-attr]
            holder[path.final.name] = self.source.url(object_name, current["Id"]) + "/" + path.final.name \
                if current.get("ContentSize") is not None else None
        else:
            holder[path.final.name] = to_json(path.final, current.get(path.final.name))
