"""Where a migration's data lives, and the sentence a command prints when there is none yet.

The data directory is ``$FLIT_DATA_DIR`` or ``<project>/data`` (``runtime.default_data_dir``);
the demo keeps its own under ``<project>/data/demo`` with approved spec copies in ``data/demo/specs``
(``flit ... --demo`` reads those). Read-only commands (``flit report``, ``flit phi``, ``flit
rollback``, ``flit delta``) check here first, so a command that finds no data exits with what to run
first and creates nothing (no data directory, no ledger file).
"""

from __future__ import annotations

import os
from pathlib import Path

from flit_pipelines.runtime import PROJECT_ROOT, command_prefix, default_data_dir
from flit_pipelines.tenants import DEFAULT_TENANT, tenant_data_dir

DEMO_DATA_DIR = PROJECT_ROOT / "data" / "demo"


def demo_command() -> str:
    """The demo command in the form the user runs flit: ``./scripts/dev demo`` or ``flit demo``."""
    flit = command_prefix()
    return flit.removesuffix(" flit") + " demo" if flit.endswith(" flit") else f"{flit} demo"


def use_demo_data() -> Path | None:
    """Point this process at the demo's data (``FLIT_DATA_DIR``) and approved spec copies
    (``FLIT_SPEC_DIR``); returns the demo's data directory, or None when the demo has not run (nothing
    is changed then)."""
    if not DEMO_DATA_DIR.is_dir():
        return None
    os.environ["FLIT_DATA_DIR"] = str(DEMO_DATA_DIR)
    if (DEMO_DATA_DIR / "specs").is_dir():
        os.environ["FLIT_SPEC_DIR"] = str(DEMO_DATA_DIR / "specs")
    return DEMO_DATA_DIR


def waves_with_data(migration: str, data_dir: Path | None = None, tenant: str = DEFAULT_TENANT) -> list[str]:
    """Waves of a migration that have run in ``data_dir`` (default: the current data directory) for
    ``tenant``: the names of ``<tenant data>/reports/<migration>/<wave>/`` folders, sorted (sample, full,
    delta-... order)."""
    base = tenant_data_dir(data_dir or default_data_dir(), tenant) / "reports" / migration
    if not base.is_dir():
        return []
    order = {"sample": 0, "full": 1}
    return sorted((p.name for p in base.iterdir() if p.is_dir() and p.name != "rollback"),  # rollback: not a wave
                  key=lambda w: (order.get(w, 2), w))


def ledger_present(data_dir: Path | None = None, tenant: str = DEFAULT_TENANT) -> bool:
    """True when the ledger exists: ``$FLIT_LEDGER_URL`` is set (a server database the set-up created),
    or the tenant's SQLite file ``<tenant data>/ledger.db`` exists."""
    return bool(os.environ.get("FLIT_LEDGER_URL")) or (
        tenant_data_dir(data_dir or default_data_dir(), tenant) / "ledger.db").exists()


def missing_data(migration: str, wave: str | None = None, *, demo: bool = False,
                 tenant: str = DEFAULT_TENANT) -> str | None:
    """None when the migration (and ``wave``, if given) has data; otherwise the sentence to print: which
    data directory was looked at, what to run first, and (when the demo's data has it) the ``--demo``
    form of the command."""
    data_dir = tenant_data_dir(default_data_dir(), tenant)
    have = waves_with_data(migration, tenant=tenant)
    if have and ledger_present(tenant=tenant) and (wave is None or wave in have):
        return None
    flit = command_prefix()
    what = f"{migration} wave {wave}" if wave else migration
    if tenant != DEFAULT_TENANT:
        return (f"No data for {what} of tenant {tenant} in {data_dir}"
                + (f" (waves with data: {', '.join(have)})." if have else ".")
                + f" Run `{flit} run {migration} --tenant {tenant} --wave {wave or 'sample'}` first.")
    if demo:
        return f"The demo has no data for {what} in {data_dir}: run `{demo_command()}` first."
    sentence = f"No data for {what} in {data_dir}"
    sentence += f" (waves with data: {', '.join(have)})." if have else "."
    sentence += f" Run `{flit} run {migration} --wave {wave or 'sample'}` first"
    demo_waves = waves_with_data(migration, DEMO_DATA_DIR)
    if (wave in demo_waves if wave else demo_waves) and data_dir.resolve() != DEMO_DATA_DIR.resolve():
        sentence += ", or add --demo to read the demo's data (data/demo)."
    else:
        sentence += "."
    return sentence


__all__ = ["DEMO_DATA_DIR", "demo_command", "ledger_present", "missing_data", "use_demo_data", "waves_with_data"]
