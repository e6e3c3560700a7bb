"""The run-time resource: where data lives, the ledger, and source/destination clients.

Connection settings come from the environment variables each spec names (``CLINIC_EXPORT_DIR``,
``DENTRIX_ODBC``, ``PIPEDRIVE_API_TOKEN``, ``HIGHLEVEL_TOKEN`` ...), read when a step runs, never at definition load,
and never written to logs or metadata. One run may override them from the launchpad: the resource the
code location registers (``assets/connections.flit_resource``) has a config block per migration.

Tenants: the resource serves the tenant of the run it is set up for (``assets.tenancy.run_tenant``:
the wave partition key ``<tenant>.<wave>``, or the ``flit/tenant`` tag of a run without a partition).
Its data directory, ledger and connection settings are that tenant's (``flit_pipelines.tenants``);
the default tenant's are today's.
"""

from __future__ import annotations

import os
from pathlib import Path

from flit_pipelines.assets.tenancy import TenantScopedResource
from flit_pipelines.destinations.base import Destination
from flit_pipelines.destinations.registry import open_destination
from flit_pipelines.ledger import Ledger
from flit_pipelines.runtime import command_prefix, default_data_dir
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.registry import ConfigurationError, files_root, open_source, require_env
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import ConnectionSettings
from flit_pipelines.tenants import get_tenant, ledger_schema, tenant_data_dir

__all__ = ["ConfigurationError", "FlitResource", "require_env"]


class FlitResource(TenantScopedResource):
    """Data directory, ledger URL and factories for a spec's source and destination.

    ``data_dir`` defaults to ``$FLIT_DATA_DIR`` (else ``<project>/data``); ``ledger_url`` to
    ``$FLIT_LEDGER_URL`` (else a SQLite file in the data directory). Both are the default tenant's; another
    tenant's data directory is ``<data>/tenants/<tenant>`` and its server ledger a schema of its own.
    """

    data_dir: str = ""
    ledger_url: str = ""
    def data_path(self) -> Path:
        """The tenant's data directory (Parquet, ledger, reports): ``$FLIT_DATA_DIR`` for the default
        tenant, ``$FLIT_DATA_DIR/tenants/<tenant>`` for another."""
        return tenant_data_dir(self.data_dir or default_data_dir(), self._tenant)

    def ledger(self) -> Ledger:
        """The tenant's Ledger on ``ledger_url`` / ``$FLIT_LEDGER_URL`` (another tenant: in its own PostgreSQL
        schema) / ``<tenant data>/ledger.db``; tables created if missing. Raises ConfigurationError for a
        tenant on a SQLite ``FLIT_LEDGER_URL`` (one file cannot keep tenants apart)."""
        url = self.ledger_url or os.environ.get("FLIT_LEDGER_URL")
        if not url:
            self.data_path().mkdir(parents=True, exist_ok=True)
            return Ledger(f"sqlite:///{(self.data_path() / 'ledger.db').resolve()}")
        schema = ledger_schema(self._tenant)
        if schema is not None and not url.startswith("postgresql"):
            raise ConfigurationError(
                f"tenant {self._tenant}: FLIT_LEDGER_URL is not a PostgreSQL URL, and only PostgreSQL keeps "
                f"tenants' ledgers apart (a schema each). Unset FLIT_LEDGER_URL (each tenant then has its own "
                f"ledger.db under FLIT_DATA_DIR/tenants/<tenant>/) or point it at PostgreSQL.")
        return Ledger(url, schema=schema)

    def reports_dir(self, migration: str, wave: str) -> Path:
        """``<data>/reports/<migration>/<wave>/``, created if missing."""
        path = self.data_path() / "reports" / migration / wave
        path.mkdir(parents=True, exist_ok=True)
        return path

    def settings(self, spec: MigrationSpec, side: str) -> ConnectionSettings:
        """The ``source`` / ``destination`` settings of ``spec`` for this run: the launchpad's values
        (``resources.flit.config.<migration>.<side>``) over the tenant's (its tenants file) over the
        environment variables the spec names. Raises TenantError for a tenant the file does not declare."""
        block = getattr(getattr(self, spec.migration, None), side, None)
        tenant = get_tenant(spec, self._tenant)
        return ConnectionSettings.of(spec, side, block.model_dump() if block is not None else None,
                                     tenant=tenant.values(side), tenant_label=tenant.label if tenant.file else "")

    def source(self, spec: MigrationSpec, run_id: str | None = None) -> Source:
        """The spec's source reader (``sources.registry.open_source``); ``run_id``: the wave run
        whose rate-limit patience it draws on."""
        return open_source(spec, run_id=run_id, settings=self.settings(spec, "source"), data_dir=self.data_path())

    def destination(self, spec: MigrationSpec, run_id: str | None = None) -> Destination:
        """The spec's destination with a fresh client (``destinations.registry.open_destination``);
        ``run_id``: the wave run whose rate-limit patience it draws on."""
        return open_destination(spec, run_id=run_id, settings=self.settings(spec, "destination"),
                                source_settings=self.settings(spec, "source"), data_dir=self.data_path())

    def check_reachable(self, spec: MigrationSpec, side: str) -> list[str]:
        """Probe the ``side``'s URL settings for this run (``ConnectionSettings.check_reachable``: one TCP
        connection each, no request). Raises UnreachableError naming the URL and the check to run."""
        return self.settings(spec, side).check_reachable(command_prefix())

    def files_root(self, spec: MigrationSpec) -> Path | None:
        """Where the source's document files are for this run (``sources.registry.files_root``)."""
        return files_root(spec, self.settings(spec, "source"), self.data_path())
