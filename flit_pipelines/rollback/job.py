"""The ``<migration>_rollback`` Dagster job: one op that plans and (when told to) executes a rollback.

Run config (launchpad or ``flit rollback``)::

    ops:
      rollback:
        config: {scope: all | wave | run, wave: full, run_id: <run ID>, dry_run: true, tenant: riverside}

``tenant`` (default: the run's ``flit/tenant`` tag, else the default tenant) picks whose ledger and
destination account the rollback reads and changes; ``flit rollback --tenant`` sets both.

``dry_run`` defaults to true, so launching the job without editing its config only writes the plan
(``<data>/reports/<migration>/rollback/rollback_plan.csv``); ``dry_run: false`` executes it and writes
``rollback_report.json`` beside it. Metadata carries counts and paths only, never record values.
"""

from typing import Optional

import dagster as dg

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.assets.tenancy import destination_op_tags, destination_pool
from flit_pipelines.destinations.base import FatalLoadError
from flit_pipelines.errors import value_free_errors
from flit_pipelines.rollback.execute import ROLLBACK_WAVE, rollback_migration
from flit_pipelines.rollback.plan import SCOPES
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import TENANT_TAG


class RollbackConfig(dg.Config):
    """What to roll back: ``scope`` all | wave | run, with ``wave`` or ``run_id``; ``dry_run`` lists only."""

    scope: str = "all"
    wave: Optional[str] = None  # noqa: UP045 (Dagster's config typing wants Optional)
    run_id: Optional[str] = None  # noqa: UP045
    dry_run: bool = True
    tenant: Optional[str] = None  # noqa: UP045


def build_rollback_job(spec: MigrationSpec) -> dg.JobDefinition:
    """The ``<migration>_rollback`` job (one op, ``rollback``) of one spec.

    The op shares the migration's destination pool when it has one (a single-practice migration), so a
    rollback never runs beside a load of the same account; with tenants, the run's
    ``flit/destination_account`` tag does (run queue, ``flit rollback``'s account check). It fails
    (dagster.Failure) on a bad scope, and when
    the destination stops the rollback (budget spent, credentials revoked); what was done is in the
    ledger and the report, and launching the job again continues.
    """
    m = spec.migration

    @dg.op(name=f"{m}_rollback_op",  # op names are unique per code location
           pool=destination_pool(spec), tags={"kind": spec.destination.kind, **destination_op_tags(m)},
           description=f"Roll back {spec.title}: delete what it created (reverse FK order), restore what "
                       "existed before it from the prior-state table; dry run by default.")
    @value_free_errors(f"{m}/rollback")
    def rollback(context: dg.OpExecutionContext, config: RollbackConfig, flit: FlitResource) -> dg.Output:
        if config.scope not in SCOPES:
            raise dg.Failure(f"scope must be one of {', '.join(SCOPES)}")
        if (config.scope == "wave" and not config.wave) or (config.scope == "run" and not config.run_id):
            raise dg.Failure(f"scope {config.scope} needs {'wave' if config.scope == 'wave' else 'run_id'}")
        if config.tenant and config.tenant != flit.tenant:
            if context.run.tags.get(TENANT_TAG) not in (None, config.tenant):
                raise dg.Failure(f"config tenant {config.tenant} but the run is tagged {TENANT_TAG}="
                                 f"{context.run.tags[TENANT_TAG]}")
            flit = flit.for_tenant(config.tenant)
        out = flit.reports_dir(m, ROLLBACK_WAVE)
        try:
            summary = rollback_migration(
                spec, flit.ledger(), lambda: flit.destination(spec), out, scope=config.scope, wave=config.wave,
                run_id=config.run_id, rollback_run_id=context.run.run_id, dry_run=config.dry_run,
                max_workers=int(spec.destination.settings.get("max_workers", 8)))
        except FatalLoadError as exc:
            raise dg.Failure(str(exc), metadata={"report": dg.MetadataValue.path(str(out / "rollback_report.json"))}) from exc
        totals = summary["totals"]
        context.log.info(f"rollback {m} ({config.scope}{', dry run' if config.dry_run else ''}): "
                         + ", ".join(f"{k} {v}" for k, v in totals.items()))
        meta: dict = {**totals, "dry_run": config.dry_run, "scope": config.scope,
                      "plan": dg.MetadataValue.path(summary["plan"]),
                      "per_target": dg.MetadataValue.json({t: {**v["planned"], "deleted": v["deleted"],
                                                               "restored": v["restored"], "failed": v["failed"]}
                                                           for t, v in summary["targets"].items()}),
                      "errors": dg.MetadataValue.json(summary["errors"])}
        if summary.get("report"):
            meta["report"] = dg.MetadataValue.path(summary["report"])
        return dg.Output(summary, metadata=meta)

    @dg.job(name=f"{m}_rollback", tags={"migration": m},
            description=f"{spec.title}: roll back everything, one wave, or one run (dry run unless dry_run: false).")
    def rollback_job():
        rollback.alias("rollback")()  # the node keeps the plain name: run config {"ops": {"rollback": ...}}

    return rollback_job
