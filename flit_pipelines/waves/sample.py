"""The stratified sample wave (issue 5 "Sample wave and field-level diff").

The sample wave loads ``waves.sample_size`` (100-500) root records chosen so that every target and
the declared hard cases appear, plus every parent they need:

1. **Scan** (``scan_source``): the root's keys and, per stratum or parent-link object, only the
   columns the selection needs (wave key, ``where`` columns, lookup columns) are read through the
   source in its own bounded batches. Per stratum the matching rows are counted per root
   (``value_counts`` per batch, summed), so memory grows with the number of roots, not of rows.
2. **Select** (``select_sample``): roots are ranked by a stable hash of their ID (SipHash with a
   fixed key, ``pandas.util.hash_pandas_object``; ties by ID), so repeated runs pick the same
   sample. Strata take turns (round robin) picking the next eligible root in that order until each
   covers ``at_least`` roots (a root picked for one stratum counts for every stratum it satisfies);
   the rest is filled in hash order. The size is min(sample_size, root rows); stratum picks never
   exceed it (when they would, the strata listed first keep more).
3. **Parents**: a root referenced by a sampled row through a lookup to a target built from the root
   object (a file owned by another patient), or through a declared ``waves.sample_parents`` link (a
   guarantor who is another patient), is added beyond the size, with its own parents in turn, and
   counted separately (role ``parent``).

``sample_scope`` is what the extract asset calls: for the root it runs 1-3, writes
``sample_selection.csv`` and returns the selected IDs typed like the root's key; for an object with a
``wave_key`` it returns the root IDs of the root extract already written (so the rows of every
selected root and parent are kept); reference objects (no ``wave_key``) are extracted whole.

Default strata (``strata_of``): one per target whose base object has a ``wave_key``, named after the
target and filtered by the target's ``where`` (targets on the root itself only when they have a
``where``; user targets and targets switched off by ``when`` are skipped), then the spec's
``waves.sample_strata`` (a declared stratum whose label equals a default's replaces it). A ``where``
that needs derived columns cannot be evaluated before the payload is built: such a stratum counts
every row of its object and is reported as ``approximate``.

Cost: the scan reads each stratum object's few columns once more than its extract does (a narrow
SELECT on databases, a parse of the file for CSV exports, one paging pass on APIs; the PracticeHub
reader keeps this pass's cursor apart from the extract's, since the column set differs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flit_pipelines.reports.staff_csv import write_staff_csv
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.validate import coerce_chunk
from flit_pipelines.spec.model import MigrationSpec, SourceObject
from flit_pipelines.transform.expressions import evaluate as evaluate_expression

log = logging.getLogger(__name__)

DEFAULT_AT_LEAST = 5
HASH_KEY = "flit-sample-wave"  # SipHash key (16 characters) of the stable ranking; changing it re-draws samples
SELECTION_FILE = "sample_selection.csv"
SELECTION_COLUMNS = ["root_id", "role", "picked_for", "strata", "parent_of"]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SampleError(ValueError):
    """The spec cannot drive a stratified sample (names the spec part, never a value)."""


@dataclass(frozen=True)
class Stratum:
    """A resolved stratum: roots with >= ``min_rows`` rows of ``object`` matching ``where`` are
    eligible; the sample takes up to ``at_least`` of them."""

    label: str
    object: str
    min_rows: int = 1
    at_least: int = DEFAULT_AT_LEAST
    where: str | None = None


@dataclass(frozen=True)
class ParentLink:
    """Rows of ``object`` (matching ``where``) whose ``column`` holds the ID of another root record:
    target ``target``'s lookup ``lookup`` needs that root loaded."""

    target: str
    lookup: str
    object: str
    column: str
    where: str | None = None


def _root_key(spec: MigrationSpec) -> str:
    obj = spec.objects[spec.waves.root]
    if obj.wave_key is None:
        raise SampleError(f"waves.root {spec.waves.root!r} needs wave_key (its primary key) for the sample wave")
    return obj.wave_key


def _switched_on(spec: MigrationSpec, target_name: str) -> bool:
    settings = spec.destination.settings
    return all(settings.get(k) == v for k, v in spec.targets[target_name].when.items())


def strata_of(spec: MigrationSpec) -> list[Stratum]:
    """Default strata (one per target, see the module docstring) plus ``waves.sample_strata``.

    Targets reading the same rows (same object and ``where``) share one stratum labelled with all
    their names. Order: targets in spec order, then declared strata.
    """
    root = spec.waves.root
    groups: dict[tuple[str, str | None], list[str]] = {}
    for name, t in spec.targets.items():
        obj = spec.objects[t.from_]
        if t.entity == "user" or obj.wave_key is None or not _switched_on(spec, name):
            continue
        if t.from_ == root and not t.where:
            continue  # every root qualifies
        groups.setdefault((t.from_, t.where), []).append(name)
    declared = {st.label: st for st in spec.waves.sample_strata}
    out = [Stratum(", ".join(names), obj, 1, DEFAULT_AT_LEAST, where)
           for (obj, where), names in groups.items() if not (set(names) | {", ".join(names)}) & set(declared)]
    out += [Stratum(st.label, st.object, st.min_rows, st.at_least, st.where) for st in declared.values()]
    return out


