"""The spec expression language: a small, checked subset of pandas expressions, evaluated column-wise.

Mapping specs hold expressions (``expr:`` of fields and derive steps, ``where:`` of targets, derive
steps and sample strata, the ``where`` of ``source_sums``), e.g. ``"STOP.notna()"``,
``"(chartstatus == 105) & (proclogclass == 0)"``, ``"SIZE_BYTES > @file_size_limit_bytes"``,
``"base_stage.where(upcoming == 0, 'Active')"``. ``DataFrame.eval(engine="python")`` would run any
Python attribute chain an edited spec wrote (``a.str.__class__.__mro__``...), so expressions are
parsed with ``ast`` and every node is checked against an allow-list before anything runs:

* names: frame columns (letters, digits, ``_``; not starting with ``_``) and ``@name`` settings;
* literals: strings, numbers, ``True``/``False``/``None``, lists and tuples of them;
* operators: ``+ - * / // % **``, comparisons (chains too), ``in`` / ``not in`` (``isin``),
  ``& | ~`` and ``and or not`` (element-wise, with pandas' precedence: ``&``/``|`` bind like
  ``and``/``or``, i.e. looser than comparisons, exactly as ``DataFrame.eval`` reads them);
* calls of the Series methods in ``SERIES_METHODS``, of ``.str`` methods in ``STR_METHODS`` and of
  ``.dt`` members in ``DT_MEMBERS``; positional and keyword arguments are expressions themselves.

Everything else (subscripts, lambdas, comprehensions, other attributes, dunder names, ``**kwargs``)
is refused with an ``ExpressionError`` that names the expression and the construct, never data.
``check_expression`` runs when a spec is loaded (``MigrationSpec`` validation), so a bad expression
fails ``load_spec``; ``evaluate`` checks again and evaluates vectorised over a frame.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from collections.abc import Mapping
from functools import lru_cache, reduce
from typing import Any, NoReturn

import pandas as pd

__all__ = ["DT_MEMBERS", "ExpressionError", "SERIES_METHODS", "SOURCE_SUM_RE", "STR_METHODS", "check_expression",
           "evaluate"]

SERIES_METHODS = frozenset({"notna", "isna", "notnull", "isnull", "fillna", "isin", "where", "mask", "between",
                            "abs", "round", "clip", "eq", "ne", "lt", "le", "gt", "ge"})
STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "len", "contains",
                         "startswith", "endswith", "match", "fullmatch", "replace", "slice", "zfill"})
DT_MEMBERS = frozenset({"year", "month", "day", "hour", "minute", "second", "dayofweek", "dayofyear", "quarter",
                        "date", "normalize", "strftime"})
ACCESSORS = {"str": STR_METHODS, "dt": DT_MEMBERS}
# "object.column where <expression>" (a target's source_sums entry)
SOURCE_SUM_RE = re.compile(r"^\s*(\w+)\.(\w+)(?:\s+where\s+(.+))?\s*$")

_LOCAL = "__flit_local_"  # what ``@name`` becomes before parsing
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge}


class ExpressionError(ValueError):
    """A spec expression is not allowed, cannot be parsed, or cannot be evaluated; the message names
    the expression and the construct or column, never a data value."""


def _preparse(expr: str) -> str:
    """``@name`` -> a local marker name; ``&``/``|`` -> ``and``/``or`` (pandas' precedence)."""
    out: list[tuple[int, str]] = []
    pending_at = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(expr).readline):
            if tok.type == tokenize.OP and tok.string == "@":
                pending_at = True
                continue
            if pending_at:
                if tok.type != tokenize.NAME:
                    raise ExpressionError(f"expression {expr!r}: '@' must be followed by a setting name")
                out.append((tokenize.NAME, _LOCAL + tok.string))
                pending_at = False
                continue
            if tok.type == tokenize.OP and tok.string in ("&", "|"):
                out.append((tokenize.NAME, "and" if tok.string == "&" else "or"))
                continue
            if tok.type == tokenize.ERRORTOKEN and tok.string.strip():
                raise ExpressionError(f"expression {expr!r}: unexpected character {tok.string!r}")
            out.append((tok.type, tok.string))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ExpressionError(f"expression {expr!r}: cannot be parsed ({type(exc).__name__})") from None
    return tokenize.untokenize(out).strip()


def _check(node: ast.AST, expr: str) -> None:
    def refuse(what: str) -> NoReturn:
        raise ExpressionError(f"expression {expr!r}: {what} is not allowed in spec expressions")

    if isinstance(node, ast.Expression):
        return _check(node.body, expr)
    if isinstance(node, ast.Name):
        name = node.id
        if name.startswith(_LOCAL):
            if not _NAME.match(name[len(_LOCAL):]):
                refuse(f"setting name @{name[len(_LOCAL):]}")
            return
        if not _NAME.match(name):
            refuse(f"name {name!r}")
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            refuse(f"literal of type {type(node.value).__name__}")
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for elt in node.elts:
            _check(elt, expr)
        return
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, expr)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            refuse(f"operator {type(node.op).__name__}")
        _check(node.left, expr)
        _check(node.right, expr)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Invert, ast.Not, ast.USub, ast.UAdd)):
            refuse(f"operator {type(node.op).__name__}")
        return _check(node.operand, expr)
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMPOPS and not isinstance(op, (ast.In, ast.NotIn)):
                refuse(f"comparison {type(op).__name__}")
        for v in (node.left, *node.comparators):
            _check(v, expr)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Attribute):
            refuse("calling anything but a Series method")
        for a in node.args:
            if isinstance(a, ast.Starred):
                refuse("*arguments")
            _check(a, expr)
        for kw in node.keywords:
            if kw.arg is None:
                refuse("**arguments")
            _check(kw.value, expr)
        return _check_member(node.func, expr, called=True)
    if isinstance(node, ast.Attribute):
        return _check_member(node, expr, called=False)
    refuse(type(node).__name__)


