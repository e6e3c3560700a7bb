"""What a proposal holds: a decision per source column and the targets of the draft spec."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DECISIONS = ("direct", "transform", "custom_field", "lookup", "not_migrated")


@dataclass
class ColumnDecision:
    """One source column's fate (``proposal.json`` entry).

    ``target``: the spec target it feeds (None when not migrated); ``destination_field``: the API name
    of a standard field, the proposed label of a custom field, the lookup field; ``review``: below the
    review threshold, marked ``review: required`` in the draft; ``reason``: why (not_migrated)."""

    object: str
    column: str
    decision: str
    target: str | None = None
    destination_field: str | None = None
    confidence: float = 0.0
    evidence: list[str] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    review: bool = False
    fill_rate: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``proposal.json`` form."""
        out = asdict(self)
        out["confidence"] = round(float(self.confidence), 3)
        return out


@dataclass
class TargetPlan:
    """A target of the draft spec, as plain data (rendered by ``proposal.draft``).

    ``notes``: (section, key) -> comment text; ``review``: (section, key) marked ``review: required``."""

    name: str
    entity: str
    from_: str
    description: str = ""
    sobject: str | None = None
    derive: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    pipeline: dict[str, Any] | None = None
    match: dict[str, str] | None = None
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    review: set[tuple[str, str]] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)  # other Target keys kept as they are (adapt mode)


@dataclass
class Proposal:
    """A whole proposal: the draft spec's parts and one decision per source column."""

    migration: str
    destination: str
    mode: str  # scratch | like
    title: str
    source: dict[str, Any]
    environment: dict[str, dict[str, Any]]
    destination_block: dict[str, Any]
    objects: dict[str, dict[str, Any]]
    targets: dict[str, TargetPlan]
    decisions: list[ColumnDecision]
    root: str | None
    seed_objects: list[dict[str, Any]] = field(default_factory=list)
    waves: dict[str, Any] = field(default_factory=dict)
    delta: dict[str, Any] | None = None
    object_notes: dict[str, str] = field(default_factory=dict)
    header_notes: list[str] = field(default_factory=list)
    like: str | None = None
    column_notes: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)  # (obj, col) -> (text, review)

    def review_items(self) -> list[ColumnDecision]:
        """Decisions a person must review before approval."""
        return [d for d in self.decisions if d.review]
