"""What the CLI, the demo, the delta runner, the readers and the Dagster layer share about this process.

The project's root, the data directory (``$FLIT_DATA_DIR`` or ``<project>/data``), the Dagster instance
directory (``$DAGSTER_HOME``) and the way the user runs flit (``$FLIT_COMMAND``). This module imports
nothing of the project and nothing of Dagster, so every layer can import it at the top of the file:
sources, the map proposer and the error guard read the data directory and the command prefix from here,
not from the Dagster layer (``assets/``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_ROOT", "command_prefix", "default_dagster_home", "default_data_dir", "ensure_dagster_home"]

# the checkout (or the site-packages parent of an installed package): data/, dagster_home/, mapping_specs/
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> str:
    """``$FLIT_DATA_DIR`` or ``<project>/data``, as text: a local path or an fsspec URL (UPath reads both)."""
    return os.environ.get("FLIT_DATA_DIR") or str(PROJECT_ROOT / "data")


def command_prefix() -> str:
    """How the user runs flit: ``$FLIT_COMMAND`` (``scripts/dev`` sets ``./scripts/dev flit``), else ``flit``."""
    return os.environ.get("FLIT_COMMAND") or "flit"


def default_dagster_home() -> Path:
    """``dagster_home/`` (SQLite), or ``dagster_home/postgres/`` when ``DAGSTER_PG_URL`` is set."""
    base = PROJECT_ROOT / "dagster_home"
    return base / "postgres" if os.environ.get("DAGSTER_PG_URL") else base


def ensure_dagster_home() -> Path:
    """Point this process at a Dagster instance directory before ``DagsterInstance.get()``:
    ``$DAGSTER_HOME`` when set, else ``default_dagster_home()`` (written to ``$DAGSTER_HOME``).

    Dagster requires an absolute path, so the variable is rewritten resolved; the directory is created
    when missing. Returns the resolved directory."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(default_dagster_home())
        os.environ["DAGSTER_HOME"] = home
    path = Path(home).resolve()
    os.environ["DAGSTER_HOME"] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    return path
