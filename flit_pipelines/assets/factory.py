"""Asset factory: one mapping spec -> one asset group with extract, payload and load assets.

Asset keys (ARCHITECTURE.md): ``[m, "extract", <object>]``, ``[m, "payload", <target>]``,
``[m, "load", <target>]``, plus ``[m, "field_map"]`` (the approval gate), ``[m, "destination_schema"]``
(custom fields, pipelines and stages) and ``[m, "report"]``. Every asset is partitioned by wave
(dynamic partitions ``sample``, ``full``, ``delta-...``). Load assets depend on their parents' load
assets, so parents are written before children.
"""


import json
from collections.abc import Iterable
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from flit_pipelines.assets.connections import flit_resource
from flit_pipelines.assets.checks import count_check, duplicate_check, loaded_records, money_check
from flit_pipelines.assets.dedup import with_dedup
from flit_pipelines.assets.executors import job_execution
from flit_pipelines.assets.field_diff import field_diff_check_specs, field_diff_results
from flit_pipelines.assets.io_manager import ParquetIOManagerFactory, ParquetRef, ParquetStore
from flit_pipelines.assets.record_issues import (
    holds_and_flags,
    load_quarantined,
    quarantine_path,
    read_issues,
    save_extract_quarantine,
    save_issues,
)
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.assets.run_events import step_events
from flit_pipelines.assets.source_profile import source_profile_asset
from flit_pipelines.assets.step_progress import step_progress
from flit_pipelines.assets.tenancy import destination_op_tags, destination_pool, wave_of
from flit_pipelines.delta.deletions import (
    delete_records,
    deletion_rows,
    left_target,
    loaded_deletions,
    read_deletions,
    record_undeclared,
    write_deletions,
)
from flit_pipelines.delta.extract import extract_delta
from flit_pipelines.delta.sensor import build_delta_sensor
from flit_pipelines.delta.snapshot import base_wave, scans_keys
from flit_pipelines.delta.window import is_delta
from flit_pipelines.destinations.base import load_target
from flit_pipelines.reconcile.accounting import classify_records
from flit_pipelines.reconcile.quarantined import read_quarantined
from flit_pipelines.errors import value_free_errors
from flit_pipelines.reports.audit_log import write_audit_log
from flit_pipelines.reports.design_doc import custom_field_design_markdown
from flit_pipelines.reports.field_map import field_map_markdown
from flit_pipelines.reports.html_report import write_html_report
from flit_pipelines.reports.migration import build_report, write_json
from flit_pipelines.reports.phi_review import write_queue as write_phi_queue
from flit_pipelines.reports.timeline import run_timeline
from flit_pipelines.reports.user_mapping import write_user_mapping
from flit_pipelines.reports.workflow_rebuild import (
    workflow_objects,
    workflow_rebuild_markdown,
    workflow_rebuild_spec,
)
from flit_pipelines.rollback.job import build_rollback_job
from flit_pipelines.sources.attachments import stage_downloads
from flit_pipelines.sources.extract import (arrow_schema, empty_frame, extract_input_doc, run_extract,
                                            write_quarantine_lines)
from flit_pipelines.spec import approval_status, load_order, parents_of
from flit_pipelines.spec.load import approval_command, approval_fix
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import partition_key, split_key, tenant_names, tenant_run_tags
from flit_pipelines.transform.payload import needed_objects
from flit_pipelines.transform.payload import build_payload_checked
from flit_pipelines.waves import sample_scope

IO_MANAGER_KEY = "flit_parquet"
WAVES = ("sample", "full")


def waves_partitions(spec: MigrationSpec) -> dg.DynamicPartitionsDefinition:
    """The dynamic wave partitions of a migration (``<migration>_waves``: sample, full, delta-...)."""
    return dg.DynamicPartitionsDefinition(name=f"{spec.migration}_waves")


