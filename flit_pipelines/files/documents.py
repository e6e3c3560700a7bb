"""Document files of a migration, resolved and read safely: the one place a document path is opened.

A document row (clinic export ``documents.csv``, Dentrix Document Center index, attachments an API
served and the extract staged) names a file by a path that comes from the source, i.e. from data
nobody on our side checked. ``/etc/passwd``, ``../../../../etc/hostname``, a symbolic link out of the
export, a FIFO, ``/dev/zero`` or a directory must never be read or uploaded as a patient's file, and
must never hang or stop a load. So every path goes through ``DocumentFiles``:

1. **resolve then contain**: the path (``\\`` read as ``/``; absolute or relative) is joined to the
   files root and resolved with every symbolic link followed (``os.path.realpath``); the result must
   lie strictly inside the resolved root, else ``OUTSIDE``;
2. **type before open**: ``os.stat`` of the resolved path must be a regular file (``NOT_REGULAR``
   for directories, FIFOs, sockets, devices): a FIFO is never opened, so it cannot block;
3. **size cap**: the stat size must not exceed the destination's limit (``too_large``);
4. **read with caps**: the file is opened ``O_RDONLY | O_NONBLOCK | O_NOFOLLOW``; ``fstat`` of the
   open descriptor must still be the regular file that was checked (same device and inode, else
   ``CHANGED``); it is read in chunks, never beyond the cap (a file that grew is ``too_large``), and
   the read stops with ``TIMED_OUT`` once ``read_timeout`` seconds (injectable clock) have passed
   between chunks. A single ``read`` blocked in the kernel (a hung network share) cannot be
   interrupted from Python; the chunked deadline bounds slow, trickling reads.

Reasons are customer-visible (quarantine rows, the migration report) and worded once, here; they name
no path, file name or value (patient data). Destinations may append their own remedy
(``flag_text``). Standards followed: CWE-22 (path traversal), CWE-59 (link following), CWE-400
(uncontrolled resource consumption); Python ``os.open`` flags per open(2).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CHANGED", "BoundedReader", "DocumentFile", "DocumentFiles", "FILE_PATH", "FileRejected", "NOT_FOUND",
           "NOT_REGULAR", "NO_ROOT", "OUTSIDE", "TIMED_OUT", "UNREADABLE", "flag_text", "too_large", "write_staged"]

FILE_PATH = "file_path"  # the one payload key naming a document's path (every destination, PHI review)

NOT_FOUND = "document file not found in the export"
NO_ROOT = "no documents folder is configured for this migration"
OUTSIDE = "document path points outside the export's files folder"
NOT_REGULAR = "document path is not a regular file (a folder, device or pipe)"
UNREADABLE = "document file could not be read"
CHANGED = "document file changed while it was read"
TIMED_OUT = "document file read timed out"

DEFAULT_READ_TIMEOUT_S = 120.0
CHUNK_BYTES = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def too_large(size: int, limit: int) -> str:
    """``"file over size limit (<size> > <limit> bytes)"`` (sizes in bytes)."""
    return f"file over size limit ({int(size)} > {int(limit)} bytes)"


def flag_text(reason: str, remedy: str | None = None) -> str:
    """The quarantine reason of a flagged document: ``reason`` or ``"<reason>: <remedy>"``."""
    return f"{reason}: {remedy}" if remedy else reason


class FileRejected(Exception):
    """A document cannot be read; ``reason`` is one of this module's customer-visible reasons."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DocumentFile:
    """One checked document path. ``reason`` is None when the file may be read; then ``path`` is the
    resolved path inside the files root, ``size`` its size in bytes and ``name`` its base name."""

    reason: str | None
    path: Path | None = None
    size: int | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the checked file

    @property
    def ok(self) -> bool:
        """True when the file passed every check."""
        return self.reason is None

    @property
    def name(self) -> str | None:
        """The resolved file's base name (None when the check failed)."""
        return self.path.name if self.path is not None else None


