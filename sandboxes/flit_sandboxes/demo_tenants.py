"""``flit demo --tenants N [--only MIGRATION ...]``: N practices of a migration at once, each with its own
source and account.

For each migration asked for (every migration of ``mapping_specs/`` has a practice builder,
``demo_tenant_practices.PRACTICES``): N practices built with different seeds and sizes (practice ``i`` has
``base_patients + 10 * i`` patients), each with its own source and its own destination sandbox process
(one Pipedrive company, HighLevel location or Salesforce org each; all of a practice under
``<data>/practices/<migration>/<tenant>/``), a tenants file naming them
(``<specs>/tenants/<migration>.yaml``, each secret by the NAME of a variable of its own,
``secret_env``), and N ``flit run --tenant practice-<i> --wave full`` processes started together on one
Dagster instance. Different accounts load in parallel; each tenant's data lands under
``<data>/tenants/<tenant>/``.

Several migrations given in ``--only`` run one after another (N runs at a time: on 2 cores, N practices
of five migrations at once would mostly wait for the CPU); without ``--only`` the demo runs the clinic
migration (``DEFAULT_MIGRATION``). Prints one summary line per tenant (records created, checks, its account
tag, seconds) and returns 1 when any run or check failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

from flit_pipelines.cli import report
from flit_pipelines.data_dirs import DEMO_DATA_DIR
from flit_pipelines.runtime import command_prefix
from flit_pipelines.spec import load_all_specs
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, tenant_run_tags
from flit_sandboxes.demo import _create_stores, prepare_demo_env, read_practicehub_at_demo_rate
from flit_sandboxes.demo_tenant_practices import PRACTICES, PracticeSetup

__all__ = ["DEFAULT_MIGRATION", "TENANT_MIGRATIONS", "practice_folder", "run_tenants_demo", "secret_env",
           "tenant_name"]

TENANT_MIGRATIONS = tuple(PRACTICES)
DEFAULT_MIGRATION = "clinic_to_pipedrive"
BASE_PATIENTS = 20  # practice i has BASE_PATIENTS + 10 * i patients: different sizes, different seeds


def tenant_name(i: int) -> str:
    """``practice-<i>`` (1-based)."""
    return f"practice-{i}"


def practice_folder(data_dir: Path, migration: str, tenant: str) -> Path:
    """``<data>/practices/<migration>/<tenant>/``: the practice's source and its sandboxes' state and logs."""
    return data_dir / "practices" / migration / tenant


def secret_env(tenant: str, side: str, field: str) -> str:
    """The variable holding ``tenant``'s secret ``side``.``field`` (a ``*_env`` field):
    ``PRACTICE_1_DESTINATION_API_TOKEN`` for (``practice-1``, ``destination``, ``api_token_env``)."""
    return f"{tenant}_{side}_{field.removesuffix('_env')}".upper().replace("-", "_")


def tenants_yaml(migration: str, practices: dict[str, PracticeSetup]) -> str:
    """The tenants file of ``migration`` for ``practices`` (tenant -> setup): plain settings by value,
    secrets by the name ``secret_env`` gives."""
    tenants = {}
    for name, setup in practices.items():
        sides: dict[str, dict[str, str]] = {"source": dict(setup.source), "destination": dict(setup.destination)}
        for side, field in setup.secrets:
            sides[side][field] = secret_env(name, side, field)
        tenants[name] = {"description": f"demo practice {name}", **{k: v for k, v in sides.items() if v}}
    return yaml.safe_dump({"migration": migration, "tenants": tenants}, sort_keys=False)


def _summary(migration: str, name: str, code: int, seconds: float) -> tuple[bool, str]:
    """(passed, the tenant's summary line) from its run's exit code and its full wave's report."""
    account = tenant_run_tags(load_all_specs()[migration], name)[DESTINATION_ACCOUNT_TAG]
    try:
        rep = report(migration, "full", name)
        created = sum(int(t.get("created") or 0) for t in rep["targets"].values())
        passed = bool(rep["all_checks_passed"]) and code == 0
        what = f"{created} records created, {'all checks passed' if passed else 'checks FAILED'}"
    except Exception as exc:  # no report: the run failed early; its log says why
        passed, what = False, f"FAILED before its report ({type(exc).__name__}); see run_{migration}_{name}.log"
    return passed, f"  {migration} {name}: {what}; account {account}; {seconds:.0f} s"


def _run_migration(n: int, migration: str, data_dir: Path, specs: Path, base_patients: int) -> bool:
    """N practices of ``migration``: build them, write the tenants file, run their full waves at once, print
    one line per tenant. True when every run and check passed."""
    with ExitStack() as stack:
        practices: dict[str, PracticeSetup] = {}
        for i in range(1, n + 1):
            name = tenant_name(i)
            folder = practice_folder(data_dir, migration, name)
            folder.mkdir(parents=True, exist_ok=True)
            practices[name] = setup = PRACTICES[migration](stack, folder, name, i, base_patients + 10 * i)
            os.environ.update(setup.env)
            for (side, field), value in setup.secrets.items():
                os.environ[secret_env(name, side, field)] = value
            print(f"  built {migration} {name}: {setup.what}", flush=True)
        tenants_file = specs / "tenants" / f"{migration}.yaml"
        tenants_file.parent.mkdir(exist_ok=True)
        tenants_file.write_text(tenants_yaml(migration, practices), encoding="utf-8")
        print(f"running {n} practices of {migration} at once, each into its own account; tenants file "
              f"{tenants_file}", flush=True)
        procs = {}
        for name in practices:
            cmd = [sys.executable, "-m", "flit_pipelines.cli", "run", migration, "--tenant", name, "--wave", "full",
                   "--log-level", "WARNING"]
            log = open(data_dir / f"run_{migration}_{name}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
            procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log, time.monotonic())
        ok_all = True
        for name, (proc, log, t0) in procs.items():
            code = proc.wait()
            log.close()
            passed, line = _summary(migration, name, code, time.monotonic() - t0)
            ok_all = ok_all and passed
            print(line, flush=True)
    return ok_all


def run_tenants_demo(n: int, *, migrations: tuple[str, ...] = (DEFAULT_MIGRATION,), data_dir: Path | None = None,
                     keep: bool = False, base_patients: int | None = None) -> int:
    """Run ``n`` tenants of each of ``migrations`` (one migration after another; see the module docstring);
    returns the exit code (0 when every run and check passed). ``base_patients``: practice ``i`` has
    ``base_patients + 10 * i`` patients (default ``BASE_PATIENTS``). Raises SystemExit for an unknown
    migration, or ``n`` < 1."""
    unknown = [m for m in migrations if m not in TENANT_MIGRATIONS]
    if unknown:
        raise SystemExit(f"flit demo --tenants: no demo practices for {', '.join(unknown)} "
                         f"(known: {', '.join(TENANT_MIGRATIONS)})")
    if n < 1:
        raise SystemExit("flit demo --tenants: N must be at least 1")
    data_dir = Path(data_dir or DEMO_DATA_DIR)
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    specs = prepare_demo_env(data_dir)
    if "practicehub_to_salesforce" in migrations:
        read_practicehub_at_demo_rate(specs)
    _create_stores()
    print(f"{n} practices of {', '.join(migrations)}; data in {data_dir}", flush=True)
    ok_all = True
    for migration in migrations:
        ok_all = _run_migration(n, migration, data_dir, specs, base_patients or BASE_PATIENTS) and ok_all
    print(f"{n} practices of {len(migrations)} migration(s) finished in {time.monotonic() - started:.1f} s: "
          f"{'all checks passed' if ok_all else 'FAILED'}; the campaign: `{command_prefix()} campaign status --demo`")
    return 0 if ok_all else 1
