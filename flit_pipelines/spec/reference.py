"""The mapping-spec reference, generated from the model so it cannot drift from it.

* :func:`json_schema`: the JSON schema of a spec file (``MigrationSpec``), for editors (the YAML
  language server reads it: ``# yaml-language-server: $schema=<path>/spec-schema.json``).
* :func:`markdown_reference`: ``docs/spec-reference.md``: every block and option with its type,
  default and description (from the pydantic fields), every formatter with an example computed by
  running it on a sample input and a line from a committed spec that uses it, and the expression
  language (the members ``transform.expressions`` allows).

``python -m flit_pipelines.spec.reference DOCS_DIR`` writes both files; a test fails when the committed
ones differ from what the model generates.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from flit_pipelines.spec.load import SPEC_DIR
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform import expressions, formatters

SCHEMA_FILE, REFERENCE_FILE = "spec-schema.json", "spec-reference.md"
SCHEMA_ID = "https://flit-pipelines.invalid/spec-schema.json"  # a name, not a place (never fetched)

# Sample inputs the reference runs each formatter on (inputs only: the outputs are computed).
_SAMPLES: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "date": (["2024-01-15T09:30:00"], {}), "datetime": (["2024-01-15T09:30:00"], {}),
    "datetime_rfc3339": (["2024-01-15T09:30:00"], {}), "v1_datetime": (["2024-01-15T09:30:00"], {}),
    "time_hhmm": (["2024-01-15T09:30:00"], {}), "wall_datetime": (["2024-01-15T09:30:00"], {}),
    "amount": (["426"], {}), "float": (["12.5"], {}), "money": (["85.555"], {}), "int": (["3.6"], {}),
    "yes_no": ([True], {}), "e164": (["(585) 555-6467"], {}), "basename": (["scans/2024/xray.png"], {}),
    "lower": (["Ann@Example.COM"], {}), "upper": (["ny"], {}), "strip": (["  Ann  "], {}),
    "duration_hhmm": (["2024-01-15T09:00:00", "2024-01-15T10:30:00"], {}),
    "contact_list": (["ann@example.com"], {"labels": ["home"]}),
    "date_at": (["2024-01-15", "9", "30"], {}), "plus_minutes": (["2024-01-15T09:00:00", "45"], {}),
    "datetime_offset": (["2024-01-15 09:30:00"], {"tz": "America/Chicago"}),
    "date_from_parts": (["1980", "2", "3"], {}), "parse_date": (["02/03/1980"], {"input_format": "%m/%d/%Y"}),
}


def json_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of one mapping-spec file, keys as written in YAML (``from``)."""
    schema = MigrationSpec.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "flit_pipelines mapping spec",
            "description": "One migration: source, destination, objects, targets, waves (docs/spec-reference.md).",
            **schema}


def _type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " | ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in prop:
            parts = [_type_text(p) for p in prop[key] if p.get("type") != "null"]
            return " | ".join(dict.fromkeys(parts)) or "null"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of name → {_type_text(prop['additionalProperties'])}"
    return str(kind)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _model_table(name: str, model: dict[str, Any]) -> list[str]:
    lines = [f"### `{name}`", ""]
    if model.get("description"):
        lines += [" ".join(model["description"].split()), ""]
    required = set(model.get("required", []))
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    for key, prop in model.get("properties", {}).items():
        default = "required" if key in required else (f"`{json.dumps(prop['default'])}`" if "default" in prop else "")
        lines.append(f"| `{key}` | {_cell(_type_text(prop))} | {_cell(default)} | {_cell(prop.get('description', ''))} |")
    return lines + [""]


def _spec_lines() -> list[tuple[str, str]]:
    return [(path.name, line.strip()) for path in sorted(SPEC_DIR.glob("*.yaml"))
            for line in path.read_text().splitlines()]


def _example_use(pattern: re.Pattern[str], lines: list[tuple[str, str]]) -> str:
    hit = next(((f, ln) for f, ln in lines if pattern.search(ln)), None)
    return f"`{hit[1]}` ({hit[0]})" if hit else "not used by a committed spec"


