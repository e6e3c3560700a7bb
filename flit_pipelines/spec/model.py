"""Mapping-spec model: one YAML file in ``mapping_specs/`` is one migration.

The model is deliberately declarative so that adding a field or an object is a spec change, not new
Python (ARCHITECTURE.md "Principles"). Its parts:

* ``source`` / ``destination``: which reader (CSV export, database over ODBC/SQLAlchemy, Dentrix
  Ascend API, PracticeHub API, FHIR R4) and which CRM (Pipedrive, HighLevel, Salesforce), through the
  environment variables they name; each destination kind has its own set of target entities;
* ``objects``: source objects (file, table/view or API endpoint, primary key, modified-at column,
  typed columns whose ``source`` header, column or JSON path may differ from the canonical name, so a
  renamed export or a site's own view is a spec change; attachments to download during extract);
* ``targets``: destination targets; each reads one base object, ``derive``s columns (row expressions,
  templates, and grouped aggregates joined from other objects), maps ``fields`` and ``custom_fields``,
  names ``lookups`` (foreign keys to other targets: these give the load order), and carries
  destination-specific ``options``;
* ``approval``: who confirmed the field map, when, and the field-map hash they confirmed;
* ``seed_objects``: where every object of the migration's seed table lands, for the report.

This module holds the whole spec (``MigrationSpec``: its cross-checks), approval, seed objects, waves and
delta; the parts live beside it: ``objects`` (source objects and columns), ``targets`` (field sources,
derives, lookups), ``endpoints`` (source and destination configuration), all on ``strict.StrictModel``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

# The parts of a spec live in their own modules; they are re-exported here because most callers import
# every spec class from ``spec.model``.
from flit_pipelines.spec.endpoints import (
    DESTINATION_ENTITIES,
    AscendApiConfig,
    CsvExportConfig,
    DatabaseConfig,
    DestinationConfig,
    EnvVarSpec,
    FhirConfig,
    PracticeHubConfig,
    SourceConfig,
)
from flit_pipelines.spec.objects import AggFunc, ColumnSpec, ColumnType, DownloadSpec, SourceObject
from flit_pipelines.spec.strict import StrictModel
from flit_pipelines.spec.targets import (
    CustomFieldMap,
    DeriveJoin,
    DeriveStep,
    DiffTolerance,
    Lookup,
    PhiPattern,
    PhiReview,
    Pipeline,
    SourceDeleteAction,
    Target,
    ValueSource,
)
from flit_pipelines.transform.expressions import SOURCE_SUM_RE, ExpressionError, check_expression

__all__ = [
    "DESTINATION_ENTITIES", "AggFunc", "Approval", "AscendApiConfig", "ColumnSpec", "ColumnType", "CsvExportConfig",
    "CustomFieldMap", "DatabaseConfig", "DeltaConfig", "DeriveJoin", "DeriveStep", "DestinationConfig",
    "DiffTolerance", "DownloadSpec", "EnvVarSpec", "FhirConfig", "Lookup", "MigrationSpec", "PhiPattern",
    "PhiReview", "Pipeline", "PracticeHubConfig", "SampleParent", "SampleStratum", "SeedObject", "SourceConfig",
    "SourceDeleteAction", "SourceObject", "StrictModel", "Target", "ValueSource", "WaveConfig",
]


class Approval(StrictModel):
    """Who confirmed the field map. ``field_map_sha256`` binds the approval to the exact map."""

    approved_by: str | None = None
    approved_at: datetime | None = None
    field_map_sha256: str | None = None


class SeedObject(StrictModel):
    """A row of the migration's seed table: which objects and targets carry it and where it lands."""
    name: str
    sources: list[str]
    targets: list[str]
    lands_in: str
    note: str | None = None


class SampleStratum(StrictModel):
    """A kind of root record the sample wave must contain (``flit_pipelines.waves.sample``).

    Roots with at least ``min_rows`` rows of ``object`` (an object with a ``wave_key``), counting
    only rows matching ``where`` (a pandas expression over the object's source columns, e.g.
    ``"secondary_carrier_id.notna()"``), are eligible; the sample takes up to ``at_least`` of them.
    ``name`` labels the stratum in ``sample_selection.csv`` and the extract metadata.
    """

    object: str
    min_rows: int = Field(1, ge=1)
    at_least: int = Field(5, ge=1, le=500)
    where: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """``name``, else ``<object>`` plus `` >= <min_rows>`` when more than one row is needed."""
        if self.name:
            return self.name
        return self.object + (f" >= {self.min_rows}" if self.min_rows > 1 else "") + (
            f" where {self.where}" if self.where else "")


class SampleParent(StrictModel):
    """Rows of ``object`` (those matching ``where``) whose ``column`` holds the ID of another root
    record a sampled root needs, e.g. the guarantor who is another patient; the sample wave adds that
    root as a parent. Lookups to targets built from the root object are followed without declaring."""

    object: str
    column: str
    where: str | None = None


class WaveConfig(StrictModel):
    """The wave root object and the sample wave: ``sample_size`` roots (100-500; a source with fewer
    roots gives them all, i.e. min(size, root rows)), stratified so every target and the declared hard
    cases appear. ``sample_strata`` adds to (or, same label, replaces) the default strata: one per
    target whose base object has a ``wave_key`` (see ``flit_pipelines.waves.sample.strata_of``);
    ``sample_parents`` declares links to other roots the sampled ones need (beyond lookups)."""
    root: str
    sample_size: int = Field(200, ge=100, le=500)
    sample_strata: list[SampleStratum] = Field(default_factory=list)
    sample_parents: list[SampleParent] = Field(default_factory=list)


