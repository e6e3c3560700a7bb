"""The tenant and wave of the run being executed (the Dagster side of ``flit_pipelines.tenants``).

A migration run's wave partition key is ``<tenant>.<wave>`` (``full`` alone for the default tenant,
``tenants.keys``); a run without a partition (a rollback) names its tenant in the ``flit/tenant`` tag.
When both are present they must agree. ``TenantScopedResource`` is the base of the resources that serve
one tenant at a time (``FlitResource``, ``ParquetStore``).
"""

from __future__ import annotations

from typing import Self

import dagster as dg
from pydantic import PrivateAttr

from flit_pipelines.errors import FlitError
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import DEFAULT_TENANT, TENANT_TAG, split_key, tenant_names

__all__ = ["DESTINATION_STEP_TAG", "PARTITION_TAG", "TenantMismatchError", "TenantScopedResource",
           "destination_op_tags", "destination_pool", "run_tenant", "wave_of"]

PARTITION_TAG = "dagster/partition"
DESTINATION_STEP_TAG = "flit/destination_step"


class TenantMismatchError(FlitError, ValueError):
    """A run's ``flit/tenant`` tag names another tenant than its partition key."""


def run_tenant(run: dg.DagsterRun | None) -> str:
    """The tenant a run serves: from its partition key, else its ``flit/tenant`` tag, else the default
    tenant (outside a run). Raises TenantMismatchError when the two disagree, ValueError for a key no
    tenant could have."""
    tags = run.tags if run is not None else {}
    tagged = tags.get(TENANT_TAG)
    key = tags.get(PARTITION_TAG)
    if key is None:
        return tagged or DEFAULT_TENANT
    tenant = split_key(key)[0]
    if tagged and tagged != tenant:
        raise TenantMismatchError(f"run tag {TENANT_TAG}={tagged} but its partition {key} is tenant {tenant}")
    return tenant


class TenantScopedResource(dg.ConfigurableResource):
    """A resource serving one tenant: inside a run, the run's (``run_tenant``, set when Dagster sets the
    resource up); outside one, the default tenant, or the one ``for_tenant`` names. The tenant is private
    state, not config: the launchpad never sets it, and a run cannot be pointed at another tenant's data."""

    _tenant: str = PrivateAttr(default=DEFAULT_TENANT)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Serve the tenant of the run being executed (the default tenant outside a run). Raises
        TenantMismatchError when the run's tag and partition name different tenants."""
        self._tenant = run_tenant(context.dagster_run)

    def for_tenant(self, tenant: str) -> Self:
        """A copy of this resource serving ``tenant`` (the CLI's reports, checks, delta ticks and rollbacks)."""
        other = self.model_copy()
        other._tenant = tenant
        return other

    @property
    def tenant(self) -> str:
        """The tenant this resource serves (``default`` unless a run or ``for_tenant`` said otherwise)."""
        return self._tenant


def wave_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """The wave (``sample``, ``full``, ``delta-...``) of the partition being materialised, without its tenant."""
    return split_key(context.partition_key)[1]


def destination_op_tags(migration: str) -> dict[str, str]:
    """Op tags of every step that calls the destination: ``flit/destination_step=<migration>``, the key a
    multiprocess executor's ``tag_concurrency_limits`` limits to 1, so one run's steps never share the
    account's rate limit between two processes (docs/many-practices.md)."""
    return {DESTINATION_STEP_TAG: migration}


def destination_pool(spec: MigrationSpec) -> str | None:
    """The pool of the steps that call the destination, or None.

    A migration with one practice (no tenants file beyond the default tenant) has one destination account:
    its destination steps share the pool ``<migration>_destination`` (limit 1 in dagster.yaml), so even
    under the multiprocess executor, and across runs, one rate limiter serves the account. A migration
    with tenants has an account per tenant, and a pool (static per asset) would serialise different
    accounts: there the run queue's ``flit/destination_account`` limit and ``flit run``'s account check
    keep one run per account, and inside a run the steps are serialised by the in-process executor (or
    by the multiprocess executor's ``tag_concurrency_limits`` on ``flit/destination_step``;
    docs/many-practices.md)."""
    return None if len(tenant_names(spec)) > 1 else f"{spec.migration}_destination"
