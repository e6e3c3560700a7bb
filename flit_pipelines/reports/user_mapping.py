"""The practitioner-to-user mapping template: one row per provider/practitioner of a ``user`` target.

Users are matched by e-mail and never created (a seat is a licence decision). Before any owned record
is loaded, this CSV lists every practitioner with the columns the spec maps on the user target
(``fields``: e.g. name and credentials), the e-mail matched, the destination user it matched, or
``FALLBACK`` with the fallback owner: an admin fills in or corrects ``target_user_id`` / ``target_user``
and re-runs. Holds staff names and e-mails (not patient data), so it stays in the reports folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.staff_csv import write_staff_csv


def write_user_mapping(path: Path, migration: str, target: str, payload: pd.DataFrame, ledger: Ledger,
                       fallback_owner_id: str | None) -> int:
    """Write the mapping template CSV; returns how many rows fell back to the fallback owner.

    ``payload`` is the user target's payload (``source_id``, ``match_value`` = e-mail, field columns);
    the matched user IDs come from the ledger crosswalk written by the load just before. Written
    for people (``reports.staff_csv``: formula-like cells start with ``'``).
    """
    xw = ledger.crosswalk_frame(migration, target)
    dest = payload["source_id"].astype("string").map(pd.Series(xw["dest_id"].to_numpy(), index=xw["source_id"].to_numpy()))
    fallback = dest.isna() | (dest == fallback_owner_id) if fallback_owner_id else dest.isna()
    fields = [c for c in payload.columns if c not in ("source_id", "match_value") and not c.startswith(("fk:", "cf:"))]
    out = pd.DataFrame({"source_id": payload["source_id"], "email": payload["match_value"],
                        **{c: payload[c] for c in fields},
                        "status": fallback.map({True: "FALLBACK", False: "matched"}),
                        "target_user_id": dest})
    write_staff_csv(out, path)
    return int(fallback.sum())
