"""Test tiers (unit / integration / e2e) assigned from what a test reaches, without marking every file.

A test's tier comes from the code it runs before any product call: its own body, the fixtures it requests
(transitively), and the helper functions of this test package they call, read as source text:

- ``e2e``: runs a Dagster job or a migration wave (``run_wave``, ``execute_in_process``, the CLI's
  ``run``/``rollback``/``delta`` commands, a ``DagsterInstance``);
- ``integration``: starts a sandbox HTTP server, a database (PostgreSQL, ODBC) or a subprocess, or loads a
  whole component (the CLI, the Dagster code location, the proposer's embedding model, the synthetic
  export builder);
- ``unit``: neither; pure functions on in-memory data and temporary files.

A test already carrying one of the three markers keeps it. ``pytest -m unit`` is the fast loop;
``pytest -m "not e2e"`` skips the full migrations.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable

import pytest

TIERS = ("unit", "integration", "e2e")

# Source fragments that mean a Dagster run (e2e) or an external server / database / process (integration).
E2E_SIGNS = ("run_wave(", "execute_in_process(", "materialize(", "DagsterInstance", "instance_for_test",
             'main(["run"', 'main(["rollback"', 'main(["delta"', 'main(["demo"', "run_delta(")
INTEGRATION_SIGNS = ("running_", "build_practice(", "create_engine(", "psycopg2", "pyodbc", "from_odbc(",
                     "subprocess.", "Popen(", "requests.", "serve_app(",
                     # whole components, seconds each: the CLI, the Dagster code location, the embedding model
                     "main([", "definitions import", "build_rollback_job(", "Adapter(", "meaning.",
                     # the synthetic clinic export builder: seconds of CPU per call
                     "build_clinic_export(")
# Only helpers of the test package are followed; product and sandbox code is judged by the call itself.
FOLLOWED_MODULE_PREFIX = "flit_pipelines_tests"


def _code_names(code: types.CodeType) -> set[str]:
    """Global names a code object and its nested functions / comprehensions refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


class TierClassifier:
    """Classifies test functions; caches the source-text scan of every function it reads."""

    def __init__(self) -> None:
        self._text: dict[Callable, str] = {}

    def _reachable_text(self, func: Callable, seen: set[int]) -> Iterable[str]:
        func = inspect.unwrap(getattr(func, "__func__", func))
        if id(func) in seen or not isinstance(func, types.FunctionType):
            return
        seen.add(id(func))
        if func not in self._text:
            try:
                self._text[func] = inspect.getsource(func)
            except (OSError, TypeError):
                self._text[func] = ""
        yield self._text[func]
        for name in _code_names(func.__code__):
            target = func.__globals__.get(name)
            if isinstance(target, types.FunctionType) and target.__module__.startswith(FOLLOWED_MODULE_PREFIX):
                yield from self._reachable_text(target, seen)

    def tier(self, item: pytest.Function) -> str:
        """``"unit"``, ``"integration"`` or ``"e2e"`` for a collected test function."""
        seen: set[int] = set()
        funcs = [item.obj]
        for defs in item._fixtureinfo.name2fixturedefs.values():  # the transitive fixture closure
            funcs.extend(d.func for d in defs)
        text = "\n".join(t for f in funcs for t in self._reachable_text(f, seen))
        if any(sign in text for sign in E2E_SIGNS):
            return "e2e"
        if any(sign in text for sign in INTEGRATION_SIGNS):
            return "integration"
        return "unit"


def assign_tiers(items: list[pytest.Item]) -> dict[str, int]:
    """Add a tier marker to every test lacking one; return the number of tests per tier."""
    classifier = TierClassifier()
    counts = dict.fromkeys(TIERS, 0)
    for item in items:
        given = [t for t in TIERS if item.get_closest_marker(t)]
        if given:
            tier = given[0]
        elif isinstance(item, pytest.Function):
            tier = classifier.tier(item)
            item.add_marker(getattr(pytest.mark, tier))
        else:
            tier = "integration"
            item.add_marker(pytest.mark.integration)
        counts[tier] += 1
    return counts
