"""One-to-one assignment of columns to fields (Hungarian method, ``scipy.optimize.linear_sum_assignment``).

A field takes at most one column, except ``many`` fields (Pipedrive ``emails``/``phones``), which get
one slot per column. Every column also has its own "no field" slot at cost ``1 - threshold``, so a
column is left to the custom-field step rather than forced onto a poor field.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from flit_pipelines.proposal.score import Candidate


def assign(candidates: dict[str, list[Candidate]], many: set[str], threshold: float) -> dict[str, Candidate]:
    """``candidates``: column -> its candidates (any order). Returns column -> the chosen candidate for
    the columns that get a field; the others are absent."""
    columns = list(candidates)
    if not columns:
        return {}
    slots: list[str] = []
    for f in sorted({c.field for cands in candidates.values() for c in cands if c.confidence >= threshold}):
        slots.extend([f] * (len(columns) if f in many else 1))
    n, m = len(columns), len(slots)
    cost = np.full((n, m + n), 2.0)
    for i, col in enumerate(columns):
        conf = {c.field: c.confidence for c in candidates[col]}
        for j, f in enumerate(slots):
            if f in conf and conf[f] >= threshold:
                cost[i, j] = 1.0 - conf[f]
        cost[i, m + i] = 1.0 - threshold
    rows, cols = linear_sum_assignment(cost)
    out: dict[str, Candidate] = {}
    for i, j in zip(rows, cols, strict=True):
        if j < m and cost[i, j] < 1.0 - threshold + 1e-12:
            field = slots[j]
            out[columns[i]] = next(c for c in candidates[columns[i]] if c.field == field)
    return out
