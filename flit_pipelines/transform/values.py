"""Column-wise evaluation of a spec ``ValueSource``: column, columns, template, expr or constant,
then formatter, value map and default. Everything works on whole columns."""

from __future__ import annotations

import html
import string
from typing import Any

import numpy as np
import pandas as pd

from flit_pipelines.spec.model import ValueSource
from flit_pipelines.transform.expressions import evaluate as evaluate_expression
from flit_pipelines.transform.formatters import apply_format


class TransformError(ValueError):
    """A spec expression or column reference does not fit the data (names the target and field)."""


def escape_html(text: pd.Series) -> pd.Series:
    """``html.escape`` (quotes included) over a text column, newlines as ``<br>``.

    One C-level ``html.escape`` per value measured faster than six vectorised replace passes over
    pandas strings, and equal to pyarrow's replace_substring once conversions are counted.
    """
    return text.map(html.escape, na_action="ignore").astype("string").str.replace("\n", "<br>", regex=False)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise TransformError(f"column {name!r} does not exist (have: {', '.join(map(str, frame.columns))})")
    return frame[name]


def render_template(frame: pd.DataFrame, template: str, *, escape: str | None = None) -> pd.Series:
    """``"{FIRST} {LAST}"`` over whole columns. ``{COL:fmt}`` applies a one-column formatter.

    Nulls render as empty text; a row where every referenced column is null yields null.
    """
    out = pd.Series("", index=frame.index, dtype="string")
    any_present = pd.Series(False, index=frame.index)
    for literal, field, spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if field is None:
            continue
        col = _column(frame, field)
        if spec:
            col = apply_format(spec, [col], {})
        any_present |= col.notna().to_numpy()
        text = col.astype("string")
        if escape == "html":
            text = escape_html(text)
        out = out + text.fillna("")
    return out.str.strip().where(any_present)


def _stringify_keys(s: pd.Series) -> pd.Series:
    """Text keys for value maps: booleans as "true"/"false", whole floats without ".0"."""
    if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
        b = s.astype("boolean")
        return pd.Series(np.where(b.fillna(False), "true", "false"), index=s.index, dtype="string").where(b.notna())
    return s.astype("string")


def evaluate(frame: pd.DataFrame, src: ValueSource, settings: dict[str, Any] | None = None) -> pd.Series:
    """Evaluate one value source over ``frame``; returns a Series aligned to ``frame.index``.

    Raises:
        TransformError: unknown column, failing expression, or bad formatter use.
    """
    try:
        if src.column is not None:
            s = _column(frame, src.column)
        elif src.columns is not None:
            s = None
        elif src.template is not None:
            s = render_template(frame, src.template, escape=src.escape)
        elif src.expr is not None:
            s = evaluate_expression(frame, src.expr, settings)
            if not isinstance(s, pd.Series):
                s = pd.Series(s, index=frame.index)
        else:
            s = pd.Series([src.value] * len(frame), index=frame.index, dtype="object")
        if src.format:
            cols = [_column(frame, c) for c in src.columns] if src.columns is not None else [s]
            s = apply_format(src.format, cols, src.args)
        elif s is None:
            raise TransformError("columns needs a format that combines them")
        if src.value_map is not None:
            keys = _stringify_keys(s)
            mapped = keys.map(src.value_map)
            fallback = src.default if src.default is not None else s
            s = (mapped.where(mapped.notna() | keys.isna(), fallback) if src.default is not None
                 else mapped.where(mapped.notna(), s))
        elif src.default is not None:
            s = s.where(s.notna(), src.default)
        only_if = src.args.get("only_if")
        if only_if:
            s = s.where(_column(frame, only_if).astype("boolean").fillna(False))
        for col in src.args.get("null_if_empty", []):
            s = s.where(_column(frame, col).notna())
        return s
    except TransformError:
        raise
    except Exception as exc:  # pandas raises many types; name the spec part, not the data
        raise TransformError(f"{type(exc).__name__}: {exc}") from exc
