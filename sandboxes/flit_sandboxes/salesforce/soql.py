"""A SOQL parser for the subset the sandbox serves (notes §2.4).

Grammar (keywords case-insensitive; SOQL and SOSL Reference: SELECT, GROUP BY, HAVING, Aggregate Functions,
Using Aliases with GROUP BY, Relationship Queries)::

    SELECT item (, item)* FROM Object [WHERE cond] [GROUP BY path (, path)*] [HAVING cond]
           [ORDER BY key [ASC|DESC] [NULLS FIRST|LAST] (, ...)*] [LIMIT n] [OFFSET n]
    item  := path [alias] | COUNT() | agg [alias] | ( sub-query )
    agg   := COUNT(path) | COUNT_DISTINCT(path) | SUM(path) | AVG(path) | MIN(path) | MAX(path)
    sub-query := SELECT path (, path)* FROM ChildRelationship__r [WHERE cond] [ORDER BY key (, key)*] [LIMIT n]
    key   := path | agg                          path := Field | Rel.Field | Rel.Rel.Field (e.g. Patient__r.Ext__c)
    cond  := cond OR cond | cond AND cond | NOT cond | ( cond )
           | left (= | != | <> | < | <= | > | >=) value | left [NOT] IN ( value, ... ) | left LIKE 'text%'
           | left INCLUDES|EXCLUDES ( 'a;b', ... )          left := path | agg (agg in HAVING only)
    value := 'text' (backslash escapes) | number | true | false | null | 2024-05-01 | 2024-05-01T09:30:00Z
           | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n

Not supported (``MALFORMED_QUERY``): sub-queries inside sub-queries, TYPEOF, FIELDS(), date functions, bind
variables, semi-joins. Syntax errors are ``MALFORMED_QUERY`` with Salesforce's "unexpected token" layout
(``\\n<query>\\n<caret>\\nERROR at Row:1:Column:N\\n...``; wording UNCONFIRMED).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flit_sandboxes.salesforce.errors import SfError

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?(?:\d+\.?\d*|\.\d+))
  | (?P<datekw>(?:LAST|NEXT)_N_DAYS:\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)
""", re.VERBOSE | re.IGNORECASE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\", "_": "\\_",
            "%": "\\%"}
DATE_KEYWORDS = {"TODAY", "YESTERDAY", "TOMORROW"}
AGGREGATES = ("COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX")
_RESERVED = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "OFFSET", "ASC",
             "DESC", "NULLS", "FIRST", "LAST", "INCLUDES", "EXCLUDES", "GROUP", "HAVING"}


@dataclass
class Literal:
    """A value in a condition: kind is string|number|boolean|null|date|datetime|datekw."""

    kind: str
    value: Any


@dataclass
class Aggregate:
    """An aggregate function over a field path (``COUNT(Id)``, ``SUM(Amount__c) total``)."""

    func: str  # upper case, one of AGGREGATES
    path: str
    column: int = 0
    alias: str | None = None

    @property
    def key(self) -> str:
        """Identity of the expression (``SUM(amount__c)``): the same function of the same field."""
        return f"{self.func}({self.path.lower()})"


@dataclass
class FieldItem:
    """A plain field of the SELECT list (an alias only in aggregate queries)."""

    path: str
    column: int = 0
    alias: str | None = None


@dataclass
class Compare:
    """``path op value`` (op: = != < <= > >= LIKE IN NOTIN INCLUDES EXCLUDES; IN-like ops take a list); ``func``
    is the aggregate function applied to ``path`` (HAVING only)."""

    path: str
    op: str
    value: Literal | list[Literal]
    column: int = 0
    func: str | None = None


@dataclass
class Logic:
    """``and`` / ``or`` of parts, or ``not`` of one part."""

    kind: str
    parts: list[Any]


