"""The run-time resource: where data lives, the ledger, and source/destination clients.

Connection settings come from the environment variables each spec names (``CLINIC_EXPORT_DIR``,
``PIPEDRIVE_API_BASE``, ``PIPEDRIVE_API_TOKEN``), read when a step runs, never at definition load,
and never written to logs or metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from flit_pipelines.assets.io_manager import default_data_dir
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.ledger import Ledger
from flit_pipelines.sources import CsvExportSource, resolve_directory
from flit_pipelines.spec.model import MigrationSpec


class ConfigurationError(RuntimeError):
    """A required environment variable is missing (names the variable, never a value)."""


def require_env(name: str) -> str:
    """The variable's value. Raises ConfigurationError naming the variable (never a value)."""
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


class FlitResource(dg.ConfigurableResource):
    """Data directory, ledger URL and factories for a spec's source and destination.

    ``data_dir`` defaults to ``$FLIT_DATA_DIR`` (else ``<project>/data``); ``ledger_url`` to
    ``$FLIT_LEDGER_URL`` (else a SQLite file in the data directory).
    """

    data_dir: str = ""
    ledger_url: str = ""

    def data_path(self) -> Path:
        """The data directory (Parquet, ledger, reports)."""
        return Path(self.data_dir or default_data_dir())

    def ledger(self) -> Ledger:
        """A Ledger on ``ledger_url`` / ``$FLIT_LEDGER_URL`` / ``<data>/ledger.db``; tables created if missing."""
        url = self.ledger_url or os.environ.get("FLIT_LEDGER_URL")
        if not url:
            self.data_path().mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{(self.data_path() / 'ledger.db').resolve()}"
        return Ledger(url)

    def reports_dir(self, migration: str, wave: str) -> Path:
        """``<data>/reports/<migration>/<wave>/``, created if missing."""
        path = self.data_path() / "reports" / migration / wave
        path.mkdir(parents=True, exist_ok=True)
        return path

    def export_dir(self, spec: MigrationSpec) -> Path:
        """The export directory from the env var the spec names. Raises ConfigurationError if unset."""
        return resolve_directory(require_env(spec.source.directory_env))

    def source(self, spec: MigrationSpec) -> CsvExportSource:
        """A CsvExportSource on the export directory, reading ``spec.source.chunk_bytes`` blocks."""
        return CsvExportSource(self.export_dir(spec), chunk_bytes=spec.source.chunk_bytes)

    def destination(self, spec: MigrationSpec) -> PipedriveDestination:
        """A PipedriveDestination with a fresh client (one limiter) from the spec's env vars and settings."""
        d = spec.destination
        settings = d.settings
        client = PipedriveClient(
            require_env(d.api_base_env), require_env(d.api_token_env),
            burst_limit=settings.get("burst_limit"), daily_token_floor=int(settings.get("daily_token_floor", 0)),
            pool_size=int(settings.get("max_workers", 8)),
        )
        return PipedriveDestination(client, spec, files_root=self.export_dir(spec))