def _text(rel: Any) -> str | None:
    if rel is None:
        return None
    try:
        if pd.isna(rel):
            return None
    except (TypeError, ValueError):
        pass
    text = str(rel).strip()
    return text.replace("\\", "/") if text else None


class DocumentFiles:
    """Resolves, checks and reads the document files under one files root.

    Args:
        root: the export's (or staging) files folder; None: no documents are reachable (``NO_ROOT``).
        size_limit: the largest file in bytes a caller may read (the destination's upload limit);
            None: no limit.
        read_timeout: seconds a read may take (checked between chunks of ``chunk_bytes``).
        clock: monotonic clock in seconds (tests inject one).
    """

    def __init__(self, root: str | Path | None, *, size_limit: int | None = None,
                 read_timeout: float = DEFAULT_READ_TIMEOUT_S, clock: Callable[[], float] = time.monotonic,
                 chunk_bytes: int = CHUNK_BYTES):
        self.root = Path(os.path.realpath(root)) if root is not None else None
        self.size_limit = None if size_limit is None else int(size_limit)
        self.read_timeout = float(read_timeout)
        self.clock = clock
        self.chunk_bytes = max(1, int(chunk_bytes))

    def __repr__(self) -> str:
        return f"DocumentFiles(root={'set' if self.root else None}, size_limit={self.size_limit})"

    # -- resolve and check ----------------------------------------------------------------------
    def resolve(self, rel: Any) -> Path:
        """The real path ``rel`` names inside the root (it need not exist: staging writes there).

        Raises FileRejected: ``NOT_FOUND`` (empty path), ``NO_ROOT``, ``OUTSIDE`` (traversal,
        an absolute path elsewhere, a symbolic link leading out, or the root itself)."""
        text = _text(rel)
        if text is None:
            raise FileRejected(NOT_FOUND)
        if self.root is None:
            raise FileRejected(NO_ROOT)
        try:
            real = os.path.realpath(os.path.join(self.root, text))
        except (ValueError, OSError):  # an embedded NUL byte, a symlink loop
            raise FileRejected(NOT_FOUND) from None
        root = str(self.root)
        if real == root or os.path.commonpath([root, real]) != root:
            raise FileRejected(OUTSIDE)
        return Path(real)

    def check(self, rel: Any) -> DocumentFile:
        """Resolve ``rel`` and check it is a regular file within ``size_limit`` (``os.stat``, never
        an open). Returns a DocumentFile whose ``reason`` says why not, or None."""
        return self._check(rel, self.size_limit)

    def _check(self, rel: Any, limit: int | None) -> DocumentFile:
        try:
            path = self.resolve(rel)
        except FileRejected as exc:
            return DocumentFile(exc.reason)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return DocumentFile(NOT_FOUND)
        except OSError:
            return DocumentFile(UNREADABLE)
        if not stat.S_ISREG(st.st_mode):
            return DocumentFile(NOT_REGULAR)
        if limit is not None and st.st_size > limit:
            return DocumentFile(too_large(st.st_size, limit), size=int(st.st_size))
        return DocumentFile(None, path, int(st.st_size), (st.st_dev, st.st_ino))

    # -- read -----------------------------------------------------------------------------------
    def _open(self, doc: DocumentFile) -> int:
        if not doc.ok or doc.path is None:
            raise FileRejected(doc.reason or NOT_FOUND)
        try:
            fd = os.open(doc.path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise FileRejected(NOT_FOUND) from None
        except OSError:  # ELOOP: the path became a symbolic link after the check
            raise FileRejected(CHANGED) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != doc.identity:
            os.close(fd)
            raise FileRejected(CHANGED)
        return fd

    def read(self, doc: DocumentFile | Any, *, limit: int | None = None, truncate: bool = False) -> bytes:
        """The bytes of a checked document (a DocumentFile, or a path that is checked first).

        ``limit`` (default ``size_limit``): at most this many bytes; a file longer than that raises
        ``too_large`` unless ``truncate`` (then its first ``limit`` bytes are returned).

        Raises FileRejected with the reason (check failures, ``CHANGED``, ``TIMED_OUT``,
        ``UNREADABLE``, ``too_large``)."""
        if not isinstance(doc, DocumentFile):
            doc = self.check(doc)
        cap = self.size_limit if limit is None else int(limit)
        fd = self._open(doc)
        try:
            with os.fdopen(fd, "rb", buffering=0, closefd=True) as fh:
                return self._read_capped(fh, cap, truncate)
        except OSError:
            raise FileRejected(UNREADABLE) from None

    def _read_capped(self, fh: Any, cap: int | None, truncate: bool) -> bytes:
        deadline = self.clock() + self.read_timeout
        parts: list[bytes] = []
        total = 0
        while True:
            want = self.chunk_bytes if cap is None else min(self.chunk_bytes, cap - total + (0 if truncate else 1))
            if want <= 0:
                break
            chunk = fh.read(want)
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if cap is not None and total > cap:
                raise FileRejected(too_large(total, cap))
            if self.clock() > deadline:
                raise FileRejected(TIMED_OUT)
        return b"".join(parts)

    def read_prefix(self, rel: Any, limit: int) -> bytes | None:
        """The first ``limit`` bytes of the document ``rel`` names (any size), or None when it cannot
        be read for any reason (the load flags it). For detectors that look at the start of a file."""
        checked = self._check(rel, None)
        if not checked.ok:
            return None
        try:
            return self.read(checked, limit=limit, truncate=True)
        except FileRejected:
            return None

    def open_stream(self, doc: DocumentFile) -> "BoundedReader":
        """A reader of a checked document for streamed uploads (multipart): at most ``doc.size``
        bytes, the same deadline as ``read``; its ``len`` is the bytes left (what
        ``requests_toolbelt``'s MultipartEncoder asks). Close it (it is a context manager).
        Raises FileRejected as ``read``."""
        fd = self._open(doc)
        return BoundedReader(os.fdopen(fd, "rb", buffering=0, closefd=True), int(doc.size or 0),
                             self.clock() + self.read_timeout, self.clock)


class BoundedReader:
    """A binary reader that yields exactly the checked size and raises FileRejected on a deadline
    or a file that shrank (``CHANGED``)."""

    def __init__(self, fh: Any, size: int, deadline: float, clock: Callable[[], float]):
        self._fh, self._left, self._deadline, self._clock = fh, size, deadline, clock

    @property
    def len(self) -> int:
        """Bytes left to read."""
        return self._left

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left for ``n < 0``)."""
        if self._left <= 0:
            return b""
        want = self._left if n is None or n < 0 else min(n, self._left)
        try:
            data = self._fh.read(want)
        except OSError:
            raise FileRejected(UNREADABLE) from None
        if not data and want:
            raise FileRejected(CHANGED)
        self._left -= len(data)
        if self._clock() > self._deadline:
            raise FileRejected(TIMED_OUT)
        return data

    def close(self) -> None:
        """Close the underlying file."""
        self._fh.close()

    def __enter__(self) -> "BoundedReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_staged(files: DocumentFiles, rel: Any, data: bytes) -> Path:
    """Write a downloaded attachment to ``rel`` inside the files root atomically (a ``.part`` file,
    created without following links, then renamed), and return its path.

    Raises FileRejected (``OUTSIDE``, ``NOT_FOUND``, ``NO_ROOT``) for a path that would leave the root;
    OSError when the folder is not writable."""
    dest = files.resolve(rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if files.root is not None and os.path.commonpath([str(files.root), os.path.realpath(dest.parent)]) != str(files.root):
        raise FileRejected(OUTSIDE)  # a folder link appeared between resolve and mkdir
    tmp = dest.with_name(dest.name + ".part")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, dest)
    return dest
