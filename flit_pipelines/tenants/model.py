"""A tenant: one practice's connection settings for one migration, as its tenants file declares them.

``mapping_specs/tenants/<migration>.yaml`` (beside the specs; ``FLIT_SPEC_DIR/tenants/`` when that is set)::

    migration: clinic_to_pipedrive
    tenants:
      riverside:
        description: Riverside Family Clinic          # optional, for people
        source: {directory: /exports/riverside}        # a plain setting: its value
        destination:
          api_base: https://riverside.pipedrive.com
          api_token_env: RIVERSIDE_PIPEDRIVE_TOKEN     # a secret: only the NAME of an environment variable

Fields are the launchpad's (``spec.settings.Setting.field``): ``<role>`` for a plain setting,
``<role>_env`` for a secret. A setting left out is read from the variable the spec names, as for the
default tenant. Values never reach a log line or an error message; messages name files, lines and fields.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flit_pipelines.errors import FlitError

__all__ = ["Tenant", "TenantError", "pasted_secret_reason", "secret_name_problem"]

# what a file holds instead of a variable NAME: upper case, digits and '_' (the convention this project's
# specs and the README use); a lower-case or punctuated value is taken for a pasted credential
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# shapes of well-known credentials (JWT, bearer headers, vendor key prefixes, a password in a URL)
_SECRET_SHAPES = (
    (re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\."), "a JSON Web Token"),
    (re.compile(r"^(bearer|basic)\s", re.I), "an Authorization header"),
    (re.compile(r"^(sk|pk|rk)_(live|test)_|^(ghp|gho|xox[abp]|pit|pat)[-_]", re.I), "a vendor API key"),
    (re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.I), "a URL with a password in it"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
)
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9+/=_-]+$")


class TenantError(FlitError, ValueError):
    """A tenants file is malformed, or names no such tenant: the message names the file, the line and the
    field, never a value (so, as a FlitError, a step's guard shows it as it is)."""


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def pasted_secret_reason(value: str) -> str | None:
    """Why ``value`` looks like a credential pasted into a file (a JWT, an Authorization header, a vendor
    key prefix, a password in a URL, a private key, or 32+ random-looking characters), else None."""
    for pattern, what in _SECRET_SHAPES:
        if pattern.search(value):
            return f"it looks like {what}"
    looks_like_path = value.startswith(("/", "./", "../", "~")) or "://" in value or re.match(r"^[A-Za-z]:[\\/]", value)
    if not looks_like_path and len(value) >= 32 and _TOKEN_CHARS.match(value) and _entropy(value) >= 3.5:
        return "it looks like a generated token (32+ random-looking characters)"
    return None


def secret_name_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable as the NAME of the environment variable holding a secret, else None:
    names are upper case, digits and '_' (``RIVERSIDE_PIPEDRIVE_TOKEN``); anything else, or a name-shaped
    random string (20+ characters, letters and digits, no '_'), is taken for the secret itself."""
    if not _ENV_NAME.match(value):
        return "a secret field takes the NAME of an environment variable (A-Z, 0-9, '_'), not the value"
    if len(value) >= 20 and "_" not in value and re.search(r"\d", value) and re.search(r"[A-Z]", value):
        return "it looks like a generated token, not the name of an environment variable"
    return None


@dataclass(frozen=True)
class Tenant:
    """One tenant of one migration.

    Attributes:
        name: ``[a-z0-9_-]`` (``tenants.keys.TENANT_NAME``); ``default`` is the single-practice set-up.
        migration: the migration whose spec names the settings.
        source, destination: launchpad field -> value (plain) or environment variable name (``*_env``).
        description: for people ("" when none).
        file: the tenants file it came from (None for the implicit default tenant).
    """

    name: str
    migration: str
    source: dict[str, str] = field(default_factory=dict)
    destination: dict[str, str] = field(default_factory=dict)
    description: str = ""
    file: Path | None = None

    def values(self, side: str) -> dict[str, str]:
        """The ``source`` / ``destination`` fields this tenant sets (launchpad field -> value or name)."""
        return dict(self.source if side == "source" else self.destination)

    @property
    def label(self) -> str:
        """``tenant <name> (<file>)``: how messages name where a tenant's setting comes from."""
        return f"tenant {self.name}" + (f" ({self.file})" if self.file else "")
