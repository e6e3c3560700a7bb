"""Dagster code location: one asset group per mapping spec in ``mapping_specs/``."""

from __future__ import annotations

import dagster as dg

from flit_pipelines.assets.campaign import campaign_asset
from flit_pipelines.assets.factory import build_migration, migration_resources
from flit_pipelines.spec import load_all_specs


@dg.definitions
def defs() -> dg.Definitions:
    """Definitions of every spec in ``FLIT_SPEC_DIR`` or ``mapping_specs/``. Raises SpecError on a bad spec."""
    specs = load_all_specs()
    return dg.Definitions.merge(
        *(build_migration(spec) for spec in specs.values()),
        dg.Definitions(assets=[campaign_asset(spec) for spec in specs.values()],  # per tenant, every wave
                       resources=migration_resources(specs.values())),
    )
