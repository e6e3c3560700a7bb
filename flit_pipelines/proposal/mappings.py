"""Which source column feeds which destination field in an existing spec (for the mapping memory and
the benchmark's ground truth).

``spec_mappings(spec)`` follows each target's ``fields`` and ``custom_fields`` back through row-wise
derive steps (``column``, ``columns``, ``template``, ``expr``) to the base object's columns, and lists
lookups; joined aggregates (``derive from:``) reach other objects' columns and are reported as such.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from flit_pipelines.spec.model import MigrationSpec, Target, ValueSource

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Mapping:
    """``object.column`` (canonical name; ``header`` = the source header) -> ``target``'s ``field``.

    ``kind``: standard | custom | lookup; ``via``: direct (the column itself), row (through a row-wise
    derive, template or expression), joined (an aggregate of another object's rows)."""

    object: str
    column: str
    header: str
    target: str
    entity: str
    field: str
    kind: str
    via: str
    fan_in: int = 1  # how many base columns feed the field (a template of five columns: 5)


def _refs(src: ValueSource | object, names: set[str]) -> set[str]:
    out: set[str] = set()
    column = getattr(src, "column", None)
    if column:
        out.add(column)
    for c in getattr(src, "columns", None) or []:
        out.add(c)
    tmpl = getattr(src, "template", None)
    if tmpl:
        out |= {f for _l, f, _s, _c in string.Formatter().parse(tmpl) if f}
    expr = getattr(src, "expr", None)
    if expr:
        out |= {w for w in _WORD.findall(expr) if w in names}
    return out


def _resolve(src, base: set[str], derived: dict[str, tuple[set[str], str]]) -> tuple[set[str], str]:
    """The base columns behind one field source and how they reach it ("direct" or "row")."""
    cols: set[str] = set()
    via = "direct"
    for r in _refs(src, base | set(derived)):
        if r in derived:
            cols |= derived[r][0]
            via = "row"
        elif r in base:
            cols.add(r)
    if src.template is not None or src.expr is not None or (src.columns and len(src.columns) > 1):
        via = "row"
    return cols, via


def _entity_label(t: Target) -> str:
    return (t.options or {}).get("sobject") or t.entity


def spec_mappings(spec: MigrationSpec) -> list[Mapping]:
    """Every (column -> field) pair of the spec (module docstring)."""
    out: list[Mapping] = []
    for tname, t in spec.targets.items():
        obj = spec.objects[t.from_]
        base = set(obj.columns)
        derived: dict[str, tuple[set[str], str]] = {}  # derived name -> (base columns, via)
        for step in t.derive:
            if step.from_ is not None:
                derived[step.name] = (set(), "joined")
                continue
            refs = _refs(step, base | set(derived))
            cols: set[str] = set()
            for r in refs:
                cols |= derived[r][0] if r in derived else ({r} if r in base else set())
            derived[step.name] = (cols, "row")

        for section, kind in ((t.fields, "standard"), (t.custom_fields, "custom")):
            for fname, src in section.items():
                cols, via = _resolve(src, base, derived)
                for c in sorted(cols):
                    out.append(Mapping(t.from_, c, obj.columns[c].source or c, tname, _entity_label(t), fname, kind, via,
                                       len(cols)))
        for lname, lk in t.lookups.items():
            cols = {lk.column} if lk.column in base else derived.get(lk.column, (set(), ""))[0]
            for c in sorted(cols):
                out.append(Mapping(t.from_, c, obj.columns[c].source or c, tname, _entity_label(t), lname, "lookup",
                                   "direct" if c == lk.column else "row"))
        if t.match and t.match.get("column") in base:
            c = t.match["column"]
            out.append(Mapping(t.from_, c, obj.columns[c].source or c, tname, _entity_label(t), "match by email",
                               "lookup", "direct"))
    return out
