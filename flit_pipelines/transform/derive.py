"""Derived columns: row-wise expressions and grouped aggregates joined from other objects.

A joined aggregate reduces the rows of another object per key with a vectorised groupby and maps the
result onto the working frame by key, e.g. "the latest payer of each patient" or "the sum of CHARGE
amounts of each claim". ``join``/``join_unique`` concatenate text per group (one string join per
group, not per row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from flit_pipelines.spec.model import DeriveStep, ValueSource
from flit_pipelines.transform.expressions import evaluate as evaluate_expression
from flit_pipelines.transform.values import TransformError, evaluate, render_template


def join_keys(step: DeriveStep, base_pk: str | None) -> tuple[str, str]:
    """(``by.left``: a column of the working frame, ``by.right``: a column of ``step.from_``) of a joined
    step; ``by: COL`` means (the base primary key, COL). Raises TransformError without a key."""
    return _keys(step, base_pk)


def _keys(step: DeriveStep, base_pk: str | None) -> tuple[str, str]:
    if isinstance(step.by, dict):
        return step.by["left"], step.by["right"]
    if isinstance(step.by, str):
        if base_pk is None:
            raise TransformError(f"derive {step.name}: by {step.by!r} needs a primary key on the base object")
        return base_pk, step.by
    raise TransformError(f"derive {step.name}: a joined step needs by")


def _ordered(other: pd.DataFrame, order_by: str | None) -> pd.DataFrame:
    if not order_by:
        return other
    desc = order_by.startswith("-")
    col = order_by.lstrip("-")
    return other.sort_values(col, ascending=not desc, kind="stable", na_position="first" if not desc else "last")


def _join_groups(frame: pd.DataFrame, separator: str) -> pd.Series:
    """Concatenate ``v`` per ``k`` in row order: factorize, stable sort, one split (pandas' own
    groupby-join goes through its slow per-group Python path)."""
    if frame.empty:
        return pd.Series([], dtype="string")
    codes, uniques = pd.factorize(frame["k"], sort=False)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    values = frame["v"].astype(str).to_numpy(dtype=object)[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    joined = [separator.join(part) for part in np.split(values, bounds)]
    keys = uniques[sorted_codes[np.r_[0, bounds]]]
    return pd.Series(joined, index=keys, dtype="string")


def join_columns(step: DeriveStep, other: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``other`` with the columns of each ``step.join`` object left-joined on (one merge per join)."""
    for j in step.join:
        left, right = j.by["left"], j.by["right"]
        clash = [c for c in j.columns if c in other.columns]
        if clash:
            raise TransformError(f"join {j.object}: column(s) {clash} already exist in {step.from_}")
        table = frames[j.object]
        missing = [c for c in (right, *j.columns) if c not in table.columns]
        if missing or left not in other.columns:
            raise TransformError(f"join {j.object}: column(s) {missing or [left]} do not exist")
        lookup = table[[right, *j.columns]].drop_duplicates(right).set_index(right)
        joined = lookup.reindex(other[left].to_numpy())
        other = other.assign(**{c: pd.Series(joined[c].array, index=other.index) for c in j.columns})
    return other


def aggregate(step: DeriveStep, other: pd.DataFrame, settings: dict[str, Any]) -> pd.Series:
    """Reduce ``other`` per ``by.right`` key; returns a Series indexed by key."""
    _, right = _keys(step, "__pk__")
    if right not in other.columns:
        raise TransformError(f"derive {step.name}: column {right!r} not in {step.from_}")
    if step.where:
        try:
            mask = evaluate_expression(other, step.where, settings)
        except Exception as exc:
            raise TransformError(f"derive {step.name}: where {step.where!r}: {type(exc).__name__}: {exc}") from exc
        other = other[mask.fillna(False).astype(bool)]
    other = _ordered(other, step.order_by)
    keys = other[right]
    if step.agg == "count":
        return other.groupby(keys, sort=False).size()
    if step.template is not None:
        values = render_template(other, step.template, escape=step.escape)
    else:
        values = evaluate(other, ValueSource(column=step.column, format=step.format, args=step.args))
    frame = pd.DataFrame({"k": keys.array, "v": values.array})  # .array keeps tz-aware dates typed
    frame = frame[frame["k"].notna()]
    g = frame.groupby("k", sort=False)["v"]
    agg = step.agg
    if agg == "first":
        return frame.dropna(subset=["v"]).drop_duplicates("k", keep="first").set_index("k")["v"]
    if agg == "last":
        # the latest row's value, null included (e.g. no secondary payer in the current period)
        return frame.drop_duplicates("k", keep="last").set_index("k")["v"]
    if agg in ("sum", "min", "max", "nunique"):
        return getattr(g, agg)()
    if agg == "any":
        return g.any()
    if agg == "mode":
        counts = frame.dropna(subset=["v"]).groupby(["k", "v"], sort=False).size().reset_index(name="n")
        counts = counts.sort_values(["k", "n", "v"], ascending=[True, False, True], kind="stable")
        return counts.drop_duplicates("k").set_index("k")["v"]
    if agg in ("join", "join_unique"):
        frame = frame.dropna(subset=["v"])
        if agg == "join_unique":
            frame = frame.drop_duplicates(["k", "v"])
        if step.limit:
            frame = frame.groupby("k", sort=False).head(step.limit)
        return _join_groups(frame, step.separator)
    raise TransformError(f"derive {step.name}: unknown agg {agg}")