class DeltaConfig(StrictModel):
    """The delta-pickup window after the full wave (issue 5): the sensor polls the source every
    ``poll_seconds`` for ``window_hours`` (24-48) after the full wave's report; each poll re-reads from
    the cursor minus ``overlap_minutes`` (late commits with older timestamps; re-read rows are skipped
    by their payload hash)."""
    window_hours: float = Field(48, ge=24, le=48)
    poll_seconds: int = Field(300, ge=30, le=3600)
    overlap_minutes: int = Field(5, ge=0, le=120)


class MigrationSpec(StrictModel):
    """A whole migration. Validation cross-checks every name the spec uses."""

    migration: str
    title: str
    version: int = 1
    source: SourceConfig
    destination: DestinationConfig
    environment: dict[str, EnvVarSpec]
    waves: WaveConfig
    delta: DeltaConfig = DeltaConfig()
    objects: dict[str, SourceObject]
    targets: dict[str, Target]
    seed_objects: list[SeedObject]
    approval: Approval = Approval()

    @field_validator("migration")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not v.replace("_", "").isalnum() or not v.islower():
            raise ValueError("migration must be a lower-case identifier (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _cross_references(self) -> "MigrationSpec":
        errors: list[str] = []
        need = {"csv_export": ("file", "table"), "database": ("table",), "ascend_api": ("endpoint",),
                "practicehub_api": ("endpoint",), "fhir_api": ("endpoint",)}[self.source.kind]
        for oname, o in self.objects.items():
            if not any(getattr(o, attr) for attr in need):
                errors.append(f"object {oname}: a {self.source.kind} source needs {' or '.join(need)}")
        if self.waves.root not in self.objects:
            errors.append(f"waves.root {self.waves.root!r} is not an object")
        for tname, t in self.targets.items():
            if t.from_ not in self.objects:
                errors.append(f"target {tname}: from {t.from_!r} is not an object")
            for step in t.derive:
                if step.from_ is not None and step.from_ not in self.objects:
                    errors.append(f"target {tname}: derive {step.name} from {step.from_!r} is not an object")
                for j in step.join:
                    if j.object not in self.objects:
                        errors.append(f"target {tname}: derive {step.name} join {j.object!r} is not an object")
            for fk, lk in t.lookups.items():
                if lk.target not in self.targets:
                    errors.append(f"target {tname}: lookup {fk} -> {lk.target!r} is not a target")
            allowed = DESTINATION_ENTITIES[self.destination.kind]
            if t.entity not in allowed:
                errors.append(f"target {tname}: entity {t.entity!r} is not one of {sorted(allowed)} "
                              f"({self.destination.kind})")
            if t.entity == "user" and not t.match:
                errors.append(f"target {tname}: entity user needs match")
        for seed in self.seed_objects:
            for s in seed.sources:
                if s not in self.objects:
                    errors.append(f"seed object {seed.name!r}: source {s!r} is not an object")
            for s in seed.targets:
                if s not in self.targets:
                    errors.append(f"seed object {seed.name!r}: target {s!r} is not a target")
        for env in (*self.source.env_vars(), *self.destination.env_vars()):
            if env not in self.environment:
                errors.append(f"environment variable {env} is used but not named in environment")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @model_validator(mode="after")
    def _sample_strata_objects(self) -> "MigrationSpec":
        sampled: list[SampleStratum | SampleParent] = [*self.waves.sample_strata, *self.waves.sample_parents]
        bad = [st.object for st in sampled
               if st.object not in self.objects or self.objects[st.object].wave_key is None]
        if bad:
            raise ValueError(f"waves.sample_strata/sample_parents: objects without a wave_key (or unknown): "
                             f"{sorted(set(bad))}")
        cols = [f"{p.object}.{p.column}" for p in self.waves.sample_parents
                if p.column not in self.objects[p.object].columns]
        if cols:
            raise ValueError(f"waves.sample_parents: columns not declared: {cols}")
        return self

    @model_validator(mode="after")
    def _expressions_are_allowed(self) -> "MigrationSpec":
        """Every expression (``expr``/``where`` of fields, derives, targets, sample strata and parents,
        the ``where`` of ``source_sums``) passes ``transform.expressions.check_expression``, so an
        expression reaching beyond the allowed operations fails ``load_spec`` naming where it is."""
        found: list[tuple[str, str | None]] = []
        for tname, t in self.targets.items():
            found.append((f"target {tname}: where", t.where))
            for step in t.derive:
                found += [(f"target {tname}: derive {step.name} expr", step.expr),
                          (f"target {tname}: derive {step.name} where", step.where)]
            for kind, maps in (("field", t.fields), ("custom field", t.custom_fields)):
                found += [(f"target {tname}: {kind} {name} expr", src.expr) for name, src in maps.items()]
            for money, text in t.source_sums.items():
                m = SOURCE_SUM_RE.match(text)
                found.append((f"target {tname}: source_sums {money} where", m.group(3) if m else None))
        sampled: list[SampleStratum | SampleParent] = [*self.waves.sample_strata, *self.waves.sample_parents]
        for i, st in enumerate(sampled):
            found.append((f"waves sample_strata/sample_parents[{i}] ({st.object}) where", st.where))
        errors = []
        for where, expr in found:
            if expr is None:
                continue
            try:
                check_expression(expr)
            except ExpressionError as exc:
                errors.append(f"{where}: {exc}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def is_approved(self) -> bool:
        """True when approved_by and approved_at are set (see ``approval_status`` for the hash check)."""
        return bool(self.approval.approved_by and self.approval.approved_at)
