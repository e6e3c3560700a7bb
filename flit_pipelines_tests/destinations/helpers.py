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


# Document paths a source can name that must never be read or uploaded (issue 9 item 5): name -> path
# as it appears in the export, created under ``root`` (the files root) and ``root.parent`` by
# ``hostile_documents``. Values of ``HOSTILE_REASONS`` are the flag reasons (flit_pipelines.files).
HOSTILE_REASONS = {
    "passwd": "document path points outside the export's files folder",
    "traversal": "document path points outside the export's files folder",
    "symlink": "document path points outside the export's files folder",
    "device": "document path points outside the export's files folder",
    "fifo": "document path is not a regular file (a folder, device or pipe)",
    "directory": "document path is not a regular file (a folder, device or pipe)",
    "missing": "document file not found in the export",
    "oversize": "file over size limit (4096 > 2048 bytes)",
}
SECRET = b"secret outside the export\n"


def hostile_documents(root: Path) -> dict[str, str]:
    """Create the good file ``docs/good.pdf`` and every hostile case of ``HOSTILE_REASONS`` under
    ``root``; returns name -> path (``good`` included). ``root.parent / "outside/secret.pdf"`` holds
    ``SECRET`` (the symbolic link's target); ``oversize`` is 4096 bytes (use a 2048-byte limit)."""
    import os

    (root / "docs" / "folder.pdf").mkdir(parents=True)
    (root / "docs" / "good.pdf").write_bytes(b"%PDF-1.4 good document\n")
    (root / "docs" / "big.pdf").write_bytes(b"B" * 4096)
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(SECRET)
    (root / "docs" / "escape.pdf").symlink_to(outside / "secret.pdf")
    os.mkfifo(root / "docs" / "pipe.pdf")
    return {"good": "docs/good.pdf", "passwd": "/etc/passwd", "traversal": "../../../../../../etc/hostname",
            "symlink": "docs/escape.pdf", "device": "/dev/zero", "fifo": "docs/pipe.pdf",
            "directory": "docs/folder.pdf", "missing": "docs/none.pdf", "oversize": "docs/big.pdf"}
