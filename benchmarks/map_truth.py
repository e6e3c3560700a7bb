"""Ground truth of the map-proposal benchmark: which source column *carries* which standard field of a
spec, and which standard fields no column carries (spec choices).

Protocol (benchmarks/README.md, "map_proposal"; notes/map_proposal.md §4 "Evaluation protocol": top-1
and top-3 are measured "on source columns whose ground truth is a standard field"):

A column carries a standard field when the spec fills the field with that column's values, alone or as
the main input:

* ``column: X`` (any ``format``, ``value_map``, ``default``): X;
* ``columns: [A, B]``: every column when the field takes a list (``many``: phones, e-mails), else the
  first (the main input of a multi-column formatter: ``duration`` from [START, STOP] is START's);
* ``template``: every placeholder when the field is composed of parts (``name`` <- first + last);
  otherwise the first placeholder when the template has no words of its own, markup and punctuation
  aside (``"{DESCRIPTION}"``, ``"{address_line1} {address_line2}"``, ``"<p>{TEXT}</p>"``); a template
  with words of its own (``"Invoice {SERVICEDATE:date}"``, ``"{TEXT} note by {AUTHOR}"``) is a spec
  choice;
* a derived column is followed back to its base columns by the same rules (row-wise derive steps);
  a derive ``expr`` carries its first column when it only passes values on (``a.fillna(b)``), and is a
  rule when it tests or compares (``STOP.notna()``, ``x == 1``, ``.where(...)``, ``&``, ``|``);
* an aggregate of another object's rows (``derive from:``) carries no column of this object.

Everything else is a **spec choice no column carries**: a constant (``value:``), a rule (a deal's
status from ``STOP.notna()``), a template with words of its own (a task title), an aggregate of another
object. They are counted and listed, never scored as misses. Any column that carries a standard field
counts, whatever the proposer does with it.

A standard field is one the destination catalog lists for the target's entity and sends to the API
(``local`` fields, where the loader finds a file, are judged only in high-band precision). Targets on open
entities (a Salesforce custom object such as ``Invoice__c``, whose ``Name`` the spec fills; users
matched by e-mail, whose mapping-template columns are not written) have no catalog fields: their
fields are listed apart (``open_fields``): a from-scratch proposal does not design custom objects.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RULE = re.compile(r"==|!=|<|>|\bnotna\b|\bisna\b|\bisin\b|&|\||~|\.where\(|\.between\(")
_MARKUP = re.compile(r"<[^>]*>")


@dataclass
class Truth:
    """``carried``: (object, header) -> standard fields it carries; ``fed``: (object, header) -> every
    standard field the spec sends the column into in any way (templates, rules: for high-band
    precision); ``choices``: one line per standard field no column carries (target.field: why);
    ``open_fields``: fields of targets on open entities (custom objects, match-only users), which the
    catalog does not list as standard fields."""

    carried: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    fed: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    open_fields: list[str] = field(default_factory=list)


def _placeholders(template: str) -> list[str]:
    return [f for _l, f, _s, _c in string.Formatter().parse(template) if f]


def _template_main(template: str) -> str | None:
    """The first placeholder when the template has no words of its own (markup and punctuation
    aside), else None."""
    parts = list(string.Formatter().parse(template))
    literal = _MARKUP.sub("", "".join(lit for lit, _f, _s, _c in parts))
    first = next((f for _l, f, _s, _c in parts if f), None)
    return None if first is None or re.search(r"[A-Za-z0-9]", literal) else first


def _expr_main(expr: str, names: set[str]) -> str | None:
    if _RULE.search(expr):
        return None
    refs = [w for w in _WORD.findall(expr) if w in names]
    return refs[0] if refs else None


def _all_refs(src, names: set[str]) -> set[str]:
    out: set[str] = set()
    if getattr(src, "column", None):
        out.add(src.column)
    out |= set(getattr(src, "columns", None) or [])
    if getattr(src, "template", None):
        out |= set(_placeholders(src.template))
    if getattr(src, "expr", None):
        out |= {w for w in _WORD.findall(src.expr) if w in names}
    return out & names


def spec_truth(spec, catalog, object_key, header_of) -> Truth:
    """The benchmark's truth for ``spec`` (module docstring). ``object_key(object name)`` and
    ``header_of(object name, column)`` name columns the way the profile does."""
    truth = Truth()
    for tname, t in spec.targets.items():
        obj = spec.objects[t.from_]
        base = set(obj.columns)
        steps = {s.name: s for s in t.derive}
        names = base | set(steps)
        ent = catalog.target_entity(t)

        def carriers(src, many: bool, compose: bool, seen: frozenset = frozenset()) -> tuple[set[str], str]:
            """Base columns carrying ``src`` and, when none, why."""
            if getattr(src, "from_", None) is not None:
                return set(), "aggregate of another object"
            if getattr(src, "value", None) is not None and not any(
                    getattr(src, k, None) for k in ("column", "columns", "template", "expr")):
                return set(), "constant"
            if src.column:
                mains = [src.column]
            elif src.columns:
                mains = list(src.columns) if many else src.columns[:1]
            elif src.template:
                mains = _placeholders(src.template) if compose else [m for m in [_template_main(src.template)] if m]
                if not mains:
                    return set(), "template with words of its own"
            elif src.expr:
                m = _expr_main(src.expr, names)
                if m is None:
                    return set(), "rule"
                mains = [m]
            else:
                return set(), "constant"
            out: set[str] = set()
            why = ""
            for m in mains:
                if m in steps and m not in seen:
                    got, why = carriers(steps[m], False, False, seen | {m})
                    out |= got
                elif m in base:
                    out.add(m)
            return out, why or "rule"

        def all_base(src, seen: frozenset = frozenset()) -> set[str]:
            out: set[str] = set()
            for r in _all_refs(src, names):
                if r in steps and r not in seen:
                    if steps[r].from_ is None:
                        out |= all_base(steps[r], seen | {r})
                elif r in base:
                    out.add(r)
            return out

        okey = object_key(t.from_)
        for fname, src in t.fields.items():
            f = ent.fields.get(fname)
            if f is None:
                truth.open_fields.append(f"{tname}.{fname} ({ent.label})")
                continue
            if f.local:  # where the loader finds a file (file_name, file_path): fed, never carried
                for c in all_base(src):
                    truth.fed.setdefault((okey, header_of(t.from_, c)), set()).add(fname)
                continue
            cols, why = carriers(src, bool(f and f.many), bool(f and f.compose))
            for c in all_base(src):
                truth.fed.setdefault((okey, header_of(t.from_, c)), set()).add(fname)
            if not cols:
                truth.choices.append(f"{tname}.{fname}: {why}")
            for c in cols:
                truth.carried.setdefault((okey, header_of(t.from_, c)), set()).add(fname)
    return truth
