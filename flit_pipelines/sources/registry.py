"""Open the reader a spec's ``source`` block describes, from the environment variables it names.

Values of the variables (connection strings, secrets) are never logged or put in an error message:
errors name the variables only.
"""

from __future__ import annotations

import os
from pathlib import Path

from flit_pipelines.http.patience import PATIENCE_SETTING, Patience, for_wave
from flit_pipelines.runtime import default_data_dir
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.csv_export import CsvExportSource, resolve_directory
from flit_pipelines.spec.model import (
    AscendApiConfig,
    CsvExportConfig,
    DatabaseConfig,
    FhirConfig,
    MigrationSpec,
    PracticeHubConfig,
)
from flit_pipelines.spec.settings import ConfigurationError, ConnectionSettings

__all__ = ["ConfigurationError", "files_root", "open_fhir", "open_source", "require_env"]


def require_env(name: str) -> str:
    """The variable's value. Raises ConfigurationError naming the variable (never a value)."""
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set: set it before starting `dg dev` "
                                 "or the flit command")
    return value


def open_source(spec: MigrationSpec, *, run_id: str | None = None,
                settings: ConnectionSettings | None = None, data_dir: Path | None = None) -> Source:
    """The spec's source reader; ``run_id`` scopes an API reader's rate-limit patience to the wave run
    (``source.rate_limit_patience_seconds``, ``http.patience``); ``settings``: the run's source settings
    (launchpad overrides; default: the environment variables the spec names); ``data_dir``: the tenant's
    data directory, where API readers keep cursors and spools (default ``FLIT_DATA_DIR``).

    * ``csv_export``: ``CsvExportSource`` on the directory in ``directory_env``;
    * ``database``: the first of ``odbc_env`` (pyodbc), ``url_env`` (SQLAlchemy), ``export_dir_env``
      (structured file export read as CSV) that is set;
    * ``ascend_api``: ``AscendApiSource`` with OAuth client credentials;
    * ``practicehub_api``: ``PracticeHubSource`` with its API key, cursors under ``<data>/cursors``;
    * ``fhir_api``: ``FhirSource`` (``open_fhir``).

    Raises ConfigurationError naming the missing variable, what it holds and its launchpad field.
    """
    cfg = spec.source
    st = settings or ConnectionSettings.of(spec, "source")
    if isinstance(cfg, CsvExportConfig):
        return CsvExportSource(resolve_directory(st.require(cfg.directory_env)), chunk_bytes=cfg.chunk_bytes,
                               encoding=cfg.encoding, delimiter=cfg.delimiter, max_record_bytes=cfg.max_record_bytes)
    # each reader is imported when a spec names it (not a cycle: a run loads one source's stack, e.g.
    # SQLAlchemy and the ODBC drivers, or the FHIR models)
    if isinstance(cfg, DatabaseConfig):
        from flit_pipelines.sources.database import DatabaseSource

        env, value = st.require_any([e for e in (cfg.odbc_env, cfg.url_env, cfg.export_dir_env) if e])
        if env == cfg.odbc_env:
            return DatabaseSource.from_odbc(value, chunk_rows=cfg.chunk_rows)
        if env == cfg.url_env:
            return DatabaseSource.from_url(value, chunk_rows=cfg.chunk_rows)
        return CsvExportSource(resolve_directory(value))
    if isinstance(cfg, AscendApiConfig):
        from flit_pipelines.sources.ascend_api import AscendApiSource

        return AscendApiSource(
            api_base=st.require(cfg.api_base_env), token_url=st.require(cfg.token_url_env),
            client_id=st.require(cfg.client_id_env), client_secret=st.require(cfg.client_secret_env),
            organization_id=st.require(cfg.organization_id_env), page_size=cfg.page_size,
            patience=_patience(spec, run_id, "the Dentrix Ascend API"))
    if isinstance(cfg, PracticeHubConfig):
        from flit_pipelines.sources.practicehub_api import PracticeHubSource

        return PracticeHubSource(
            api_base=st.require(cfg.api_base_env), api_key=st.require(cfg.api_key_env),
            app_details=cfg.app_details, page_size=cfg.page_size, requests_per_second=cfg.requests_per_second,
            state_dir=(data_dir or _data_dir()) / "cursors" / spec.migration,
            patience=_patience(spec, run_id, "the PracticeHub API"))
    if isinstance(cfg, FhirConfig):
        return open_fhir(spec, cfg, run_id, st, data_dir)
    raise ConfigurationError(f"unknown source kind {getattr(cfg, 'kind', None)!r}")


