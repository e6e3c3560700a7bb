"""Which CRM account (and which rate-limited source account) a run writes to / reads from: run tags.

Every run of a tenant carries ``flit/tenant=<name>``, ``flit/destination_account=<kind>-<id>`` and, for a
rate-limited source, ``flit/source_account=<kind>-<id>``. The run queue limits runs per unique value of
these tags to one (``dagster_home/dagster.yaml``), and ``flit run`` refuses to start beside a live run
with the same value, so one account never has two writers (docs/many-practices.md).

The identity is the account's non-secret address, never a token: HighLevel's location (sub-account)
ID, Pipedrive's company domain (``api_base``), Salesforce's My Domain instance URL (``api_base``),
PracticeHub's account base URL. It is hashed to 12 hex characters (SHA-256 of the normalised identity):
short, stable, and it reveals nothing a tag should not hold.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flit_pipelines.errors import FlitError
from flit_pipelines.spec.endpoints import PracticeHubConfig
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import ConnectionSettings
from flit_pipelines.tenants.load import get_tenant

__all__ = ["DESTINATION_ACCOUNT_TAG", "RATE_LIMITED_SOURCES", "SOURCE_ACCOUNT_TAG", "TENANT_TAG",
           "account_tags", "destination_account", "source_account", "tenant_run_tags"]

TENANT_TAG = "flit/tenant"
DESTINATION_ACCOUNT_TAG = "flit/destination_account"
SOURCE_ACCOUNT_TAG = "flit/source_account"
# sources whose vendor limits requests per account (PracticeHub: 1 request/s per account key)
RATE_LIMITED_SOURCES = frozenset({"practicehub_api"})
UNRESOLVED = "unresolved"


def _normal_url(url: str) -> str:
    """``scheme://host[:port]/path`` lower-cased, without query, credentials or a trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def _digest(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]


def destination_account(spec: MigrationSpec, settings: ConnectionSettings) -> str:
    """``<kind>-<12 hex>``: the destination account of ``spec`` under ``settings`` (the destination side).

    HighLevel: the location ID (every location shares one API base); Pipedrive and Salesforce: the API base
    / instance URL (normalised: scheme, host, port, path). Raises ConfigurationError (naming the variable
    and launchpad field) when the identity setting is missing. Never reads a secret."""
    d = spec.destination
    if d.kind == "highlevel" and d.location_id_env:
        identity = "location:" + settings.require(d.location_id_env).strip()
    else:
        identity = "base:" + _normal_url(settings.require(d.api_base_env))
    return f"{d.kind}-{_digest(identity)}"


def source_account(spec: MigrationSpec, settings: ConnectionSettings) -> str | None:
    """``<kind>-<12 hex>`` of a rate-limited source account (its API base, normalised), or None for a
    source without a per-account limit (files, databases). Raises ConfigurationError when missing."""
    s = spec.source
    if s.kind not in RATE_LIMITED_SOURCES or not isinstance(s, PracticeHubConfig):
        return None
    return f"{s.kind}-{_digest('base:' + _normal_url(settings.require(s.api_base_env)))}"


def account_tags(spec: MigrationSpec, tenant: str, destination: ConnectionSettings,
                 source: ConnectionSettings) -> dict[str, str]:
    """The run tags of a run of ``tenant``: tenant, destination account and (rate-limited sources) source
    account. An identity that cannot be resolved here (its setting is missing) is tagged
    ``<kind>-unresolved``: such runs still queue one at a time, and the run's first step names the setting."""
    tags = {TENANT_TAG: tenant}
    try:
        tags[DESTINATION_ACCOUNT_TAG] = destination_account(spec, destination)
    except FlitError:
        tags[DESTINATION_ACCOUNT_TAG] = f"{spec.destination.kind}-{UNRESOLVED}"
    try:
        src = source_account(spec, source)
    except FlitError:
        src = f"{spec.source.kind}-{UNRESOLVED}"
    if src:
        tags[SOURCE_ACCOUNT_TAG] = src
    return tags


def tenant_run_tags(spec: MigrationSpec, tenant: str, overrides: dict | None = None) -> dict[str, str]:
    """``account_tags`` of a run of ``tenant`` with its tenants-file values (and the run's launchpad
    ``overrides``: ``{"source": {...}, "destination": {...}}``) over the spec's variables. Raises
    TenantError for a tenant the file does not declare."""
    t = get_tenant(spec, tenant)
    sides = {side: ConnectionSettings.of(spec, side, (overrides or {}).get(side), tenant=t.values(side),
                                         tenant_label=t.label) for side in ("source", "destination")}
    return account_tags(spec, tenant, sides["destination"], sides["source"])
