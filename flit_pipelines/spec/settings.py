"""Where a migration's connection settings come from, and errors that say how to supply a missing one.

Every source and destination setting is named by the spec as an environment variable
(``source.directory_env: CLINIC_EXPORT_DIR``), described in the spec's ``environment`` block. One
Dagster run may override a setting from the launchpad (``resources.flit.config.<migration>.<side>.
<field>``, see ``assets/connections.py``):

* a plain setting (a directory, a base URL, an account ID) by its value, field ``<role>`` (the spec
  attribute without ``_env``: ``directory``, ``api_base``, ``location_id``);
* a secret (``secret: true`` in ``environment``, or a token/key/secret role) only by the NAME of
  another environment variable, field ``<role>_env``: run config never holds a secret value.

A tenant (``flit_pipelines/tenants``: one practice's settings in ``<spec dir>/tenants/<migration>.yaml``)
gives the same fields. Precedence: the launchpad override, then the tenant's value, then the variable
the spec names. A secret field whose launchpad value is the spec's own variable (its default) is not an
override, so the tenant's variable name wins over it.

Values are never logged or put into an error message; messages name variables and fields only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flit_pipelines.errors import FlitError
from flit_pipelines.http.reach import UnreachableError, display_url, probe
from flit_pipelines.spec.model import MigrationSpec

__all__ = ["SECRET_ROLES", "URL_ROLES", "ConfigurationError", "UnreachableError", "ConnectionSettings", "Setting",
           "launchpad_path", "settings_of"]

# roles that carry credentials even where a spec forgot ``secret: true``
SECRET_ROLES = frozenset({"api_token", "api_key", "client_secret", "token", "odbc", "url"})
# roles whose value is a base URL a run connects to (probed by ``check_reachable``)
URL_ROLES = frozenset({"api_base", "base_url", "token_url"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_START = "before starting `dg dev` or the flit command"


class ConfigurationError(FlitError, RuntimeError):
    """A required setting is missing. The message names the environment variable, what it holds and
    the launchpad field that sets it for one run; never a value."""


@dataclass(frozen=True)
class Setting:
    """One connection setting a spec names.

    Attributes:
        role: the spec attribute without ``_env`` (``directory``, ``api_token``); the launchpad field is
            ``role`` for a plain setting, ``<role>_env`` for a secret.
        env: the environment variable the spec names (``CLINIC_EXPORT_DIR``).
        meaning: what it holds, from the spec's ``environment`` block ("" when undescribed).
        secret: True when only an environment variable NAME may be given in run config.
    """

    role: str
    env: str
    meaning: str
    secret: bool

    @property
    def field(self) -> str:
        """The launchpad field of this setting (``directory`` / ``api_token_env``)."""
        return f"{self.role}_env" if self.secret else self.role


def launchpad_path(migration: str, side: str, field_name: str) -> str:
    """``resources.flit.config.<migration>.<side>.<field>``: where the launchpad sets it for one run."""
    return f"resources.flit.config.{migration}.{side}.{field_name}"


def settings_of(spec: MigrationSpec, side: str) -> list[Setting]:
    """The settings the spec's ``source`` or ``destination`` block names, in declaration order."""
    block = spec.source if side == "source" else spec.destination
    out = []
    for attr in type(block).model_fields:
        env = getattr(block, attr) if attr.endswith("_env") else None
        if not env:
            continue
        role = attr[: -len("_env")]
        doc = spec.environment.get(env)
        out.append(Setting(role=role, env=env, meaning=(doc.description.rstrip(".") if doc else ""),
                           secret=bool(doc and doc.secret) or role in SECRET_ROLES))
    return out


