"""``[m, "source_profile"]``: the PHI-free profile of the source at the start of every wave, with the
blocking check ``source_matches_spec`` (``proposal.drift``) that stops the wave before any extract is
loaded when the source no longer matches the approved spec."""

import dagster as dg

from flit_pipelines.assets.io_manager import ParquetStore
from flit_pipelines.assets.tenancy import wave_of
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.delta.probe import baseline_file, baseline_fingerprints, save_baseline
from flit_pipelines.errors import value_free_errors
from flit_pipelines.proposal.drift import check_source
from flit_pipelines.spec.model import MigrationSpec


def source_profile_asset(spec: MigrationSpec, parts, group: str):
    """The asset (every extract depends on it; see ``assets.factory``)."""
    key = dg.AssetKey([spec.migration, "source_profile"])

    @dg.asset(key=key, group_name=group, partitions_def=parts, kinds={"json"},
              description="PHI-free profile of the source (statistics, recogniser names) and its data dictionary; "
                          "the blocking check stops the wave when the source drifted from the approved spec.",
              check_specs=[dg.AssetCheckSpec("source_matches_spec", asset=key, blocking=True,
                                             description="every object and required column is there and typed "
                                                         "columns still parse as declared")])
    @value_free_errors(f"{spec.migration}/source_profile")
    def source_profile(context: dg.AssetExecutionContext, flit: FlitResource, parquet: ParquetStore):
        flit.check_reachable(spec, "source")  # an unreachable API fails here, naming its URL and the check
        source = flit.source(spec)
        res = check_source(spec, source, flit.reports_dir(spec.migration, wave_of(context)))
        message = res.message(spec)
        if not res.passed:
            context.log.error(message)
        elif wave_of(context) == "full":  # what the delta window's first tick compares with
            save_baseline(baseline_file(parquet.root(), spec.migration), baseline_fingerprints(source, spec))
        yield dg.MaterializeResult(
            metadata={"objects_checked": res.objects_checked, "problems": dg.MetadataValue.json(res.problems),
                      "extra_headers": dg.MetadataValue.json(res.extra),
                      "missing_optional": dg.MetadataValue.json(res.missing_optional),
                      "profile": dg.MetadataValue.path(str(res.documents["profile"])),
                      "data_dictionary": dg.MetadataValue.path(str(res.documents["dictionary"]))},
            check_results=[dg.AssetCheckResult(check_name="source_matches_spec", passed=res.passed,
                                               description=message,
                                               metadata={"problems": dg.MetadataValue.json(res.problems)})])

    return source_profile
