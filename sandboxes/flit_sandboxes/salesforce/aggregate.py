"""Aggregate SOQL: GROUP BY, HAVING and the aggregate functions (SOQL and SOSL Reference: "GROUP BY",
"Considerations for GROUP BY", "HAVING", "Aggregate Functions", "Using Aliases with GROUP BY").

- Functions: ``COUNT(field)`` (non-null values; ``COUNT(Id)`` = rows), ``COUNT_DISTINCT(field)``, ``SUM``/``AVG``
  (number, currency and percent fields only), ``MIN``/``MAX``; nulls are ignored. Without GROUP BY the answer is
  one row, also when nothing matches (``COUNT`` 0, the others null).
- Result rows are ``{"attributes": {"type": "AggregateResult"}, ...}`` with the SELECT items in order: a grouped
  field under its alias or its field name (``Patient__r.LastName`` -> ``LastName``), an aggregate under its alias
  or ``expr0``, ``expr1``, ... counted over the aggregates without an alias.
- Rules (400): a plain SELECT field that is not grouped -> ``MALFORMED_QUERY`` "Field must be grouped or
  aggregated: F"; an ORDER BY key neither grouped nor aggregated -> ``MALFORMED_QUERY`` "Ordered field must be
  grouped or aggregated: F"; GROUP BY on a field whose describe ``groupable`` is false -> ``INVALID_FIELD`` "field
  'F' can not be grouped in a query call"; ``SUM``/``AVG`` of a non-numeric field (or any aggregate of long text)
  -> ``INVALID_FIELD`` "field F does not support aggregate operator SUM"; ``COUNT()`` or a sub-query in an
  aggregate query -> ``MALFORMED_QUERY``. Error texts UNCONFIRMED beyond these field names.
- Groups come sorted by their GROUP BY values (nulls first; text case-insensitively, as text grouping is), then
  HAVING, ORDER BY, OFFSET and LIMIT apply. All rows come in one page: REST cannot page GROUP BY results with a
  query locator ("Considerations for GROUP BY").
"""

from __future__ import annotations

from typing import Any, Protocol

from flit_sandboxes.salesforce.schema import NUMBER_TYPES, TEXT_TYPES
from flit_sandboxes.salesforce.query_paths import Record, Source, _compare, _literal, _Path, _value
from flit_sandboxes.salesforce.soql import Aggregate, Compare, FieldItem, Logic, Query, malformed
from flit_sandboxes.salesforce.values import to_json


class QueryRun(Protocol):
    """What a grouping reads of the query run it serves (``query.Runner``, which builds it)."""

    @property
    def source(self) -> Source:
        """Where the records come from."""
        ...

    @property
    def query(self) -> Query:
        """The parsed SOQL query."""
        ...

    @property
    def paths(self) -> dict[str, _Path]:
        """Every field path of the query, resolved against the schema."""
        ...


_NO_AGGREGATE = ("textarea", "base64")


def _normal(value: Any, text: bool) -> Any:
    return value.lower() if text and isinstance(value, str) else value


