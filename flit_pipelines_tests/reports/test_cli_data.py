"""Commands that find no data say what to run first and create nothing; ``--demo`` reads the demo's data;
``scripts/dev`` runs the README's commands (flit, dagster) from .venv in a fresh shell."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flit_pipelines import data_dirs
from flit_pipelines.cli import main
from flit_pipelines.runtime import PROJECT_ROOT

M = "clinic_to_pipedrive"


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """An empty data directory and no demo data: nothing has run."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FLIT_DATA_DIR", str(data))
    monkeypatch.delenv("FLIT_LEDGER_URL", raising=False)
    monkeypatch.delenv("FLIT_SPEC_DIR", raising=False)
    monkeypatch.setenv("FLIT_COMMAND", "./scripts/dev flit")
    monkeypatch.setattr(data_dirs, "DEMO_DATA_DIR", tmp_path / "no-demo")
    return tmp_path


@pytest.mark.parametrize("argv", [["report", M, "--wave", "full"], ["report", M, "--json"], ["phi", "list", M],
                                  ["rollback", M], ["delta", M, "--dry-run"]])
def test_a_command_without_data_exits_1_with_what_to_run_and_creates_nothing(empty_env, capsys, argv):
    before = tree(empty_env)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"No data for {M}" in err and str(empty_env / "data") in err
    assert f"Run `./scripts/dev flit run {M} --wave " in err
    assert tree(empty_env) == before  # no ledger.db, no reports folder


def test_demo_flag_without_a_demo_says_to_run_the_demo(empty_env, capsys):
    assert main(["report", M, "--demo"]) == 1
    assert "run `./scripts/dev demo` first" in capsys.readouterr().err
    assert tree(empty_env) == ["data"]


def test_an_unknown_migration_is_named_with_the_known_ones(empty_env, capsys):
    assert main(["report", "no_such_migration"]) == 2
    err = capsys.readouterr().err
    assert "no migration 'no_such_migration'" in err and M in err


def test_demo_data_is_found_with_demo_and_suggested_without(empty_env, capsys, monkeypatch):
    demo = empty_env / "demo"
    (demo / "reports" / M / "full").mkdir(parents=True)
    (demo / "ledger.db").touch()
    monkeypatch.setattr(data_dirs, "DEMO_DATA_DIR", demo)
    assert main(["report", M, "--wave", "full"]) == 1  # the default data dir is still empty ...
    assert "add --demo to read the demo's data" in capsys.readouterr().err  # ... and says where the data is
    assert main(["report", M, "--wave", "sample", "--demo"]) == 1  # the demo ran no sample wave here
    assert "The demo has no data for clinic_to_pipedrive wave sample" in capsys.readouterr().err
    assert "(waves with data: full)" in data_dirs.missing_data(M, "sample")
    assert os.environ["FLIT_DATA_DIR"] == str(demo)


def _fake_checkout(tmp_path: Path) -> Path:
    """scripts/dev in a copy of the repository layout whose .venv holds stand-ins for flit and dagster
    that print their arguments and environment (the set-up step sees an up-to-date .venv)."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "sandboxes").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "dev", root / "scripts" / "dev")
    for f in ("pyproject.toml", "constraints.txt"):
        shutil.copy(PROJECT_ROOT / f, root / f)
    shutil.copy(PROJECT_ROOT / "sandboxes" / "pyproject.toml", root / "sandboxes" / "pyproject.toml")
    bin_ = root / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for tool in ("flit", "dagster", "pytest", "python"):
        (bin_ / tool).write_text(f'#!/bin/sh\necho "{tool} $* | home=$DAGSTER_HOME | cmd=$FLIT_COMMAND"\n')
        (bin_ / tool).chmod(0o755)
    stamp = root / ".venv" / ".flit-installed"
    stamp.touch()
    future = stamp.stat().st_mtime + 60
    os.utime(stamp, (future, future))
    return root


def test_scripts_dev_runs_the_readme_commands_from_the_venv(tmp_path):
    root = _fake_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FLIT_COMMAND")}

    def dev(*args: str) -> str:
        res = subprocess.run([str(root / "scripts" / "dev"), *args], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    assert dev("flit", "report", M, "--demo") == f"flit report {M} --demo | home= | cmd=./scripts/dev flit"
    assert dev("report", M) == f"flit report {M} | home= | cmd=./scripts/dev flit"
    assert dev("dagster", "dev", "-w", "workspace.yaml") == (
        f"dagster dev -w workspace.yaml | home={root}/dagster_home | cmd=./scripts/dev flit")
    assert dev("demo", "--only", M).startswith(f"flit demo --only {M} |")
    res = subprocess.run([str(root / "scripts" / "dev"), "dg", "dev"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode == 127 and "dg is not installed in .venv" in res.stderr
