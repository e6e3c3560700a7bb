"""The custom-field design document for practice staff and CRM admins (Markdown).

Per target and folder/category, every custom field the destination needs: name, type (the CRM's
own label, ``crm_field_types.yaml``, with the API name), pick-list options, value map (source value
-> CRM value), where its value comes from in words ("the latest due date of the patient's recalls",
``reports.wording``; source codes labelled, ``reports.source_codes``), the source columns behind it,
and which workflow triggers it can drive (inferred from type and name). The destination's own design
document (what ``ensure_schema`` returned and the ``destination_schema`` asset wrote as
``custom_field_design.json``) adds CRM keys, folders, pipelines, calendars, custom objects and, for
Salesforce, the field-level-security checklist.

Only field names, types, options and mapping rules appear here; never record values.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from flit_pipelines.reports.source_codes import CodeLabels
from flit_pipelines.reports.wording import source_columns, value_origin
from flit_pipelines.spec.model import DeriveStep, MigrationSpec, Target, ValueSource

# Destination type names (HighLevel, Pipedrive, Salesforce) grouped by what workflows can do with them.
DATE_TYPES = frozenset({"date", "datetime", "date_time"})
MONEY_TYPES = frozenset({"monetory", "monetary", "currency", "money"})
PICKLIST_TYPES = frozenset({"single_options", "multiple_options", "radio", "enum", "set", "picklist",
                            "multiselectpicklist", "multi_select"})
BOOL_TYPES = frozenset({"checkbox", "boolean", "bool"})
NUMBER_TYPES = frozenset({"numerical", "number", "double", "int", "integer", "percent", "float"})

_RECALL_DATE = re.compile(r"recall|due|next|appoint|visit|follow|return|recare|hygiene", re.I)
_EXPIRY_DATE = re.compile(r"expir|termination|end|renew|effective", re.I)
_BIRTH_DATE = re.compile(r"birth|dob", re.I)
_BALANCE = re.compile(r"balance|outstanding|owed|due|bal_|overdue|unpaid|aging", re.I)
_TEMPLATE_REF = re.compile(r"\{([^{}:]+)(?::[^{}]*)?\}")


@cache
def _crm_types() -> dict[str, dict[str, str]]:
    doc = yaml.safe_load(Path(__file__).with_name("crm_field_types.yaml").read_text(encoding="utf-8")) or {}
    return {crm: {str(k).lower(): str(v) for k, v in (d.get("types") or {}).items()} for crm, d in doc.items()}


def crm_type_label(destination: str, ftype: str | None) -> str:
    """The CRM's own name of a field type, with the API name when it differs: ``("highlevel", "MONETORY")``
    -> "Monetary (MONETORY)"; an unknown type is returned as given."""
    label = _crm_types().get(destination, {}).get(str(ftype or "").lower())
    return f"{label} ({ftype})" if label and label != ftype else str(ftype or "")


def type_class(ftype: str | None) -> str:
    """``date`` | ``money`` | ``picklist`` | ``checkbox`` | ``number`` | ``text`` for a destination type
    name (case-insensitive; unknown or missing types are ``text``)."""
    t = str(ftype or "").strip().lower()
    for name, group in (("date", DATE_TYPES), ("money", MONEY_TYPES), ("picklist", PICKLIST_TYPES),
                        ("checkbox", BOOL_TYPES), ("number", NUMBER_TYPES)):
        if t in group:
            return name
    return "text"


def field_triggers(name: str, ftype: str | None, options: list[str] | None = None) -> list[str]:
    """Workflow triggers a custom field can drive, as short sentences (empty for plain text fields).

    DATE fields named like recall / due / next visit -> date-based reminder workflows; other dates ->
    relative-date workflows (birthday, expiry); money fields named like balance / outstanding ->
    balance-threshold workflows; pick-lists -> status-change workflows; checkboxes -> flag-change
    workflows; numbers -> threshold conditions.
    """
    kind = type_class(ftype)
    label = name.replace("__c", "").replace("_", " ")
    if kind == "date":
        if _RECALL_DATE.search(label):
            what = "recall" if re.search(r"recall|recare|hygiene", label, re.I) else "reminder"
            return [f"Date-based reminder workflow: send the {what} message a set number of days "
                    f"before (and on) {name}; follow up when {name} has passed without action"]
        if _BIRTH_DATE.search(label):
            return [f"Date-based workflow on {name} (yearly birthday message)"]
        if _EXPIRY_DATE.search(label):
            return [f"Date-based workflow: expiry/renewal reminder before {name}"]
        return [f"Date-based workflow relative to {name} (wait until / days before or after)"]
    if kind == "money":
        if _BALANCE.search(label):
            return [f"Balance-threshold workflow: when {name} is above a threshold (e.g. > 0), send a payment "
                    f"reminder or create a follow-up task; stop when it returns to 0"]
        return [f"Amount condition on {name} (filter or branch in a workflow)"]
    if kind == "picklist":
        opts = f" ({', '.join(map(str, options))})" if options else ""
        return [f"Status-change workflow: when {name} changes to a given value{opts}"]
    if kind == "checkbox":
        return [f"Flag-change workflow: when {name} is checked/unchecked"]
    if kind == "number" and re.search(r"count|open|claims|visits|no.?show|cancel", label, re.I):
        return [f"Threshold condition on {name} (e.g. when it exceeds a limit)"]
    return []


def _cell(text: Any) -> str:
    """Markdown table cell text: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip() if text is not None else ""


