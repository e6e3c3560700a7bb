"""Setup shared by the API reader tests and the PracticeHub sandbox tests.

* ``sandbox_fixtures``: the module-scoped ``state`` / ``db`` / ``sandbox`` trio over a seeded practice
  and a running sandbox; ``practicehub_fixtures`` is it for PracticeHub (``test_practicehub_api``,
  ``sandbox/test_practicehub_sandbox``).
* ``load_spec_objects``: a ``SPEC_OBJECTS.yaml`` block as ``SourceObject``s.
* ``text_frame``: the batches of one read as a DataFrame, after checking they are all text in spec order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from flit_sandboxes.practicehub import build_practicehub, running_sandbox
from flit_pipelines.spec.model import SourceObject


def sandbox_fixtures(build: Callable[[Path], object], serve: Callable[[Path], AbstractContextManager[str]], *,
                     directory: str, filename: str = "state.db") -> tuple[Any, Any, Any]:
    """Module-scoped fixtures ``state`` (a SQLite file ``build(path)`` seeds in a fresh ``directory``
    below pytest's temporary root), ``db`` (a connection to it) and ``sandbox`` (the URL ``serve(path)``
    yields while it runs).

    Bind them under these names at module level, where pytest finds them:
    ``state, db, sandbox = sandbox_fixtures(partial(build_x, seed=1), partial(running_sandbox, ...), directory="x")``.
    """

    @pytest.fixture(scope="module")
    def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp(directory) / filename
        build(path)
        return path

    @pytest.fixture(scope="module")
    def db(state: Path) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(state)) as conn:
            yield conn

    @pytest.fixture(scope="module")
    def sandbox(state: Path) -> Iterator[str]:
        with serve(state) as url:
            yield url

    return state, db, sandbox


def practicehub_fixtures(*, api_key: str, patients: int, seed: int, directory: str) -> tuple[Any, Any, Any]:
    """``sandbox_fixtures`` over a ``build_practicehub`` practice served with ``api_key``, not rate limited."""
    return sandbox_fixtures(partial(build_practicehub, patients=patients, seed=seed),
                            partial(running_sandbox, api_key=api_key, rate_per_second=10_000), directory=directory)


def load_spec_objects(path: Path) -> dict[str, SourceObject]:
    """``{object name: SourceObject}`` from a YAML mapping of spec source objects."""
    raw = yaml.safe_load(path.read_text())
    return {name: SourceObject.model_validate(body) for name, body in raw.items()}


def text_frame(batches: list[pa.RecordBatch], obj: SourceObject) -> pd.DataFrame:
    """The rows of ``batches`` (empty: no rows, the object's columns), asserting every batch has
    exactly the object's columns, in spec order, as ``pa.string()``."""
    for batch in batches:
        assert all(field.type == pa.string() for field in batch.schema)
        assert batch.schema.names == list(obj.columns)
    if not batches:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in obj.columns})
    return pa.Table.from_batches(batches).to_pandas()
