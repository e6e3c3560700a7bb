"""Pre-existing destination records, shared by every destination: matching them
(``Target.options["match_existing"]``: the value normalisation and the unique/ambiguous split of one
candidate search) and reporting what a restore could not put back (``unclearable_fields``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from flit_pipelines.spec.model import Target


def normalise_match(value: Any) -> str | None:
    """A match value as compared: text stripped and lower-cased (e-mail, name); None when empty."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


class MatchByCandidates(ABC):
    """``find_matches`` / ``ambiguous_matches`` from the destination's one vendor search
    ``match_candidates(target_name, target, values) -> {normalised value: [dest IDs]}`` (live records
    without our source key only)."""

    @abstractmethod
    def match_candidates(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> IDs of live records without our source key carrying it (one vendor search)."""

    def find_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, str]:
        """Normalised value -> dest ID for values exactly one such record carries (update it in place
        instead of creating a duplicate); values several carry are left out (``ambiguous_matches``;
        ``match_candidates`` gives both in one search)."""
        return {v: ids[0] for v, ids in self.match_candidates(target_name, target, values).items() if len(ids) == 1}

    def ambiguous_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> dest IDs for values several such records carry."""
        return {v: ids for v, ids in self.match_candidates(target_name, target, values).items() if len(ids) > 1}


def unclearable_fields(read_fields: Callable[[str, Target, list[str]], dict[str, dict[str, Any]]],
                       target_name: str, target: Target, dest_id: str, stuck: Sequence[str], *,
                       where: str = "") -> str | None:
    """After a restore: the ``manual: ...`` text naming the ``stuck`` fields (empty before the migration,
    no empty value in the vendor API) that the record still carries, or None. One ``read_fields`` call,
    only when ``stuck`` is not empty; field names only, never values. ``where``: how an admin clears
    them (e.g. "clear them in Pipedrive")."""
    if not stuck:
        return None
    live = read_fields(target_name, target, [dest_id]).get(dest_id, {})
    left = [k for k in stuck if k in live]
    if not left:
        return None
    return (f"manual: {target.entity} fields {', '.join(left)} were empty before the migration and the API "
            f"cannot empty them" + (f"; {where}" if where else ""))
