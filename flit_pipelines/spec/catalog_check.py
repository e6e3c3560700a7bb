"""Static validation of a mapping spec against its destination's catalog and the formatter registry.

Run by ``spec.load.load_spec`` right after the model validates, so a spec naming a standard field the
catalog does not have (``fields`` and ``lookups`` keys of a known entity), or a formatter that does not
exist (``format:`` or ``{COLUMN:formatter}`` in a template), is rejected when it loads, with the
spec path and the line, never after approval at load time. Custom fields (``custom_fields``, Salesforce
``__c`` names) and open entities (custom objects, user-mapping columns) are not checked here.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

import yaml

from flit_pipelines.catalog.load import load_catalog
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.yaml_loader import FAST_LOADER
from flit_pipelines.transform.formatters import MULTI_COLUMN, ONE_COLUMN


@dataclass(frozen=True)
class Finding:
    """One problem: the message (names spec parts, never data) and the 1-based line, if known."""

    message: str
    line: int | None


def _line(root: yaml.Node | None, path: tuple[str, ...]) -> int | None:
    """1-based line of the key at ``path`` in the composed YAML (the deepest one found)."""
    node, line = root, None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                node, line = v, k.start_mark.line + 1
                break
        else:
            break
    return line


def _template_formats(template: str | None) -> list[str]:
    if not template:
        return []
    try:
        return [spec for _lit, fld, spec, _c in string.Formatter().parse(template) if fld is not None and spec]
    except ValueError:
        return []


def check_spec(spec: MigrationSpec, text: str) -> list[Finding]:
    """Every catalog and formatter problem of ``spec`` (``text``: its YAML, for line numbers)."""
    @functools.cache
    def root() -> yaml.Node | None:  # parsed again only when a finding needs its line (rare)
        try:
            return yaml.compose(text, Loader=FAST_LOADER)
        except yaml.YAMLError:
            return None
    known = set(ONE_COLUMN) | set(MULTI_COLUMN)
    out: list[Finding] = []
    catalog = load_catalog(spec.destination.kind)

    def fmt_check(fmt: str | None, template: str | None, path: tuple[str, ...]) -> None:
        if fmt and fmt not in known:
            out.append(Finding(f"{'.'.join(path)}: formatter {fmt!r} does not exist (known: {', '.join(sorted(known))})",
                               _line(root(), (*path, "format")) or _line(root(), path)))
        for f in _template_formats(template):
            if f not in ONE_COLUMN:
                out.append(Finding(f"{'.'.join(path)}: template formatter {f!r} does not exist or takes several "
                                   f"columns (known: {', '.join(sorted(ONE_COLUMN))})", _line(root(), path)))

    for tname, t in spec.targets.items():
        ent = catalog.target_entity(t)
        base = ("targets", tname)
        if not ent.open:
            for fname in t.fields:
                if fname not in ent.fields:
                    out.append(Finding(
                        f"targets.{tname}.fields: {fname!r} is not a field of {spec.destination.kind} {ent.name} "
                        f"(catalog {spec.destination.kind}.yaml; known: {', '.join(sorted(ent.fields))})",
                        _line(root(), (*base, "fields", fname))))
            for lname in t.lookups:
                if lname not in ent.lookups and not lname.endswith("__c"):
                    out.append(Finding(
                        f"targets.{tname}.lookups: {lname!r} is not a lookup of {spec.destination.kind} {ent.name} "
                        f"(known: {', '.join(sorted(ent.lookups))})", _line(root(), (*base, "lookups", lname))))
        for fname, src in t.fields.items():
            fmt_check(src.format, src.template, (*base, "fields", fname))
        for cname, src in t.custom_fields.items():
            fmt_check(src.format, src.template, (*base, "custom_fields", cname))
        for i, step in enumerate(t.derive):
            # derive steps are a list: report the line of the target's derive key
            path = (*base, "derive")
            if step.format and step.format not in known:
                out.append(Finding(f"targets.{tname}.derive[{i}] {step.name}: formatter {step.format!r} does not exist",
                                   _line(root(), path)))
            for f in _template_formats(step.template):
                if f not in ONE_COLUMN:
                    out.append(Finding(f"targets.{tname}.derive[{i}] {step.name}: template formatter {f!r} does not "
                                       "exist", _line(root(), path)))
    return out
