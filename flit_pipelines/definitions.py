"""Dagster code location: one asset group per mapping spec in ``mapping_specs/``."""

from __future__ import annotations

import dagster as dg

from flit_pipelines.assets.campaign import campaign_asset
from flit_pipelines.assets.factory import build_migration, migration_resources
from flit_pipelines.spec import load_all_specs
from flit_pipelines.tenants import TenantError
from flit_pipelines.tenants.load import unknown_tenant_files


@dg.definitions
def defs() -> dg.Definitions:
    """Definitions of every spec in ``FLIT_SPEC_DIR`` or ``mapping_specs/``. Raises SpecError on a bad spec,
    TenantError (file and line) on a bad tenants file or one named after no migration."""
    specs = load_all_specs()
    stray = unknown_tenant_files(specs)  # a tenants file for no migration: a typo that would silently do nothing
    if stray:
        raise TenantError("; ".join(stray))
    return dg.Definitions.merge(
        *(build_migration(spec) for spec in specs.values()),
        dg.Definitions(assets=[campaign_asset(spec) for spec in specs.values()],  # per tenant, every wave
                       resources=migration_resources(specs.values())),
    )