def _key(spec: MigrationSpec, *parts: str) -> dg.AssetKey:
    return dg.AssetKey([spec.migration, *parts])


def build_migration(spec: MigrationSpec) -> dg.Definitions:
    """All assets, checks, the migration job and the wave sensor of one spec."""
    m = spec.migration
    parts = waves_partitions(spec)
    group = m
    assets: list = []

    # -- field map: a person confirms it before any record moves ---------------------------------
    @dg.asset(
        key=_key(spec, "field_map"), group_name=group, partitions_def=parts, kinds={"yaml"},
        description=f"The reviewed field map of {spec.title}; loads are blocked until it is approved.",
        check_specs=[dg.AssetCheckSpec(
            "field_map_approved", asset=_key(spec, "field_map"), blocking=True,
            description=f"Blocks every load until a person approved this field map as it stands (approved_by, "
                        f"approved_at and the field-map hash match). Approve with `{approval_command(m)}`.")],
    )
    @value_free_errors(f"{m}/field_map")
    def field_map(context: dg.AssetExecutionContext, flit: FlitResource):
        status = approval_status(spec)
        path = flit.reports_dir(m, wave_of(context)) / "field_map.md"
        path.write_text(field_map_markdown(spec), encoding="utf-8")
        yield dg.MaterializeResult(
            metadata={"field_map": dg.MetadataValue.path(str(path)), "approved_by": spec.approval.approved_by or "",
                      "field_map_sha256": status.expected_sha256,
                      "targets": len(spec.targets), "objects": len(spec.objects)},
            check_results=[dg.AssetCheckResult(
                check_name="field_map_approved", passed=status.approved,
                description=("approved" if status.approved
                             else f"Not approved: {'; '.join(status.reasons)}. {approval_fix(spec)}"),
                metadata={"reasons": dg.MetadataValue.text("; ".join(status.reasons) or "none"),
                          "how_to_approve": dg.MetadataValue.text("" if status.approved else approval_fix(spec))})],
        )

    assets.append(field_map)

    # -- source profile: drift from the approved spec stops the wave before any extract ----------
    assets.append(source_profile_asset(spec, parts, group))

    # -- extracts --------------------------------------------------------------------------------
    root = spec.waves.root
    for obj_name, obj in spec.objects.items():
        deps = [_key(spec, "extract", root)] if obj.wave_key and obj_name != root else []
        deps.append(_key(spec, "source_profile"))
        assets.append(_extract_asset(spec, obj_name, parts, group, deps))

    # -- payloads --------------------------------------------------------------------------------
    for target in spec.targets:
        assets.append(_payload_asset(spec, target, parts, group))

    # -- destination schema ----------------------------------------------------------------------
    @dg.asset(key=_key(spec, "destination_schema"), group_name=group, partitions_def=parts,
              deps=[_key(spec, "field_map"), _key(spec, "source_profile")], kinds={spec.destination.kind},
              pool=destination_pool(spec), op_tags=destination_op_tags(spec.migration),
              description="Custom fields (by name -> account key), pipelines and stages, created idempotently.")
    @value_free_errors(f"{m}/destination_schema")
    def destination_schema(context: dg.AssetExecutionContext, flit: FlitResource) -> dg.MaterializeResult:
        flit.check_reachable(spec, "destination")  # first step to call the CRM: an unreachable one is named here
        design = flit.destination(spec).ensure_schema(spec)
        path = flit.reports_dir(m, wave_of(context)) / "custom_field_design.json"
        write_json(path, design)
        # the same design for people: types, folders, value maps, the workflow triggers each field can drive
        path.with_suffix(".md").write_text(custom_field_design_markdown(spec, design), encoding="utf-8")
        fields = design.get("custom_fields") or {}
        # destinations shape their design documents differently: {entity: [...]} or one list
        n_fields = sum(len(v) for v in fields.values()) if isinstance(fields, dict) else len(fields)
        meta: dict[str, Any] = {"custom_fields": n_fields, "design": dg.MetadataValue.path(str(path))}
        for key in ("pipelines", "custom_objects"):
            if key in design:
                meta[key] = len(design[key])
        return dg.MaterializeResult(metadata=meta)

    assets.append(destination_schema)

    # -- loads, in FK order ------------------------------------------------------------------------
    # One destination step at a time within a run, under any executor: each load also waits for the load
    # before it in load order (and so for its dedup pass). The pool serialises them too, but a migration
    # without a pool (one per account instead) on the Celery executor has no other per-step limit.
    order = load_order(spec)
    for previous, target in zip([None, *order[:-1]], order, strict=True):
        assets.append(_load_asset(spec, target, parts, group, after=previous))

    # -- report ------------------------------------------------------------------------------------
    @dg.asset(key=_key(spec, "report"), group_name=group, partitions_def=parts, kinds={"json"},
              deps=[_key(spec, "load", t) for t in spec.targets],
              description="Migration report: per target counts, quarantine reasons, checks, seed-object landing.")
    @value_free_errors(f"{m}/report")
    def report(context: dg.AssetExecutionContext, flit: FlitResource, parquet: ParquetStore) -> dg.MaterializeResult:
        wave = wave_of(context)
        out = flit.reports_dir(m, wave)
        rep = build_report(spec, wave, flit)
        path = out / "migration_report.json"
        write_json(path, rep)
        audit = write_audit_log(flit.ledger(), m, wave, out)  # every record: source ID, destination ID, operation
        write_phi_queue(flit.ledger(), spec, wave, out)  # phi_review_queue.csv: held and approved records
        # recall types and intervals, appointment facts (status codes labelled by the practice's code
        # tables): what an admin rebuilds as CRM workflows
        frames = {o: pd.read_parquet(parquet.path_for(_key(spec, "extract", o), wave)) for o in workflow_objects(spec)}
        (out / "workflow_rebuild.md").write_text(workflow_rebuild_markdown(workflow_rebuild_spec(spec, frames)),
                                                 encoding="utf-8")
        # the same report for practice staff: one self-contained HTML page with charts and the run's timeline
        html = write_html_report(rep, out, run_timeline(step_events(context.instance, context.run.run_id), m))
        return dg.MaterializeResult(metadata={
            "report": dg.MetadataValue.path(str(path)),
            "audit_log": dg.MetadataValue.path(str(audit["csv"])),
            "workflow_rebuild": dg.MetadataValue.path(str(out / "workflow_rebuild.md")),
            "html_report": dg.MetadataValue.path(str(html)),
            "targets": dg.MetadataValue.json({t: {k: v for k, v in r.items() if k in (
                "source_rows", "quarantined", "created", "updated", "unchanged", "failed", "destination_count")}
                for t, r in rep["targets"].items()}),
        })

    assets.append(report)
    assets = with_dedup(spec, assets, parts, group, destination_pool(spec))  # [m, dedup, t]: before t's children

    # In-process by default: a run's destination steps then never overlap, and a process per step costs
    # seconds of imports each. FLIT_EXECUTOR picks multiprocess or Celery (assets/executors.py; the
    # destination steps form one chain, so one run never has two writers on its account under any executor);
    # the launchpad can switch too.
    # Tags per partition: every run of a tenant's wave carries flit/tenant and its account tags, which the
    # run queue limits to one run per account (dagster.yaml), whoever launches it (launchpad, sensor, backfill).
    execution = job_execution()
    run_config = {"execution": execution.execution_config} if execution.execution_config else {}
    config = dg.PartitionedConfig(partitions_def=parts, run_config_for_partition_key_fn=lambda _key: run_config,
                                  tags_for_partition_key_fn=lambda key: tenant_run_tags(spec, split_key(key)[0]))
    job = dg.define_asset_job(f"{m}_migration", selection=dg.AssetSelection.groups(group), partitions_def=parts,
                              executor_def=execution.executor_def, config=config,
                              description=f"{spec.title}: extract, payload, load, checks and report for one wave.")

    @dg.sensor(name=f"{m}_wave_partitions", default_status=dg.DefaultSensorStatus.RUNNING,
               minimum_interval_seconds=60,
               description="Keeps the sample and full wave partitions of every tenant present (tenant.wave).")
    @value_free_errors(f"{m}/wave_partitions")
    def wave_partitions(context: dg.SensorEvaluationContext):
        have = set(context.instance.get_dynamic_partitions(parts.name))
        missing = [k for t in tenant_names(spec) for k in (partition_key(t, w) for w in WAVES) if k not in have]
        if not missing:
            return dg.SkipReason("sample and full waves exist for every tenant")
        return dg.SensorResult(dynamic_partitions_requests=[parts.build_add_request(missing)])

    return dg.Definitions(assets=assets, jobs=[job, build_rollback_job(spec)],
                          sensors=[wave_partitions, build_delta_sensor(spec, parts, job)])