def _sort_key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class Grouping:
    """The aggregate form of one query (``Runner.grouping``); validates the query on construction.

    Raises:
        SfError: the rules of the module docstring.
    """

    def __init__(self, runner: QueryRun):
        self.runner = runner
        query = runner.query
        if query.count:
            raise malformed(query.text, query.column, "COUNT() cannot be combined with GROUP BY or aggregate functions")
        if query.subqueries:
            raise malformed(query.text, query.subqueries[0].column, "Nested queries are not supported in aggregate "
                            "queries")
        grouped = {p.lower() for p in query.group_by}
        for item in query.items:
            if isinstance(item, FieldItem) and item.path.lower() not in grouped:
                raise malformed(query.text, item.column, "Field must be grouped or aggregated: "
                                f"{runner.paths[item.path].final.name}")
        for key, _, _ in query.order:
            if not isinstance(key, Aggregate) and key.lower() not in grouped:
                raise malformed(query.text, query.text.find(key) + 1, "Ordered field must be grouped or aggregated: "
                                f"{runner.paths[key].final.name}")
        for path in query.group_by:
            final = runner.paths[path].final
            if not final.groupable:
                raise malformed(query.text, query.text.find(path) + 1, f"field '{final.name}' can not be grouped in "
                                "a query call", "INVALID_FIELD")
        self.functions: dict[str, Aggregate] = {}
        for agg in [*(i for i in query.items if isinstance(i, Aggregate)),
                    *(k for k, _, _ in query.order if isinstance(k, Aggregate)), *self._having_aggregates()]:
            final = runner.paths[agg.path].final
            if final.type in _NO_AGGREGATE or (agg.func in ("SUM", "AVG") and final.type not in NUMBER_TYPES):
                raise malformed(query.text, agg.column, f"field {final.name} does not support aggregate operator "
                                f"{agg.func}", "INVALID_FIELD")
            self.functions.setdefault(agg.key, agg)
        self.having = self._compile(query.having) if query.having is not None else None

    def _having_aggregates(self) -> list[Aggregate]:
        found: list[Aggregate] = []

        def visit(node: Any) -> None:
            if isinstance(node, Compare) and node.func:
                found.append(Aggregate(node.func, node.path, node.column))
            elif isinstance(node, Logic):
                for part in node.parts:
                    visit(part)

        visit(self.runner.query.having)
        return found

    # ------------------------------------------------------------------ evaluation
    def _value(self, record: Record, path_text: str) -> Any:
        return _value(self.runner.source, record, self.runner.paths[path_text])

    def _compute(self, agg: Aggregate, members: list[Record]) -> Any:
        final = self.runner.paths[agg.path].final
        values = [v for v in (self._value(r, agg.path) for r in members) if v is not None]
        if agg.func == "COUNT":
            return len(values)
        if agg.func == "COUNT_DISTINCT":
            return len({_normal(v, final.type in TEXT_TYPES) for v in values})
        if not values:
            return None
        if agg.func == "SUM":  # a sum keeps the field's scale (no float noise such as 0.30000000000000004)
            total = sum(values)
            return round(total, final.scale) if isinstance(total, float) else total
        if agg.func == "AVG":
            return sum(values) / len(values)
        return (min if agg.func == "MIN" else max)(values, key=_sort_key)

    def _compile(self, node: Any) -> Any:
        """HAVING as a predicate over ``(group values, aggregate values)``."""
        query = self.runner.query
        if isinstance(node, Logic):
            parts = [self._compile(p) for p in node.parts]
            if node.kind == "and":
                return lambda g, a: all(p(g, a) for p in parts)
            if node.kind == "or":
                return lambda g, a: any(p(g, a) for p in parts)
            return lambda g, a: not parts[0](g, a)
        path = self.runner.paths[node.path]
        if node.func is None and node.path.lower() not in {p.lower() for p in query.group_by}:
            raise malformed(query.text, node.column, f"Field must be grouped or aggregated: {path.final.name}")
        literals = node.value if isinstance(node.value, list) else [node.value]
        if node.func in ("COUNT", "COUNT_DISTINCT", "SUM", "AVG"):
            if any(lit.kind != "number" for lit in literals):
                raise malformed(query.text, node.column, f"value of filter criterion for {node.func}({path.final.name}"
                                ") must be a number", "INVALID_QUERY_FILTER_OPERATOR")
            wanted = [lit.value for lit in literals]
        else:
            wanted = [_literal(query, path, lit, node.column) for lit in literals]
        if node.op in ("LIKE", "INCLUDES", "EXCLUDES"):
            raise malformed(query.text, node.column, f"invalid operator on field '{path.final.name}' in HAVING",
                            "INVALID_QUERY_FILTER_OPERATOR")
        text = node.func not in ("COUNT", "COUNT_DISTINCT", "SUM", "AVG") and path.final.type in TEXT_TYPES
        key = Aggregate(node.func, node.path).key if node.func else node.path.lower()

        def left(groups: dict[str, Any], aggregates: dict[str, Any]) -> Any:
            return _normal(aggregates[key] if node.func else groups[key], text)

        if node.op in ("IN", "NOTIN"):
            positive = node.op == "IN"
            return lambda g, a: any(_compare(left(g, a), "=", w) for w in wanted) == positive
        return lambda g, a: _compare(left(g, a), node.op, wanted[0])

    def results(self, rows: list[Record]) -> list[Record]:
        """The ``AggregateResult`` rows of the filtered ``rows`` (module docstring)."""
        query = self.runner.query
        texts = [self.runner.paths[p].final.type in TEXT_TYPES for p in query.group_by]
        groups: dict[tuple[Any, ...], list[Record]] = {} if query.group_by else {(): []}
        for record in rows:
            key = tuple(_normal(self._value(record, p), t) for p, t in zip(query.group_by, texts, strict=True))
            groups.setdefault(key, []).append(record)
        evaluated = []
        for key, members in groups.items():
            shown = {p.lower(): self._value(members[0], p) if members else None for p in query.group_by}
            values = {k: self._compute(agg, members) for k, agg in self.functions.items()}
            if self.having is None or self.having(shown, values):
                evaluated.append((key, shown, values))
        evaluated.sort(key=lambda e: [(v is not None, _sort_key(v)) for v in e[0]])
        for order_key, descending, nulls_last in reversed(query.order):
            def value(entry: tuple[Any, dict[str, Any], dict[str, Any]], k: Any = order_key) -> Any:
                return entry[2][k.key] if isinstance(k, Aggregate) else _sort_key(entry[1][k.lower()])

            present = sorted((e for e in evaluated if value(e) is not None), key=value, reverse=descending)
            missing = [e for e in evaluated if value(e) is None]
            evaluated = present + missing if nulls_last else missing + present
        evaluated = evaluated[query.offset:]
        if query.limit is not None:
            evaluated = evaluated[:query.limit]
        return [self._render(shown, values) for _, shown, values in evaluated]

    def _render(self, shown: dict[str, Any], values: dict[str, Any]) -> Record:
        out: Record = {"attributes": {"type": "AggregateResult"}}
        unnamed = 0
        for item in self.runner.query.items:
            if isinstance(item, Aggregate):
                if item.alias:
                    name = item.alias
                else:
                    name, unnamed = f"expr{unnamed}", unnamed + 1
                final = self.runner.paths[item.path].final
                value = values[item.key]
                out[name] = to_json(final, value) if item.func in ("MIN", "MAX") else value
            elif isinstance(item, FieldItem):
                final = self.runner.paths[item.path].final
                out[item.alias or final.name] = to_json(final, shown[item.path.lower()])
        return out
