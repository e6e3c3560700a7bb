"""Source objects of a spec: the typed columns, their rules, and attachments to download."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from flit_pipelines.spec.rules import NUMERIC_TYPES, ColumnRule, RowCheck, RuleAction, comparable_family
from flit_pipelines.spec.strict import StrictModel

ColumnType = Literal["string", "int", "float", "money", "date", "datetime", "bool"]
AggFunc = Literal[
    "first", "last", "count", "sum", "min", "max", "mode", "nunique", "join", "join_unique", "any"
]



class ColumnSpec(StrictModel):
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

    def action(self, rule: ColumnRule) -> RuleAction:
        """What a failure of ``rule`` does to the row: the ``on_fail`` entry, else quarantine
        (``control_characters``: warn)."""
        default: RuleAction = "warn" if rule == "control_characters" else "quarantine"
        return self.on_fail.get(rule, default)


class DownloadSpec(StrictModel):
    """Attachments an API serves behind auth: during extract each row's ``url_column`` is fetched with
    the source's credentials into the files root at ``path`` (a ``{COLUMN}`` template, e.g.
    ``"{document_id}/{file_name}"``), once; loads then read local files like an export's."""

    url_column: str
    path: str


class SourceObject(StrictModel):
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
