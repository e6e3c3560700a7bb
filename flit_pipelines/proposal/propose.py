"""``flit propose``: profile a source, propose the map, write the draft spec and the proposal documents.

    propose("new_clinic", "pipedrive", csv="/exports/clinic2")               # from scratch
    propose("clinic_v2", "pipedrive", csv="/exports/v2", like="clinic_to_pipedrive")   # adapt a spec
    propose("new_db", "highlevel", db="postgresql+psycopg2://...", schema="clinic")

Offline and deterministic: no network besides the source itself, no model downloaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flit_pipelines.catalog import load_catalog
from flit_pipelines.proposal.adapt import propose_like
from flit_pipelines.proposal.build import propose_scratch
from flit_pipelines.proposal.draft import render
from flit_pipelines.proposal.errors import ProposalError
from flit_pipelines.proposal.memory import load_memory
from flit_pipelines.proposal.model import Proposal
from flit_pipelines.proposal.profile import SourceProfile
from flit_pipelines.proposal.report import write_reports
from flit_pipelines.proposal.score import HIGH, REVIEW
from flit_pipelines.proposal.sources import read_csv_directory, read_database
from flit_pipelines.runtime import default_data_dir
from flit_pipelines.spec.load import spec_dir as default_spec_dir


@dataclass
class ProposalResult:
    """What ``propose`` wrote: the draft spec, the documents, and the proposal itself."""

    spec_path: Path
    documents: dict[str, Path]
    proposal: Proposal
    profile: SourceProfile


DESTINATION_ENV = {
    "pipedrive": {"api_base_env": "PIPEDRIVE_API_BASE", "api_token_env": "PIPEDRIVE_API_TOKEN"},
    "highlevel": {"api_base_env": "HIGHLEVEL_API_BASE", "api_token_env": "HIGHLEVEL_TOKEN",
                  "location_id_env": "HIGHLEVEL_LOCATION_ID"},
    "salesforce": {"api_base_env": "SALESFORCE_INSTANCE_URL", "client_id_env": "SALESFORCE_CLIENT_ID",
                   "client_secret_env": "SALESFORCE_CLIENT_SECRET"},
}
SECRET_ENV = {"PIPEDRIVE_API_TOKEN", "HIGHLEVEL_TOKEN", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"}
DEFAULT_SETTINGS = {
    "pipedrive": {"source_key_field": "Flit Source Key", "currency": "USD", "max_workers": 8, "time_zone": "UTC",
                  "file_size_limit_bytes": 10485760},
    "highlevel": {"source_key_field": "Flit Source Key", "custom_field_folders": True, "max_workers": 4,
                  "time_zone": "UTC"},
    "salesforce": {"api_version": "62.0", "external_id_field": "Source_System_ID__c", "collections_threshold": 200,
                   "time_zone": "UTC", "permission_set": {"name": "Flit_Migration_Access",
                                                          "label": "Flit Migration Access"}},
}


def _env_name(migration: str, suffix: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", migration.upper()) + "_" + suffix


def destination_block(kind: str, fallback_owner: str | None) -> tuple[dict[str, Any], dict[str, dict]]:
    """The ``destination:`` block of a from-scratch draft and the environment entries it names."""
    block: dict[str, Any] = {"kind": kind, **DESTINATION_ENV[kind], "settings": dict(DEFAULT_SETTINGS[kind])}
    if fallback_owner:
        block["settings"]["fallback_owner_email"] = fallback_owner
    env = {v: {"description": f"{kind} {k.removesuffix('_env').replace('_', ' ')}",
               **({"secret": True} if v in SECRET_ENV else {})} for k, v in DESTINATION_ENV[kind].items()}
    return block, env


def _common_env() -> dict[str, dict]:
    return {"FLIT_DATA_DIR": {"description": "Parquet extracts and payloads, the ledger database and reports.",
                              "required": False, "default": "<project>/data"},
            "FLIT_LEDGER_URL": {"description": "SQLAlchemy URL of the ledger (default: SQLite under FLIT_DATA_DIR).",
                                "required": False}}


def _locate(p: Proposal, kind: str) -> None:
    """Turn each object's profiled ``location`` into the spec's file / table key."""
    for obj in p.objects.values():
        where = obj.pop("location")
        obj_items = {"file" if kind == "csv_export" else "table": where}
        obj_items.update(obj)
        obj.clear()
        obj.update(obj_items)


def data_dir() -> Path:
    """``FLIT_DATA_DIR`` or the project's ``data/``."""
    return Path(default_data_dir())