def _extract_asset(spec: MigrationSpec, obj_name: str, parts, group: str, deps: list[dg.AssetKey]):
    obj = spec.objects[obj_name]
    key = _key(spec, "extract", obj_name)

    @dg.asset(key=key, group_name=group, partitions_def=parts, deps=deps, io_manager_key=IO_MANAGER_KEY,
              kinds={"parquet", "pandera"},
              description=f"{obj.file or obj.table or obj.endpoint}: typed, Pandera-validated extract; failing rows quarantined.")
    @value_free_errors(f"{spec.migration}/extract/{obj_name}")
    def extract(context: dg.AssetExecutionContext, flit: FlitResource, parquet: ParquetStore) -> dg.Output:
        wave = wave_of(context)
        ledger = flit.ledger()
        keep_ids, limit = None, None
        if wave == "sample":  # stratified roots + parents; children of those roots (flit_pipelines.waves)
            scope = sample_scope(spec, obj_name, lambda: flit.source(spec, context.run.run_id),
                                 root_extract=parquet.path_for(_key(spec, "extract", spec.waves.root), wave),
                                 reports_dir=flit.reports_dir(spec.migration, wave))
            keep_ids, limit = scope.keep_ids, scope.limit
            context.add_output_metadata(scope.metadata)
        quarantined: list[pd.DataFrame] = []
        source = flit.source(spec, context.run.run_id)
        delta_doc = {}
        if is_delta(wave):  # a whole snapshot: the previous one with what changed since the cursor merged in
            snap = extract_delta(source, obj, obj_name, parquet.path_for(key, wave), wave, quarantined.append,
                                 key_scan=scans_keys(spec, obj))
            stats, final = snap.stats, snap.path
            write_deletions(flit.reports_dir(spec.migration, wave), obj_name, snap.deleted)
            delta_doc = {"rows_changed": snap.rows_changed, "deleted_in_source": len(snap.deleted),
                         "base_wave": snap.base, "read_whole": snap.read_whole,
                         "deletions_detected": (snap.read_whole or snap.key_scan) and not snap.deletions_suspended}
        else:
            schema = arrow_schema(obj)
            tmp, writer = parquet.writer(key, wave, schema)
            progress = step_progress(context, f"extract {obj_name}", unit="rows")

            def write_table(table: pa.Table) -> None:
                writer.write_table(table)
                progress.advance(table.num_rows)

            try:
                stats = run_extract(source, obj, obj_name, write_table=write_table, quarantine=quarantined.append,
                                    keep_ids=keep_ids, limit=limit)
                progress.finish()
                if stats.rows_kept == 0:
                    writer.write_table(pa.Table.from_pandas(empty_frame(obj), schema=schema, preserve_index=False))
            finally:
                writer.close()
            final = parquet.commit(tmp)
        downloads = None
        if obj.download is not None and stats.rows_kept:
            downloads = stage_downloads(source, obj, pd.read_parquet(final), flit.files_root(spec))
        q = pd.concat(quarantined) if quarantined else pd.DataFrame(columns=["source_id", "row_number", "reason"])
        save_extract_quarantine(parquet, spec, obj_name, wave, q, final,  # which record lost which input row
                                delta_doc.get("base_wave") if is_delta(wave) and obj.modified_at else None)
        ledger.replace_quarantine(migration=spec.migration, wave=wave, stage="extract", obj=obj_name,
                                  run_id=context.run.run_id, rows=q)
        reasons = q["reason"].value_counts().to_dict() if len(q) else {}
        input_doc = extract_input_doc(stats)  # encoding, delimiter, blank lines, warnings by rule: no values
        stats_doc = {"rows_read": stats.rows_read, "rows_kept": stats.rows_kept, "quarantined": stats.quarantined,
                     "rows_outside_wave": stats.rows_filtered_by_wave, "file_present": stats.file_present,
                     "quarantine_reasons": reasons, **input_doc, **delta_doc}
        extract_dir = flit.reports_dir(spec.migration, wave) / "extract"
        write_json(extract_dir / f"{obj_name}.json", stats_doc)
        write_quarantine_lines(extract_dir / f"{obj_name}_quarantine.csv", q)  # staff: line numbers to fix
        return dg.Output(
            ParquetRef(str(final), stats.rows_kept),
            metadata={
                "dagster/row_count": stats.rows_kept,
                "rows_read": stats.rows_read,
                "quarantined": stats.quarantined,
                "rows_outside_wave": stats.rows_filtered_by_wave,
                "file_present": stats.file_present,
                "null_rates": dg.MetadataValue.json(stats.null_rates()),
                "extra_columns": dg.MetadataValue.json(stats.extra_columns),
                "missing_optional_columns": dg.MetadataValue.json(stats.missing_optional_columns),
                "quarantine_reasons": dg.MetadataValue.json(reasons),
                **{k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in input_doc.items()},
                "parquet": dg.MetadataValue.path(str(final)),
                **({"attachments": dg.MetadataValue.json(downloads.__dict__)} if downloads else {}),
                **({"delta": dg.MetadataValue.json(delta_doc)} if delta_doc else {}),
            },
        )

    return extract


