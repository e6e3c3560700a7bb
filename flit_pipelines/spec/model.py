"""Mapping-spec model: one YAML file in ``mapping_specs/`` is one migration.

The model is deliberately declarative so that adding a field or an object is a spec change, not new
Python (ARCHITECTURE.md "Principles"). Its parts:

* ``objects``: source objects (file or table, primary key, modified-at column, typed columns whose
  ``source`` header may differ from the canonical name, so renamed exports are a spec change);
* ``targets``: destination targets; each reads one base object, ``derive``s columns (row expressions,
  templates, and grouped aggregates joined from other objects), maps ``fields`` and ``custom_fields``,
  and names ``lookups`` (foreign keys to other targets: these give the load order);
* ``approval``: who confirmed the field map, when, and the field-map hash they confirmed;
* ``seed_objects``: where every object of the migration's seed table lands, for the report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ColumnType = Literal["string", "int", "float", "money", "date", "datetime", "bool"]
AggFunc = Literal[
    "first", "last", "count", "sum", "min", "max", "mode", "nunique", "join", "join_unique", "any"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One typed column of a source object.

    ``source`` is the header in the export (defaults to the canonical name); ``required`` columns must
    be present in the file (a missing one is a clear error naming file and column), optional ones are
    filled with nulls. ``nullable: false`` and ``pattern``/``isin``/``min`` become Pandera checks; rows
    failing them are quarantined with the reason.
    """

    type: ColumnType = "string"
    source: str | None = None
    required: bool = True
    nullable: bool = True
    pattern: str | None = None
    isin: list[str] | None = None
    min: float | None = None
    description: str | None = None


class SourceObject(_Strict):
    """A source object: one file of an export or one table/view of a database."""

    file: str | None = None
    table: str | None = None
    primary_key: str | None = None
    modified_at: str | None = None
    optional: bool = Field(
        False, description="The export may not contain this file; absent means zero rows, reported."
    )
    wave_key: str | None = Field(
        None,
        description="Column linking rows to the wave root (e.g. PATIENT); the sample wave keeps rows "
        "whose key is among the sampled root IDs. None: reference data, always extracted whole.",
    )
    columns: dict[str, ColumnSpec]
    description: str | None = None

    @model_validator(mode="after")
    def _keys_are_columns(self) -> "SourceObject":
        for key in (self.primary_key, self.modified_at, self.wave_key):
            if key is not None and key not in self.columns:
                raise ValueError(f"column {key!r} is named as a key but not declared in columns")
        if not (self.file or self.table):
            raise ValueError("a source object needs a file or a table")
        return self


class ValueSource(_Strict):
    """Where a value comes from. Exactly one of column / columns / template / expr / value.

    * ``column``: a column of the working frame (source or derived);
    * ``columns``: several columns, for formatters that combine them (``duration_hhmm``, ``contact_list``);
    * ``template``: ``"{FIRST} {LAST}"``; nulls render as empty text; ``escape: html`` escapes values;
    * ``expr``: a pandas expression over the frame (``"STOP.notna()"``), evaluated column-wise;
    * ``value``: a constant.

    Then ``format`` (see ``flit_pipelines.transform.formatters``), ``value_map`` (unmapped values
    become ``default``), and ``default`` for nulls.
    """

    column: str | None = None
    columns: list[str] | None = None
    template: str | None = None
    expr: str | None = None
    value: Any = None
    escape: Literal["html"] | None = None
    format: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    value_map: dict[str, Any] | None = None
    default: Any = None

    @model_validator(mode="after")
    def _one_origin(self) -> "ValueSource":
        origins = [self.column, self.columns, self.template, self.expr]
        n = sum(o is not None for o in origins) + (1 if "value" in self.model_fields_set else 0)
        if n != 1:
            raise ValueError("give exactly one of column, columns, template, expr, value")
        return self


class CustomFieldMap(ValueSource):
    """A destination custom field: its type (provisioned idempotently) and where its value comes from."""

    type: str = "varchar"
    options: list[str] | None = None
    category: str | None = None