@dataclass(frozen=True)
class ConnectionSettings:
    """The settings of one side (``source`` / ``destination``) of a migration for one run.

    ``overrides`` maps launchpad fields to what the run config gave (None or "" = not given).
    ``environ`` defaults to ``os.environ`` (read when a setting is asked for, never earlier).
    ``tenant`` maps launchpad fields to a tenant's values (plain) or variable names (secrets), below the
    overrides and above the spec's variables; ``tenant_label`` names it in messages (``tenant riverside
    (<file>)``).
    """

    migration: str
    side: str
    settings: tuple[Setting, ...]
    overrides: Mapping[str, str | None] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    tenant: Mapping[str, str] = field(default_factory=dict)
    tenant_label: str = ""

    @classmethod
    def of(cls, spec: MigrationSpec, side: str, overrides: Mapping[str, str | None] | None = None,
           environ: Mapping[str, str] | None = None, tenant: Mapping[str, str] | None = None,
           tenant_label: str = "") -> "ConnectionSettings":
        """The settings of ``spec``'s ``side``, with the run's launchpad ``overrides`` and the ``tenant``'s
        values if any."""
        return cls(spec.migration, side, tuple(settings_of(spec, side)), dict(overrides or {}), environ,
                   dict(tenant or {}), tenant_label)

    def _given(self, s: Setting | None) -> str | None:
        """What the launchpad, else the tenant, gives for ``s`` (a value, or a variable name for a secret)."""
        return self._origin(s)[0]

    def _origin(self, s: Setting | None) -> tuple[str | None, str]:
        """``(given, "launchpad" | "tenant" | "")``: what is given for ``s`` and where it comes from."""
        if s is None:
            return None, ""
        given = self.overrides.get(s.field)
        if s.secret and given == s.env:  # the launchpad's default for a secret field: not an override
            given = None
        if given:
            return given, "launchpad"
        if self.tenant.get(s.field):
            return self.tenant[s.field], "tenant"
        return None, ""

    def _env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    def _setting(self, env: str) -> Setting | None:
        return next((s for s in self.settings if s.env == env), None)

    def get(self, env: str | None) -> str | None:
        """The value of the setting the spec names ``env``: the launchpad override, else the variable;
        None when neither is set (or ``env`` is None)."""
        if not env:
            return None
        s = self._setting(env)
        given = self._given(s)
        if s is not None and given:
            return (self._env().get(given) or None) if s.secret else given
        return self._env().get(env) or None

    def require(self, env: str) -> str:
        """The value of the setting named ``env``. Raises ConfigurationError saying what it is and how to
        set it (the variable, or the launchpad field) when it is missing."""
        value = self.get(env)
        if value:
            return value
        raise ConfigurationError(self.missing(env))

    def missing(self, env: str) -> str:
        """The sentence for a missing setting ``env``: what it holds, the variable and the launchpad field."""
        s = self._setting(env)
        if s is None:
            return f"environment variable {env} is not set: set it {_START}"
        path = launchpad_path(self.migration, self.side, s.field)
        what = f" What it is: {s.meaning}." if s.meaning else ""
        head = f"{self.migration} {self.side}:"
        given, origin = self._origin(s)
        if s.secret and given and given != env and origin == "tenant":
            return (f"{head} environment variable {given}, named in {s.field} of {self.tenant_label}, is not set."
                    f"{what} Set {given} {_START}.")
        if s.secret and given and given != env:
            if not _ENV_NAME.match(given):  # a pasted secret: never echo it
                return (f"{head} the launchpad field {path} must hold the NAME of an environment variable, not "
                        f"the value itself.{what} Put the value in an environment variable {_START} and its "
                        f"name in the field, or clear the field to use {env}.")
            return (f"{head} environment variable {given}, named in the launchpad field {path}, is not set.{what} "
                    f"Set {given} {_START}, or clear the field to use {env}.")
        if s.secret:
            how = (f"for one run, put the NAME of another environment variable holding it in the Dagster "
                   f"launchpad field {path} (never the value)")
        else:
            how = f"for one run, set the Dagster launchpad field {path}"
        return (f"{head} {env} is not set.{what} How to set it: the environment variable {env} {_START}, or, "
                f"{how}.")

    def require_any(self, envs: list[str]) -> tuple[str, str]:
        """``(env, value)`` of the first of ``envs`` that is set. Raises ConfigurationError naming every one
        of them, with what each holds and its launchpad field, when none is."""
        for env in envs:
            if value := self.get(env):
                return env, value
        parts = []
        for env in envs:
            s = self._setting(env)
            parts.append(f"{env}" + (f" ({s.meaning}; launchpad field "
                                     f"{launchpad_path(self.migration, self.side, s.field)})" if s else ""))
        raise ConfigurationError(f"{self.migration} {self.side}: none of its settings is set. Set one of the "
                                 f"environment variables {_START}, or its launchpad field for one run: "
                                 f"{'; '.join(parts)}.")

    def check_reachable(self, command: str = "flit") -> list[str]:
        """Probe every URL setting that is set (``http.reach.probe``: one TCP connection, no request).

        Returns one line per URL (``"<env>: <scheme://host:port> reachable"``). Raises UnreachableError
        for the first that is not: the message names the URL (host and port only), why, the variable
        and launchpad field that hold it, and the check to run (``<command> check <migration>``)."""
        lines = []
        for s in self.settings:
            url = self.get(s.env) if s.role in URL_ROLES else None
            if not url:
                continue
            shown = display_url(url)
            why = probe(url)
            if why is not None:
                raise UnreachableError(
                    f"{self.migration} {self.side}: {shown} cannot be reached: {why}. It is {s.env}"
                    f"{f' ({s.meaning})' if s.meaning else ''}, or the launchpad field "
                    f"{launchpad_path(self.migration, self.side, s.field)} for one run. Check the URL and that "
                    f"the service is up, then run `{command} check {self.migration}` to test every connection "
                    f"of this migration.")
            lines.append(f"{s.env}: {shown} reachable")
        return lines