def parent_links(spec: MigrationSpec) -> list[ParentLink]:
    """Declared ``waves.sample_parents`` (target ``""``), then lookups from sampled rows to targets
    built from the root object through a column other than the row's own wave key (only source
    columns: a lookup on a derived column is not followed)."""
    root = spec.waves.root
    root_targets = {n for n, t in spec.targets.items() if t.from_ == root}
    links = [ParentLink("", "", p.object, p.column, p.where) for p in spec.waves.sample_parents]
    for name, t in spec.targets.items():
        obj = spec.objects[t.from_]
        if obj.wave_key is None or not _switched_on(spec, name):
            continue
        for fk, lk in t.lookups.items():
            if lk.target in root_targets and lk.column in obj.columns and lk.column != obj.wave_key:
                links.append(ParentLink(name, fk, t.from_, lk.column, t.where))
    return links


# -- scan ----------------------------------------------------------------------------------------
def _where_columns(where: str | None, obj: SourceObject) -> list[str]:
    names = set(_NAME.findall(where or ""))
    return [c for c in obj.columns if c in names]


def _narrow(obj: SourceObject, columns: Iterable[str]) -> SourceObject:
    """``obj`` reading only ``columns`` (plus its primary key, which API readers dedupe pages by, and
    any ``[]`` column, which sets how many rows a record explodes into)."""
    want = set(columns) | ({obj.primary_key} if obj.primary_key else set())
    want |= {c for c, s in obj.columns.items() if s.source and "[]" in s.source}
    cols = {c: s for c, s in obj.columns.items() if c in want}
    return obj.model_copy(update={"columns": cols, "modified_at": None, "download": None})


def _mask(frame: pd.DataFrame, where: str | None, settings: Mapping[str, Any]) -> pd.Series | None:
    """Rows matching ``where`` (True for all without one); None when it cannot be evaluated on
    source columns (it needs derived ones)."""
    if not where:
        return pd.Series(True, index=frame.index)
    try:
        keep = evaluate_expression(frame, where, settings)
        return pd.Series(keep, index=frame.index).fillna(False).astype(bool)
    except Exception:  # pandas raises many types for an unknown name; the stratum becomes approximate
        return None


@dataclass
class Scan:
    """What the selection needs from the source: root IDs (text), per stratum label the number of
    matching rows per root ID, parent edges (child root ID -> parent root ID) and the labels whose
    ``where`` could not be evaluated."""

    root_ids: pd.Series
    counts: dict[str, pd.Series] = field(default_factory=dict)
    edges: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"child": [], "parent": []}, dtype="string"))
    approximate: set[str] = field(default_factory=set)


def scan_source(spec: MigrationSpec, source: Source, strata: Sequence[Stratum],
                links: Sequence[ParentLink]) -> Scan:
    """Read the root keys, and per stratum/link object its selection columns, in the source's batches.

    Raises whatever the reader raises (MissingFileError for an absent non-optional object, ...).
    """
    root, rkey = spec.waves.root, _root_key(spec)
    settings = spec.destination.settings
    plan: dict[str, set[str]] = {root: {rkey}}
    for st in strata:
        obj = spec.objects[st.object]
        plan.setdefault(st.object, set()).update([obj.wave_key, *_where_columns(st.where, obj)])
    for ln in links:
        obj = spec.objects[ln.object]
        plan.setdefault(ln.object, set()).update([obj.wave_key, ln.column, *_where_columns(ln.where, obj)])
    ids: list[pd.Series] = []
    counts: dict[str, pd.Series] = {}
    edges: list[pd.DataFrame] = []
    approximate: set[str] = set()
    for obj_name, cols in plan.items():
        obj = spec.objects[obj_name]
        key = rkey if obj_name == root else obj.wave_key
        narrow = _narrow(obj, cols)
        mine = [st for st in strata if st.object == obj_name]
        my_links = [ln for ln in links if ln.object == obj_name]
        for batch in source.read(narrow):
            text = batch.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
            typed, _ = coerce_chunk(narrow, text.reset_index(drop=True))
            k = typed[key].astype("string")
            typed, k = typed[k.notna()], k[k.notna()]
            if obj_name == root:
                ids.append(k.drop_duplicates())
            for st in mine:
                mask = _mask(typed, st.where, settings)
                if mask is None:
                    approximate.add(st.label)
                    mask = pd.Series(True, index=typed.index)
                vc = k[mask].value_counts()
                counts[st.label] = counts[st.label].add(vc, fill_value=0) if st.label in counts else vc
            for ln in my_links:
                mask = _mask(typed, ln.where, settings)
                mask = pd.Series(True, index=typed.index) if mask is None else mask
                parent = typed[ln.column].astype("string")
                keep = mask & parent.notna() & (parent != k).fillna(False)
                edges.append(pd.DataFrame({"child": k[keep], "parent": parent[keep]}).drop_duplicates())
    root_ids = pd.concat(ids).drop_duplicates() if ids else pd.Series([], dtype="string")
    scan = Scan(root_ids.reset_index(drop=True), counts, approximate=approximate)
    if edges:
        scan.edges = pd.concat(edges).drop_duplicates().reset_index(drop=True)
    return scan


