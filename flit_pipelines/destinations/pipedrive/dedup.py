"""Deduplication pass for Pipedrive persons that share an e-mail (issue 5, "Deduplication pass").

Opt-in per target: ``options: {dedup: {by: email}}`` on a ``person`` target. It runs after that
target's load and before its children's loads (``flit_pipelines.assets.dedup``), so activities, notes,
deals and files created afterwards attach to the survivor.

One pass:

1. candidates: the target's crosswalk rows created by this migration, less source IDs already merged;
   their persons are read in bulk (v2 ``getPersons?ids=``, 100 per request);
2. groups: persons linked by any shared normalised e-mail (trimmed, lower-cased; connected components,
   so A~B and B~C make one group) - vectorised label propagation over (person, e-mail) pairs;
3. survivor: the most complete person (most non-empty fields, custom fields included, read back from
   Pipedrive), then the oldest source ID (numeric IDs by value, others by text);
4. every other member is merged into the survivor with v1 ``PUT /persons/{id}/merge`` (``merge_with_id``
   = survivor: the vendor keeps its values and fills its empty fields from the merged person, and
   moves activities, notes, deals and files; ``PipedriveClient.merge_persons``);
5. ledger: each merge is written as ``pending`` (table ``dedup_merge``) before its request and closed
   after it in one transaction with the crosswalk change and the audit event (operation ``merge``): the
   merged source ID's crosswalk row now points at the survivor. A crash in between leaves ``pending``;
   the next pass looks the merged person up and finishes (it is gone: done) or redoes the merge.

Crosswalk and payload hash (what ``load_target`` then does with a merged source ID):

* its crosswalk row keeps its ``payload_hash`` (the hash of the body last sent for it) and gets the
  survivor's destination ID. FK resolution maps the merged source ID to the survivor, so the children
  of both land on one person;
* an unchanged source row hashes the same, so later loads ``skip`` it (destination ID = survivor):
  nothing is sent and nothing re-created;
* a merged source row whose body changed later is held, not sent (``load_target``'s hold step, reason
  "merged into source record ..."): an update would overwrite the survivor with the other record's
  values and its source key. A person updates the survivor by hand;
* the count check counts merged source IDs as merged, not missing (``assets.checks.count_check``).

Reconciliation log: ``dedup_reconciliation.csv`` in the wave's reports directory, one row per merged
source record of every dedup target (from the ledger, so it is complete after re-runs): target,
survivor source and destination IDs, merged source ID and its former destination ID, the kind of key
that matched (``email``; never the address), status, error, time. No e-mail or other value is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flit_pipelines.destinations.base import FatalLoadError
from flit_pipelines.destinations.pipedrive.errors import DailyBudgetExhausted, PipedriveError, PipedriveTransportError
from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.staff_csv import write_staff_csv
from flit_pipelines.spec.model import MigrationSpec, Target

log = logging.getLogger(__name__)

MATCH_KEYS = ("email",)
LOG_NAME = "dedup_reconciliation.csv"
LOG_COLUMNS = ["target", "survivor_source_id", "survivor_dest_id", "merged_source_id", "merged_dest_id",
               "match_key", "status", "error", "merged_at"]
# bookkeeping fields that say nothing about how complete a person is
_NOT_DATA = {"id", "add_time", "update_time", "is_deleted", "owner_id", "visible_to", "first_name", "last_name",
             "picture_id", "label_ids", "marketing_status", "im", "custom_fields"}


@dataclass
class DedupResult:
    """Counts of one pass: ``groups`` of persons sharing a key, persons ``merged`` now, ``resumed``
    (pending merges of a stopped pass finished), ``failed`` merges (reasons in the log)."""

    target: str
    candidates: int = 0
    groups: int = 0
    merged: int = 0
    resumed: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for asset metadata and reports."""
        return dict(self.__dict__)


def dedup_option(target_name: str, target: Target) -> str | None:
    """The target's ``options.dedup.by`` (``"email"``), or None when the target does not opt in.

    Raises ValueError for a malformed option or a non-person target (at definition load)."""
    opt = target.options.get("dedup")
    if opt is None:
        return None
    if not isinstance(opt, dict) or set(opt) != {"by"} or opt["by"] not in MATCH_KEYS:
        raise ValueError(f"target {target_name}: options.dedup must be {{by: {' | '.join(MATCH_KEYS)}}}")
    if target.entity != "person":
        raise ValueError(f"target {target_name}: options.dedup applies to person targets only")
    return str(opt["by"])