@dataclass
class Query:
    """A parsed SELECT (a sub-query's ``object`` is the child relationship name)."""

    text: str
    object: str
    fields: list[str] = field(default_factory=list)  # the plain field paths, in SELECT order
    count: bool = False
    where: Any = None
    order: list[tuple[str | Aggregate, bool, bool]] = field(default_factory=list)  # (key, descending, nulls_last)
    limit: int | None = None
    offset: int = 0
    items: list[FieldItem | Aggregate | Query] = field(default_factory=list)  # the SELECT list, in order
    group_by: list[str] = field(default_factory=list)
    having: Any = None
    column: int = 1  # where the (sub-)query starts, for error carets

    @property
    def aggregate(self) -> bool:
        """A GROUP BY or aggregate-function query (results are ``AggregateResult`` rows)."""
        return bool(self.group_by) or any(isinstance(i, Aggregate) for i in self.items)

    @property
    def subqueries(self) -> list[Query]:
        """The parent-to-child sub-queries of the SELECT list."""
        return [i for i in self.items if isinstance(i, Query)]


@dataclass
class _Token:
    kind: str
    text: str
    column: int


def malformed(text: str, column: int, message: str, code: str = "MALFORMED_QUERY") -> SfError:
    """Salesforce's query error layout: the query, a caret under ``column`` (1-based) and the message."""
    caret = " " * max(0, column - 1) + "^"
    return SfError(400, code, f"\n{text}\n{caret}\nERROR at Row:1:Column:{column}\n{message}")


