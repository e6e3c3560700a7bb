"""Wave partition keys per tenant: the contract other parts of the project (and the run queue) rely on.

A tenant (a practice) runs the waves of a migration as partitions of ``<migration>_waves``:

* the default tenant's key is the bare wave name (``sample``, ``full``, ``delta-20261201T000000``), so a
  single-practice set-up, its report paths and the demo are unchanged;
* any other tenant's key is ``<tenant>.<wave>`` (``riverside.full``).

Tenant names are ``[a-z0-9_-]`` (1-40 characters), so they never hold the separator; waves never start
with a tenant name and a dot because no wave name contains a dot. ``.`` is legal in Dagster partition
keys (only ``...`` and control characters are not) and in file names on every platform.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_TENANT", "SEPARATOR", "TENANT_NAME", "check_tenant_name", "partition_key", "split_key"]

DEFAULT_TENANT = "default"
SEPARATOR = "."
TENANT_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")


def check_tenant_name(tenant: str) -> str:
    """``tenant`` itself when it is a legal name (``[a-z0-9_-]``, 1-40 characters). Raises ValueError
    naming the rule otherwise."""
    if not isinstance(tenant, str) or not TENANT_NAME.match(tenant):
        raise ValueError(f"tenant name {tenant!r} is not valid: use 1-40 characters a-z, 0-9, '_' or '-'")
    return tenant


def partition_key(tenant: str, wave: str) -> str:
    """The wave partition key of ``tenant``: the bare ``wave`` for the default tenant, else
    ``<tenant>.<wave>``. Raises ValueError for an illegal tenant name or a wave holding the separator."""
    check_tenant_name(tenant)
    if not wave or SEPARATOR in wave:
        raise ValueError(f"wave name {wave!r} is not valid: it must be non-empty and hold no {SEPARATOR!r}")
    return wave if tenant == DEFAULT_TENANT else f"{tenant}{SEPARATOR}{wave}"


def split_key(key: str) -> tuple[str, str]:
    """``(tenant, wave)`` of a wave partition key (the inverse of ``partition_key``): a key without the
    separator is the default tenant's wave. Raises ValueError for a key no tenant could have
    (``default.full``, an illegal tenant name, an empty wave or a second separator)."""
    tenant, sep, wave = key.partition(SEPARATOR)
    if not sep:
        return DEFAULT_TENANT, key
    if tenant == DEFAULT_TENANT:
        raise ValueError(f"partition key {key!r}: the default tenant's waves carry no tenant prefix")
    partition_key(tenant, wave)  # validates both halves
    return tenant, wave