def propose(migration: str, destination: str, *, csv: str | Path | None = None, db: str | None = None,
            schema: str | None = None, fhir: str | None = None, like: str | None = None,
            spec_dir: Path | None = None, out_dir: Path | None = None, fallback_owner: str | None = None,
            force: bool = False, memory: dict | None = None) -> ProposalResult:
    """Propose ``migration`` for ``destination`` from one source option (module docstring).

    Writes ``<spec_dir>/<migration>.yaml`` (unapproved) and the documents under
    ``<out_dir or FLIT_DATA_DIR/reports/<migration>/proposal>``.

    Raises:
        ProposalError: unknown destination, no or several sources, ``--fhir`` (arrives with issue 14),
            a spec file already there (without ``force``), an unknown ``like`` migration.
    """
    if destination not in DESTINATION_ENV:
        raise ProposalError(f"unknown destination {destination!r} (pipedrive, highlevel, salesforce)")
    if not re.fullmatch(r"[a-z0-9_]+", migration):
        raise ProposalError("the migration name must be a lower-case identifier (letters, digits, _)")
    if fhir:
        raise ProposalError("--fhir: the FHIR R4 source is not available yet (it arrives with issue 14); "
                            "use --csv or --db")
    given = [x for x in (csv, db) if x]
    if len(given) > 1:
        raise ProposalError("give one source: --csv DIR or --db URL")
    if not given and not like:
        raise ProposalError("give a source (--csv DIR, --db URL) or --like EXISTING to re-read its source")
    specs = Path(spec_dir) if spec_dir else default_spec_dir()
    path = specs / f"{migration}.yaml"
    if path.exists() and not force:
        raise ProposalError(f"{path} exists: choose another name, or --force to replace the draft")
    catalog = load_catalog(destination)
    if memory is None:
        memory = load_memory(destination)
    if like:
        proposal, profile = propose_like(migration, destination, like, csv=csv, db=db, schema=schema,
                                         spec_dir=specs, catalog=catalog, memory=memory)
    else:
        if csv:
            profile = read_csv_directory(csv)
            env_var = _env_name(migration, "EXPORT_DIR")
            source = {"kind": "csv_export", "directory_env": env_var}
            env: dict[str, dict[str, Any]] = {
                env_var: {"description": "Directory holding the CSV export (one file per object)."}}
            kind = "csv_export"
        elif db:  # the one source given (checked above)
            profile = read_database(db, schema=schema)
            url_env, odbc_env = _env_name(migration, "DB_URL"), _env_name(migration, "ODBC")
            source = {"kind": "database", "odbc_env": odbc_env, "url_env": url_env}
            env = {odbc_env: {"description": "ODBC connection string or DSN (read-only user).", "required": False,
                              "secret": True},
                   url_env: {"description": "SQLAlchemy URL of the database (read-only user).", "required": False,
                             "secret": True}}
            kind = "database"
        dest_block, dest_env = destination_block(destination, fallback_owner)
        proposal = propose_scratch(profile, catalog, migration=migration, source=source,
                                   environment={**env, **dest_env, **_common_env()}, destination_block=dest_block,
                                   memory=memory)
        _locate(proposal, kind)
    header = _header(proposal, profile, catalog.synonym_counts())
    text = render(proposal, header=header)
    specs.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    out = Path(out_dir) if out_dir else data_dir() / "reports" / migration / "proposal"
    docs = write_reports(proposal, profile, out)
    return ProposalResult(path, docs, proposal, profile)


def _header(p: Proposal, profile: SourceProfile, synonyms: dict[str, int]) -> list[str]:
    counts: dict[str, int] = {}
    for d in p.decisions:
        counts[d.decision] = counts.get(d.decision, 0) + 1
    review = p.review_items()
    lines = [
        f"{p.migration}: DRAFT proposed by `flit propose` ({'adapted from ' + p.like if p.like else 'from scratch'})"
        f" for {p.destination}, from {profile.where}.",
        "",
        "Nothing moves until a person reviews and approves this map. Each proposal is commented with its",
        f"confidence and evidence; confidence >= {HIGH} is the high band, below {REVIEW} the line is marked",
        "`review: required`: check it, correct it if needed, delete the marker. `flit spec approve` refuses",
        "while any marker remains; what you change is remembered for later proposals (mapping memory).",
        "",
        "columns: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; review required: {len(review)}",
        f"identifiers never read (SSN, driver's licence, passport): "
        f"{sum(1 for d in p.decisions if d.reason and 'must not move' in d.reason)}",
        "documents: <FLIT_DATA_DIR>/reports/" + p.migration + "/proposal/ (proposal.json, data_availability.html)",
        "synonyms used: " + ", ".join(f"{n} from {s}" for s, n in synonyms.items()),
    ]
    lines += p.header_notes
    return lines


def default_fallback_owner() -> str | None:
    """``FLIT_FALLBACK_OWNER_EMAIL`` when set (the CRM user who owns records without a matched user)."""
    return os.environ.get("FLIT_FALLBACK_OWNER_EMAIL") or None