def _tokens(text: str) -> list[_Token]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise malformed(text, position + 1, f"unexpected token: '{text[position]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    out.append(_Token("eof", "<EOF>", len(text) + 1))
    return out


def _unquote(raw: str) -> str:
    body, out, index = raw[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(_ESCAPES.get(body[index + 1], body[index + 1]))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.having = False  # inside HAVING: aggregate functions may stand on the left of a comparison

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def keyword(self, *words: str) -> bool:
        return self.token.kind == "name" and self.token.text.upper() in words

    def take(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.unexpected()
        self.take()

    def expect_op(self, op: str) -> None:
        if self.token.text != op:
            raise self.unexpected()
        self.take()

    def unexpected(self) -> SfError:
        return malformed(self.text, self.token.column, f"unexpected token: '{self.token.text}'")

    def path(self) -> _Token:
        if self.token.kind != "name" or self.token.text.upper() in _RESERVED:
            raise self.unexpected()
        return self.take()

    def parse(self) -> Query:
        query = self.select(nested=False)
        if self.token.kind != "eof":
            raise self.unexpected()
        return query

    def select(self, nested: bool) -> Query:
        query = Query(self.text, "", column=self.token.column)
        self.expect_keyword("SELECT")
        while True:
            self.item(query, nested)
            if self.token.text != ",":
                break
            self.take()
        if query.count and query.items:
            raise malformed(self.text, query.column + 7, "COUNT() cannot be combined with other fields")
        self.expect_keyword("FROM")
        query.object = self.path().text
        if self.keyword("WHERE"):
            self.take()
            query.where = self.condition()
        if self.keyword("GROUP") and not nested:
            self.take()
            self.expect_keyword("BY")
            query.group_by.append(self.path().text)
            while self.token.text == ",":
                self.take()
                query.group_by.append(self.path().text)
        if self.keyword("HAVING") and not nested:
            self.take()
            self.having = True
            query.having = self.condition()
            self.having = False
        if self.keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            query.order = self.order()
        if self.keyword("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.keyword("OFFSET") and not nested:
            self.take()
            query.offset = self.integer()
        return query

    def item(self, query: Query, nested: bool) -> None:
        if self.token.text == "(" and not nested and self.tokens[self.index + 1].text.upper() == "SELECT":
            self.take()
            query.items.append(self.select(nested=True))
            self.expect_op(")")
        elif self.keyword("COUNT") and self.tokens[self.index + 1].text == "(" \
                and self.tokens[self.index + 2].text == ")":
            for _ in range(3):
                self.take()
            query.count = True
        elif self.at_aggregate():
            agg = self.aggregate_call()
            agg.alias = self.alias()
            query.items.append(agg)
        else:
            token = self.path()
            query.fields.append(token.text)
            query.items.append(FieldItem(token.text, token.column, self.alias()))

    def at_aggregate(self) -> bool:
        return self.keyword(*AGGREGATES) and self.tokens[self.index + 1].text == "("

    def aggregate_call(self) -> Aggregate:
        func = self.take()
        self.expect_op("(")
        path = self.path().text
        self.expect_op(")")
        return Aggregate(func.text.upper(), path, func.column)

    def alias(self) -> str | None:
        if self.token.kind == "name" and self.token.text.upper() not in _RESERVED and "." not in self.token.text:
            return self.take().text
        return None

    def integer(self) -> int:
        if self.token.kind != "number" or not self.token.text.isdigit():
            raise self.unexpected()
        return int(self.take().text)

    def order(self) -> list[tuple[str | Aggregate, bool, bool]]:
        out: list[tuple[str | Aggregate, bool, bool]] = []
        while True:
            path: str | Aggregate = self.aggregate_call() if self.at_aggregate() else self.path().text
            descending = False
            if self.keyword("ASC", "DESC"):
                descending = self.take().text.upper() == "DESC"
            nulls_last = descending
            if self.keyword("NULLS"):
                self.take()
                if not self.keyword("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_last = self.take().text.upper() == "LAST"
            out.append((path, descending, nulls_last))
            if self.token.text != ",":
                return out
            self.take()

    def condition(self) -> Any:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("or", parts)

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.keyword("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("and", parts)

    def negation(self) -> Any:
        if self.keyword("NOT"):
            self.take()
            return Logic("not", [self.negation()])
        if self.token.text == "(":
            self.take()
            inner = self.condition()
            self.expect_op(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        func = None
        if self.having and self.at_aggregate():
            agg = self.aggregate_call()
            path, func = _Token("name", agg.path, agg.column), agg.func
        else:
            path = self.path()
        if self.keyword("NOT"):
            self.take()
            self.expect_keyword("IN")
            return Compare(path.text, "NOTIN", self.value_list(), path.column, func)
        if self.keyword("IN", "INCLUDES", "EXCLUDES"):
            op = self.take().text.upper()
            return Compare(path.text, op, self.value_list(), path.column, func)
        if self.keyword("LIKE"):
            self.take()
            value = self.value()
            if value.kind != "string":
                raise self.unexpected()
            return Compare(path.text, "LIKE", value, path.column, func)
        if self.token.kind != "op" or self.token.text in "(),":
            raise self.unexpected()
        op = self.take().text
        return Compare(path.text, "!=" if op == "<>" else op, self.value(), path.column, func)

    def value_list(self) -> list[Literal]:
        self.expect_op("(")
        values = [self.value()]
        while self.token.text == ",":
            self.take()
            values.append(self.value())
        self.expect_op(")")
        return values

    def value(self) -> Literal:
        token = self.token
        if token.kind == "string":
            self.take()
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            self.take()
            return Literal("number", float(token.text) if "." in token.text else int(token.text))
        if token.kind in ("date", "datetime"):
            self.take()
            return Literal(token.kind, token.text)
        if token.kind == "datekw":
            self.take()
            return Literal("datekw", token.text.upper())
        if token.kind == "name" and token.text.upper() in ("TRUE", "FALSE"):
            self.take()
            return Literal("boolean", token.text.upper() == "TRUE")
        if token.kind == "name" and token.text.upper() == "NULL":
            self.take()
            return Literal("null", None)
        if token.kind == "name" and token.text.upper() in DATE_KEYWORDS:
            self.take()
            return Literal("datekw", token.text.upper())
        raise self.unexpected()


def parse(text: str) -> Query:
    """Parse a SOQL query; raises ``SfError`` (400 ``MALFORMED_QUERY``)."""
    if not isinstance(text, str) or not text.strip():
        raise SfError(400, "MALFORMED_QUERY", "A query string is required (parameter q)")
    return _Parser(text.strip()).parse()
