"""Scoring a source column against destination fields: name, values, and what reviewers confirmed before.

``score_column(col, fields)`` returns one ``Candidate`` per field with a confidence in 0..1 and the
evidence behind it:

* **name**: the normalised column name (``names.normalise``) against the field's API name, label and
  documented synonyms, with rapidfuzz (token sort and token set ratios; an exact normalised match is 1);
* **meaning**: WordLlama static embeddings of the column's words and the field's names and description
  (``proposal.meaning``);
* **values**: how well the values suit the field (``evidence.value_fit``): a field that takes e-mails needs a
  column of e-mails (``TYPE_NEEDS``; a hard gate: the confidence never exceeds that share), a date field
  dates, an enum values that map onto its allowed values; text fields take anything, a little less when
  the values are strongly typed as something else;
* **memory**: a mapping a reviewer confirmed for the same header and entity (``proposal.memory``)
  lifts the candidate to at least ``MEMORY_CONFIDENCE``.

confidence = the calibrated combiner (``proposal.combiner``: logistic regression + isotonic calibration,
fitted on development pairs by ``scripts/train_proposer.py``) over the evidence features
(``proposal.features``). ``HIGH`` (held-out precision >= 0.98) and ``PROPOSE`` (a field is proposed
from there: more likely right than wrong) come with the fitted file; below ``REVIEW`` a line is marked
``review: required``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from flit_pipelines.catalog import FieldDef
from flit_pipelines.proposal.combiner import CombinerError, bands, probability
from flit_pipelines.proposal.evidence import TYPE_NEEDS, field_kind
from flit_pipelines.proposal.features import FEATURES, pair_features
from flit_pipelines.proposal.profile import ColumnProfile

REVIEW = 0.75
MEMORY_CONFIDENCE = 0.97
@dataclass
class Candidate:
    """A destination field for a column: ``field`` (API name, or ``name#first name`` for a part of a
    composed field), confidence 0..1, evidence (no values) and a value map for enums."""

    field: str
    confidence: float
    evidence: list[str] = dataclasses.field(default_factory=list)
    value_map: dict[str, str] | None = None
    unmapped: list[str] = dataclasses.field(default_factory=list)


def score_column(col: ColumnProfile, fields: dict[str, FieldDef], *, position: int = 0,
                 memory: dict[str, str] | None = None, entity_label: str = "") -> list[Candidate]:
    """Candidates for one column over ``fields`` (name -> FieldDef), best first: the calibrated
    combiner's confidence over the evidence features (``proposal.features``), with the evidence.

    ``memory``: field name -> "who/when" text for mappings reviewers confirmed for this header."""
    if not fields:
        return []
    x, matched, values = pair_features(col, fields, entity_label)
    conf = probability(x)
    ie, iname = FEATURES.index("emb_name"), FEATURES.index("name")
    out: list[Candidate] = []
    for i, name in enumerate(fields):
        fit, why, vmap, unmapped = values[i]
        c = float(conf[i]) - position * 1e-5 + 1e-4 * float(x[i, iname])  # stable tie-breaks
        if field_kind(fields[name]) in TYPE_NEEDS and col.fill_rate > 0:
            c = min(c, fit)  # hard gate (notes/map_proposal.md §4): an e-mail field needs e-mails
        evidence = [f"name '{col.name}' ~ '{matched[i]}' ({x[i, iname]:.2f}; meaning {x[i, ie]:.2f})", why]
        if memory and name in memory:
            c = max(c, MEMORY_CONFIDENCE)
            evidence.insert(0, f"confirmed by a reviewer before ({memory[name]})")
        out.append(Candidate(name, round(min(max(c, 0.0), 1.0), 4), evidence, vmap, unmapped))
    out.sort(key=lambda c: -c.confidence)
    return out


def _bands() -> tuple[float, float]:
    try:
        b = bands()
        return float(b["high"]), float(b["propose"])
    except CombinerError:  # pragma: no cover - the fitted file ships with the package
        return 0.85, 0.6


# The high band (held-out development precision >= 0.98) and the confidence from which a field is
# proposed (more likely right than wrong), both measured by scripts/train_proposer.py.
HIGH, PROPOSE = _bands()
