"""Rendering a proposal as a draft mapping spec: YAML in exactly the spec language, unapproved, every
proposal commented with its confidence and evidence, and ``# review: required`` on each line a person
must look at (``flit spec approve`` refuses while any remain: ``review_markers``).

The draft loads with ``flit_pipelines.spec.load_spec`` (tested): comments are the only additions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from flit_pipelines.proposal.model import Proposal, TargetPlan

REVIEW_MARK = "review: required"
_MARK_RE = re.compile(r"#.*\breview: required\b")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def flow(value: Any) -> str:
    """One YAML value in flow style on one line (``{column: FIRST, format: date}``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True, sort_keys=False).strip()
    return text.removesuffix("...").strip()  # a scalar's document-end marker


def key(k: str) -> str:
    """A mapping key, quoted when it is not a plain identifier (``"Date of birth"``)."""
    return k if _PLAIN_KEY.match(k) and k.lower() not in ("yes", "no", "true", "false", "on", "off", "null") else flow(k)


def _comment(text: str | None, review: bool) -> str:
    parts = ([REVIEW_MARK] if review else []) + ([" ".join(text.split())] if text else [])
    return ("  # " + " | ".join(parts)) if parts else ""


def _block(name: str, body: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    text = yaml.safe_dump({name: body}, default_flow_style=False, sort_keys=False, width=110, allow_unicode=True)
    return [pad + line for line in text.rstrip("\n").splitlines()]


def _target(t: TargetPlan) -> list[str]:
    out = [f"  {key(t.name)}:", f"    entity: {t.entity}", f"    from: {key(t.from_)}"]
    if t.description:
        out.append(f"    description: {flow(t.description)}")
    if t.options:
        out.append(f"    options: {flow(t.options)}")
    if t.pipeline:
        out.append(f"    pipeline: {flow(t.pipeline)}")
    if t.match:
        out.append(f"    match: {flow(t.match)}")
    for k, v in t.extra.items():
        out.append(f"    {key(k)}: {flow(v)}")
    if t.derive:
        out.append("    derive:")
        out.extend(f"      - {flow(step)}" for step in t.derive)
    for section in ("fields", "custom_fields", "lookups"):
        body = getattr(t, section)
        if not body:
            continue
        out.append(f"    {section}:")
        for k, v in body.items():
            out.append(f"      {key(k)}: {flow(v)}" + _comment(t.notes.get((section, k)), (section, k) in t.review))
    return out


def render(p: Proposal, *, header: list[str] | None = None) -> str:
    """The draft spec text of ``p`` (header comment lines first)."""
    lines = [f"# {line}" if line else "#" for line in (header or [])]
    lines += ["", f"migration: {p.migration}", f"title: {flow(p.title)}", "version: 1", ""]
    lines += _block("environment", p.environment, 0) + [""]
    lines += _block("source", p.source, 0) + [""]
    lines += _block("destination", p.destination_block, 0) + [""]
    lines += _block("waves", p.waves, 0) + [""]
    if p.delta:
        lines += _block("delta", p.delta, 0) + [""]
    lines.append("objects:")
    for oname, obj in p.objects.items():
        note = p.object_notes.get(oname)
        lines.append(f"  {key(oname)}:" + _comment(note, False))
        for k, v in obj.items():
            if k == "columns":
                continue
            lines.append(f"    {key(k)}: {flow(v)}")
        lines.append("    columns:")
        for cname, col in obj["columns"].items():
            text, review = p.column_notes.get((oname, cname), (None, False))
            lines.append(f"      {key(cname)}: {flow(col)}" + _comment(text, review))
    lines += ["", "targets:"]
    for t in p.targets.values():
        lines += _target(t)
        lines.append("")
    lines.append("seed_objects:")
    lines.extend(f"  - {flow(s)}" for s in p.seed_objects)
    lines += ["", "approval:", '  approved_by: ""', "  approved_at: null", '  field_map_sha256: ""', ""]
    return "\n".join(lines)


def review_markers(path: str | Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of every ``review: required`` marker left in a spec file."""
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if _MARK_RE.search(line):
            out.append((i, line.split("#", 1)[0].strip()))
    return out