def _derive_origin(step: DeriveStep) -> str:
    if step.from_ is not None:
        what = f"`{step.column}`" if step.column else (f"template `{step.template}`" if step.template else "rows")
        where = f" where `{step.where}`" if step.where else ""
        return f"{step.agg} of {what} from object `{step.from_}`{where}"
    if step.expr is not None:
        return f"expression `{step.expr}`"
    if step.template is not None:
        return f"template `{step.template}`"
    if step.columns is not None:
        return f"columns {', '.join(f'`{c}`' for c in step.columns)} ({step.format})"
    return f"column `{step.column}`" + (f" ({step.format})" if step.format else "")


def source_description(spec: MigrationSpec, target: Target, vs: ValueSource) -> str:
    """Where a mapped value comes from, in words: the source object and column, a template, an
    expression, a derived aggregate (``max of `due_date` from object `recalls```) or a constant."""
    steps = {s.name: s for s in target.derive}

    def col(c: str) -> str:
        if c in steps:
            return f"`{c}` = {_derive_origin(steps[c])}"
        if c in spec.objects[target.from_].columns:
            return f"`{target.from_}.{c}`"
        return f"`{c}`"

    if vs.column is not None:
        out = col(vs.column)
    elif vs.columns is not None:
        out = ", ".join(col(c) for c in vs.columns)
    elif vs.template is not None:
        refs = [r for r in dict.fromkeys(_TEMPLATE_REF.findall(vs.template)) if r in steps]
        out = f"template `{vs.template}`" + (f" (with {'; '.join(col(r) for r in refs)})" if refs else "")
    elif vs.expr is not None:
        out = f"expression `{vs.expr}`"
    else:
        out = f"constant `{vs.value}`"
    if vs.format:
        out += f", formatted `{vs.format}`"
    return out


def value_map_of(target: Target, vs: ValueSource) -> dict[str, Any]:
    """The field's own value map, else the value map of the derived column it reads (source -> CRM)."""
    if vs.value_map:
        return dict(vs.value_map)
    steps = {s.name: s for s in target.derive}
    step = steps.get(vs.column) if vs.column else None
    return dict(step.value_map) if step is not None and step.value_map else {}


def tag_names(target: Target) -> list[str]:
    """Literal tag names a target's ``tags`` field can set: the template's text plus the values of the
    value maps of the derived columns it references (split on commas)."""
    vs = target.fields.get("tags")
    if vs is None or vs.template is None and vs.column is None and vs.value is None:
        return []
    steps = {s.name: s for s in target.derive}
    parts: list[str] = []
    if vs.template is not None:
        parts.append(_TEMPLATE_REF.sub(",", vs.template))
        refs = _TEMPLATE_REF.findall(vs.template)
    else:
        refs = [vs.column] if vs.column else []
        if vs.value is not None:
            parts.append(str(vs.value))
    for r in refs:
        value_map = steps[r].value_map if r in steps else None
        if value_map:
            parts += [str(v) for v in value_map.values() if v is not None]
    return list(dict.fromkeys(t.strip() for p in parts for t in p.split(",") if t.strip()))


def _design_index(design: dict | None) -> dict[str, list[dict[str, Any]]]:
    """Lower-case field name -> design entries (any destination shape: ``{entity: [...]}`` or a list)."""
    idx: dict[str, list[dict[str, Any]]] = {}
    fields = (design or {}).get("custom_fields") or {}
    groups = fields.items() if isinstance(fields, dict) else [(None, fields)]
    for entity, entries in groups:
        for e in entries or []:
            if not isinstance(e, dict):
                continue
            e = {**e, "_entity": e.get("object") or entity}
            for key in {e.get("name"), str(e.get("full_name") or "").rpartition(".")[2]} - {None, ""}:
                idx.setdefault(str(key).lower(), []).append(e)
    return idx


