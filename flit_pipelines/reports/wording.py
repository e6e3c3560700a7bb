"""Spec terms in the reader's words, for the staff documents (custom-field design, workflow rebuild).

* ``value_origin``: where a mapped value comes from, as a sentence ("the latest due date of the
  patient's recalls") built from the spec's columns and derive steps (a step's or field's own
  ``description`` in the spec wins when it has one);
* ``condition_text``: a row filter (``status_id == -103``) as words, each code with its label;
* ``duration_text`` / ``days_text``: minutes and days in the units people use (min, hours, days,
  weeks, months).

Only names from the spec appear, never record values.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flit_pipelines.spec.model import DeriveStep, MigrationSpec, Target, ValueSource

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEMPLATE_REF = re.compile(r"\{([^{}:]+)(?::[^{}]*)?\}")
_PY_WORDS = {"and", "or", "not", "in", "is", "True", "False", "None", "isin", "isna", "notna", "fillna", "where",
             "str", "astype", "dt", "lower", "upper", "contains", "startswith", "endswith", "len", "abs", "mask"}
Labeler = Callable[[str, str], str | None]  # (column, code) -> label or None
MAX_DEPTH = 3  # derived columns are explained this many levels deep, then named


ACRONYMS = frozenset({"id", "mrn", "npi", "cdt", "cpt", "icd10", "ssn", "dob", "url", "hipaa", "phi", "udi",
                      "snomed", "loinc", "ada", "crm", "ehr"})
_TIME_WORDS = {"created at": "creation time", "updated at": "last-update time", "modified at": "last-change time",
               "signed at": "signing time", "deleted at": "deletion time"}


def words(name: str) -> str:
    """An identifier as words: ``due_date`` -> "due date", ``START_DATE`` -> "start date",
    ``balance_0_30_days`` -> "balance 0–30 days", ``Provider_NPI`` -> "provider NPI", ``created_at`` ->
    "creation time"."""
    text = re.sub(r"(?<=\d)_(?=\d)", "–", str(name)).replace("__c", "")
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text).replace("_", " ")
    out = " ".join(w.upper() if w.lower() in ACRONYMS else w.lower() for w in text.split())
    return _TIME_WORDS.get(out, out)


def singular(noun: str) -> str:
    """Naive English singular of an object name's words: "recalls" -> "recall", "guarantor balances" ->
    "guarantor balance", "addresses" -> "address"."""
    w = words(noun)
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "shes", "ches")):
        return w[:-2]
    return w[:-1] if w.endswith("s") and not w.endswith("ss") else w


def duration_text(minutes: float | int | None) -> str:
    """Minutes in the unit people use: "15 min", "1.5 hours" (from 90 min), "5.5 days" (from 24 hours);
    "" for None/NaN."""
    if minutes is None or minutes != minutes:
        return ""
    m = float(minutes)
    if m < 90:
        return f"{m:.0f} min"
    if m < 24 * 60:
        return _num(m / 60, "hour")
    return _num(m / 1440, "day")


def days_text(days: float | int | None) -> str:
    """Days in the unit people use: "3 days", "2 weeks" (from 14 days), "6 months" (from 60 days), "1 year"
    (from 360 days); "" for None/NaN."""
    if days is None or days != days:
        return ""
    d = float(days)
    if abs(d) < 14:
        return _num(d, "day")
    if abs(d) < 60:
        return _num(d / 7, "week")
    if abs(d) < 360:
        return _num(d / 30.4375, "month")
    return _num(d / 365.25, "year")


def _num(value: float, unit: str) -> str:
    v = round(value, 1)
    text = f"{v:.0f}" if v.is_integer() else f"{v:.1f}"
    return f"{text} {unit}" + ("" if text == "1" else "s")


def condition_text(expr: str | None, labels: Labeler | None = None) -> str:
    """A pandas row filter in words: ``(chartstatus == 105) & (proclogclass == 0)`` -> "chartstatus is
    105 and proclogclass is 0"; ``status_id.isin([-106, 150])`` -> "status ID is one of -106, 150";
    ``x.isna()`` -> "x is empty"; ``@name`` -> "the name setting". ``labels(column, code)`` adds each
    code's meaning in parentheses ("-103 (No-show)"), or replaces it ("unknown code 0"). Unrecognised
    syntax is kept as written (never raises)."""
    if not expr:
        return ""
    labels = labels or (lambda c, v: None)

    def lab(col: str, value: str) -> str:
        v = value.strip().strip("'\"")
        meaning = labels(col, v)
        v = v.replace("_", "\x06")  # a literal keeps its underscores (restored last)
        if meaning and meaning.startswith("unknown code"):
            return meaning
        return f"{v} \x02{meaning}\x03" if meaning and meaning != v else v  # parentheses added last

    text = expr.strip()
    text = re.sub(r"~\s*\(?\s*(\w+)\.isin\(\[([^\]]*)\]\)\)?",
                  lambda m: f"{words(m[1])} is none of " + ", ".join(lab(m[1], v) for v in m[2].split(",")), text)
    text = re.sub(r"(~\s*)?(\w+)\.isin\(@(\w+)\)", lambda m: f"{words(m[2])} is {'not ' if m[1] else ''}one of the "
                  f"{words(m[3])} setting", text)  # a list the spec's settings hold
    text = re.sub(r"(\w+)\.isin\(\[([^\]]*)\]\)",
                  lambda m: f"{words(m[1])} is one of " + ", ".join(lab(m[1], v) for v in m[2].split(",")), text)
    text = re.sub(r"(\w+)\.isna\(\)", lambda m: f"{words(m[1])} is empty", text)
    text = re.sub(r"(\w+)\.notna\(\)", lambda m: f"{words(m[1])} is set", text)
    ops = {"==": "is", "!=": "is not", ">=": "is at least", "<=": "is at most", ">": "is over", "<": "is under"}

    def rhs(col: str, value: str) -> str:
        if value.startswith("@"):  # a spec setting (``@file_size_limit_bytes``)
            return f"the {words(value[1:])} setting"
        if _IDENT.fullmatch(value) and value not in ("True", "False", "None"):
            return words(value)  # another column
        return lab(col, value)

    text = re.sub(r"(\w+)\s*(==|!=|>=|<=|>|<)\s*('[^']*'|\"[^\"]*\"|@?-?[\w.]+)",
                  lambda m: f"{words(m[1])} {ops[m[2]]} {rhs(m[1], m[3])}", text)
    # identifiers left as written (a bare flag column): in words too
    text = re.sub(r"\b[A-Za-z]\w*_\w*\b", lambda m: words(m[0]), text)
    text = text.replace("&", " and ").replace("|", " or ").replace("~", "not ").replace("(", "").replace(")", "")
    return re.sub(r"\s+", " ", text.replace("\x02", "(").replace("\x03", ")").replace("\x06", "_")).strip()


class Describer:
    """Where the values of one target come from, in words (see ``value_origin``)."""

    def __init__(self, spec: MigrationSpec, target: Target, labels: Labeler | None = None):
        self.spec, self.target, self.labels = spec, target, labels
        self.steps = {s.name: s for s in target.derive}
        self.base = spec.objects[target.from_]
        self.subject = singular(target.from_)

    def column(self, name: str, depth: int = 0) -> str:
        """A working-frame column in words: a source column of the target's object ("the patient's
        birth date", its spec description when it has one) or a derived column (its step in words)."""
        if name in self.steps and depth < MAX_DEPTH:
            return self.step(self.steps[name], depth + 1)
        if name in self.steps:
            return words(name)
        col = self.base.columns.get(name)
        w = words(name)
        if w.startswith(self.subject + " ") and len(w) > len(self.subject) + 1:
            w = w[len(self.subject) + 1:]
        if col is not None and col.description and len(col.description) <= 60:
            return f"the {self.subject}'s {w} ({col.description})"
        return f"the {self.subject}'s {w}" if col is not None else w

    def step(self, s: DeriveStep, depth: int = 0) -> str:
        """A derive step in words."""
        own = getattr(s, "description", None)
        if own:
            return str(own)
        if s.from_ is None:
            if s.expr is not None:
                return self._expr(s.expr, depth, s.value_map)
            if s.template is not None:
                return self._template(s.template, depth)
            if s.columns is not None:
                return " and ".join(self.column(c, depth) for c in s.columns)
            return self.column(str(s.column), depth)
        obj = self.spec.objects.get(s.from_)
        what = self._agg_subject(s, obj)
        where = condition_text(s.where, self._labeler(s.from_)) if s.where else ""
        of = (f"the {self.subject}'s {words(s.from_)}" if not isinstance(s.by, dict)
              else f"the matching {singular(s.from_)} record")
        return f"{what} of {of}" + (f", counting only those where {where}" if where and s.agg == "count"
                                    else f" (only where {where})" if where else "")

    def _agg_subject(self, s: DeriveStep, obj) -> str:
        col = s.column
        kind = obj.columns[col].type if obj is not None and col in obj.columns else None
        what = words(col) if col else (self._template_words(s.template) if s.template else "records")
        newest = s.order_by and s.order_by.startswith("-")
        order = f" (by {words(s.order_by.lstrip('-'))})" if s.order_by else ""
        return {
            "count": "the number",
            "sum": f"the total {what}",
            "max": f"the {'latest' if kind in ('date', 'datetime') else 'highest'} {what}",
            "min": f"the {'earliest' if kind in ('date', 'datetime') else 'lowest'} {what}",
            "first": f"the {'newest' if newest else 'first'} {what}{order}" if s.order_by else f"the {what}",
            "last": f"the most recent {what}{order}" if s.order_by else f"the last {what}",
            "mode": f"the most common {what}",
            "nunique": f"the number of different {what}",
            "join": f"a list of {what}" + (" (newest first)" if newest else f" (in order of {words(s.order_by)})"
                                           if s.order_by else "") + (f", at most {s.limit}" if s.limit else ""),
            "join_unique": f"a list of the distinct {what}",
            "any": f"whether any has {what}",
        }.get(str(s.agg), f"{s.agg} of {what}")

    def _template_words(self, template: str) -> str:
        refs = list(dict.fromkeys(_TEMPLATE_REF.findall(template)))
        return _and([words(r) for r in refs]) or "text"

    def _template(self, template: str, depth: int) -> str:
        refs = list(dict.fromkeys(_TEMPLATE_REF.findall(template)))
        if not refs:
            return f'the text "{template}"'
        return "text made of " + _and([self.column(r, depth) for r in refs])

    def _expr(self, expr: str, depth: int, value_map: dict | None = None) -> str:
        """Common expression shapes in words; anything else as "calculated from <its inputs>"."""
        e = expr.strip()
        vm = {str(k).lower(): v for k, v in (value_map or {}).items()}
        if {"true", "false"} <= set(vm) and all(str(v).strip(" ,") for v in (vm["true"], vm["false"])):
            return (f"{str(vm['true']).strip(' ,')} when {self._condition(e)}, "
                    f"otherwise {str(vm['false']).strip(' ,')}")
        if {"true", "false"} <= set(vm):  # a tag added only when the condition holds
            on = str(vm["true"]).strip(" ,") or str(vm["false"]).strip(" ,")
            return f"{on} when {self._condition(e) if str(vm['true']).strip(' ,') else 'not ' + self._condition(e)}"
        terms = [t.strip() for t in e.split("+")]
        plain = [re.sub(r"\.fillna\(0\)$", "", t) for t in terms]
        if len(terms) > 1 and all(_IDENT.fullmatch(t) for t in plain):
            return "the sum of " + _and(_factor([self._short(t, depth) for t in plain]))
        m = re.fullmatch(r"(\w+)\.where\((.+)\)", e)
        if m:
            return f"{self._short(m[1], depth)}, only when {self._condition(m[2])}"
        if re.fullmatch(r"\w+(\.fillna\(\w+\))+", e):  # a.fillna(b).fillna(c): the first value present
            names = [e.split(".")[0], *re.findall(r"\.fillna\((\w+)\)", e)]
            return ", else ".join(self._short(n, depth) for n in names)
        if re.fullmatch(r"[\w\s.()\[\]'\",&|~=!<>-]+", e) and re.search(r"==|!=|>|<|isin|isna|notna", e):
            return f"yes when {self._condition(e)}"
        names = [n for n in dict.fromkeys(_IDENT.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", expr)))
                 if n not in _PY_WORDS and (n in self.steps or n in self.base.columns)]
        if not names:
            return "a calculated value"
        return "calculated from " + _and([self._short(n, depth) for n in names])

    def _short(self, name: str, depth: int) -> str:
        """A column inside a longer phrase: derived ones explained up to ``MAX_DEPTH``, then by name."""
        return self.column(name, depth)

    def _condition(self, expr: str, depth: int = 0) -> str:
        """A condition in words; a bare derived flag (``has_balance_row``) is replaced by its own condition."""
        name = expr.strip()
        step = self.steps.get(name)
        if step is not None and step.expr is not None and step.from_ is None and depth < MAX_DEPTH:
            return self._condition(step.expr, depth + 1)
        return condition_text(expr, self._labeler(self.target.from_))

    def _labeler(self, obj: str | None) -> Labeler | None:
        labels = self.labels
        if labels is None:
            return None
        return lambda col, code: labels(f"{obj}.{col}", code)

    def value(self, vs: ValueSource) -> str:
        """A field's origin in words (its spec ``description`` when given)."""
        own = getattr(vs, "description", None)
        if own:
            return str(own)
        if "value" in vs.model_fields_set and vs.column is None and vs.template is None and vs.expr is None \
                and vs.columns is None:
            return f'always "{vs.value}"'
        step = self.steps.get(vs.column) if vs.column is not None else None
        if step is not None and step.expr is not None and step.from_ is None and vs.value_map and not step.value_map:
            return self._expr(step.expr, 1, vs.value_map)  # the field's own map words the condition
        if vs.column is not None:
            return self.column(vs.column)
        if vs.columns is not None:
            return _and([self.column(c) for c in vs.columns])
        if vs.template is not None:
            return self._template(vs.template, 0)
        return self._expr(str(vs.expr), 0)


def _factor(parts: list[str]) -> list[str]:
    """Parts sharing one " of <the same thing>" ending say it once, on the last part:
    ["the a of the patient's x", "the b of the patient's x"] -> ["the a", "b of the patient's x"]."""
    tails = {p.rpartition(" of ")[2] for p in parts}
    if len(parts) < 2 or len(tails) != 1 or not all(" of " in p for p in parts):
        return parts
    heads = [p.rpartition(" of ")[0] for p in parts]
    heads = [heads[0]] + [h.removeprefix("the ") for h in heads[1:]]
    return heads[:-1] + [f"{heads[-1]} of {tails.pop()}"]


def _and(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1] if parts else ""


def value_origin(spec: MigrationSpec, target: Target, vs: ValueSource, labels: Labeler | None = None) -> str:
    """Where a mapped value comes from, in words: "the patient's preferred name", "the latest due date of
    the patient's recalls", "the total fee of the matching treatment plan item record", 'always "Yes"'.
    ``labels(object.column, code)`` names source codes in filters. Never raises on a valid spec."""
    return Describer(spec, target, labels).value(vs)


def source_columns(spec: MigrationSpec, target: Target, vs: ValueSource) -> list[str]:
    """The technical names behind a value: ``object.column`` of every source column it reads, through
    derive steps (for admins who check the field map)."""
    steps = {s.name: s for s in target.derive}
    out: list[str] = []
    seen: set[tuple[str, str]] = set()  # (object, name)

    def refs_of(text: str | None) -> list[str]:
        return [n for n in _IDENT.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", text or "")) if n not in _PY_WORDS]

    def visit(name: str, obj: str) -> None:
        if (obj, name) in seen:
            return
        seen.add((obj, name))
        s = steps.get(name) if obj == target.from_ else None
        if s is None:
            if name in spec.objects[obj].columns:
                out.append(f"{obj}.{name}")
            return
        if s.from_ is not None:
            found = len(out)
            for c in [s.column, *(_TEMPLATE_REF.findall(s.template or ""))]:
                owner = next((o for o in [s.from_, *(j.object for j in s.join)]
                              if c and c in spec.objects[o].columns), None)
                if owner is not None:
                    visit(c, owner)
            if len(out) == found:  # a count: the rows themselves
                out.append(f"{s.from_} (rows)")
            by = s.by if isinstance(s.by, dict) else {}
            if by.get("left"):
                visit(by["left"], target.from_)
            return
        for c in [*(s.columns or []), s.column, *refs_of(s.expr), *(_TEMPLATE_REF.findall(s.template or ""))]:
            if c:
                visit(c, obj)

    for c in [vs.column, *(vs.columns or []), *refs_of(vs.expr), *(_TEMPLATE_REF.findall(vs.template or ""))]:
        if c:
            visit(c, target.from_)
    return out


__all__ = ["condition_text", "days_text", "duration_text", "singular", "source_columns", "value_origin", "words"]