def open_fhir(spec: MigrationSpec, cfg: FhirConfig, run_id: str | None,
              settings: ConnectionSettings | None = None, data_dir: Path | None = None) -> Source:
    """``FhirSource`` on ``base_url_env``: a bearer token (``token_env``) when set, else SMART Backend
    Services when ``client_id_env`` and ``private_key_path_env`` are set (token URL from
    ``token_url_env`` or discovered), else no authorisation; exports under ``<data>/cursors/<migration>``.

    Raises:
        ConfigurationError: the base URL variable is unset, or only one of client id / key path is.
        ValueError: the private key file is unreadable or not an RSA / EC P-384 PEM key.
    """
    from flit_pipelines.sources.fhir import BackendServicesAuth, BearerAuth, FhirClient, FhirSource, load_private_key

    st = settings or ConnectionSettings.of(spec, "source")

    client = FhirClient(st.require(cfg.base_url_env), requests_per_second=cfg.requests_per_second,
                        patience=_patience(spec, run_id, "the FHIR server"))
    client_id, key_path = st.get(cfg.client_id_env), st.get(cfg.private_key_path_env)
    if token := st.get(cfg.token_env):
        client.auth = BearerAuth(token)
    elif client_id and key_path:
        token_url = st.get(cfg.token_url_env)
        client.auth = BackendServicesAuth(client_id, load_private_key(key_path), client.token_request,
                                          token_url or client.discover_token_url, scope=cfg.scope, clock=client.clock)
    elif client_id or key_path:
        absent, field = ((cfg.private_key_path_env, "private_key_path_env") if client_id
                         else (cfg.client_id_env, "client_id_env"))
        raise ConfigurationError(f"{spec.migration} source: SMART Backend Services needs both "
                                 f"{cfg.client_id_env} and {cfg.private_key_path_env}; only one is set. "
                                 + (st.missing(absent) if absent else f"The spec's source names no {field}."))
    return FhirSource(client, state_dir=(data_dir or _data_dir()) / "cursors" / spec.migration, objects=spec.objects,
                      mode=cfg.mode, group_id=st.get(cfg.group_id_env), run_id=run_id,
                      page_size=cfg.page_size, max_age_hours=cfg.export_reuse_hours,
                      max_wait_seconds=cfg.export_max_wait_seconds)


def _patience(spec: MigrationSpec, run_id: str | None, who: str) -> Patience:
    """The API source's rate-limit patience of the wave run (shared by the readers the run opens)."""
    return for_wave((spec.migration, "source", run_id) if run_id else None,
                    getattr(spec.source, PATIENCE_SETTING, None), setting=f"source.{PATIENCE_SETTING}", who=who)


def _data_dir() -> Path:
    return Path(default_data_dir())


def files_root(spec: MigrationSpec, settings: ConnectionSettings | None = None,
               data_dir: Path | None = None) -> Path | None:
    """Where the source's document files are: the CSV export directory, ``documents_dir_env``, or for
    an API source (attachments downloaded during extract) ``<data_dir or FLIT_DATA_DIR>/files/<migration>``."""
    cfg = spec.source
    st = settings or ConnectionSettings.of(spec, "source")
    if isinstance(cfg, CsvExportConfig):
        return resolve_directory(st.require(cfg.directory_env))
    value = st.get(cfg.documents_dir_env)
    if value:
        return resolve_directory(value)
    if isinstance(cfg, AscendApiConfig | PracticeHubConfig | FhirConfig):  # attachments downloaded during extract
        return (data_dir or _data_dir()) / "files" / spec.migration
    return None
