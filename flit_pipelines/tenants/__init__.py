"""Tenants: one mapping spec, many practices (no Dagster here; the Dagster layer reads the run's tenant).

* ``keys``: wave partition keys per tenant (``full`` for the default tenant, ``<tenant>.full`` else);
* ``model`` / ``load``: tenants files (``<spec dir>/tenants/<migration>.yaml``), validated on load;
* ``accounts``: the destination / source account of a run, as run tags (one writer per account);
* ``paths``: a tenant's data root and ledger schema.
"""

from flit_pipelines.tenants.accounts import (DESTINATION_ACCOUNT_TAG, SOURCE_ACCOUNT_TAG, TENANT_TAG, account_tags,
                                             destination_account, source_account, tenant_run_tags)
from flit_pipelines.tenants.keys import DEFAULT_TENANT, partition_key, split_key
from flit_pipelines.tenants.load import get_tenant, load_tenants, tenant_names, tenants_file
from flit_pipelines.tenants.model import Tenant, TenantError
from flit_pipelines.tenants.paths import ledger_schema, tenant_data_dir

__all__ = ["DEFAULT_TENANT", "DESTINATION_ACCOUNT_TAG", "SOURCE_ACCOUNT_TAG", "TENANT_TAG", "Tenant", "TenantError",
           "account_tags", "destination_account", "get_tenant", "ledger_schema", "load_tenants", "partition_key",
           "source_account", "split_key", "tenant_run_tags", "tenant_data_dir", "tenant_names", "tenants_file"]
