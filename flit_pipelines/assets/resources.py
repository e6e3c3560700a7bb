"""The run-time resource: where data lives, the ledger, and source/destination clients.

Connection settings come from the environment variables each spec names (``CLINIC_EXPORT_DIR``,
``DENTRIX_ODBC``, ``PIPEDRIVE_API_TOKEN``, ``HIGHLEVEL_TOKEN`` ...), read when a step runs, never at definition load,
and never written to logs or metadata. One run may override them from the launchpad: the resource the
code location registers (``assets/connections.flit_resource``) has a config block per migration.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from flit_pipelines.assets.io_manager import default_data_dir
from flit_pipelines.destinations.base import Destination
from flit_pipelines.destinations.registry import open_destination
from flit_pipelines.ledger import Ledger
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.registry import ConfigurationError, files_root, open_source, require_env
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import ConnectionSettings

__all__ = ["ConfigurationError", "FlitResource", "require_env"]


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

    def settings(self, spec: MigrationSpec, side: str) -> ConnectionSettings:
        """The ``source`` / ``destination`` settings of ``spec`` for this run: the launchpad's values
        (``resources.flit.config.<migration>.<side>``) over the environment variables the spec names."""
        block = getattr(getattr(self, spec.migration, None), side, None)
        return ConnectionSettings.of(spec, side, block.model_dump() if block is not None else None)

    def source(self, spec: MigrationSpec, run_id: str | None = None) -> Source:
        """The spec's source reader (``sources.registry.open_source``); ``run_id``: the wave run
        whose rate-limit patience it draws on."""
        return open_source(spec, run_id=run_id, settings=self.settings(spec, "source"))

    def destination(self, spec: MigrationSpec, run_id: str | None = None) -> Destination:
        """The spec's destination with a fresh client (``destinations.registry.open_destination``);
        ``run_id``: the wave run whose rate-limit patience it draws on."""
        return open_destination(spec, run_id=run_id, settings=self.settings(spec, "destination"),
                                source_settings=self.settings(spec, "source"))

    def check_reachable(self, spec: MigrationSpec, side: str) -> list[str]:
        """Probe the ``side``'s URL settings for this run (``ConnectionSettings.check_reachable``: one TCP
        connection each, no request). Raises UnreachableError naming the URL and the check to run."""
        from flit_pipelines.data_dirs import command_prefix

        return self.settings(spec, side).check_reachable(command_prefix())

    def files_root(self, spec: MigrationSpec) -> Path | None:
        """Where the source's document files are for this run (``sources.registry.files_root``)."""
        return files_root(spec, self.settings(spec, "source"))