def _payload_asset(spec: MigrationSpec, target: str, parts, group: str):
    t = spec.targets[target]
    objects = needed_objects(spec, target)
    ins = {f"extract_{o}": dg.AssetIn(key=_key(spec, "extract", o), input_manager_key=IO_MANAGER_KEY) for o in objects}

    @dg.asset(key=_key(spec, "payload", target), group_name=group, partitions_def=parts, ins=ins,
              io_manager_key=IO_MANAGER_KEY, kinds={"pandas", "parquet"},
              description=f"{t.entity} payload for target {target} (foreign keys still source IDs).")
    @value_free_errors(f"{spec.migration}/payload/{target}")
    def payload(context: dg.AssetExecutionContext, parquet: ParquetStore, **extracts: pd.DataFrame) -> dg.Output:
        frames = {name.removeprefix("extract_"): df for name, df in extracts.items()}
        # derived values missing quarantined input rows, non-finite numbers: per record, for the load
        df, issues = build_payload_checked(spec, target, frames,
                                           load_quarantined(parquet, spec, objects, wave_of(context)))
        save_issues(parquet, spec, target, wave_of(context), issues)
        null_rates = {c: round(float(df[c].isna().mean()), 4) for c in df.columns} if len(df) else {}
        return dg.Output(df, metadata={"dagster/row_count": len(df), "columns": len(df.columns),
                                       "null_rates": dg.MetadataValue.json(null_rates),
                                       "record_issues": dg.MetadataValue.json(
                                           issues["kind"].value_counts().to_dict())})

    return payload


