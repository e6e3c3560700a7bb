"""Mapping-spec model, loading, load order and the approval gate."""

from flit_pipelines.spec.load import (
    SPEC_DIR,
    SpecError,
    approval_status,
    field_map_sha256,
    load_all_specs,
    load_order,
    load_spec,
    parents_of,
)
from flit_pipelines.spec.model import MigrationSpec, SourceObject, Target

__all__ = [
    "SPEC_DIR", "SpecError", "approval_status", "field_map_sha256", "load_all_specs", "load_order",
    "load_spec", "parents_of", "MigrationSpec", "SourceObject", "Target",
]