def apply_derive(frame: pd.DataFrame, steps: list[DeriveStep], frames: dict[str, pd.DataFrame],
                 base_pk: str | None, settings: dict[str, Any]) -> pd.DataFrame:
    """Add every derived column to a copy of ``frame``, in spec order (later steps see earlier ones)."""
    frame = frame.copy()
    for step in steps:
        try:
            if step.from_ is None:
                extra = {"value_map": step.value_map, "default": step.default}
                src = ValueSource(expr=step.expr, **extra) if step.expr else (
                    ValueSource(template=step.template, escape=step.escape, **extra) if step.template
                    else ValueSource(column=step.column, columns=step.columns, format=step.format, args=step.args,
                                     **extra))
                frame[step.name] = evaluate(frame, src, settings)
                continue
            left, _ = _keys(step, base_pk)
            if left not in frame.columns:
                raise TransformError(f"column {left!r} does not exist")
            reduced = aggregate(step, join_columns(step, frames[step.from_], frames), settings)
            mapped = frame[left].map(reduced)
            if step.agg == "count":
                mapped = mapped.fillna(0).astype("int64")
            frame[step.name] = mapped
        except TransformError as exc:
            raise TransformError(f"derive {step.name}: {exc}") from exc
    return frame


# -- derived-value accounting ---------------------------------------------------------------------
DERIVED_GAP_PREFIX = "derived value "


def missing_inputs(frame: pd.DataFrame, steps: list[DeriveStep], frames: dict[str, pd.DataFrame],
                   quarantined: dict[str, pd.DataFrame], base_pk: str | None,
                   settings: dict[str, Any]) -> tuple[pd.Series, dict[str, int]]:
    """Which rows of ``frame`` (the derived working frame) have a joined-aggregate value computed
    without some of its input rows, because those rows were quarantined at extract.

    ``quarantined[object]`` holds an object's quarantined rows with their typed values (see
    ``flit_pipelines.reconcile.quarantined``). For each step ``from`` such an object, a quarantined
    row is an input of the record whose ``by.left`` equals its ``by.right`` and that the step's
    ``join`` and ``where`` would have kept (a ``where`` that cannot be evaluated on the row keeps it).

    Returns (reason per row of ``frame`` or <NA>: ``"derived value <step> is missing N of M input rows
    (quarantined at extract: <reasons>)"``, several steps joined by ``"; "``; and per object, the
    quarantined rows without a usable ``by.right`` value, which no record can be told to miss).
    Reasons name steps, columns and checks, never a value.
    """
    reasons = pd.Series(pd.NA, index=frame.index, dtype="string")
    unattributed: dict[str, set] = {}  # object -> positions of its quarantined rows without a key
    for step in steps:
        source = step.from_  # the object a joined aggregate reads; None: a row-wise step
        q = quarantined.get(source) if source is not None else None
        if source is None or q is None or q.empty:
            continue
        left, right = _keys(step, base_pk)
        if left not in frame.columns or right not in q.columns:
            continue
        no_key = q[right].isna()
        if no_key.any():
            unattributed.setdefault(source, set()).update(np.flatnonzero(no_key.to_numpy()).tolist())
        q = q[~no_key]
        if q.empty:
            continue
        counting = step.model_copy(update={"agg": "count"})
        try:
            lost = aggregate(counting, join_columns(step, q, frames), settings)
        except (TransformError, KeyError):  # the where does not evaluate on these rows: count them all
            lost = q.groupby(right, sort=False).size()
        keys = frame[left]
        n = keys.map(lost).fillna(0).astype("int64")
        hit = n > 0
        if not hit.any():
            continue
        good = frames[source]
        good = good[good[right].isin(lost.index)]  # only the groups that lost rows need their size
        kept = aggregate(counting, join_columns(step, good, frames), settings)
        total = n + keys.map(kept).fillna(0).astype("int64")
        why = _join_groups(pd.DataFrame({"k": q[right].array, "v": q["reason"].array}).dropna()
                           .drop_duplicates(), "; ")
        text = (DERIVED_GAP_PREFIX + step.name + " is missing " + n.astype("string") + " of "
                + total.astype("string") + " input rows (quarantined at extract: "
                + keys.map(why).astype("string").fillna("reason not recorded") + ")")
        reasons = reasons.where(~hit, reasons.str.cat(text, sep="; ").fillna(text))
    return reasons, {obj: len(rows) for obj, rows in unattributed.items()}