class DeriveStep(_Strict):
    """A derived column, computed before field mapping, in list order.

    Row-wise: ``expr`` / ``template`` / ``column`` (with ``format``) over the working frame.
    Joined aggregate: ``from`` another object, rows filtered by ``where``, grouped by ``by.right``
    (matched to ``by.left`` of the working frame, default its primary key), reduced by ``agg`` over
    ``column`` or a per-row ``template`` (``order_by`` sets order for first/last/join).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    # row-wise
    expr: str | None = None
    template: str | None = None
    column: str | None = None
    escape: Literal["html"] | None = None
    format: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    # joined aggregate
    from_: str | None = Field(None, alias="from")
    by: dict[str, str] | str | None = Field(
        None, description="join keys: 'COL' (other object's column matched to the primary key) or {left, right}"
    )
    where: str | None = None
    agg: AggFunc | None = None
    order_by: str | None = None
    separator: str = "; "
    limit: int | None = None

    @model_validator(mode="after")
    def _shape(self) -> "DeriveStep":
        if self.from_ is not None:
            if self.agg is None:
                raise ValueError(f"derive {self.name!r}: a joined step needs agg")
            if self.agg != "count" and not (self.column or self.template):
                raise ValueError(f"derive {self.name!r}: agg {self.agg} needs column or template")
        elif sum(x is not None for x in (self.expr, self.template, self.column)) != 1:
            raise ValueError(f"derive {self.name!r}: give one of expr, template, column (or from+agg)")
        return self


class Lookup(_Strict):
    """A foreign key: ``column`` holds the source ID of a record of ``target``; the load resolves it to
    the destination ID through the ledger crosswalk. ``required`` lookups that cannot be resolved fail
    the record with the reason; optional ones are sent empty (or ``fallback``)."""

    target: str
    column: str
    required: bool = False
    fallback: Literal["owner"] | None = None


class Pipeline(_Strict):
    """A deal pipeline and its stages in order (created if missing)."""
    name: str
    stages: list[str]


class Target(_Strict):
    """One destination target: a destination entity fed by one base source object."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    entity: Literal["person", "organization", "deal", "activity", "note", "file", "user"]
    from_: str = Field(alias="from")
    description: str | None = None
    where: str | None = None
    derive: list[DeriveStep] = Field(default_factory=list)
    fields: dict[str, ValueSource] = Field(default_factory=dict)
    custom_fields: dict[str, CustomFieldMap] = Field(default_factory=dict)
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    pipeline: Pipeline | None = None
    match: dict[str, str] | None = Field(
        None, description="entity user only: {by: email, column: EMAIL}; users are matched, never created"
    )
    money: list[str] = Field(default_factory=list, description="payload columns whose sums reconcile")
    source_sums: dict[str, str] = Field(
        default_factory=dict,
        description="money column -> 'object.column[ where expr]' the payload sum must equal",
    )


class EnvVarSpec(_Strict):
    """An environment variable the migration reads; ``secret`` ones are never logged."""
    description: str
    required: bool = True
    secret: bool = False
    default: str | None = None


class SourceConfig(_Strict):
    """Where the source is: the env var holding the export directory, and the CSV block size."""
    kind: Literal["csv_export"]
    directory_env: str
    default_directory: str | None = Field(
        None, description="'package:<path>' for bundled sample input, used only by the demo"
    )
    chunk_bytes: int = Field(4 << 20, ge=1 << 16, description="CSV block size read per chunk; bounds extract memory")


class DestinationConfig(_Strict):
    """Env vars of the destination's base URL and token, and destination settings."""
    kind: Literal["pipedrive"]
    api_base_env: str
    api_token_env: str
    settings: dict[str, Any] = Field(default_factory=dict)


class Approval(_Strict):
    """Who confirmed the field map. ``field_map_sha256`` binds the approval to the exact map."""

    approved_by: str | None = None
    approved_at: datetime | None = None
    field_map_sha256: str | None = None


class SeedObject(_Strict):
    """A row of the migration's seed table: which objects and targets carry it and where it lands."""
    name: str
    sources: list[str]
    targets: list[str]
    lands_in: str
    note: str | None = None


class WaveConfig(_Strict):
    """The wave root object and the sample wave size (100-500 records)."""
    root: str
    sample_size: int = Field(200, ge=1, le=500)


class MigrationSpec(_Strict):
    """A whole migration. Validation cross-checks every name the spec uses."""

    migration: str
    title: str
    version: int = 1
    source: SourceConfig
    destination: DestinationConfig
    environment: dict[str, EnvVarSpec]
    waves: WaveConfig
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
        if self.waves.root not in self.objects:
            errors.append(f"waves.root {self.waves.root!r} is not an object")
        for tname, t in self.targets.items():
            if t.from_ not in self.objects:
                errors.append(f"target {tname}: from {t.from_!r} is not an object")
            for step in t.derive:
                if step.from_ is not None and step.from_ not in self.objects:
                    errors.append(f"target {tname}: derive {step.name} from {step.from_!r} is not an object")
            for fk, lk in t.lookups.items():
                if lk.target not in self.targets:
                    errors.append(f"target {tname}: lookup {fk} -> {lk.target!r} is not a target")
            if t.entity == "user" and not t.match:
                errors.append(f"target {tname}: entity user needs match")
        for seed in self.seed_objects:
            for s in seed.sources:
                if s not in self.objects:
                    errors.append(f"seed object {seed.name!r}: source {s!r} is not an object")
            for s in seed.targets:
                if s not in self.targets:
                    errors.append(f"seed object {seed.name!r}: target {s!r} is not a target")
        for env in (self.source.directory_env, self.destination.api_base_env, self.destination.api_token_env):
            if env not in self.environment:
                errors.append(f"environment variable {env} is used but not named in environment")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def is_approved(self) -> bool:
        """True when approved_by and approved_at are set (see ``approval_status`` for the hash check)."""
        return bool(self.approval.approved_by and self.approval.approved_at)
