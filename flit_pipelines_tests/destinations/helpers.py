"""Setup shared by the destination client tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest


def sandbox_factory(running: Callable[..., AbstractContextManager[str]], *, token: str, suffix: str = ".db"):
    """A function-scoped fixture ``sandbox``: ``sandbox(**settings) -> base_url`` starts one more sandbox
    (``running(<tmp>/state<n><suffix>, token=token, **settings)``); every one started stops at test end.

    Bind it at module level: ``sandbox = sandbox_factory(running_sandbox, token=TOKEN)``.
    """

    @pytest.fixture
    def sandbox(tmp_path: Path) -> Iterator[Callable[..., str]]:
        with ExitStack() as stack:
            started: list[str] = []

            def start(**settings) -> str:
                url = stack.enter_context(running(tmp_path / f"state{len(started)}{suffix}", token=token, **settings))
                started.append(url)
                return url

            yield start

    return sandbox
