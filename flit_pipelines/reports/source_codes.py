"""Labels of source-system codes (Dentrix appointment status -106, chart status 105, ...) for the staff
documents, so no code is shown without its meaning or the words "unknown code N".

A label comes from, in order: the practice's own code table when the spec joins it and its extract is
at hand (``admin.v_appt_status_codes``: the practice's wording); the meanings public material
documents (``source_codes.yaml``, each entry citing ``../shared/notes/sources.md``); the value the spec
maps the code to (``value_map`` of a field or derive step over the column: ``-103 -> No-show``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.targets import DeriveStep, ValueSource

DATA_FILE = Path(__file__).with_name("source_codes.yaml")
_CODE_NAME = re.compile(r"(status|type|class|code|kind|category)(_?id)?$", re.I)
_NUMERIC = re.compile(r"-?\d+")


@cache
def documented_codes() -> dict[str, dict[str, Any]]:
    """The entries of ``source_codes.yaml``: ``{name: {"applies_to": [...], "cites": str, "codes": {code: label}}}``."""
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")) or {}


def unknown(code: Any) -> str:
    """The words for a code nobody labelled: ``unknown code -107``."""
    return f"unknown code {code}"


class CodeLabels:
    """Code -> label per ``(object, column)`` of one spec. ``frames`` (object -> extract frame) adds the
    practice's code tables the spec joins; without them documented meanings and value maps remain.

    Call it as a ``reports.wording`` labeler: ``labels("appointments.status_id", "-106")``.
    """

    def __init__(self, spec: MigrationSpec, frames: dict[str, pd.DataFrame] | None = None):
        self.spec = spec
        self.frames = frames or {}
        self._cache: dict[tuple[str, str], dict[str, str]] = {}

    def labels(self, obj: str, column: str) -> dict[str, str]:
        """``{code (str): label}`` for a column of a spec object (empty when nothing labels it)."""
        key = (obj, column)
        if key not in self._cache:
            out: dict[str, str] = {}
            for source in (self._from_value_maps, self._documented, self._from_code_tables):  # later wins
                out.update(source(obj, column))
            self._cache[key] = out
        return self._cache[key]

    def is_code_column(self, obj: str, column: str) -> bool:
        """A column holding codes: something labels it, or its name says so (status, type, class, code)."""
        return bool(self.labels(obj, column)) or bool(_CODE_NAME.search(column))

    def label(self, obj: str, column: str, code: Any) -> str | None:
        """The code's label; ``unknown code N`` for an unlabelled numeric code of a code column; None for
        values that are not codes (free text, flags of other columns)."""
        text = str(code).strip().strip("'\"")
        found = self.labels(obj, column).get(text)
        if found:
            return found
        if _NUMERIC.fullmatch(text) and self.is_code_column(obj, column):
            return unknown(text)
        return None

    def __call__(self, obj_column: str, code: str) -> str | None:
        obj, _, column = obj_column.partition(".")
        return self.label(obj, column, code) if obj in self.spec.objects else None

    # -- sources ------------------------------------------------------------------------------------
    def _documented(self, obj: str, column: str) -> dict[str, str]:
        o = self.spec.objects.get(obj)
        if o is None or column not in o.columns:
            return {}
        where = (str(o.table or o.endpoint or "").lower(), (o.columns[column].source or column).lower())
        out: dict[str, str] = {}
        for entry in documented_codes().values():
            for a in entry.get("applies_to") or []:
                if (a.get("source") == self.spec.source.kind
                        and (str(a.get("table") or a.get("endpoint") or "").lower(), str(a.get("column")).lower()) == where):
                    out.update({str(k): str(v) for k, v in (entry.get("codes") or {}).items()})
        return out

    def _from_value_maps(self, obj: str, column: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.spec.targets.values():
            if t.from_ != obj:
                continue
            sources: list[ValueSource | DeriveStep] = [*t.fields.values(), *t.custom_fields.values(),
                                                       *(s for s in t.derive if s.from_ is None)]
            for vs in sources:
                if getattr(vs, "column", None) == column and vs.value_map:
                    for k, v in vs.value_map.items():
                        text = str(v).strip(" ,") if v is not None else ""
                        if text:
                            out.setdefault(str(k), text)
        return out

    def _from_code_tables(self, obj: str, column: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in self.spec.targets.values():
            if t.from_ != obj:
                continue
            for s in t.derive:
                by = s.by if isinstance(s.by, dict) else {}
                codes = self.frames.get(s.from_) if s.from_ else None
                if by.get("left") != column or not s.column or codes is None:
                    continue
                if by.get("right") in codes and s.column in codes:
                    pairs = pd.DataFrame({"k": codes[by["right"]].astype("string"),
                                          "v": codes[s.column].astype("string")}).dropna()
                    out.update(dict(zip(pairs["k"], pairs["v"], strict=True)))
        return out

    def code_objects(self) -> set[str]:
        """Objects joined as code tables (``by: {left: <code column>, right: ...}`` with a label column),
        whose extracts give the practice's own labels."""
        return {s.from_ for t in self.spec.targets.values() for s in t.derive
                if s.from_ and isinstance(s.by, dict) and s.column and _CODE_NAME.search(str(s.by.get("left")))}


__all__ = ["CodeLabels", "documented_codes", "unknown"]
