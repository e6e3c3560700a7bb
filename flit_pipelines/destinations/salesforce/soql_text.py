"""SOQL string literals (SOQL and SOSL Reference, "Quoted String Escape Sequences": backslash and single quote
are escaped with a backslash)."""

from __future__ import annotations

from collections.abc import Iterable


def soql_list(values: Iterable[str]) -> str:
    """``'a', 'b\\'c'``: the values as comma-separated SOQL string literals (for ``IN (...)``)."""
    return ", ".join("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
