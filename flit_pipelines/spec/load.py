"""Loading mapping specs, their load order, and the approval gate."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import yaml

from flit_pipelines.runtime import command_prefix
from flit_pipelines.spec.catalog_check import check_spec
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.yaml_loader import FAST_LOADER

SPEC_DIR = Path(__file__).resolve().parents[2] / "mapping_specs"


class SpecError(ValueError):
    """A mapping spec is malformed or inconsistent (the message names the file and the problem)."""


def load_spec(path: str | Path) -> MigrationSpec:
    """Parse and validate one mapping-spec YAML file.

    Raises:
        SpecError: unreadable YAML, a schema violation, a dangling name, a lookup cycle, or a field,
            lookup or formatter the destination catalog / formatter registry does not have
            (``spec.catalog_check``; the message gives ``<path>:<line>``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.load(text, Loader=FAST_LOADER)  # noqa: S506 - a safe loader (libyaml's when present)
        spec = MigrationSpec.model_validate(raw)
    except (yaml.YAMLError, ValueError) as exc:  # pydantic.ValidationError is a ValueError
        raise SpecError(f"{path.name}: {exc}") from exc
    load_order(spec)  # a cycle is a clear error at load time, not at run time
    # static check against the destination catalog and the formatters: at load, with path and line
    findings = check_spec(spec, text)
    if findings:
        raise SpecError("; ".join(f"{path}:{f.line or '?'}: {f.message}" for f in findings))
    return spec


def spec_dir() -> Path:
    """``FLIT_SPEC_DIR`` if set (the demo points it at an approved copy), else ``mapping_specs/``."""
    return Path(os.environ.get("FLIT_SPEC_DIR") or SPEC_DIR)


def load_all_specs(spec_dir: str | Path | None = None) -> dict[str, MigrationSpec]:
    """Every ``*.yaml`` in ``spec_dir`` (default ``spec_dir()``) keyed by migration name.

    Raises SpecError on a bad file or a migration defined twice."""
    spec_dir = Path(spec_dir) if spec_dir is not None else globals()["spec_dir"]()
    specs: dict[str, MigrationSpec] = {}
    for path in sorted(Path(spec_dir).glob("*.yaml")):
        spec = load_spec(path)
        if spec.migration in specs:
            raise SpecError(f"{path.name}: migration {spec.migration!r} is defined twice")
        specs[spec.migration] = spec
    return specs


def load_order(spec: MigrationSpec) -> list[str]:
    """Targets in foreign-key order: every lookup's target comes before the target that uses it.

    Ties keep spec order, so the order is stable. Raises SpecError naming the cycle.
    """
    graph = {name: {lk.target for lk in t.lookups.values() if lk.target != name} for name, t in spec.targets.items()}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise SpecError(f"{spec.migration}: lookups form a cycle: {cycle}") from exc
    position = {name: i for i, name in enumerate(spec.targets)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def parents_of(spec: MigrationSpec, target: str) -> list[str]:
    """Targets that ``target`` looks up (its load-asset dependencies)."""
    return sorted({lk.target for lk in spec.targets[target].lookups.values() if lk.target != target})


def field_map_sha256(spec: MigrationSpec) -> str:
    """SHA-256 of the spec without its approval block: what a reviewer approves.

    Any change to objects, targets, mappings or settings changes the hash and so voids the approval.
    """
    body = spec.model_dump(mode="json", by_alias=True, exclude={"approval"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ApprovalStatus:
    """Whether the field map is approved as it stands, why not, and the hash a reviewer approves."""
    approved: bool
    reasons: list[str]
    expected_sha256: str


def approval_status(spec: MigrationSpec) -> ApprovalStatus:
    """Is the field map approved, and approved as it stands now?"""
    reasons: list[str] = []
    expected = field_map_sha256(spec)
    if not spec.approval.approved_by:
        reasons.append("approval.approved_by is empty")
    if not spec.approval.approved_at:
        reasons.append("approval.approved_at is empty")
    if not spec.approval.field_map_sha256:
        reasons.append("approval.field_map_sha256 is empty")
    elif spec.approval.field_map_sha256 != expected:
        reasons.append("the field map changed after approval (field_map_sha256 does not match)")
    return ApprovalStatus(not reasons, reasons, expected)


def approval_command(migration: str) -> str:
    """The command a reviewer runs to approve a field map: ``flit spec approve <migration> --by NAME``
    (prefixed as the user runs flit, e.g. ``./scripts/dev flit``)."""
    return f"{command_prefix()} spec approve {migration} --by NAME"


def approval_fix(spec: MigrationSpec) -> str:
    """What to do when the field map is not approved (value-free): review it, run the approval command
    with the reviewer's name, reload the code location."""
    return (f"To approve it, review the field map (the field_map asset's field_map.md), then run "
            f"`{approval_command(spec.migration)}` with the reviewer's name for NAME, and reload the code "
            f"location (or re-run) so the wave sees the approval.")


def approve_spec_file(path: str | Path, approved_by: str, approved_at: str) -> str:
    """Write the approval block of a spec file in place (keeps the rest of the file byte-for-byte).

    Returns the approved field-map hash. Used by ``flit spec approve``.
    """
    path = Path(path)
    spec = load_spec(path)
    digest = field_map_sha256(spec)
    text = path.read_text(encoding="utf-8")
    block = (
        "approval:\n"
        f"  approved_by: {json.dumps(approved_by)}\n"
        f"  approved_at: {json.dumps(approved_at)}\n"
        f"  field_map_sha256: {digest}\n"
    )
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("approval:")), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + block
    else:
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        text = "".join(lines[:start]) + block + "".join(lines[end:])
    path.write_text(text, encoding="utf-8")
    return digest
