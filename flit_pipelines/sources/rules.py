"""Value rules of a source object, evaluated column-wise on each typed chunk (issue 9, items 13-14).

The spec declares them (``spec.model.ColumnSpec``: ``isin``, ``pattern``, ``min``, ``max``,
``max_length``, ``not_in_future``, ``on_fail``; ``SourceObject.checks``: row checks such as
``STOP >= START``); some apply to every object without a spec change: no NUL bytes in text
(quarantine), no control characters (warn), text no longer than ``DEFAULT_MAX_TEXT_LENGTH``
(quarantine), no ``inf``/``NaN`` in float and money columns (quarantine: a non-finite number is not
valid JSON and would be blamed on the destination).

Each rule gives a boolean mask of failing rows and its action: ``quarantine`` rows get the rule's
label as their reason; ``warn`` rows are only counted by label. Labels name columns, rules and the
spec's own constants, never source values; the rules Pandera checked before keep Pandera's names so
reasons read as they did (``"GENDER: isin(['M', 'F'])"``, ``"BASE_ENCOUNTER_COST:
greater_than_or_equal_to(0.0)"``); the others are ``"FIRST: max_length 255"``, ``"BIRTHDATE:
not_in_future"``, ``"AMOUNT: finite"``, ``"CITY: nul_bytes"`` and row checks' ``"STOP >= START"``.

Pandera (``validate.pandera_schema``) keeps the schema contract: dtypes, nullability, unique keys
(its row failures found vectorised by ``validate.contract_failures``).
The rules live here because Pandera's only non-failing mode (``raise_warning``) puts the failure
cases, i.e. values, into a Python warning.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flit_pipelines.spec.model import ColumnSpec, SourceObject
from flit_pipelines.spec.rules import DEFAULT_MAX_TEXT_LENGTH, RuleAction

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "!=": operator.ne}


@dataclass(frozen=True)
class RuleFailure:
    """Rows failing one rule: ``label`` (reason / warning name), ``action``, ``mask`` (bool per row)."""

    label: str
    action: RuleAction
    mask: np.ndarray


def _arrow_text(s: pd.Series) -> pa.Array:
    arr = pa.array(s, type=pa.string(), from_pandas=True)  # zero-copy for an Arrow-backed column
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _mask(arr) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text_faults(arr: pa.Array, limit: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(NUL bytes, control characters, longer than ``limit`` characters) per value, or None where no
    value has it: one NumPy pass over the column's bytes, rows located through the offsets."""
    n = len(arr)
    if n == 0 or arr.null_count == n:
        return None, None, None
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + n + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[lo:hi] if hi > lo else np.zeros(0, np.uint8)
    # two passes over the bytes; tab, LF and CR (common in notes) are dropped from the few hits only
    low = data < 32
    low |= data == 127
    at = np.flatnonzero(low) if low.any() else np.zeros(0, np.int64)  # most columns have none: no index pass
    if len(at):
        hit = data[at]
        at = at[(hit != 9) & (hit != 10) & (hit != 13)]
    nul = ctrl = longer = None
    if len(at):
        rows = np.searchsorted(offsets, at + lo, side="right") - 1
        is_nul = data[at] == 0
        if is_nul.any():
            nul = np.zeros(n, dtype=bool)
            nul[rows[is_nul]] = True
        if (~is_nul).any():
            ctrl = np.zeros(n, dtype=bool)
            ctrl[rows[~is_nul]] = True
    if (np.diff(offsets) > limit).any():  # bytes >= characters: only then count characters
        longer = _mask(pc.greater(pc.utf8_length(arr), limit))
    return nul, ctrl, longer


def _column_rules(name: str, col: ColumnSpec, value: pd.Series, text: pd.Series | None, now: pd.Timestamp):
    if col.type == "string":
        arr = _arrow_text(text if text is not None else value)
        limit = col.max_length or DEFAULT_MAX_TEXT_LENGTH
        nul, control, longer = _text_faults(arr, limit)
        if nul is not None:
            yield f"{name}: nul_bytes", "quarantine", nul
        if control is not None:
            yield f"{name}: control_characters", col.action("control_characters"), control
        if longer is not None:
            yield f"{name}: max_length {limit}", col.action("max_length"), longer
        if col.isin is not None:
            # an empty value is not a wrong value (``nullable`` decides about those), as in Pandera's isin
            outside = pc.and_(pc.invert(pc.is_in(arr, pa.array(col.isin, pa.string()))), pc.is_valid(arr))
            yield f"{name}: isin({list(col.isin)!r})", col.action("isin"), _mask(outside)
        if col.pattern is not None:  # Python re semantics (matched at the start), as Pandera's str_matches
            value = value.astype("string")  # Python's re, not Arrow's RE2, even for Arrow-backed text
            yield f"{name}: str_matches({col.pattern!r})", col.action("pattern"), (value.notna() & ~value.str.match(col.pattern)
                                                             .fillna(False).astype(bool)).to_numpy(bool)
    if col.type in ("float", "money"):  # "NaN" did not parse ("not a money"); inf and Infinity did
        yield f"{name}: finite", "quarantine", np.isinf(value.to_numpy(dtype="float64", na_value=np.nan))
    if col.type in ("int", "float", "money"):
        num = pd.to_numeric(value, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            if col.min is not None:
                yield f"{name}: greater_than_or_equal_to({col.min!r})", col.action("min"), num < col.min
            if col.max is not None:
                yield f"{name}: less_than_or_equal_to({col.max!r})", col.action("max"), num > col.max
    if col.type in ("date", "datetime") and col.not_in_future:
        yield f"{name}: not_in_future", col.action("not_in_future"), (value > now).fillna(False).to_numpy(bool)


def evaluate(obj: SourceObject, typed: pd.DataFrame, *, now: datetime,
             text: pd.DataFrame | None = None) -> list[RuleFailure]:
    """Every rule of ``obj`` on one chunk; only rules that some row fails are returned.

    Args:
        text: the chunk's text (optional): text columns are checked there, zero-copy when it is
            Arrow-backed (``pd.ArrowDtype``), instead of converting ``typed``'s Python strings.
        typed: ``validate.coerce_chunk`` output; values that did not parse are null there (their
            "not a <type>" reason comes from ``split_chunk``), so they fail no rule here.
        now: the extract's clock for ``not_in_future`` (aware; injected by tests).
    """
    ts = pd.Timestamp(now)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    out = []
    for name, col in obj.columns.items():
        column_text = text[name] if text is not None and col.type == "string" else None
        for label, action, mask in _column_rules(name, col, typed[name], column_text, ts):
            if mask.any():
                out.append(RuleFailure(label, action, mask))
    for chk in obj.checks:
        left, right = typed[chk.left], typed[chk.right]
        both = (left.notna() & right.notna()).to_numpy(bool)
        holds = np.ones(len(typed), dtype=bool)
        if both.any():
            holds[both] = _OPS[chk.op](left[both], right[both]).to_numpy(bool)
        if not holds.all():
            out.append(RuleFailure(chk.label, chk.on_fail, ~holds))
    return out
