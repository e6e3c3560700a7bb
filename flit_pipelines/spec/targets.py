"""Targets of a spec: field sources, derived columns, lookups, pipelines, PHI review, diff tolerances."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from flit_pipelines.spec.objects import AggFunc
from flit_pipelines.spec.strict import StrictModel


class ValueSource(StrictModel):
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


class DeriveJoin(StrictModel):
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


class DeriveStep(StrictModel):
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


class Lookup(StrictModel):
    """A foreign key: ``column`` holds the source ID of a record of ``target``; the load resolves it to
    the destination ID through the ledger crosswalk. ``required`` lookups that cannot be resolved fail
    the record with the reason; optional ones are sent empty (or ``fallback``)."""

    target: str
    column: str
    required: bool = False
    fallback: Literal["owner"] | None = None


class Pipeline(StrictModel):
    """A deal pipeline and its stages in order (created if missing)."""
    name: str
    stages: list[str]


class SourceDeleteAction(StrictModel):
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


class DiffTolerance(StrictModel):
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


class PhiReview(StrictModel):
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


class Target(StrictModel):
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
            named = {*r.columns, r.file_name_column, r.text_file_column}
            unknown = sorted(c for c in named - known if c is not None)
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