def person_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Columns dest_id, filled (non-empty data fields, custom fields included) and emails (list of
    normalised addresses) for v2 person objects; deleted persons are dropped."""
    live = [p for p in items if not p.get("is_deleted")]
    if not live:
        return pd.DataFrame({"dest_id": pd.Series(dtype="string"), "filled": pd.Series(dtype="int64"),
                             "emails": pd.Series(dtype=object)})
    flat = pd.json_normalize(live, max_level=1)  # custom_fields.<key> and postal_address.<part> become columns
    data = flat[[c for c in flat.columns if c.split(".")[0] not in _NOT_DATA or c.startswith("custom_fields.")]]
    data = data.drop(columns=[c for c in data.columns if c.startswith("postal_address.") and c != "postal_address.value"])
    text = data.astype("string")
    filled = (data.notna() & ~text.isin(["", "[]", "{}", "None"])).sum(axis=1)
    emails = pd.Series([[str(e.get("value", "")).strip().lower() for e in p.get("emails") or [] if e.get("value")]
                        for p in live], dtype=object)
    return pd.DataFrame({"dest_id": flat["id"].astype("int64").astype("string"), "filled": filled.astype("int64"),
                         "emails": emails})


def _source_order(source_ids: pd.Series) -> pd.DataFrame:
    """Sort keys for "oldest source ID first": numeric IDs by value before text IDs by text."""
    num = pd.to_numeric(source_ids, errors="coerce")
    return pd.DataFrame({"is_text": num.isna(), "num": num.fillna(0), "text": source_ids.astype("string")})


def components(pairs: pd.DataFrame) -> pd.Series:
    """Connected components of persons linked by a shared key.

    ``pairs`` has columns person (int position) and key; returns person -> component label (the
    smallest person position in its component), for persons appearing in ``pairs``."""
    label = pairs.groupby("person")["person"].first()
    while True:
        by_key = pairs["person"].map(label).groupby(pairs["key"]).transform("min")
        new = by_key.groupby(pairs["person"]).min().combine(label, min)
        if new.equals(label):
            return label
        label = new


def plan_merges(candidates: pd.DataFrame, match_key: str = "email") -> pd.DataFrame:
    """Which person merges into which.

    ``candidates``: columns source_id, dest_id, filled, emails (one row per live person). Returns one
    row per person to merge: match_key, survivor_source_id, survivor_dest_id, merged_source_id,
    merged_dest_id. Survivor: most ``filled``, then the oldest source ID."""
    cols = ["match_key", "survivor_source_id", "survivor_dest_id", "merged_source_id", "merged_dest_id"]
    c = candidates.reset_index(drop=True)
    pairs = c[["emails"]].assign(person=c.index).explode("emails").dropna(subset=["emails"])
    pairs = pairs[pairs["emails"] != ""].rename(columns={"emails": "key"})
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    group = components(pairs[["person", "key"]])
    c = c.loc[group.index].assign(group=group.to_numpy())
    c = c[c.groupby("group")["group"].transform("size") > 1]
    if c.empty:
        return pd.DataFrame(columns=cols)
    order = _source_order(c["source_id"])
    c = pd.concat([c, order], axis=1).sort_values(["group", "filled", "is_text", "num", "text"],
                                                  ascending=[True, False, True, True, True])
    head = c.groupby("group").head(1)  # the survivor of each group
    first, rest = head.set_index("group"), c.drop(index=head.index)
    return pd.DataFrame({
        "match_key": match_key,
        "survivor_source_id": rest["group"].map(first["source_id"]).astype("string").to_numpy(),
        "survivor_dest_id": rest["group"].map(first["dest_id"]).astype("string").to_numpy(),
        "merged_source_id": rest["source_id"].astype("string").to_numpy(),
        "merged_dest_id": rest["dest_id"].astype("string").to_numpy(),
    }, columns=cols)


def _finish_pending(client, ledger: Ledger, m: str, target_name: str, run_id: str, wave: str) -> tuple[int, int]:
    """Close merges a stopped pass left ``pending``: done if the merged person is gone and the survivor
    live, else redone (returns (resumed, failed))."""
    merges = ledger.merges_frame(m, target_name)
    resumed = failed = 0
    for r in merges[merges["status"] == "pending"].itertuples(index=False):
        error = _merge_one(client, r.merged_dest_id, r.survivor_dest_id)
        ledger.finish_merge(m, target_name, r.merged_source_id, run_id=run_id, wave=wave, error=error)
        resumed += error is None
        failed += error is not None
    return resumed, failed


def _merge_one(client, merged_dest_id: str, survivor_dest_id: str) -> str | None:
    """Merge one person; None when the merged person is gone and the survivor live afterwards (also
    when an earlier, unacknowledged request already merged them), else the error text (no values)."""
    try:
        client.merge_persons(int(merged_dest_id), int(survivor_dest_id))
        return None
    except DailyBudgetExhausted as exc:  # stop: the pending rows are finished by the next pass
        raise FatalLoadError(f"deduplication stopped: {exc}") from None
    except (PipedriveError, PipedriveTransportError) as exc:
        gone = client.get("person", int(merged_dest_id))
        survivor = client.get("person", int(survivor_dest_id))
        if (gone is None or gone.get("is_deleted")) and survivor is not None and not survivor.get("is_deleted"):
            return None
        return str(exc)


def run_dedup(spec: MigrationSpec, target_name: str, destination, ledger: Ledger, *, run_id: str, wave: str,
              reports_dir: Path | None = None) -> DedupResult:
    """One deduplication pass over a person target that opts in (see the module docstring).

    Args:
        destination: the ``PipedriveDestination`` (its ``client`` is used).
        reports_dir: where ``dedup_reconciliation.csv`` is (re)written; None writes nothing.
    Returns:
        DedupResult with counts (IDs and counts only).
    Raises:
        ValueError: the target does not opt in (``dedup_option``).
        FatalLoadError: the daily API budget is spent (pending merges are finished by the next pass).
    """
    t = spec.targets[target_name]
    key = dedup_option(target_name, t)
    if key is None:
        raise ValueError(f"target {target_name}: options.dedup is not set")
    m = spec.migration
    client = destination.client
    result = DedupResult(target_name)
    result.resumed, result.failed = _finish_pending(client, ledger, m, target_name, run_id, wave)

    xw = ledger.crosswalk_frame(m, target_name)
    merges = ledger.merges_frame(m, target_name)
    done = merges.loc[merges["status"] == "done", "merged_source_id"]
    own = xw[(xw["created_by_migration"].astype(int) == 1) & ~xw["source_id"].isin(done)]
    own = own.drop_duplicates("dest_id")
    persons = person_frame(client.get_many("person", [int(d) for d in own["dest_id"]])) if len(own) else person_frame([])
    candidates = own[["source_id", "dest_id"]].merge(persons, on="dest_id", how="inner")
    result.candidates = len(candidates)
    plan = plan_merges(candidates, key)
    result.groups = int(plan["survivor_source_id"].nunique()) if len(plan) else 0
    ledger.begin_merges(m, target_name, plan.to_dict("records"), run_id=run_id, wave=wave)
    for r in plan.itertuples(index=False):
        error = _merge_one(client, r.merged_dest_id, r.survivor_dest_id)
        ledger.finish_merge(m, target_name, r.merged_source_id, run_id=run_id, wave=wave, error=error)
        result.merged += error is None
        result.failed += error is not None
    log.info("dedup %s: %d candidates, %d groups, %d merged, %d resumed, %d failed", target_name,
             result.candidates, result.groups, result.merged, result.resumed, result.failed)
    if reports_dir is not None:
        write_reconciliation_log(ledger, spec, Path(reports_dir))
    return result


def write_reconciliation_log(ledger: Ledger, spec: MigrationSpec, reports_dir: Path) -> Path:
    """Write ``<reports_dir>/dedup_reconciliation.csv`` (every merge of the migration; columns
    ``LOG_COLUMNS``) and return its path."""
    merges = ledger.merges_frame(spec.migration)
    out = merges.rename(columns={"at": "merged_at"}).reindex(columns=LOG_COLUMNS)
    return write_staff_csv(out, reports_dir / LOG_NAME)  # for people: formula-like cells neutralised