def _entity_of(spec: MigrationSpec, target: Target) -> str:
    if spec.destination.kind == "salesforce":
        return str(target.options.get("sobject") or target.entity)
    if target.entity == "custom_object_record":
        return str(target.options.get("object_key") or target.entity)
    return target.entity


def _design_entry(idx: dict, name: str, entity: str) -> dict[str, Any] | None:
    entries = idx.get(name.lower()) or []
    for e in entries:
        if str(e.get("_entity") or "").lower() in (entity.lower(), entity.rpartition(".")[2].lower()):
            return e
    return entries[0] if entries else None


def _crm_key(entry: dict | None) -> str:
    if not entry:
        return ""
    for k in ("fieldKey", "key", "full_name", "id"):
        if entry.get(k):
            return str(entry[k])
    return ""


def custom_field_design(spec: MigrationSpec, design: dict | None = None) -> dict[str, Any]:
    """The design as data: ``{"migration", "destination", "targets": {target: {"entity", "crm_object",
    "folders": {category: [{"name", "label", "type", "type_label", "type_class", "options", "value_map",
    "source", "comes_from", "source_columns", "triggers", "crm_key", "created"}]}, "tags": [{"name",
    "trigger"}]}}}``. ``source`` is the technical origin (columns, templates, expressions), ``comes_from``
    the same in words for practice staff.
    Targets without custom fields or tags are left out; a field without category is under "General".
    """
    idx = _design_index(design)
    labels = CodeLabels(spec)
    out: dict[str, Any] = {"migration": spec.migration, "destination": spec.destination.kind, "targets": {}}
    for tname, t in spec.targets.items():
        tags = tag_names(t)
        if not t.custom_fields and not tags:
            continue
        entity = _entity_of(spec, t)
        folders: dict[str, list[dict[str, Any]]] = {}
        for name, cf in t.custom_fields.items():
            entry = _design_entry(idx, name, entity)
            options = cf.options or (entry or {}).get("options") or (entry or {}).get("picklist_values") or None
            folders.setdefault(cf.category or "General", []).append({
                "name": name, "label": (entry or {}).get("label") or cf.args.get("label"), "type": cf.type,
                "type_label": crm_type_label(spec.destination.kind, cf.type), "type_class": type_class(cf.type),
                "options": list(options) if options else None,
                "value_map": value_map_of(t, cf), "source": source_description(spec, t, cf),
                "comes_from": value_origin(spec, t, cf, labels), "source_columns": source_columns(spec, t, cf),
                "triggers": field_triggers(name, cf.type, cf.options),
                "crm_key": _crm_key(entry), "created": (entry or {}).get("created"),
            })
        out["targets"][tname] = {
            "entity": t.entity, "crm_object": entity, "folders": folders,
            "tags": [{"name": tag, "trigger": f"Tag-added workflow: when tag '{tag}' is added"} for tag in tags],
        }
    return out


def _fmt_map(m: dict[str, Any]) -> str:
    return "; ".join(f"{k} → {v}" for k, v in m.items())


