"""Edits of spec YAML text in tests that fail loudly when the text to replace is not there.

``str.replace`` silently returns the text unchanged when ``old`` is absent, so a test editing a spec whose
wording has moved on would go on testing the unedited spec. These helpers assert the edit happened exactly
once instead.
"""

from __future__ import annotations

from pathlib import Path


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with its single occurrence of ``old`` replaced by ``new``.

    Raises:
        AssertionError: ``old`` occurs zero times or more than once in ``text`` (the message gives the count
            and ``old``, which is spec text, never patient data).
    """
    found = text.count(old)
    assert found == 1, f"spec edit expected exactly one {old!r}, found {found}"
    return text.replace(old, new, 1)


def edit_spec_file(path: Path, old: str, new: str, *, source: Path | None = None) -> Path:
    """Write ``replace_once(source or path text, old, new)`` to ``path``; return ``path``.

    ``source`` lets a test read a committed spec and write the edited copy elsewhere (e.g. ``tmp_path``).

    Raises:
        AssertionError: as ``replace_once``.
    """
    path.write_text(replace_once((source or path).read_text(), old, new))
    return path
