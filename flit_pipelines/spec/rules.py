"""Declarable value rules of the spec (issue 9): their names, actions, defaults and the row check.

Column rules are fields of ``spec.model.ColumnSpec`` (``min``, ``max``, ``max_length``,
``not_in_future``, ``isin``, ``pattern`` and ``on_fail``); object rules are ``RowCheck`` entries in
``SourceObject.checks``. They are declarative on purpose (column names, operators, constants; no
expressions). ``flit_pipelines.sources.rules`` evaluates them, column-wise, on every extracted chunk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

RuleAction = Literal["quarantine", "warn"]
# Column rules whose action a spec may set in ``on_fail`` (NUL bytes and non-finite numbers always quarantine).
ColumnRule = Literal["isin", "pattern", "min", "max", "max_length", "not_in_future", "control_characters"]
# Applies to every text column without a ``max_length`` of its own: a million-character "name" is bad input.
DEFAULT_MAX_TEXT_LENGTH = 65_536
NUMERIC_TYPES = ("int", "float", "money")
_FAMILY = {"int": "number", "float": "number", "money": "number", "date": "time", "datetime": "time",
           "string": "text", "bool": "bool"}


def comparable_family(column_type: str) -> str:
    """``number`` (int, float, money), ``time`` (date, datetime), ``text`` or ``bool``: a row check
    compares two columns of one family."""
    return _FAMILY[column_type]


class RowCheck(BaseModel):
    """A declarative comparison of two columns of one row, e.g. ``{left: STOP, op: ">=", right: START}``
    (a visit does not end before it starts). Rows where either side is null pass; failing rows are
    quarantined with the reason ``"STOP >= START"`` (or ``name``), or with ``on_fail: warn`` counted
    under that name. Both columns must be of one family (``comparable_family``); the model of the
    object checks that. No expressions: column names and an operator only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    left: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    right: str
    on_fail: RuleAction = "quarantine"
    name: str | None = None

    @property
    def label(self) -> str:
        """``name``, else ``"<left> <op> <right>"``."""
        return self.name or f"{self.left} {self.op} {self.right}"
