"""The delta-pickup sensor's cursor for every tenant of a migration: one ``DeltaCursor`` per tenant.

Dagster keeps one cursor text per sensor; the sensor of a migration serves all its tenants, so the text is
``{"tenants": {"<tenant>": <DeltaCursor as JSON object>, ...}}``. A cursor stored before tenants existed
is one ``DeltaCursor`` object (keys ``full_at``, ``since``, ...): it is read as the default tenant's, so
an upgraded deployment keeps its open window and never re-runs a delta it already ran.
"""

from __future__ import annotations

import json

from flit_pipelines.tenants import DEFAULT_TENANT

__all__ = ["TENANTS_KEY", "join_cursors", "split_cursor"]

TENANTS_KEY = "tenants"


def split_cursor(text: str | None) -> dict[str, str]:
    """Tenant -> that tenant's ``DeltaCursor`` text, from the sensor's cursor text (None or empty: no
    tenant has a cursor yet; a single-tenant cursor: the default tenant's). Raises ValueError for text that
    is not a JSON object."""
    if not text:
        return {}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("delta sensor cursor is not a JSON object")
    if set(data) == {TENANTS_KEY} and isinstance(data[TENANTS_KEY], dict):
        return {tenant: json.dumps(c, sort_keys=True) for tenant, c in data[TENANTS_KEY].items()}
    return {DEFAULT_TENANT: text}  # written before tenants: one DeltaCursor, the default tenant's


def join_cursors(cursors: dict[str, str | None]) -> str:
    """The sensor's cursor text for tenant -> ``DeltaCursor`` text (tenants without one are left out)."""
    return json.dumps({TENANTS_KEY: {t: json.loads(c) for t, c in sorted(cursors.items()) if c}}, sort_keys=True)
