"""A SOQL parser for the subset the sandbox serves (notes §2.4).

Grammar (keywords case-insensitive)::

    SELECT item (, item)* FROM Object [WHERE cond] [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST] (, ...)*]
           [LIMIT n] [OFFSET n]
    item  := path | COUNT()                      path := Field | Rel.Field | Rel.Rel.Field (e.g. Patient__r.Ext__c)
    cond  := cond OR cond | cond AND cond | NOT cond | ( cond )
           | path (= | != | <> | < | <= | > | >=) value | path [NOT] IN ( value, ... ) | path LIKE 'text%'
           | path INCLUDES|EXCLUDES ( 'a;b', ... )
    value := 'text' (backslash escapes) | number | true | false | null | 2024-05-01 | 2024-05-01T09:30:00Z
           | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n

Not supported (``MALFORMED_QUERY``): sub-queries, GROUP BY/HAVING and aggregates other than ``COUNT()``,
TYPEOF, FIELDS(), bind variables, semi-joins. Syntax errors are ``MALFORMED_QUERY`` with Salesforce's
"unexpected token" layout (``\\n<query>\\n<caret>\\nERROR at Row:1:Column:N\\n...``; wording UNCONFIRMED).
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
_RESERVED = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "OFFSET", "ASC",
             "DESC", "NULLS", "FIRST", "LAST", "INCLUDES", "EXCLUDES", "GROUP", "HAVING"}


@dataclass
class Literal:
    """A value in a condition: kind is string|number|boolean|null|date|datetime|datekw."""

    kind: str
    value: Any


@dataclass
class Compare:
    """``path op value`` (op: = != < <= > >= LIKE IN NOTIN INCLUDES EXCLUDES; IN-like ops take a list)."""

    path: str
    op: str
    value: Literal | list[Literal]
    column: int = 0


@dataclass
class Logic:
    """``and`` / ``or`` of parts, or ``not`` of one part."""

    kind: str
    parts: list[Any]


@dataclass
class Query:
    """A parsed SELECT."""

    text: str
    object: str
    fields: list[str] = field(default_factory=list)
    count: bool = False
    where: Any = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # (path, descending, nulls_last)
    limit: int | None = None
    offset: int = 0


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
        self.expect_keyword("SELECT")
        query = Query(self.text, "")
        while True:
            if self.keyword("COUNT") and self.tokens[self.index + 1].text == "(":
                self.take()
                self.take()
                self.expect_op(")")
                query.count = True
            else:
                query.fields.append(self.path().text)
            if self.token.text != ",":
                break
            self.take()
        if query.count and query.fields:
            raise malformed(self.text, 8, "COUNT() cannot be combined with other fields")
        self.expect_keyword("FROM")
        query.object = self.path().text
        if self.keyword("WHERE"):
            self.take()
            query.where = self.condition()
        if self.keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            query.order = self.order()
        if self.keyword("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.keyword("OFFSET"):
            self.take()
            query.offset = self.integer()
        if self.token.kind != "eof":
            raise self.unexpected()
        return query

    def integer(self) -> int:
        if self.token.kind != "number" or not self.token.text.isdigit():
            raise self.unexpected()
        return int(self.take().text)

    def order(self) -> list[tuple[str, bool, bool]]:
        out = []
        while True:
            path = self.path().text
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
        path = self.path()
        if self.keyword("NOT"):
            self.take()
            self.expect_keyword("IN")
            return Compare(path.text, "NOTIN", self.value_list(), path.column)
        if self.keyword("IN", "INCLUDES", "EXCLUDES"):
            op = self.take().text.upper()
            return Compare(path.text, op, self.value_list(), path.column)
        if self.keyword("LIKE"):
            self.take()
            value = self.value()
            if value.kind != "string":
                raise self.unexpected()
            return Compare(path.text, "LIKE", value, path.column)
        if self.token.kind != "op" or self.token.text in "(),":
            raise self.unexpected()
        op = self.take().text
        return Compare(path.text, "!=" if op == "<>" else op, self.value(), path.column)

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