# -- select --------------------------------------------------------------------------------------
@dataclass
class Selection:
    """The chosen roots.

    ``frame``: one row per selected root, in pick order: ``root_id`` (text), ``role`` (stratum |
    fill | parent), ``picked_for`` (the stratum label a ``stratum`` pick was made for),
    ``strata`` (every stratum label the root satisfies, ``"; "``-joined), ``parent_of`` (a sampled
    root that needs this parent). ``strata``: label -> {eligible, picked, covered, at_least,
    min_rows, approximate} (counts of roots). ``size``: min(sample_size, roots).
    """

    frame: pd.DataFrame
    strata: dict[str, dict[str, Any]]
    size: int
    roots: int

    @property
    def ids(self) -> pd.Series:
        """Every selected root ID (text), parents included."""
        return self.frame["root_id"]

    def metadata(self) -> dict[str, Any]:
        """Counts for asset metadata (IDs never)."""
        role = self.frame["role"].value_counts()
        return {"sample_roots_in_source": self.roots, "sample_size": self.size,
                "sample_selected": int(role.get("stratum", 0) + role.get("fill", 0)),
                "sample_stratum_picks": int(role.get("stratum", 0)), "sample_fill": int(role.get("fill", 0)),
                "sample_parents": int(role.get("parent", 0)), "sample_strata": self.strata}


def rank(ids: pd.Series) -> np.ndarray:
    """``ids`` (text, unique) in their stable hash order (ties by ID) as an object array."""
    text = ids.astype(str).astype(object).reset_index(drop=True)
    h = pd.util.hash_pandas_object(text, index=False, hash_key=HASH_KEY)
    order = pd.DataFrame({"h": h.to_numpy(), "id": text}).sort_values(["h", "id"], kind="stable")
    return order["id"].to_numpy(dtype=object)


def select_sample(root_ids: Iterable[str], counts: Mapping[str, pd.Series], strata: Sequence[Stratum],
                  size: int, edges: pd.DataFrame | None = None, approximate: Iterable[str] = ()) -> Selection:
    """Choose the sample (see the module docstring, steps 2 and 3).

    Args:
        root_ids: every root ID in the source (text; repeats and nulls ignored).
        counts: stratum label -> Series (index root ID text) of matching rows per root.
        strata: in priority order. size: the wanted number of roots (before parents).
        edges: frame ``child``, ``parent`` (root IDs): a sampled child needs the parent loaded.
    """
    ids = pd.Series(list(root_ids), dtype="string").dropna().drop_duplicates()
    ranked = rank(ids)
    index = pd.Index(ranked)
    n = min(int(size), len(ranked))
    eligible = {st.label: counts.get(st.label, pd.Series(dtype="float64")).reindex(index).fillna(0).to_numpy()
                >= st.min_rows for st in strata}
    chosen = np.zeros(len(ranked), dtype=bool)
    role = np.full(len(ranked), "", dtype=object)
    picked_for = np.full(len(ranked), "", dtype=object)
    parent_of = np.full(len(ranked), "", dtype=object)
    order: list[int] = []
    covered = {st.label: 0 for st in strata}
    candidates = {st.label: np.flatnonzero(eligible[st.label]) for st in strata}
    pointer = {st.label: 0 for st in strata}

    def take(p: int, why: str, label: str = "", parent: str = "") -> None:
        chosen[p] = True
        role[p], picked_for[p], parent_of[p] = why, label, parent
        order.append(p)
        for lab, elig in eligible.items():
            covered[lab] += int(elig[p])

    for turn in range(1, max((st.at_least for st in strata), default=0) + 1):
        for st in strata:
            if len(order) >= n or covered[st.label] >= min(turn, st.at_least):
                continue
            cand, i = candidates[st.label], pointer[st.label]
            while i < len(cand) and chosen[cand[i]]:
                i += 1
            pointer[st.label] = i
            if i < len(cand):
                take(int(cand[i]), "stratum", st.label)
    for p in np.flatnonzero(~chosen)[: max(n - len(order), 0)]:
        take(int(p), "fill")
    if edges is not None and len(edges):
        e = pd.DataFrame({"child": edges["child"].astype("string"), "parent": edges["parent"].astype("string")})
        e = e[e["parent"].isin(index) & (e["child"] != e["parent"])]
        frontier = pd.Index(ranked[order])
        while len(frontier) and len(e):
            need = e[e["child"].isin(frontier)]
            need = need[~chosen[index.get_indexer(need["parent"])]].drop_duplicates("parent")
            for child, parent in zip(need["child"], need["parent"], strict=True):
                take(int(index.get_loc(parent)), "parent", parent=str(child))
            frontier = pd.Index(need["parent"])
    sel = np.asarray(order, dtype=int)
    labels = [st.label for st in strata]
    satisfied = np.array(["; ".join(lab for lab in labels if eligible[lab][p]) for p in sel], dtype=object)
    frame = pd.DataFrame({"root_id": pd.Series(ranked[sel], dtype="string"), "role": role[sel],
                          "picked_for": picked_for[sel], "strata": satisfied, "parent_of": parent_of[sel]},
                         columns=SELECTION_COLUMNS)
    approx = set(approximate)
    summary = {st.label: {"eligible": int(eligible[st.label].sum()),
                          "picked": int((picked_for[sel] == st.label).sum()), "covered": covered[st.label],
                          "at_least": st.at_least, "min_rows": st.min_rows, "approximate": st.label in approx}
               for st in strata}
    return Selection(frame, summary, n, len(ranked))


