"""Open the destination a spec's ``destination`` block describes, from the variables it names.

Each destination kind gets a fresh client (one rate limiter per process and destination account).
Settings every REST destination reads here: ``rate_limit_patience_seconds`` (1800: how long 429s may
hold the wave in total, ``http.patience``) and ``request_timeout_seconds`` (30: connect and read
timeout per attempt).
"""

from __future__ import annotations

from pathlib import Path

from flit_pipelines.destinations.base import Destination
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience, for_wave
from flit_pipelines.sources.registry import files_root
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import ConnectionSettings


def wave_patience(spec: MigrationSpec, run_id: str | None, who: str) -> Patience:
    """The destination's rate-limit patience for run ``run_id`` (shared by the clients the run
    opens in this process; a fresh one without a run id)."""
    return for_wave((spec.migration, "destination", run_id) if run_id else None,
                    spec.destination.settings.get(PATIENCE_SETTING), setting=f"destination.settings.{PATIENCE_SETTING}",
                    who=who)


def open_destination(spec: MigrationSpec, *, run_id: str | None = None,
                     settings: ConnectionSettings | None = None,
                     source_settings: ConnectionSettings | None = None,
                     data_dir: Path | None = None) -> Destination:
    """The spec's destination with a fresh client; ``run_id`` scopes the rate-limit patience to the wave run;
    ``settings`` / ``source_settings``: the run's destination and source settings (launchpad overrides;
    default: the environment variables the spec names; the source's give the document files' root);
    ``data_dir``: the tenant's data directory (where an API source's attachments are staged).

    Raises ConfigurationError naming a missing variable, what it holds and its launchpad field (never a value).
    """
    d = spec.destination
    st = settings or ConnectionSettings.of(spec, "destination")
    require = st.require
    options = d.settings  # the spec's destination settings (numbers, limits), not the connection settings
    timeout = float(options.get("request_timeout_seconds", 30.0))
    token_env = d.api_token_env or ""  # set for Pipedrive and HighLevel (DestinationConfig checks it)
    # each CRM's package is imported when a spec names it (not a cycle: a run loads one vendor's stack,
    # e.g. simple_salesforce only for Salesforce)
    if d.kind == "pipedrive":
        from flit_pipelines.destinations.pipedrive.client import PipedriveClient
        from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination

        burst = options.get("burst_limit")
        pipedrive = PipedriveClient(
            require(d.api_base_env), require(token_env),
            burst_limit=None if burst is None else int(burst),
            daily_token_floor=int(options.get("daily_token_floor", 0)),
            pool_size=int(options.get("max_workers", 8)), timeout=timeout,
            patience=wave_patience(spec, run_id, "Pipedrive"),
        )
        return PipedriveDestination(pipedrive, spec, files_root=files_root(spec, source_settings, data_dir))
    if d.kind == "highlevel":
        from flit_pipelines.destinations.highlevel.client import HighLevelClient
        from flit_pipelines.destinations.highlevel.destination import HighLevelDestination

        highlevel = HighLevelClient(
            require(d.api_base_env), require(token_env),
            location_id=require(d.location_id_env or "HIGHLEVEL_LOCATION_ID"),
            pool_size=int(options.get("max_workers", 8)), timeout=timeout,
            patience=wave_patience(spec, run_id, "HighLevel"),
        )
        return HighLevelDestination(highlevel, spec, files_root=files_root(spec, source_settings, data_dir))
    if d.kind == "salesforce":
        from flit_pipelines.destinations.salesforce.destination import SalesforceDestination

        return SalesforceDestination.connect(
            spec, instance_url=require(d.api_base_env), client_id=require(d.client_id_env or ""),
            client_secret=require(d.client_secret_env or ""), files_root=files_root(spec, source_settings, data_dir))
    raise ValueError(f"unknown destination kind {d.kind!r}")
