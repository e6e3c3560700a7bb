"""The mapping memory: corrections reviewers made to proposals, stored with the ledger
(table ``mapping_memory``), read by later proposals.

At approval (``flit spec approve``), ``record_approval`` compares the approved spec's mappings
(``mappings.spec_mappings``) with the stored ``proposal.json`` of that migration: every source column
whose approved standard field differs from the proposed one is written as (destination, entity,
normalised header) -> approved field. ``load_memory`` returns them for the scorer, which lifts such a
field to at least ``score.MEMORY_CONFIDENCE`` for the same header on the same entity.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select

from flit_pipelines.ledger import Ledger
from flit_pipelines.ledger.tables import mapping_memory
from flit_pipelines.proposal.mappings import spec_mappings
from flit_pipelines.proposal.names import normalise
from flit_pipelines.runtime import default_data_dir
from flit_pipelines.spec.model import MigrationSpec


def _ledger() -> Ledger:
    url = os.environ.get("FLIT_LEDGER_URL")
    if not url:
        data = Path(default_data_dir())
        data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(data / 'ledger.db').resolve()}"
    return Ledger(url)


def load_memory(destination: str, ledger=None) -> dict[tuple[str, str], dict[str, str]]:
    """``{(entity, normalised header): {field: "approved by X at T"}}`` for ``destination``."""
    ledger = ledger or _ledger()
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(mapping_memory).where(mapping_memory.c.destination == destination)
                            .order_by(mapping_memory.c.at)).mappings().all()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        if r["approved"].startswith(("custom:", "decision:")):
            continue
        out.setdefault((r["entity"], r["header_key"]), {})[r["approved"]] = (
            f"{r['migration']}, approved by {r['approved_by']} at {r['at']:%Y-%m-%d}")
    return out


def record_approval(spec: MigrationSpec, proposal_path: Path, approved_by: str, ledger=None) -> list[dict]:
    """Record what the reviewer changed against the stored proposal; returns the rows written
    (empty when there is no stored proposal, e.g. a hand-written spec)."""
    if not proposal_path.exists():
        return []
    proposal = json.loads(proposal_path.read_text(encoding="utf-8"))
    proposed: dict[tuple[str, str], dict] = {(c["object"], c["column"]): c for c in proposal["columns"]}
    approved: dict[tuple[str, str], list] = {}
    for m in spec_mappings(spec):
        approved.setdefault((m.object, m.header), []).append(m)
    rows = []
    now = datetime.now(UTC)
    for (obj, header), ms in approved.items():
        std = [m for m in ms if m.kind == "standard" and m.via == "direct"]  # a template is not a column's field
        if not std:
            continue
        prop = proposed.get((obj, header)) or proposed.get((obj, ms[0].column))
        was = (prop or {}).get("destination_field") if (prop or {}).get("decision") in ("direct", "transform") else (
            f"custom:{prop['destination_field']}" if prop and prop.get("decision") == "custom_field"
            else f"decision:{(prop or {}).get('decision', 'absent')}")
        fields = sorted({m.field for m in std})
        if was in fields:
            continue
        rows.append({"destination": spec.destination.kind, "entity": std[0].entity, "header_key": normalise(header),
                     "header": header, "proposed": was, "approved": fields[0], "migration": spec.migration,
                     "approved_by": approved_by, "at": now})
    if rows:
        ledger = ledger or _ledger()
        with ledger.engine.begin() as conn:
            for r in rows:
                conn.execute(delete(mapping_memory).where(
                    (mapping_memory.c.destination == r["destination"]) & (mapping_memory.c.entity == r["entity"])
                    & (mapping_memory.c.header_key == r["header_key"]) & (mapping_memory.c.migration == r["migration"])))
                conn.execute(insert(mapping_memory).values(**r))
    return rows
