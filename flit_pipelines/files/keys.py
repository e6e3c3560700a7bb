"""A record's source key carried inside a file name or a part name, for destinations whose file
records take no custom field (HighLevel FILE_UPLOAD parts, Pipedrive file names; see each
destination's module docstring for where the key lives).

The key (``"<target>:<source id>"``, ``destinations.values.source_key``) is written as the hex of its
UTF-8 bytes: no ``_``, ``/``, ``\\`` or space, so it survives part-name splitting and file-name
sanitising, and it reads back exactly.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

__all__ = ["key_in_name", "key_of_token", "key_token", "name_with_key"]

_NAME_TOKEN = re.compile(r"__flit_([0-9a-f]+)(?=\.[^.]*$|$)")


def key_token(key: str) -> str:
    """``"documents:D1"`` -> ``"646f63756d656e74733a4431"`` (hex of the UTF-8 bytes)."""
    return key.encode("utf-8").hex()


def key_of_token(token: str) -> str | None:
    """The key a ``key_token`` encodes, or None when ``token`` is not one (not hex, not UTF-8, no ``:``)."""
    try:
        key = bytes.fromhex(token).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return key if ":" in key else None


def name_with_key(name: str, key: str) -> str:
    """``"scan.pdf"`` -> ``"scan__flit_<token>.pdf"``: the file name an upload carries so the record
    can be found by its key even when nothing else was written (a crash or a lost answer)."""
    p = PurePosixPath(name or "file")
    return f"{p.stem}__flit_{key_token(key)}{p.suffix}"


def key_in_name(name: str | None) -> str | None:
    """The key ``name_with_key`` put into ``name``, or None."""
    m = _NAME_TOKEN.search(str(name or ""))
    return key_of_token(m.group(1)) if m else None
