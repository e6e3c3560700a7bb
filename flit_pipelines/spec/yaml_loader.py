"""The YAML loader of specs and catalogs (imports nothing of the project, so both can use it)."""

from __future__ import annotations

import yaml

__all__ = ["FAST_LOADER"]

# libyaml's safe loader when PyYAML was built with it (about 10x faster than the pure-Python one: every
# command loads and validates every spec), else the pure-Python safe loader; both build plain types.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