def _load_asset(spec: MigrationSpec, target: str, parts, group: str, after: str | None = None):
    t = spec.targets[target]
    key = _key(spec, "load", target)
    checks = [
        dg.AssetCheckSpec("counts_reconcile", asset=key, blocking=True,
                          description="source rows - quarantined = ledger rows = destination read-back count"),
        dg.AssetCheckSpec("no_duplicate_source_ids", asset=key, blocking=True,
                          description="no source ID appears twice in the destination"),
    ]
    if t.money:
        checks.append(dg.AssetCheckSpec("money_sums_reconcile", asset=key, blocking=True,
                                        description="money sums: source = payload = destination read-back"))
    checks += field_diff_check_specs(spec, target, key)  # non-blocking; runs on the sample wave
    # field_map directly too: its blocking approval check gates delta runs, which skip the schema step
    deps = [_key(spec, "field_map"), _key(spec, "destination_schema")]
    deps += [_key(spec, "load", p) for p in dict.fromkeys([*parents_of(spec, target), *([after] if after else [])])]
    deps += [_key(spec, "extract", t.from_)]

    @dg.asset(key=key, group_name=group, partitions_def=parts, check_specs=checks, deps=deps,
              ins={"payload": dg.AssetIn(key=_key(spec, "payload", target), input_manager_key=IO_MANAGER_KEY)},
              kinds={spec.destination.kind}, pool=destination_pool(spec), op_tags=destination_op_tags(spec.migration),
              description=f"Upsert target {target} ({t.entity}) by source ID; parents first; ledger per record.")
    @value_free_errors(f"{spec.migration}/load/{target}")
    def load(context: dg.AssetExecutionContext, flit: FlitResource, parquet: ParquetStore, payload: pd.DataFrame):
        wave = wave_of(context)
        ledger = flit.ledger()
        dest = flit.destination(spec, context.run.run_id)
        gone, to_load = pd.DataFrame(columns=["source_id", "dest_id"]), payload
        if is_delta(wave):  # source rows deleted in the window: the spec's on_source_delete
            gone = loaded_deletions(spec, target, read_deletions(flit.reports_dir(spec.migration, wave), t.from_)
                                    .union(left_target(spec, target, payload, parquet.path_for(
                                        _key(spec, "extract", t.from_), wave))), ledger)
            if len(gone) and t.on_source_delete is not None and t.on_source_delete.action == "update":
                here = parquet.path_for(_key(spec, "payload", target), wave)
                previous = pd.read_parquet(here.with_name(f"{base_wave(here, wave)}.parquet"))
                to_load = pd.concat([payload, deletion_rows(spec, target, gone, previous)], ignore_index=True)
        holds, issue_doc = holds_and_flags(spec, target, read_issues(parquet, spec, target, wave))
        progress = step_progress(context, f"load {target}", len(to_load), client=dest.client)
        summary = load_target(spec=spec, target_name=target, payload=to_load, destination=dest, ledger=ledger,
                              run_id=context.run.run_id, wave=wave,
                              max_workers=int(spec.destination.settings.get("max_workers", 8)), extra_holds=holds,
                              on_progress=progress.update)
        progress.finish()
        if issue_doc["held"] or issue_doc["flagged"]:
            context.log.warning(f"{target}: {issue_doc['held']} records held back, {len(issue_doc['flagged'])} "
                                f"flagged ({issue_doc['by_kind']}); reasons in the migration report")
        deletions = {"deleted_in_source": len(gone)}
        if len(gone) and t.on_source_delete is None:
            deletions["left_unchanged"] = record_undeclared(spec, target, gone, ledger, run_id=context.run.run_id,
                                                            wave=wave)
            context.log.warning(f"{target}: {len(gone)} records deleted in the source are left unchanged "
                                "(no on_source_delete in the spec); see the audit log")
        elif len(gone) and t.on_source_delete is not None and t.on_source_delete.action == "delete":
            deletions.update(delete_records(spec, target, gone, ledger, dest, run_id=context.run.run_id, wave=wave))
        context.log.info(f"{target}: created {summary.created}, updated {summary.updated}, "
                         f"unchanged {summary.unchanged}, failed {summary.failed}, flagged {summary.flagged}")
        if t.entity == "user":  # before any owned record loads: who falls back to the fallback owner
            mapping = flit.reports_dir(spec.migration, wave) / f"{target}_user_mapping.csv"
            unmatched = write_user_mapping(mapping, spec.migration, target, payload, ledger, dest.fallback_owner_id())
            if unmatched:
                context.log.warning(f"{target}: {unmatched} without a destination user get the fallback owner; "
                                    f"mapping template: {mapping}")
        extract_doc_path = flit.reports_dir(spec.migration, wave) / "extract" / f"{t.from_}.json"
        extract_doc = json.loads(extract_doc_path.read_text()) if extract_doc_path.exists() else {}
        written, read = None, None
        if is_delta(wave):  # read back what this wave wrote; the full wave reconciled the rest
            audit = ledger.audit_frame(spec.migration, target=target, run_id=context.run.run_id)
            written = pd.Index(audit.loc[audit["operation"].isin(["create", "update"]) & (audit["status"] == "ok"),
                                         "source_id"].astype("string"))
        loaded, read, read_back = loaded_records(spec, target, payload, ledger, dest, only=written)
        read = read if written is not None else None
        # every record not loaded, with its reason (parent not loaded, held, refused, failed...)
        records = classify_records(spec, target, wave, payload, pd.Index(loaded["source_id"]), ledger,
                                   context.run.run_id)
        results = [
            count_check(spec, target, wave, payload, ledger, loaded, read_back, extract_doc, read, records),
            duplicate_check(spec, target, dest, summary.created if is_delta(wave) else None),
        ]
        if t.money:
            results.append(money_check(spec, target, wave, payload, loaded, read_back, parquet, read,
                                       records=records, ledger=ledger, quarantined_loader=lambda o: read_quarantined(
                                           quarantine_path(parquet, spec, o, wave), spec.objects[o])))
        results += field_diff_results(spec, target, wave, payload, ledger, dest, flit)
        doc = {"summary": summary.as_dict(), "client": dest.client.stats.snapshot(), "source_deletions": deletions,
               "payload_issues": issue_doc,
               "checks": {r.check_name: {"passed": r.passed, "description": r.description,
                                         "metadata": {k: getattr(v, "value", v) for k, v in (r.metadata or {}).items()}}
                          for r in results}}
        write_json(flit.reports_dir(spec.migration, wave) / "load" / f"{target}.json", doc)
        yield dg.MaterializeResult(
            metadata={"created": summary.created, "updated": summary.updated, "unchanged": summary.unchanged,
                      "failed": summary.failed, "flagged": summary.flagged, "adopted": summary.adopted,
                      "matched": summary.matched, "fallback": summary.fallback, "records_sent": summary.records_sent,
                      "http_requests": dest.client.stats.snapshot().get("requests") or 0,
                      "responses_429": dest.client.stats.snapshot().get("responses_429") or 0,
                      "errors": dg.MetadataValue.json(summary.errors),
                      **({"source_deletions": dg.MetadataValue.json(deletions)} if is_delta(wave) else {})},
            check_results=results,
        )

    return load


def migration_resources(specs: Iterable[MigrationSpec] = ()) -> dict:
    """Resources every migration asset uses: ``flit`` (data dir, ledger, clients; a launchpad block per
    spec in ``specs``), ``parquet`` (paths), and the Parquet IO manager. All default to the environment
    at run time."""
    return {"flit": flit_resource(specs), "parquet": ParquetStore(), IO_MANAGER_KEY: ParquetIOManagerFactory()}
