"""Where a tenant's data lives: its own data root and, on a server ledger, its own database schema.

The default tenant keeps today's layout (``<FLIT_DATA_DIR>/ledger.db``, ``reports/<migration>/<wave>/``,
``parquet/``, ``delta/``, ``cursors/``, ``files/``). Any other tenant has all of these under
``<FLIT_DATA_DIR>/tenants/<tenant>/``, so its SQLite ledger is another file; on a PostgreSQL ledger
(``FLIT_LEDGER_URL``) its tables live in the schema ``flit_tenant_<tenant>``. A tenant's re-run,
report, delta or rollback opens only its own ledger, so it cannot read or touch another tenant's rows.
"""

from __future__ import annotations

from pathlib import Path

from flit_pipelines.tenants.keys import DEFAULT_TENANT, check_tenant_name

__all__ = ["TENANTS_DATA_DIR", "ledger_schema", "tenant_data_dir"]

TENANTS_DATA_DIR = "tenants"


def tenant_data_dir(base: str | Path, tenant: str) -> Path:
    """``base`` for the default tenant, else ``<base>/tenants/<tenant>`` (not created here).
    Raises ValueError for an illegal tenant name."""
    check_tenant_name(tenant)
    return Path(base) if tenant == DEFAULT_TENANT else Path(base) / TENANTS_DATA_DIR / tenant


def ledger_schema(tenant: str) -> str | None:
    """The PostgreSQL schema of ``tenant``'s ledger tables: None (the connection's default schema) for the
    default tenant, else ``flit_tenant_<tenant>`` ('-' becomes '_', so it needs no quoting)."""
    check_tenant_name(tenant)
    return None if tenant == DEFAULT_TENANT else f"flit_tenant_{tenant.replace('-', '_')}"
