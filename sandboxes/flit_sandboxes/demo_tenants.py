"""``flit demo --tenants N``: N practices of one migration at once, each with its own source and account.

For ``clinic_to_pipedrive`` (the default; the one migration this demo builds practices for today): N
clinic exports of different sizes and seeds (``clinic_export.build_clinic_export``), N Pipedrive sandbox
processes (one company account each), a tenants file naming them (``<specs>/tenants/<migration>.yaml``,
each tenant's token by the NAME of its own variable), and N ``flit run --tenant practice-<i> --wave full``
processes started together on one Dagster instance. Different accounts load in parallel; each tenant's
data lands under ``<data>/tenants/<tenant>/``. Prints one summary line per tenant (records created,
checks, its account tag, seconds) and returns 1 when any run or check failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from flit_pipelines.cli import report
from flit_pipelines.data_dirs import DEMO_DATA_DIR
from flit_pipelines.runtime import command_prefix
from flit_pipelines.spec import load_all_specs
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, tenant_run_tags
from flit_sandboxes.clinic_export import build_clinic_export
from flit_sandboxes.demo import DEMO_TOKEN, _create_stores, free_port, prepare_demo_env, sandbox_process

__all__ = ["TENANT_MIGRATIONS", "run_tenants_demo", "tenant_name"]

TENANT_MIGRATIONS = ("clinic_to_pipedrive",)
BASE_PATIENTS = 20  # practice i has BASE_PATIENTS + 10 * i patients: different sizes, different seeds


def tenant_name(i: int) -> str:
    """``practice-<i>`` (1-based)."""
    return f"practice-{i}"


def _tenants_yaml(migration: str, practices: list[tuple[str, Path, str]]) -> str:
    lines = [f"migration: {migration}", "tenants:"]
    for name, export, url in practices:
        token_env = f"{name.upper().replace('-', '_')}_PIPEDRIVE_TOKEN"
        lines += [f"  {name}:", f"    description: demo practice {name}", f"    source: {{directory: '{export}'}}",
                  f"    destination: {{api_base: '{url}', api_token_env: {token_env}}}"]
    return "\n".join(lines) + "\n"


def run_tenants_demo(n: int, *, migration: str = "clinic_to_pipedrive", data_dir: Path | None = None,
                     keep: bool = False) -> int:
    """Run ``n`` tenants of ``migration`` at once (see the module docstring); returns the exit code.
    Raises SystemExit for a migration this demo cannot build practices for, or ``n`` < 1."""
    if migration not in TENANT_MIGRATIONS:
        raise SystemExit(f"flit demo --tenants: builds practices for {', '.join(TENANT_MIGRATIONS)} only "
                         f"(not {migration})")
    if n < 1:
        raise SystemExit("flit demo --tenants: N must be at least 1")
    data_dir = Path(data_dir or DEMO_DATA_DIR)
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    specs = prepare_demo_env(data_dir)
    _create_stores()
    with ExitStack() as stack:
        practices = []
        for i in range(1, n + 1):
            name = tenant_name(i)
            export = data_dir / "practices" / name
            build_clinic_export(export, patients=BASE_PATIENTS + 10 * i, seed=100 + i)
            url = stack.enter_context(sandbox_process("pipedrive", data_dir / f"pipedrive_{name}.db", free_port(),
                                                      "--token", DEMO_TOKEN))
            os.environ[f"{name.upper().replace('-', '_')}_PIPEDRIVE_TOKEN"] = DEMO_TOKEN
            practices.append((name, export, url))
        (specs / "tenants").mkdir(exist_ok=True)
        (specs / "tenants" / f"{migration}.yaml").write_text(_tenants_yaml(migration, practices), encoding="utf-8")
        print(f"running {n} practices of {migration} at once, each into its own Pipedrive sandbox; data in "
              f"{data_dir}; tenants file {specs / 'tenants' / f'{migration}.yaml'}", flush=True)
        procs = {}
        for name, _, _ in practices:
            cmd = [sys.executable, "-m", "flit_pipelines.cli", "run", migration, "--tenant", name, "--wave", "full",
                   "--log-level", "WARNING"]
            log = open(data_dir / f"run_{name}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
            procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log, time.monotonic())
        ok_all = True
        spec = load_all_specs()[migration]
        for name, (proc, log, t0) in procs.items():
            code = proc.wait()
            log.close()
            seconds = time.monotonic() - t0
            account = tenant_run_tags(spec, name)[DESTINATION_ACCOUNT_TAG]
            try:
                rep = report(migration, "full", name)
                created = sum(int(t.get("created") or 0) for t in rep["targets"].values())
                passed = bool(rep["all_checks_passed"]) and code == 0
                what = f"{created} records created, {'all checks passed' if passed else 'checks FAILED'}"
            except Exception as exc:  # no report: the run failed early; its log says why
                passed, what = False, f"FAILED before its report ({type(exc).__name__}); see run_{name}.log"
            ok_all = ok_all and passed
            print(f"  {migration} {name}: {what}; account {account}; {seconds:.0f} s", flush=True)
    print(f"{n} practices finished in {time.monotonic() - started:.1f} s: "
          f"{'all checks passed' if ok_all else 'FAILED'}; the campaign: `{command_prefix()} campaign status --demo`")
    return 0 if ok_all else 1
