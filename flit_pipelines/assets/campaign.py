"""``[<migration>, "campaign"]``: the campaign view of one migration in Dagster, per tenant.

The same rows as ``flit campaign status`` (``reports.campaign.campaign_rows``): wave states, records
moved, checks passed / failed of the newest wave, the delta window. Unpartitioned, in the group
``campaign`` (the migration job materialises one wave partition; this reads every tenant's waves).
Materialise it from the UI for the morning check; metadata holds counts and states only.
"""


import dagster as dg

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.errors import value_free_errors
from flit_pipelines.reports.campaign import campaign_rows
from flit_pipelines.spec.model import MigrationSpec

__all__ = ["campaign_asset"]


def _markdown(rows: list[dict]) -> str:
    lines = ["| tenant | waves | records moved | checks ok / failed | delta window |", "|---|---|---|---|---|"]
    for r in rows:
        waves = ", ".join(f"{w} {s}" for w, s in r["waves"].items()) or "none yet"
        lines.append(f"| {r['tenant']} | {waves} | {r['records_moved']} | {r['checks_passed']} / "
                     f"{r['checks_failed']} | {r['delta_window']} |")
    return "\n".join(lines)


def campaign_asset(spec: MigrationSpec) -> dg.AssetsDefinition:
    """The campaign asset of ``spec``: per tenant, what ``flit campaign status`` shows."""

    @dg.asset(key=dg.AssetKey([spec.migration, "campaign"]), group_name="campaign", kinds={"json"},
              description=f"{spec.title}: per tenant, wave states, records moved, checks and the delta window.")
    @value_free_errors(f"{spec.migration}/campaign")
    def campaign(context: dg.AssetExecutionContext, flit: FlitResource) -> dg.MaterializeResult:
        rows = campaign_rows([spec], flit.data_path())  # default tenant's data root: tenants live beneath it
        failed = sum(r["checks_failed"] for r in rows)
        return dg.MaterializeResult(metadata={
            "tenants": len(rows), "records_moved": sum(r["records_moved"] for r in rows), "checks_failed": failed,
            "campaign": dg.MetadataValue.md(_markdown(rows)),
            "per_tenant": dg.MetadataValue.json({r["tenant"]: {k: v for k, v in r.items() if k != "tenant"}
                                                 for r in rows})})

    return campaign
