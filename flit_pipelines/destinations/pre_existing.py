"""Records that existed in the destination before the migration (``options.match_existing``): matched
instead of duplicated, their prior state captured before the first update (what rollback restores).
Used by ``base.load_target``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from flit_pipelines.destinations.contract import Destination, FatalLoadError, LoadSummary
from flit_pipelines.destinations.matching import normalise_match
from flit_pipelines.ledger import Ledger
from flit_pipelines.spec.model import MigrationSpec


def match_value(body: dict[str, Any], row: dict[str, Any], field_name: str) -> str | None:
    """The ``options.match_existing`` value of a body, normalised (stripped, lower-cased) for destinations
    without ``match_value``: the body field itself, else the primary entry of its plural contact list
    (``emails: [{value, primary}]``), else the payload column of that name; None when empty."""
    value = body.get(field_name)
    if value is None and isinstance(body.get(field_name + "s"), list):
        items = [i for i in body[field_name + "s"] if isinstance(i, dict)]
        first = next((i for i in items if i.get("primary")), items[0] if items else None)
        value = first.get("value") if first else None
    if value is None:
        value = row.get(field_name)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return normalise_match(value)


Write = tuple[str, dict, dict, str, str | None]  # load_target's (op, row, body, hash, dest_id)


class PreExisting:
    """Records of one target that existed before the migration (ARCHITECTURE.md "Data flow": prior state
    before any update of a record that existed before the migration).

    * Matching: with ``options.match_existing``, a create whose match value one live record without our
      source key carries (``destination.find_matches``, once per chunk) becomes an update of that record,
      recorded with ``created_by_migration=False`` (rollback restores it instead of deleting it).
    * Capture: before the first update of any record whose crosswalk row says it was not created by us
      (matched now or earlier), ``destination.read_fields`` (once per chunk, in bulk) is saved with
      ``ledger.save_prior_states``; the captured IDs are read from the ledger once per load.
    * Adoption: a record found by our source key whose prior state is captured was matched by a run
      whose ledger write was lost: it stays "not created by us".

    Raises FatalLoadError at construction when the target matches but the destination has no
    ``read_fields``/``find_matches`` (the records could be changed but never restored).
    """

    def __init__(self, spec: MigrationSpec, target_name: str, destination: Destination, ledger: Ledger,
                 xw: pd.DataFrame, summary: LoadSummary):
        self.spec, self.target_name, self.target = spec, target_name, spec.targets[target_name]
        self.destination, self.ledger, self.summary = destination, ledger, summary
        self.field = self.target.options.get("match_existing")
        not_created = ~xw["created_by_migration"].astype(bool)
        self.not_ours: set[str] = set(xw.loc[not_created, "dest_id"].astype(str))
        self.claimed: set[str] = set(xw["dest_id"].astype(str))  # dest IDs some source row already owns
        self.matched: set[str] = set()  # source IDs matched to pre-existing records in this load
        if self.field:
            missing = [n for n in ("read_fields", "find_matches") if not hasattr(destination, n)]
            if missing:
                raise FatalLoadError(
                    f"target {target_name}: options.match_existing needs the {spec.destination.kind} destination "
                    f"to offer {' and '.join(missing)} (pre-existing records must be restorable by rollback)")
        self.captured: set[str] = (ledger.prior_state_ids(spec.migration, target_name)
                                   if self.field or self.not_ours else set())

    def created_by_migration(self, source_id: str) -> bool:
        """False for a source row matched to (or adopted as) a pre-existing record in this load."""
        return source_id not in self.matched

    def adopt(self, source_id: str, dest_id: str) -> None:
        """A record found by our source key: pre-existing if its prior state was captured."""
        self.claimed.add(dest_id)
        if dest_id in self.captured:
            self.matched.add(source_id)
            self.not_ours.add(dest_id)

    def prepare(self, items: list[Write]) -> list[Write]:
        """One chunk's writes (op, row, body, hash, dest_id): creates matched to pre-existing records become
        updates, then the prior state of every pre-existing record about to be updated is captured."""
        if self.field:
            items = self._match(items, self.field)
        if self.not_ours:
            self._capture([d for op, _r, _b, _h, d in items if op == "update" and d in self.not_ours])
        return items

    def _match(self, items: list[Write], field: str) -> list[Write]:
        value_of = getattr(self.destination, "match_value", None)
        values: dict[int, str] = {}
        for k, (op, row, body, _h, _d) in enumerate(items):
            if op == "create":
                v = (value_of(self.target_name, self.target, body) if value_of is not None
                     else match_value(body, row, field))
                if v:
                    values[k] = v
        if not values:
            return items
        wanted = list(dict.fromkeys(values.values()))
        candidates = getattr(self.destination, "match_candidates", None)
        if candidates is not None:  # one pass gives both the unique and the ambiguous values
            found = candidates(self.target_name, self.target, wanted)
            matches = {v: ids[0] for v, ids in found.items() if len(ids) == 1}
            self.summary.ambiguous_matches += sum(1 for ids in found.values() if len(ids) > 1)
        else:
            matches = self.destination.find_matches(self.target_name, self.target, wanted)
        out = list(items)
        for k, v in values.items():
            dest = matches.get(v)
            if dest is None or str(dest) in self.claimed:  # one source row per pre-existing record
                continue
            op, row, body, digest, _ = items[k]
            dest = str(dest)
            self.claimed.add(dest)
            self.not_ours.add(dest)
            self.matched.add(str(row["source_id"]))
            self.summary.matched_existing += 1
            out[k] = ("update", row, body, digest, dest)
        return out

    def _capture(self, dest_ids: list[str]) -> None:
        ids = list(dict.fromkeys(d for d in dest_ids if d not in self.captured))
        if not ids:
            return
        read = getattr(self.destination, "read_fields", None)
        if read is None:
            raise FatalLoadError(f"target {self.target_name}: {len(ids)} pre-existing record(s) would be updated, "
                                 f"but the {self.spec.destination.kind} destination cannot read their prior state")
        live = read(self.target_name, self.target, ids)
        states = {d: live[d] for d in ids if d in live}  # gone records: nothing to restore, the update fails
        self.ledger.save_prior_states(self.spec.migration, self.target_name, states)
        self.captured.update(states)