def _formatter_rows(lines: list[tuple[str, str]]) -> list[str]:
    rows = ["| formatter | columns | example (computed) | what it does | used in |", "|---|---|---|---|---|"]
    names = sorted({*formatters.ONE_COLUMN, *formatters.MULTI_COLUMN})
    for name in names:
        inputs, args = _SAMPLES.get(name, ([], {}))
        example = ""
        if inputs:
            out = formatters.apply_format(
                name, [pd.Series([v], dtype="string" if isinstance(v, str) else "boolean") for v in inputs], args)
            value = out.iloc[0]
            shown = ", ".join(f"`{v}`" for v in inputs) + (f" with `{json.dumps(args)}`" if args else "")
            example = f"{shown} → `{value}`"
        func = formatters.MULTI_COLUMN.get(name) or formatters.ONE_COLUMN[name]
        doc = formatters.SUMMARIES.get(name) or (func.__doc__ or "").strip().split("\n\n")[0]
        arity = "several" if name in formatters.MULTI_COLUMN else "one"
        use = _example_use(re.compile(rf"format: {re.escape(name)}\b"), lines)
        rows.append(f"| `{name}` | {arity} | {_cell(example)} | {_cell(doc)} | {_cell(use)} |")
    return rows


def markdown_reference() -> str:
    """``docs/spec-reference.md`` as text (see the module docstring)."""
    schema = json_schema()
    defs = schema["$defs"]
    lines = _spec_lines()
    out = ["# Mapping-spec reference", "",
           "Generated from the spec model (`flit_pipelines/spec/model.py` and the modules it imports) by "
           "`python -m flit_pipelines.spec.reference docs`; do not edit by hand. The JSON schema beside it "
           f"(`{SCHEMA_FILE}`) gives editors completion and checks: with the YAML language server, put "
           f"`# yaml-language-server: $schema=../docs/{SCHEMA_FILE}` on a spec's first line.", "",
           "A spec is loaded and checked by `flit spec check`: unknown keys, formatters, expression members and "
           "destination fields (against the CRM's catalog in `flit_pipelines/catalog/`) are refused with the "
           "file, line and the nearest valid name.", "",
           "## The file", ""]
    out += _model_table("MigrationSpec (top level)", {k: v for k, v in schema.items() if k != "$defs"})
    out += ["## Blocks", ""]
    for name in sorted(defs):
        out += _model_table(name, defs[name])
    out += ["## Formatters (`format:` in a field, custom field or derive step)", "",
            "Formatters work on whole columns (vectorised). `args` passes options (e.g. `labels`, `tz`, "
            "`input_format`, `max_hours`).", ""]
    out += _formatter_rows(lines) + [""]
    out += ["## Expressions (`expr:`, `where:`, derive steps, source sums)", "",
            "Expressions are parsed and checked before they run (`transform/expressions.py`): column names, "
            "`@setting` values, numbers and strings, arithmetic (`+ - * / // %`), comparisons, `& | ~`, and "
            "only these members:", "",
            f"* Series methods: {', '.join(f'`{m}`' for m in sorted(expressions.SERIES_METHODS))}",
            f"* `.str.`: {', '.join(f'`{m}`' for m in sorted(expressions.STR_METHODS))}",
            f"* `.dt.`: {', '.join(f'`{m}`' for m in sorted(expressions.DT_MEMBERS))}", "",
            "Anything else (other attributes, dunder names, calls of builtins, lambdas) is refused when the spec "
            "is loaded. Examples from the committed specs:", ""]
    seen = 0
    for f, ln in lines:
        if seen < 6 and re.search(r"\b(expr|where): ", ln) and "(" in ln:
            out.append(f"* `{ln}` ({f})")
            seen += 1
    return "\n".join(out).rstrip() + "\n"


def write(docs_dir: Path) -> list[Path]:
    """Write ``spec-schema.json`` and ``spec-reference.md`` into ``docs_dir``; returns their paths."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    schema_path, ref_path = docs_dir / SCHEMA_FILE, docs_dir / REFERENCE_FILE
    schema_path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    ref_path.write_text(markdown_reference())
    return [schema_path, ref_path]


if __name__ == "__main__":
    for written in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(written)