def _design_sections(spec: MigrationSpec, design: dict, used: set[str]) -> list[str]:
    lines: list[str] = []
    folders = design.get("folders") or {}
    if isinstance(folders, dict) and folders:
        lines += ["## Folders in the CRM", ""]
        for model, f in folders.items():
            if not isinstance(f, dict):
                continue
            mode = f.get("mode", "")
            lines.append(f"- **{model}**: folder mode `{mode}`")
            for cat, fid in (f.get("folders") or {}).items():
                lines.append(f"  - {cat}: folder `{fid}`")
            manual = f.get("manual") or {}
            if manual:
                lines.append("  - Create these folders by hand and move the fields into them:")
                for cat, names in manual.items():
                    lines.append(f"    - [ ] {cat}: {', '.join(map(str, names))}")
        lines.append("")
    pipelines = design.get("pipelines") or {}
    if isinstance(pipelines, dict) and pipelines:
        lines += ["## Pipelines", ""]
        for name, p in pipelines.items():
            stages = (p or {}).get("stages") if isinstance(p, dict) else None
            lines.append(f"- **{name}**: stages {', '.join(map(str, stages)) if stages else '(none listed)'}")
        lines.append("")
    calendars = design.get("calendars") or {}
    if isinstance(calendars, dict) and calendars:
        lines += ["## Calendars", ""] + [f"- **{n}** (`{cid}`)" for n, cid in calendars.items()] + [""]
    cobj = design.get("custom_objects")
    if cobj:
        lines += ["## Custom objects", ""]
        items = cobj.items() if isinstance(cobj, dict) else ((o.get("name") or o.get("full_name"), o)
                                                             for o in cobj if isinstance(o, dict))
        for name, o in items:
            o = o if isinstance(o, dict) else {}
            key = o.get("key") or o.get("full_name") or o.get("id") or ""
            lines.append(f"- **{name}**" + (f" (`{key}`)" if key else ""))
        lines.append("")
    extra = []
    for name, entries in _design_index(design).items():
        if name not in used:
            for e in entries:
                extra.append(f"| {_cell(e.get('_entity'))} | {_cell(e.get('name') or e.get('full_name'))} | "
                             f"{_cell(e.get('dataType') or e.get('type'))} | {_cell(_crm_key(e))} |")
    if extra:
        lines += ["## Other fields provisioned by the migration", "",
                  "Technical fields (e.g. the source key that links each CRM record to its source record).", "",
                  "| Object | Field | Type | CRM key |", "|---|---|---|---|", *sorted(set(extra)), ""]
    fls = design.get("fls_checklist") or {}
    fls_fields = fls.get("fields") if isinstance(fls, dict) else None
    if fls_fields:
        lines += ["## Field-level security checklist (HIPAA-sensitive fields)", "",
                  "| Object | Field | Type | Category | Managed by migration | Integration user read | "
                  "Integration user edit |", "|---|---|---|---|---|---|---|"]
        for f in fls_fields:
            lines.append(" | ".join(["", _cell(f.get("object")), _cell(f.get("field")), _cell(f.get("type")),
                                     _cell(f.get("category")), _cell(f.get("managed_by_migration")),
                                     _cell(f.get("integration_user_read")), _cell(f.get("integration_user_edit")),
                                     ""]).strip())
        lines.append("")
        for step in fls.get("steps") or []:
            lines.append(f"- [ ] {step}")
        lines.append("")
    return lines


def custom_field_design_markdown(spec: MigrationSpec, design: dict | None = None) -> str:
    """The custom-field design document as Markdown.

    Args:
        spec: the migration spec (targets' ``custom_fields``, ``derive`` steps, ``fields.tags``).
        design: the destination's design document (``ensure_schema`` result / the
            ``custom_field_design.json`` report file), any destination's shape, or None before the
            schema step ran. Missing or unexpected keys are skipped.

    Returns Markdown: a heading, then per target a section per folder/category with a table
    ``Field | Type | Options | Value map (source → CRM) | Comes from | Workflow triggers | CRM key |
    Source columns`` (type: the CRM's label and API name; comes from: in words),
    the tags the target can set with their tag-added trigger, then what the design document adds
    (folders, pipelines, calendars, custom objects, technical fields, Salesforce FLS checklist).
    Never raises on a partial design document.
    """
    doc = custom_field_design(spec, design if isinstance(design, dict) else None)
    lines = [f"# Custom-field design: {spec.title}", "",
             f"Migration `{spec.migration}` into **{spec.destination.kind}**. Every custom field the CRM needs, "
             "grouped by record type and folder, with its type, pick-list options, how source values are "
             "translated, where the value comes from, and which workflows it can drive.", ""]
    if design is None:
        lines += ["_The destination schema step has not run yet: CRM keys and folders are not known._", ""]
    used: set[str] = set()
    for tname, t in doc["targets"].items():
        lines += [f"## {tname} → {t['crm_object']}", ""]
        desc = spec.targets[tname].description
        if desc:
            lines += [" ".join(desc.split()), ""]
        for folder, fields in t["folders"].items():
            lines += [f"### Folder: {folder}", "",
                      "| Field | Type | Options | Value map (source → CRM) | Comes from | Workflow triggers | CRM key "
                      "| Source columns |",
                      "|---|---|---|---|---|---|---|---|"]
            for f in fields:
                used.add(f["name"].lower())
                lines.append("| " + " | ".join(_cell(x) for x in (
                    f["name"], f["type_label"], ", ".join(map(str, f["options"] or [])), _fmt_map(f["value_map"]),
                    f["comes_from"], " / ".join(f["triggers"]) or "—", f["crm_key"],
                    ", ".join(f["source_columns"]) or "—")) + " |")
            lines.append("")
        if t["tags"]:
            lines += ["### Tags", ""] + [f"- `{tag['name']}`: {tag['trigger']}" for tag in t["tags"]] + [""]
    if not doc["targets"]:
        lines += ["_This migration defines no custom fields._", ""]
    if isinstance(design, dict):
        lines += _design_sections(spec, design, used)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["crm_type_label", "custom_field_design", "custom_field_design_markdown", "field_triggers",
           "source_description",
           "tag_names", "type_class", "value_map_of"]
