"""Loading and validating tenants files (``<spec dir>/tenants/<migration>.yaml``, see ``model.py``).

Validation (pydantic, when the file is loaded): the ``migration`` names a spec and matches the file name;
tenant names are legal (``keys.TENANT_NAME``); every field is one the spec's settings have
(``spec.settings.settings_of``: ``<role>`` plain, ``<role>_env`` secret); a secret field holds a variable
NAME, and no field holds what looks like a pasted credential. Every error names the file and the line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import yaml

from flit_pipelines.spec.load import spec_dir
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.spec.settings import settings_of
from flit_pipelines.tenants.keys import DEFAULT_TENANT, check_tenant_name
from flit_pipelines.tenants.model import Tenant, TenantError, pasted_secret_reason, secret_name_problem

__all__ = ["TENANTS_DIR_NAME", "get_tenant", "load_tenants", "tenant_names", "tenants_file", "unknown_tenant_files"]

TENANTS_DIR_NAME = "tenants"


def tenants_file(migration: str, specs: str | Path | None = None) -> Path:
    """``<spec dir>/tenants/<migration>.yaml`` (the spec dir: ``FLIT_SPEC_DIR`` or ``mapping_specs/``)."""
    return Path(specs or spec_dir()) / TENANTS_DIR_NAME / f"{migration}.yaml"


def _line_of(node: yaml.Node | None, path: tuple) -> int | None:
    """1-based line of the YAML node at ``path`` (mapping keys), or of the deepest node found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            break
        hit = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        if hit is None:
            break
        line, node = hit[0].start_mark.line + 1, hit[1]
    return line


def _side_model(spec: MigrationSpec, side: str) -> type[pydantic.BaseModel]:
    """The pydantic model of one side's block: the spec's launchpad fields, every one optional."""
    fields: dict = {}
    for s in settings_of(spec, side):
        fields[s.field] = (str | None, None)
    model = pydantic.create_model(f"Tenant{side.capitalize()}Settings",
                                  __config__=pydantic.ConfigDict(extra="forbid", strict=True), **fields)
    return model


def _check_values(spec: MigrationSpec, side: str, block: dict, where) -> None:
    secret_fields = {s.field for s in settings_of(spec, side) if s.secret}
    for name, value in block.items():
        if value is None:
            continue
        if name in secret_fields:
            why = secret_name_problem(value)
        else:
            why = pasted_secret_reason(value)
            why = f"{why}; put the value in an environment variable and its NAME in a *_env field" if why else None
        if why:
            raise TenantError(f"{where((side, name))}: {side}.{name} is rejected: {why} (the value is not shown)")


def _parse(path: Path, spec: MigrationSpec) -> dict[str, Tenant]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TenantError(f"{path}: not valid YAML: {exc}") from None

    def where(tail: tuple, prefix: tuple = ()) -> str:
        return f"{path}:{_line_of(root, prefix + tail) or 1}"

    if not isinstance(raw, dict) or set(raw) - {"migration", "tenants"} or not isinstance(raw.get("tenants"), dict):
        raise TenantError(f"{path}:1: a tenants file holds `migration: <name>` and a `tenants:` mapping "
                          f"(tenant name -> source, destination, description)")
    if raw.get("migration") != spec.migration:
        raise TenantError(f"{where(('migration',))}: migration must be {spec.migration!r} (the file name)")
    sides = {side: _side_model(spec, side) for side in ("source", "destination")}
    tenants: dict[str, Tenant] = {}
    for name, body in raw["tenants"].items():
        at = ("tenants", name)
        try:
            check_tenant_name(str(name))
        except ValueError as exc:
            raise TenantError(f"{where(at)}: {exc}") from None
        body = body or {}
        extra = set(body) - {"source", "destination", "description"} if isinstance(body, dict) else {"?"}
        if extra:
            raise TenantError(f"{where(at)}: tenant {name}: unknown keys {sorted(map(str, extra))}; "
                              "a tenant has source, destination and description")
        blocks = {}
        for side, model in sides.items():
            block = body.get(side) or {}
            try:
                blocks[side] = model.model_validate(block).model_dump(exclude_none=True)
            except pydantic.ValidationError as exc:
                err = exc.errors()[0]
                loc = err["loc"][0] if err["loc"] else ""
                known = ", ".join(model.model_fields) or "none"
                hint = ""
                if err["type"] == "extra_forbidden":
                    what = f"unknown setting {loc!r} of {spec.migration}'s {side} (its settings: {known})"
                    if f"{loc}_env" in model.model_fields:
                        hint = f"; {loc} is a secret: give the NAME of an environment variable in {loc}_env"
                else:
                    what = f"{side}.{loc}: {err['msg'].lower()}"
                raise TenantError(f"{where((side, loc) if loc else (side,), at)}: tenant {name}: {what}{hint}") \
                    from None
            _check_values(spec, side, blocks[side], lambda tail, _at=at: where(tail, _at))
        description = body.get("description") or ""
        tenants[str(name)] = Tenant(name=str(name), migration=spec.migration, source=blocks["source"],
                                    destination=blocks["destination"], description=str(description), file=path)
    return tenants


_CACHE: dict[tuple[str, int, str], dict[str, Tenant]] = {}  # a step reads its tenant often; parse once per edit


def _cached(path: str, mtime_ns: int, spec: MigrationSpec) -> dict[str, Tenant]:
    key = (path, mtime_ns, spec.migration)
    if key not in _CACHE:
        _CACHE[key] = _parse(Path(path), spec)
    return _CACHE[key]


def load_tenants(spec: MigrationSpec, specs: str | Path | None = None) -> dict[str, Tenant]:
    """Every tenant of ``spec``'s migration, the default tenant first (implicit, reading the variables the
    spec names, unless the file declares ``default`` itself).

    Raises TenantError (file and line) for a malformed file, an unknown setting, a secret given by value."""
    path = tenants_file(spec.migration, specs)
    declared = _cached(str(path), os.stat(path).st_mtime_ns, spec) if path.is_file() else {}
    return {DEFAULT_TENANT: declared.get(DEFAULT_TENANT) or Tenant(DEFAULT_TENANT, spec.migration),
            **{k: v for k, v in declared.items() if k != DEFAULT_TENANT}}


def get_tenant(spec: MigrationSpec, tenant: str, specs: str | Path | None = None) -> Tenant:
    """The tenant ``tenant`` of ``spec``. Raises TenantError naming the file and the tenants it declares
    when there is no such tenant."""
    tenants = load_tenants(spec, specs)
    if tenant not in tenants:
        raise TenantError(f"{spec.migration} has no tenant {tenant!r}: tenants are declared in "
                          f"{tenants_file(spec.migration, specs)} (declared: {', '.join(tenants)})")
    return tenants[tenant]


def tenant_names(spec: MigrationSpec, specs: str | Path | None = None) -> list[str]:
    """Names of ``spec``'s tenants, the default tenant first."""
    return list(load_tenants(spec, specs))


def unknown_tenant_files(known_migrations, specs: str | Path | None = None) -> list[str]:
    """One error line per tenants file whose name is no known migration (``<file>: no migration ...``)."""
    folder = Path(specs or spec_dir()) / TENANTS_DIR_NAME
    if not folder.is_dir():
        return []
    return [f"{p}: no migration {p.stem!r} (known: {', '.join(sorted(known_migrations))}); a tenants file is "
            f"named after the migration it configures" for p in sorted(folder.glob("*.yaml"))
            if p.stem not in set(known_migrations)]
