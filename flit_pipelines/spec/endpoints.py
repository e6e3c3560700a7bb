"""Where a migration reads from and writes to: the source kinds, the destination, the environment
variables they name, and the entities each destination kind accepts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from flit_pipelines.spec.strict import StrictModel


class EnvVarSpec(StrictModel):
    """An environment variable the migration reads; ``secret`` ones are never logged."""
    description: str
    required: bool = True
    secret: bool = False
    default: str | None = None


class CsvExportConfig(StrictModel):
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


class DatabaseConfig(StrictModel):
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


class AscendApiConfig(StrictModel):
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


class PracticeHubConfig(StrictModel):
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


class FhirConfig(StrictModel):
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


class DestinationConfig(StrictModel):
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
