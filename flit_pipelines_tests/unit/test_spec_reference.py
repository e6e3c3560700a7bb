"""The committed spec reference and JSON schema are what the model generates, and the schema accepts
every committed spec and refuses what the model refuses (a misspelt key)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from flit_pipelines.spec.load import SPEC_DIR
from flit_pipelines.spec.reference import REFERENCE_FILE, SCHEMA_FILE, json_schema, markdown_reference
from flit_pipelines.transform import formatters

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "regenerate with: ./scripts/dev python -m flit_pipelines.spec.reference docs"


def test_committed_docs_are_generated_from_the_model():
    assert json.loads((DOCS / SCHEMA_FILE).read_text()) == json.loads(json.dumps(json_schema())), REGENERATE
    assert (DOCS / REFERENCE_FILE).read_text() == markdown_reference(), REGENERATE


def test_every_formatter_is_documented_with_a_computed_example():
    text = markdown_reference().split("## Formatters", 1)[1]
    for name in {*formatters.ONE_COLUMN, *formatters.MULTI_COLUMN}:
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| `{name}` |"))
        cells = [c.strip() for c in row.split(" | ")]
        assert "→" in cells[2] and cells[3], (name, row)


@pytest.mark.parametrize("path", sorted(SPEC_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_schema_accepts_every_committed_spec(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), json_schema())


def test_the_schema_refuses_a_misspelt_key():
    raw = yaml.safe_load((SPEC_DIR / "clinic_to_pipedrive.yaml").read_text())
    first = next(iter(raw["targets"].values()))
    first["feilds"] = first.pop("fields")
    with pytest.raises(jsonschema.ValidationError, match="feilds"):
        jsonschema.validate(raw, json_schema())