# -- the extract asset's entry point --------------------------------------------------------------
@dataclass(frozen=True)
class SampleScope:
    """What one extract of the sample wave keeps: ``keep_ids`` (typed like the object's
    ``wave_key``; None: everything), ``limit`` (always None: the root is kept by ID), and
    ``metadata`` (for the extract asset: counts per stratum and the selection file's path; empty
    except for the root)."""

    keep_ids: pd.Index | None
    limit: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def typed_ids(ids: pd.Series, obj: SourceObject, column: str) -> pd.Index:
    """Text IDs typed like ``obj.column`` (``Int64`` for int keys), so ``isin`` matches the extract."""
    narrow = obj.model_copy(update={"columns": {column: obj.columns[column]}})
    typed, _ = coerce_chunk(narrow, pd.DataFrame({column: ids.astype("string").reset_index(drop=True)}))
    return pd.Index(typed[column].dropna().drop_duplicates())


def select_from_source(spec: MigrationSpec, source: Source) -> Selection:
    """Scan the source and select the sample of ``spec`` (steps 1-3)."""
    strata = strata_of(spec)
    scan = scan_source(spec, source, strata, parent_links(spec))
    return select_sample(scan.root_ids, scan.counts, strata, spec.waves.sample_size, scan.edges, scan.approximate)


def write_selection(selection: Selection, path: Path) -> Path:
    """Write ``sample_selection.csv`` (``Selection.frame``) atomically for people (``staff_csv``);
    returns the path."""
    return write_staff_csv(selection.frame, path)


def sample_scope(spec: MigrationSpec, obj_name: str, open_source: Callable[[], Source], *,
                 root_extract: Any, reports_dir: Path) -> SampleScope:
    """The sample-wave scope of one extract.

    * the root: select (``select_from_source``), write ``<reports_dir>/sample_selection.csv``, keep
      the selected IDs; metadata has the counts per stratum;
    * an object with a ``wave_key``: keep rows of the roots in ``root_extract`` (the root extract's
      Parquet path, written first: these extracts depend on it);
    * reference data: everything.

    Raises SampleError when the root has no ``wave_key``.
    """
    obj = spec.objects[obj_name]
    if obj_name == spec.waves.root:
        key = _root_key(spec)
        selection = select_from_source(spec, open_source())
        path = write_selection(selection, reports_dir / SELECTION_FILE)
        meta = selection.metadata()
        log.info("sample of %s: %d roots (%d by strata, %d fill) + %d parents", spec.migration,
                 meta["sample_selected"], meta["sample_stratum_picks"], meta["sample_fill"], meta["sample_parents"])
        return SampleScope(typed_ids(selection.ids, obj, key), None, {**meta, "sample_selection": path})
    if obj.wave_key is None:
        return SampleScope(None)
    rkey = _root_key(spec)
    roots = pd.read_parquet(root_extract, columns=[rkey])[rkey]
    return SampleScope(typed_ids(roots.astype("string"), obj, obj.wave_key))
