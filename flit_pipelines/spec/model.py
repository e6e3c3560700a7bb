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
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flit_pipelines.spec.rules import NUMERIC_TYPES, ColumnRule, RowCheck, RuleAction, comparable_family

ColumnType = Literal["string", "int", "float", "money", "date", "datetime", "bool"]
AggFunc = Literal[
    "first", "last", "count", "sum", "min", "max", "mode", "nunique", "join", "join_unique", "any"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One typed column of a source object.

    ``source`` is the header in the export (defaults to the canonical name; a file's header matches it
    case- and whitespace-insensitively); ``required`` columns must be present in the file (a missing one
    is a clear error naming file and column), optional ones are filled with nulls. ``nullable: false``
    is a Pandera check. Value rules (``flit_pipelines.sources.rules``), each quarantining the row unless
    ``on_fail`` says ``warn`` (then counted by rule name in the extract's metadata):

    * ``isin`` / ``pattern`` (text: allowed values; a regular expression matched at the start);
    * ``min`` / ``max`` (int, float, money: inclusive bounds);
    * ``max_length`` (text, characters; default ``spec.rules.DEFAULT_MAX_TEXT_LENGTH`` for every text column);
    * ``not_in_future`` (date, datetime: after the extract's clock, e.g. a birth date);
    * always on: ``nul_bytes`` (quarantine), ``control_characters`` (warn; tab and line breaks are
      allowed), ``finite`` (float/money ``inf``/``NaN``: quarantine).
    """

    type: ColumnType = "string"
    source: str | None = None
    required: bool = True
    nullable: bool = True
    pattern: str | None = None
    isin: list[str] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(None, ge=1)
    not_in_future: bool = False
    on_fail: dict[ColumnRule, RuleAction] = Field(
        default_factory=dict, description="rule -> quarantine | warn; default quarantine (control_characters: warn)")
    description: str | None = None

    @model_validator(mode="after")
    def _rules_fit_type(self) -> "ColumnSpec":
        wrong = [r for r, ok in (("isin", self.type == "string"), ("pattern", self.type == "string"),
                                 ("max_length", self.type == "string"), ("min", self.type in NUMERIC_TYPES),
                                 ("max", self.type in NUMERIC_TYPES),
                                 ("not_in_future", self.type in ("date", "datetime")))
                 if getattr(self, r) not in (None, False) and not ok]
        if wrong:
            raise ValueError(f"rules {wrong} do not apply to a {self.type} column")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    def action(self, rule: str) -> RuleAction:
        """What a failure of ``rule`` does to the row: the ``on_fail`` entry, else quarantine
        (``control_characters``: warn)."""
        return self.on_fail.get(rule, "warn" if rule == "control_characters" else "quarantine")  # type: ignore[arg-type]


class DownloadSpec(_Strict):
    """Attachments an API serves behind auth: during extract each row's ``url_column`` is fetched with
    the source's credentials into the files root at ``path`` (a ``{COLUMN}`` template, e.g.
    ``"{document_id}/{file_name}"``), once; loads then read local files like an export's."""

    url_column: str
    path: str


class SourceObject(_Strict):
    """A source object: one file of an export or one table/view of a database."""

    file: str | None = None
    table: str | None = Field(
        None, description="Database view/table ('admin.v_patient'); with a database source, also the "
        "file stem of a structured file export ('<table>.csv' without the schema)")
    endpoint: str | None = Field(
        None, description="API collection path ('/v1/patients') for API sources; column `source` is "
        "then a dotted JSON path ('provider.id')")
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
    deletions: Literal["key_scan", "none"] | None = Field(
        None, description="delta waves: how rows deleted in the source are found among objects read since "
        "the cursor (objects without modified_at are read whole and compared with the previous snapshot "
        "anyway). key_scan: list the primary keys (one cheap query on a database or file); none: not "
        "detected, the report says so. Default: key_scan on database and file sources, none on APIs, "
        "where a key scan pages the whole collection (PracticeHub: 1 request/s)")
    download: DownloadSpec | None = None
    description: str | None = None
    checks: list[RowCheck] = Field(
        default_factory=list, description="cross-column rules of one row, e.g. {left: STOP, op: '>=', right: START}")

    @model_validator(mode="after")
    def _row_checks_compare_like_columns(self) -> "SourceObject":
        for chk in self.checks:
            missing = [c for c in (chk.left, chk.right) if c not in self.columns]
            if missing:
                raise ValueError(f"check {chk.label!r}: columns {missing} are not declared")
            kinds = {comparable_family(self.columns[c].type) for c in (chk.left, chk.right)}
            if len(kinds) != 1:
                raise ValueError(f"check {chk.label!r}: {chk.left} and {chk.right} are not of comparable types")
        return self

    @model_validator(mode="after")
    def _keys_are_columns(self) -> "SourceObject":
        for key in (self.primary_key, self.modified_at, self.wave_key, self.download and self.download.url_column):
            if key is not None and key not in self.columns:
                raise ValueError(f"column {key!r} is named as a key but not declared in columns")
        if not (self.file or self.table or self.endpoint):
            raise ValueError("a source object needs a file, a table or an endpoint")
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


class DeriveJoin(_Strict):
    """Columns of a third object joined onto a joined step's ``from`` rows before ``where`` and ``agg``
    (e.g. procedure-log rows get the CDT code from the procedure-code table). Left join on
    ``by.left`` (a column of ``from``) = ``by.right`` (a column of ``object``, unique there)."""

    object: str
    by: dict[str, str]
    columns: list[str]

    @model_validator(mode="after")
    def _by(self) -> "DeriveJoin":
        if set(self.by) != {"left", "right"}:
            raise ValueError("join by needs exactly left and right")
        return self


class DeriveStep(_Strict):
    """A derived column, computed before field mapping, in list order.

    Row-wise: ``expr`` / ``template`` / ``column`` (with ``format``) over the working frame.
    Joined aggregate: ``from`` another object, rows filtered by ``where``, grouped by ``by.right``
    (matched to ``by.left`` of the working frame, default its primary key), reduced by ``agg`` over
    ``column`` or a per-row ``template`` (``order_by`` sets order for first/last/join); ``join`` adds
    columns of further objects to the ``from`` rows first.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    # row-wise
    expr: str | None = None
    template: str | None = None
    column: str | None = None
    columns: list[str] | None = None
    escape: Literal["html"] | None = None
    format: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    value_map: dict[str, Any] | None = None
    default: Any = None
    # joined aggregate
    from_: str | None = Field(None, alias="from")
    by: dict[str, str] | str | None = Field(
        None, description="join keys: 'COL' (other object's column matched to the primary key) or {left, right}"
    )
    join: list[DeriveJoin] = Field(default_factory=list)
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
        elif sum(x is not None for x in (self.expr, self.template, self.column, self.columns)) != 1:
            raise ValueError(f"derive {self.name!r}: give one of expr, template, column, columns (or from+agg)")
        elif self.columns is not None and not self.format:
            raise ValueError(f"derive {self.name!r}: columns needs a format that combines them")
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


class SourceDeleteAction(_Strict):
    """What a delta wave does to a destination record whose source row was deleted: ``delete`` it,
    or ``update`` it with payload fields overridden (``set``: field -> value, e.g. a status) and text
    appended (``append``: field -> text, e.g. a ``deleted-in-source`` tag on a comma-separated tags
    field)."""
    action: Literal["delete", "update"]
    set: dict[str, str] = Field(default_factory=dict)
    append: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _update_needs_change(self) -> "SourceDeleteAction":
        if self.action == "update" and not (self.set or self.append):
            raise ValueError("on_source_delete update needs set or append")
        return self


class DiffTolerance(_Strict):
    """How the sample-wave field diff (``flit_pipelines.reports.field_diff``) compares one field.
    Exactly one of:

    * ``abs``: numbers within this absolute difference (e.g. ``0.01`` for cents) count as equal;
    * ``ignore``: the field is not compared; the text says why (shown in the diff report);
    * ``normalize``: both sides pass these steps before comparing: ``strip`` (trim, collapse inner
      whitespace), ``lower`` (case-fold), ``date`` (parse as a date/time, compare the instant to the
      second; naive = UTC), ``digits`` (keep digits only, e.g. phones).
    """

    abs: float | None = Field(None, ge=0)
    ignore: str | None = None
    normalize: list[Literal["strip", "lower", "date", "digits"]] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> "DiffTolerance":
        if sum(x is not None for x in (self.abs, self.ignore, self.normalize)) != 1:
            raise ValueError("a diff tolerance is exactly one of abs, ignore, normalize")
        if self.ignore is not None and not self.ignore.strip():
            raise ValueError("diff tolerance ignore needs a reason")
        return self


PhiPattern = Literal["ssn", "dob", "mrn", "phone", "email", "icd10", "member_id"]


class PhiReview(_Strict):
    """PHI review queue of a note or attachment target (detector: ``flit_pipelines.transform.phi``).

    A payload row is held (not sent; quarantined with reason ``held for PHI review: <pattern names>``)
    until a person approves it (``flit phi approve``) when:

    * a ``columns`` field (a ``fields`` name, or ``cf:<custom field>``) matches one of ``patterns``;
    * its ``file_name_column`` value matches one of ``file_names`` (case-insensitive globs such as
      ``"*insurance*card*"``; reported as pattern ``file_name``);
    * ``text_file_column`` holds the path of a text file (``.txt``, ``.csv``, ``.md``, ``.html``,
      ``.xml``, ``.json``, ``.rtf``) whose first ``max_text_bytes`` match one of ``patterns``; other
      file bodies (PDF, images) are never opened.
    """

    columns: list[str] = Field(default_factory=list)
    patterns: list[PhiPattern] = Field(default_factory=list)
    file_names: list[str] = Field(default_factory=list)
    file_name_column: str | None = None
    text_file_column: str | None = None
    max_text_bytes: int = Field(1 << 20, ge=1024, le=64 << 20)

    @model_validator(mode="after")
    def _rules(self) -> "PhiReview":
        if (self.columns or self.text_file_column) and not self.patterns:
            raise ValueError("phi_review: columns / text_file_column need patterns")
        if bool(self.file_names) != bool(self.file_name_column):
            raise ValueError("phi_review: file_names and file_name_column go together")
        if not (self.columns or self.file_names or self.text_file_column):
            raise ValueError("phi_review: give columns, file_names or text_file_column")
        return self


class Target(_Strict):
    """One destination target: a destination entity fed by one base source object."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    entity: str = Field(description="destination entity; DESTINATION_ENTITIES lists each kind's set")
    from_: str = Field(alias="from")
    description: str | None = None
    where: str | None = Field(None, description="row filter, evaluated after derive (may use derived columns)")
    when: dict[str, Any] = Field(
        default_factory=dict,
        description="destination settings this target depends on ({clinical_notes_mode: single}); "
        "with other values its payload is empty (an option between alternative targets)")
    derive: list[DeriveStep] = Field(default_factory=list)
    fields: dict[str, ValueSource] = Field(default_factory=dict)
    custom_fields: dict[str, CustomFieldMap] = Field(default_factory=dict)
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    pipeline: Pipeline | None = None
    match: dict[str, str] | None = Field(
        None, description="entity user only: {by: email, column: EMAIL}; users are matched, never created"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="destination-specific settings of this target (e.g. HighLevel custom object key, "
        "calendar name, pipeline); each destination validates its own")
    on_source_delete: "SourceDeleteAction | None" = Field(
        None, description="delta waves: what happens to this target's record when its source row is "
        "deleted in the source or no longer selected by `where` (a cancelled appointment); None: left "
        "unchanged, with a source_deleted audit event")
    phi_review: PhiReview | None = Field(
        None, description="notes and attachments: rows matching PHI patterns are held until approved")
    on_derive_input_loss: Literal["hold", "flag"] = Field(
        "hold", description="a record whose derived value was computed without input rows quarantined at "
        "extract (a charge with an unparsable amount): hold = not sent, quarantined with the reason "
        "'derived value <name> is missing N of M input rows (...)' until the source is fixed; flag = sent, "
        "and listed with that reason in the load document and the migration report")

    @model_validator(mode="after")
    def _phi_columns_exist(self) -> "Target":
        if self.phi_review is not None:
            r = self.phi_review
            known = set(self.fields) | {"cf:" + n for n in self.custom_fields}
            unknown = sorted({*r.columns, r.file_name_column, r.text_file_column} - known - {None})
            if unknown:
                raise ValueError(f"phi_review names payload fields the target does not map: {unknown}")
        return self

    money: list[str] = Field(default_factory=list, description="payload columns whose sums reconcile")
    source_sums: dict[str, str] = Field(
        default_factory=dict,
        description="money column -> 'object.column[ where expr]' the payload sum must equal",
    )
    diff_tolerances: dict[str, DiffTolerance] = Field(
        default_factory=dict,
        description="sample-wave field diff: field (a fields, custom_fields or lookups name) -> "
        "{abs: 0.01} | {ignore: reason} | {normalize: [strip, lower, date, digits]}")

    @model_validator(mode="after")
    def _tolerated_fields_exist(self) -> "Target":
        unknown = sorted(set(self.diff_tolerances) - set(self.fields) - set(self.custom_fields) - set(self.lookups))
        if unknown:
            raise ValueError(f"diff_tolerances name fields the target does not map: {unknown}")
        return self


class EnvVarSpec(_Strict):
    """An environment variable the migration reads; ``secret`` ones are never logged."""
    description: str
    required: bool = True
    secret: bool = False
    default: str | None = None


class CsvExportConfig(_Strict):
    """A structured CSV export: one file per object in the directory named by ``directory_env``."""
    kind: Literal["csv_export"]
    directory_env: str
    default_directory: str | None = Field(
        None, description="'package:<path>' for bundled sample input, used only by the demo"
    )
    chunk_bytes: int = Field(4 << 20, ge=1 << 16, description="CSV block size read per chunk; bounds extract memory")
    encoding: str | None = Field(
        None, description="text encoding of every file (a Python codec name); default: detected per file "
        "(BOM, UTF-8 validity, then charset-normalizer), recorded in each extract's metadata")
    delimiter: Literal[",", ";", "\t", "|"] | None = Field(
        None, description="field delimiter; default: detected per file from its header row")
    max_record_bytes: int = Field(
        64 << 20, ge=1 << 20, description="a record (row) larger than this is unreadable: an opening quote "
        "still open after this many bytes is taken as unterminated; a longer unquoted line stops the extract")

    def env_vars(self) -> list[str]:
        """Environment variables this source reads."""
        return [self.directory_env]


class DatabaseConfig(_Strict):
    """A practice database read with SELECTs only (Dentrix G/Enterprise developer views).

    The first variable that is set wins: ``odbc_env`` (an ODBC connection string or ``DSN=...``, read
    straight into Arrow with arrow-odbc), ``url_env`` (a SQLAlchemy URL; PostgreSQL read with ADBC;
    ``sqlite:///file.db`` attaches the file as ``admin``), ``export_dir_env`` (a structured file
    export: ``<table>.csv`` per object, same columns). ``documents_dir_env`` is where document files
    live (the Document Center share), if reachable.
    """
    kind: Literal["database"]
    odbc_env: str
    url_env: str
    export_dir_env: str | None = None
    documents_dir_env: str | None = None
    chunk_rows: int = Field(50_000, ge=1_000, description="rows fetched per batch; bounds extract memory")

    def env_vars(self) -> list[str]:
        """Environment variables this source reads."""
        return [e for e in (self.odbc_env, self.url_env, self.export_dir_env, self.documents_dir_env) if e]


class AscendApiConfig(_Strict):
    """Dentrix Ascend API Exchange (OAuth 2.0 client credentials, ``Organization-ID`` header, pages)."""
    kind: Literal["ascend_api"]
    api_base_env: str
    token_url_env: str
    client_id_env: str
    client_secret_env: str
    organization_id_env: str
    documents_dir_env: str | None = Field(
        None, description="where downloaded attachments are staged (default <FLIT_DATA_DIR>/files/<migration>)")
    page_size: int = Field(500, ge=1, le=1000)
    rate_limit_patience_seconds: float = Field(
        1800, gt=0, description="how long 429s may hold the wave's reads in total before it stops cleanly")

    def env_vars(self) -> list[str]:
        """Environment variables this source reads."""
        return [e for e in (self.api_base_env, self.token_url_env, self.client_id_env, self.client_secret_env,
                            self.organization_id_env, self.documents_dir_env) if e]


class PracticeHubConfig(_Strict):
    """PracticeHub REST API (``x-practicehub-key`` + ``x-app-details`` headers, pages of <= 100 with
    ``links.next``, ``updated`` filter). ``app_details`` is ``<appname>=<contact email>``. The reader
    stores each object's cursor under ``<FLIT_DATA_DIR>/cursors/<migration>``, so an extraction
    stopped midway resumes from its last page."""
    kind: Literal["practicehub_api"]
    api_base_env: str
    api_key_env: str
    app_details: str
    documents_dir_env: str | None = Field(
        None, description="where downloaded attachments are staged (default <FLIT_DATA_DIR>/files/<migration>)")
    page_size: int = Field(100, ge=1, le=100)
    requests_per_second: float = Field(
        0.9, gt=0, le=50, description="PracticeHub allows 1 request/s per account; higher only against a sandbox")
    rate_limit_patience_seconds: float = Field(
        1800, gt=0, description="how long 429s may hold the wave's reads in total before it stops cleanly")

    def env_vars(self) -> list[str]:
        """Environment variables this source reads."""
        return [e for e in (self.api_base_env, self.api_key_env, self.documents_dir_env) if e]


class FhirConfig(_Strict):
    """A FHIR R4 server (``flit_pipelines.sources.fhir``): Bulk Data export, or search without it.

    ``base_url_env`` names the FHIR base (``https://ehr.example/fhir``). Authorisation: ``token_env``
    (a bearer token the server issued), or SMART Backend Services with ``client_id_env`` +
    ``private_key_path_env`` (a PEM RSA or EC P-384 key; RS384/ES384) and, where the server offers
    no ``.well-known/smart-configuration``, ``token_url_env``; none set: no authorisation.
    ``group_id_env`` set: ``Group/[id]/$export``, else ``Patient/$export``. Exports and include
    spools are kept under ``<FLIT_DATA_DIR>/cursors/<migration>`` (a restarted extract re-uses them).
    """
    kind: Literal["fhir_api"]
    base_url_env: str
    token_env: str | None = None
    client_id_env: str | None = None
    private_key_path_env: str | None = None
    token_url_env: str | None = None
    group_id_env: str | None = None
    documents_dir_env: str | None = Field(
        None, description="where downloaded attachments are staged (default <FLIT_DATA_DIR>/files/<migration>)")
    mode: Literal["auto", "bulk", "search"] = Field(
        "auto", description="auto: Bulk Data when the CapabilityStatement declares $export, else search")
    scope: str = Field("system/*.rs", description="SMART Backend Services scope (system/*.read on v1 servers)")
    page_size: int = Field(500, ge=1, le=1000, description="search _count")
    requests_per_second: float = Field(10, gt=0, le=100)
    export_max_wait_seconds: float = Field(6 * 3600, gt=0, description="how long a Bulk export may take")
    export_reuse_hours: float = Field(
        24, gt=0, description="an unfinished export another run may still resume (files already stored are kept)")
    rate_limit_patience_seconds: float = Field(
        1800, gt=0, description="how long 429s may hold the wave's reads in total before it stops cleanly")

    def env_vars(self) -> list[str]:
        """Environment variables this source reads."""
        return [e for e in (self.base_url_env, self.token_env, self.client_id_env, self.private_key_path_env,
                            self.token_url_env, self.group_id_env, self.documents_dir_env) if e]


SourceConfig = Annotated[CsvExportConfig | DatabaseConfig | AscendApiConfig | PracticeHubConfig | FhirConfig,
                         Field(discriminator="kind")]

# Entities each destination kind accepts as ``Target.entity``.
DESTINATION_ENTITIES: dict[str, frozenset[str]] = {
    "pipedrive": frozenset({"person", "organization", "deal", "activity", "note", "file", "user"}),
    "highlevel": frozenset({"contact", "custom_object_record", "appointment", "task", "note", "file", "user",
                            "opportunity"}),
    # Salesforce: "sobject" = any standard or custom object upserted by external ID through Bulk API 2.0
    # (options.sobject names it: Contact, Task, Event, Treatment_Record__c, ...); "file" = ContentVersion.
    "salesforce": frozenset({"sobject", "file", "user"}),
}


class DestinationConfig(_Strict):
    """Env vars of the destination's base URL and credentials, and destination settings.

    Pipedrive and HighLevel take a token (``api_token_env``; HighLevel also ``location_id_env``);
    Salesforce takes ``client_id_env`` / ``client_secret_env`` (OAuth 2.0 client credentials flow
    against ``api_base_env`` = the My Domain instance URL)."""
    kind: Literal["pipedrive", "highlevel", "salesforce"]
    api_base_env: str
    api_token_env: str | None = None
    location_id_env: str | None = Field(None, description="HighLevel: the location (sub-account) ID")
    client_id_env: str | None = Field(None, description="Salesforce: connected app consumer key")
    client_secret_env: str | None = Field(None, description="Salesforce: connected app consumer secret")
    settings: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _credentials(self) -> "DestinationConfig":
        if self.kind == "salesforce" and not (self.client_id_env and self.client_secret_env):
            raise ValueError("a salesforce destination needs client_id_env and client_secret_env")
        if self.kind != "salesforce" and not self.api_token_env:
            raise ValueError(f"a {self.kind} destination needs api_token_env")
        return self

    def env_vars(self) -> list[str]:
        """Environment variables this destination reads."""
        return [e for e in (self.api_base_env, self.api_token_env, self.location_id_env, self.client_id_env,
                            self.client_secret_env) if e]


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


class SampleStratum(_Strict):
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


class SampleParent(_Strict):
    """Rows of ``object`` (those matching ``where``) whose ``column`` holds the ID of another root
    record a sampled root needs, e.g. the guarantor who is another patient; the sample wave adds that
    root as a parent. Lookups to targets built from the root object are followed without declaring."""

    object: str
    column: str
    where: str | None = None


class WaveConfig(_Strict):
    """The wave root object and the sample wave: ``sample_size`` roots (100-500; a source with fewer
    roots gives them all, i.e. min(size, root rows)), stratified so every target and the declared hard
    cases appear. ``sample_strata`` adds to (or, same label, replaces) the default strata: one per
    target whose base object has a ``wave_key`` (see ``flit_pipelines.waves.sample.strata_of``);
    ``sample_parents`` declares links to other roots the sampled ones need (beyond lookups)."""
    root: str
    sample_size: int = Field(200, ge=100, le=500)
    sample_strata: list[SampleStratum] = Field(default_factory=list)
    sample_parents: list[SampleParent] = Field(default_factory=list)


class DeltaConfig(_Strict):
    """The delta-pickup window after the full wave (issue 5): the sensor polls the source every
    ``poll_seconds`` for ``window_hours`` (24-48) after the full wave's report; each poll re-reads from
    the cursor minus ``overlap_minutes`` (late commits with older timestamps; re-read rows are skipped
    by their payload hash)."""
    window_hours: float = Field(48, ge=24, le=48)
    poll_seconds: int = Field(300, ge=30, le=3600)
    overlap_minutes: int = Field(5, ge=0, le=120)


class MigrationSpec(_Strict):
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
        bad = [st.object for st in (*self.waves.sample_strata, *self.waves.sample_parents)
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
        from flit_pipelines.transform.expressions import SOURCE_SUM_RE, ExpressionError, check_expression

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
        for i, st in enumerate((*self.waves.sample_strata, *self.waves.sample_parents)):
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
