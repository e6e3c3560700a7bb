"""Deduplication assets: ``[m, "dedup", <target>]`` for every target with ``options.dedup``.

Each runs after its target's load and before everything that depended on that load (the children's
loads, the report, any other asset): their dependency on ``[m, "load", <target>]`` is re-pointed to
the dedup asset, so activities, notes, deals and files are attached to survivors, and FK resolution
reads the crosswalk after the merges. The pass itself is ``destinations.pipedrive.dedup.run_dedup``.
"""

import dagster as dg

from flit_pipelines.assets.tenancy import destination_op_tags, wave_of
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.destinations.pipedrive.dedup import dedup_option, run_dedup
from flit_pipelines.errors import value_free_errors
from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.migration import write_json
from flit_pipelines.spec.model import MigrationSpec

DESTINATIONS_WITH_DEDUP = ("pipedrive",)


def dedup_targets(spec: MigrationSpec) -> list[str]:
    """Targets that opt in to a deduplication pass. Raises ValueError for a malformed option, or one
    on a destination without a pass (at definition load, so a bad spec fails early)."""
    out = []
    for name, t in spec.targets.items():
        if "dedup" not in t.options:
            continue
        if spec.destination.kind not in DESTINATIONS_WITH_DEDUP:
            raise ValueError(f"target {name}: options.dedup is not available for {spec.destination.kind}")
        dedup_option(name, t)
        out.append(name)
    return out


def merges_check(spec: MigrationSpec, target: str, ledger: Ledger, dest) -> dg.AssetCheckResult:
    """merges_reconcile: for every merge the ledger records as done, the survivor is live, the merged
    person is gone, and the merged source ID's crosswalk row points at the survivor. Failed merges
    (duplicates left in place) are counted, not failing: nothing is lost or mis-pointed."""
    merges = ledger.merges_frame(spec.migration, target)
    done = merges[merges["status"] == "done"]
    xw = ledger.crosswalk_frame(spec.migration, target).set_index("source_id")["dest_id"]
    ids = sorted({int(d) for d in (*done["survivor_dest_id"], *done["merged_dest_id"])})
    live = {str(p["id"]) for p in dest.client.get_many("person", ids) if not p.get("is_deleted")} if ids else set()
    survivors_gone = int((~done["survivor_dest_id"].isin(live)).sum())
    merged_live = int(done["merged_dest_id"].isin(live).sum())
    mispointed = int((done["merged_source_id"].map(xw) != done["survivor_dest_id"]).sum())
    failed = int((merges["status"] == "failed").sum())
    pending = int((merges["status"] == "pending").sum())
    passed = survivors_gone == merged_live == mispointed == pending == 0
    meta = {"merged": len(done), "failed": failed, "pending": pending, "survivors_not_live": survivors_gone,
            "merged_still_live": merged_live, "crosswalk_not_on_survivor": mispointed}
    return dg.AssetCheckResult(
        check_name="merges_reconcile", passed=passed, metadata=meta,
        description=f"{len(done)} merged, {failed} failed (duplicates kept), {pending} pending; "
                    f"survivors not live {survivors_gone}, merged still live {merged_live}, "
                    f"crosswalk not on survivor {mispointed}")


def _dedup_asset(spec: MigrationSpec, target: str, parts, group: str, pool: str | None):
    m = spec.migration
    key = dg.AssetKey([m, "dedup", target])

    @dg.asset(key=key, group_name=group, partitions_def=parts, deps=[dg.AssetKey([m, "load", target])],
              kinds={spec.destination.kind}, pool=pool, op_tags=destination_op_tags(spec.migration),
              check_specs=[dg.AssetCheckSpec("merges_reconcile", asset=key, blocking=True,
                                             description="survivors live, merged persons gone, crosswalk on survivors")],
              description=f"Merge {target} records sharing a normalised e-mail into the most complete one; "
                          "reconciliation log dedup_reconciliation.csv.")
    @value_free_errors(f"{m}/dedup/{target}")
    def dedup(context: dg.AssetExecutionContext, flit: FlitResource):
        wave = wave_of(context)
        ledger = flit.ledger()
        dest = flit.destination(spec)
        dest.prepare(target, spec.targets[target])
        out = flit.reports_dir(m, wave)
        result = run_dedup(spec, target, dest, ledger, run_id=context.run.run_id, wave=wave, reports_dir=out)
        check = merges_check(spec, target, ledger, dest)
        write_json(out / "dedup" / f"{target}.json", {"result": result.as_dict(), "checks": {
            check.check_name: {"passed": check.passed, "description": check.description,
                               "metadata": {k: getattr(v, "value", v) for k, v in (check.metadata or {}).items()}}}})
        context.log.info(f"{target}: {result.merged} merged in {result.groups} groups, {result.failed} failed")
        log_path = out / "dedup_reconciliation.csv"
        yield dg.MaterializeResult(metadata={**result.as_dict(), "log": dg.MetadataValue.path(str(log_path))},
                                   check_results=[check])

    return dedup


def with_dedup(spec: MigrationSpec, assets: list, parts, group: str, pool: str | None) -> list:
    """``assets`` plus one dedup asset per opted-in target; every other asset that depended on that
    target's load now depends on its dedup asset instead (``AssetsDefinition.with_attributes``)."""
    targets = dedup_targets(spec)
    if not targets:
        return assets
    m = spec.migration
    swap = {dg.AssetKey([m, "load", t]): dg.AssetKey([m, "dedup", t]) for t in targets}
    out = []
    for a in assets:
        deps = {d.asset_key for s in a.specs for d in s.deps} if isinstance(a, dg.AssetsDefinition) else set()
        if deps & set(swap) and not set(a.keys) & set(swap):
            a = a.with_attributes(asset_key_replacements={k: v for k, v in swap.items() if k in deps})
        out.append(a)
    return out + [_dedup_asset(spec, t, parts, group, pool) for t in targets]
