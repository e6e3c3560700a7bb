"""Matching pre-existing destination records (``Target.options["match_existing"]``), shared by every
destination: the value normalisation and the unique/ambiguous split of one candidate search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flit_pipelines.spec.model import Target


def normalise_match(value: Any) -> str | None:
    """A match value as compared: text stripped and lower-cased (e-mail, name); None when empty."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


class MatchByCandidates:
    """``find_matches`` / ``ambiguous_matches`` from the destination's one vendor search
    ``match_candidates(target_name, target, values) -> {normalised value: [dest IDs]}`` (live records
    without our source key only)."""

    def match_candidates(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        raise NotImplementedError

    def find_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, str]:
        """Normalised value -> dest ID for values exactly one such record carries (update it in place
        instead of creating a duplicate); values several carry are left out (``ambiguous_matches``;
        ``match_candidates`` gives both in one search)."""
        return {v: ids[0] for v, ids in self.match_candidates(target_name, target, values).items() if len(ids) == 1}

    def ambiguous_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> dest IDs for values several such records carry."""
        return {v: ids for v, ids in self.match_candidates(target_name, target, values).items() if len(ids) > 1}
