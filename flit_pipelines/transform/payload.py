"""Build a target's payload frame: destination-shaped columns, foreign keys still source IDs.

Payload columns:
* ``source_id``: the base object's primary key (or row number where it has none);
* one column per destination field path (``name``, ``postal_address.value``, ``due_time``, ...);
* ``cf:<Custom field name>`` per custom field (resolved to the account's key at load time);
* ``fk:<field>`` per lookup: the parent's source ID (resolved through the crosswalk at load time).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.derive import apply_derive
from flit_pipelines.transform.expressions import evaluate as evaluate_expression
from flit_pipelines.transform.values import TransformError, evaluate

CF_PREFIX = "cf:"
FK_PREFIX = "fk:"


def needed_objects(spec: MigrationSpec, target: str) -> list[str]:
    """The source objects a target's payload reads: its base and every derive source."""
    t = spec.targets[target]
    names = [t.from_] + [s.from_ for s in t.derive if s.from_] + [j.object for s in t.derive for j in s.join]
    return list(dict.fromkeys(names))


def build_payload(spec: MigrationSpec, target: str, frames: dict[str, pd.DataFrame],
                  settings: dict[str, Any] | None = None) -> pd.DataFrame:
    """Map one target. ``frames`` holds the typed extracts of ``needed_objects``.

    Raises:
        TransformError: with the target and field named, never a data value.
    """
    t = spec.targets[target]
    obj = spec.objects[t.from_]
    settings = dict(spec.destination.settings, **(settings or {}))
    base = frames[t.from_].reset_index(drop=True)
    if any(settings.get(k) != v for k, v in t.when.items()):
        base = base.iloc[0:0]  # an alternative the settings did not choose: zero rows, same columns
    try:
        work = apply_derive(base, t.derive, frames, obj.primary_key, settings)
        if t.where:  # after derive, so a filter can use derived columns ("has a ledger history")
            keep = evaluate_expression(work, t.where, settings)
            work = work[pd.Series(keep, index=work.index).fillna(False).astype(bool)].reset_index(drop=True)
    except TransformError as exc:
        raise TransformError(f"target {target}: {exc}") from exc
    except Exception as exc:  # pandas raises many types from eval; name the spec part, never data
        raise TransformError(f"target {target}: where {t.where!r}: {type(exc).__name__}: {exc}") from exc
    if obj.primary_key:
        source_id = work[obj.primary_key].astype("string")
    else:
        source_id = pd.Series(range(1, len(work) + 1), dtype="int64").astype("string")
    out: dict[str, pd.Series] = {"source_id": source_id}
    for path, src in t.fields.items():
        try:
            out[path] = evaluate(work, src, settings)
        except TransformError as exc:
            raise TransformError(f"target {target}, field {path}: {exc}") from exc
    for name, src in t.custom_fields.items():
        try:
            out[CF_PREFIX + name] = evaluate(work, src, settings)
        except TransformError as exc:
            raise TransformError(f"target {target}, custom field {name}: {exc}") from exc
    for fk, lk in t.lookups.items():
        if lk.column not in work.columns:
            raise TransformError(f"target {target}, lookup {fk}: column {lk.column!r} does not exist")
        out[FK_PREFIX + fk] = work[lk.column].astype("string")
    if t.match:
        out["match_value"] = work[t.match["column"]].astype("string")
    payload = pd.DataFrame(out)
    # object columns mixing types don't round-trip through Parquet; text is the wire format anyway
    for col in payload.columns:
        if payload[col].dtype == object:
            payload[col] = payload[col].astype("string")
    return payload
