"""The field map as a reviewer reads it (Markdown): what goes where, per target."""

from __future__ import annotations

from flit_pipelines.spec import approval_status, load_order
from flit_pipelines.spec.model import MigrationSpec, ValueSource


def _origin(v: ValueSource) -> str:
    if v.column is not None:
        s = f"`{v.column}`"
    elif v.columns is not None:
        s = ", ".join(f"`{c}`" for c in v.columns)
    elif v.template is not None:
        s = f"template `{' '.join(v.template.split())}`"
    elif v.expr is not None:
        s = f"expr `{v.expr}`"
    else:
        s = f"constant `{v.value}`"
    if v.format:
        s += f" -> {v.format}"
    if v.value_map:
        s += " -> map " + ", ".join(f"{k}={val}" for k, val in v.value_map.items())
    if v.default is not None:
        s += f" (default {v.default})"
    return s.replace("|", "\\|")


def field_map_markdown(spec: MigrationSpec) -> str:
    """The field map as Markdown: approval state, load order, per target every destination field and its source."""
    st = approval_status(spec)
    approval = (f"APPROVED by {spec.approval.approved_by} at {spec.approval.approved_at}" if st.approved
                else f"NOT APPROVED ({'; '.join(st.reasons)})")
    lines = [f"# Field map: {spec.title}", "", f"Approval: {approval}",
             f"Field-map SHA-256: `{st.expected_sha256}`", "", "Load order: " + " -> ".join(load_order(spec)), ""]
    for name in load_order(spec):
        t = spec.targets[name]
        lines += [f"## {name}: {t.entity} from `{t.from_}`", "", t.description or "", "",
                  "| destination | source |", "|---|---|"]
        for path, v in t.fields.items():
            lines.append(f"| {path} | {_origin(v)} |")
        for cname, cf in t.custom_fields.items():
            lines.append(f"| custom field **{cname}** ({cf.type}) | {_origin(cf)} |")
        for fk, lk in t.lookups.items():
            lines.append(f"| {fk} | lookup `{lk.column}` -> {lk.target}{' (required)' if lk.required else ''}"
                         f"{' (fallback owner)' if lk.fallback else ''} |")
        if t.derive:
            lines += ["", "Derived columns: " + ", ".join(f"`{d.name}`" for d in t.derive)]
        lines.append("")
    lines += ["## Seed objects", "", "| object | lands in |", "|---|---|"]
    lines += [f"| {s.name} | {s.lands_in}{' — ' + s.note if s.note else ''} |" for s in spec.seed_objects]
    return "\n".join(lines) + "\n"