def _check_member(node: ast.Attribute, expr: str, *, called: bool) -> None:
    """``<series>.<method>``, ``<series>.str.<method>``, ``<series>.dt.<member>``; the accessors
    themselves only as the object of such a member."""
    value = node.value
    if isinstance(value, ast.Attribute) and value.attr in ACCESSORS:
        if node.attr not in ACCESSORS[value.attr]:
            raise ExpressionError(f"expression {expr!r}: .{value.attr}.{node.attr} is not allowed in spec expressions")
        return _check(value.value, expr)
    if node.attr in ACCESSORS:
        raise ExpressionError(f"expression {expr!r}: .{node.attr} is only allowed before one of its methods")
    if not called or node.attr not in SERIES_METHODS:
        raise ExpressionError(f"expression {expr!r}: attribute .{node.attr} is not allowed in spec expressions")
    return _check(value, expr)


@lru_cache(maxsize=1024)
def _parsed(expr: str) -> ast.Expression:
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError("an expression must be non-empty text")
    text = _preparse(expr)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ExpressionError(f"expression {expr!r}: cannot be parsed (syntax error)") from None
    _check(tree, expr)
    return tree


def check_expression(expr: str) -> None:
    """Parse ``expr`` and check it against the allow-list (module docstring). Raises ExpressionError."""
    _parsed(expr)


def evaluate(frame: pd.DataFrame, expr: str, settings: Mapping[str, Any] | None = None) -> Any:
    """Evaluate ``expr`` over ``frame`` column-wise: a Series aligned to ``frame.index`` (or a scalar
    for a constant expression such as ``"'Recall'"``). ``@name`` reads ``settings[name]``.

    Raises ExpressionError: the expression is not allowed, names an unknown column or setting, or
    pandas cannot evaluate it (the message names the error type, never a value)."""
    tree = _parsed(expr)
    try:
        return _Evaluator(frame, settings or {}, expr).visit(tree.body)
    except ExpressionError:
        raise
    except Exception as exc:  # pandas raises many types; their texts may quote data, so only the type
        raise ExpressionError(f"expression {expr!r}: cannot be evaluated ({type(exc).__name__})") from None


class _Evaluator:
    """Walks a checked tree; every operation is one pandas column operation."""

    def __init__(self, frame: pd.DataFrame, settings: Mapping[str, Any], expr: str):
        self.frame, self.settings, self.expr = frame, settings, expr

    def visit(self, node: ast.AST) -> Any:
        return getattr(self, f"_{type(node).__name__}")(node)

    def _Name(self, node: ast.Name) -> Any:
        if node.id.startswith(_LOCAL):
            name = node.id[len(_LOCAL):]
            if name not in self.settings:
                raise ExpressionError(f"expression {self.expr!r}: setting @{name} is not defined")
            return self.settings[name]
        if node.id not in self.frame.columns:
            raise ExpressionError(f"expression {self.expr!r}: column {node.id!r} does not exist")
        return self.frame[node.id]

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    _Tuple = _List

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        fn = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        return reduce(fn, (self.visit(v) for v in node.values))

    def _BinOp(self, node: ast.BinOp) -> Any:
        return _BINOPS[type(node.op)](self.visit(node.left), self.visit(node.right))

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, (ast.Invert, ast.Not)):
            return ~value if isinstance(value, (pd.Series, pd.Index)) else not value
        return -value if isinstance(node.op, ast.USub) else +value

    def _Compare(self, node: ast.Compare) -> Any:
        results = []
        left = self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comp)
            if isinstance(op, (ast.In, ast.NotIn)):
                values = list(right) if isinstance(right, (list, tuple, pd.Series)) else [right]
                hit = left.isin(values) if isinstance(left, pd.Series) else left in values
                results.append(~hit if isinstance(op, ast.NotIn) and isinstance(hit, pd.Series)
                               else (not hit if isinstance(op, ast.NotIn) else hit))
            else:
                results.append(_CMPOPS[type(op)](left, right))
            left = right
        return reduce(operator.and_, results)

    def _Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Attribute)  # check_expression allows Series methods only
        method = self._Attribute(node.func)
        args = [self.visit(a) for a in node.args]
        kwargs = {kw.arg: self.visit(kw.value) for kw in node.keywords if kw.arg is not None}  # ** refused
        return method(*args, **kwargs)

    def _Attribute(self, node: ast.Attribute) -> Any:
        value = self.visit(node.value) if not (isinstance(node.value, ast.Attribute)
                                                and node.value.attr in ACCESSORS) else \
            getattr(self.visit(node.value.value), node.value.attr)
        if not type(value).__module__.startswith("pandas."):  # a Series or its .str/.dt accessor
            raise ExpressionError(f"expression {self.expr!r}: .{node.attr} needs a column, not a constant")
        return getattr(value, node.attr)
