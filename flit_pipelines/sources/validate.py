"""Typing and validation of extracted chunks, with quarantine instead of dropping.

Each chunk arrives as text columns, or (database sources) as typed Arrow-backed columns where the
database's type maps onto the spec's (``sources.arrow_typed``: converted vectorised, no text).
``coerce_chunk`` converts them to the spec's types (text through ``sources.text_typed``: Arrow
casts for plain shapes, the per-value parser for the rest); a non-empty value that does not parse
becomes a "not a <type>" failure (an int outside +-2**53, where a float stops being exact, included).
``pandera_schema`` derives a Pandera ``DataFrameSchema`` from the spec (dtypes, nullability, a unique
primary key within the chunk); ``contract_failures`` finds the rows it rejects, vectorised (Pandera
formats the failing values of each column into messages, too slow per chunk); ``sources.rules`` evaluates the value
rules (declared in the spec, plus defaults: NUL bytes, control characters, text length, non-finite
numbers), each quarantining or warning. ``split_chunk`` runs them all and returns the good rows, a
quarantine frame (one row per failing source row with the failing columns and rules as its reason)
and warning counts by rule. ``SeenKeys`` finds a primary key repeated in a later chunk. Reasons name
columns and rules, never values (PHI).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from flit_pipelines.sources.arrow_typed import coerce_arrow
from flit_pipelines.sources.canonical_text import arrow_text
from flit_pipelines.sources.rules import evaluate
from flit_pipelines.sources.text_typed import coerce_text
from flit_pipelines.spec.model import SourceObject

# Quarantine rows also carry the row's typed values (unparsable cells null) in columns named
# "value:<column>", so derived-value accounting can tell which record lost an input row
# (flit_pipelines.reconcile.quarantined). They stay in the data directory, like the extract itself;
# the ledger stores source_id, row_number and reason only.
QUARANTINE_VALUE_PREFIX = "value:"


PANDAS_DTYPES = {
    "string": "string",
    "int": "Int64",
    "float": "float64",
    "money": "float64",
    "date": "datetime64[ns, UTC]",
    "datetime": "datetime64[ns, UTC]",
    "bool": "boolean",
}


def _typed_arrow(raw: pd.Series) -> pa.Array | None:
    """The Arrow array behind ``raw`` when it holds typed (not text) values, else None."""
    dtype = raw.dtype
    if not isinstance(dtype, pd.ArrowDtype):
        return None
    t = dtype.pyarrow_dtype
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return None
    arr = pa.array(raw.array)  # zero-copy: the Arrow data behind the column
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _arrow_text_column(raw: pd.Series) -> bool:
    dtype = raw.dtype
    return isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)


def python_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its Arrow-backed text columns (``pd.ArrowDtype(pa.string())``) as pandas'
    ``string`` dtype (Python storage): what ``coerce_chunk`` and ``ChunkResult.good`` hand out."""
    arrow = [c for c in frame.columns if _arrow_text_column(frame[c])]
    if not arrow:
        return frame
    return frame.assign(**{c: frame[c].astype("string") for c in arrow})


def _coerce(raw: pd.Series, ctype: str, arrow_strings: bool = False) -> pd.Series:
    if ctype == "string" and arrow_strings and _arrow_text_column(raw):
        return raw  # kept as Arrow text: no Python string per value
    typed = _typed_arrow(raw)
    if typed is not None:  # a database's typed column: converted vectorised, or via its canonical text
        value = coerce_arrow(typed, ctype)
        if value is not None:
            return value.set_axis(raw.index)
        return coerce_text(arrow_text(typed, ctype), ctype, raw.index)
    if not isinstance(raw.dtype, (pd.ArrowDtype, pd.StringDtype)):
        raw = raw.astype("string")  # Python objects (numbers from a JSON source too): their text
    return coerce_text(pa.array(raw, type=pa.string(), from_pandas=True), ctype, raw.index)


def coerce_chunk(obj: SourceObject, text: pd.DataFrame, *,
                 arrow_strings: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert text columns (``string`` or Arrow-backed ``pd.ArrowDtype`` strings) or typed Arrow-backed
    columns (``pd.ArrowDtype`` numbers, dates, timestamps, booleans) to spec types.

    ``arrow_strings``: ``string`` columns that arrive Arrow-backed stay so (``pd.ArrowDtype(pa.string())``,
    zero-copy) instead of becoming pandas ``string`` (``python_strings`` converts them later).

    Returns:
        (typed frame, bool frame of parse failures with the same index and columns).
    """
    typed = {}
    failed = np.zeros((len(text), len(obj.columns)), dtype=bool)  # one block, not a Series per column
    for k, (name, col) in enumerate(obj.columns.items()):
        raw = text[name]
        value = _coerce(raw, col.type, arrow_strings)
        typed[name] = value
        if col.type != "string":
            failed[:, k] = raw.notna().to_numpy(bool) & value.isna().to_numpy(bool)
    return (pd.DataFrame(typed, index=text.index),
            pd.DataFrame(failed, index=text.index, columns=list(obj.columns)))


def pandera_schema(obj: SourceObject, name: str) -> pandera.DataFrameSchema:
    """The Pandera schema an object's typed extract must satisfy (derived from the spec): dtypes,
    ``nullable``, and a unique primary key (value rules: ``sources.rules``)."""
    columns = {
        cname: pandera.Column(PANDAS_DTYPES[c.type], nullable=c.nullable, coerce=False, required=True)
        for cname, c in obj.columns.items()
    }
    # the first occurrence of a repeated primary key is kept; later ones are quarantined
    unique = [obj.primary_key] if obj.primary_key else None
    return pandera.DataFrameSchema(columns, name=name, strict=True, ordered=False, unique=unique,
                                   report_duplicates="exclude_first")


def contract_failures(obj: SourceObject, typed: pd.DataFrame, *,
                      keys_distinct: bool = False) -> list[tuple[str, str, np.ndarray]]:
    """The row failures ``pandera_schema`` reports for a typed chunk, computed vectorised:
    ``(column, label, bool mask per row)`` in Pandera's order (by column, then check name).

    ``not_nullable``: a null in a column that is not ``nullable``; ``duplicate primary key``: a
    non-null primary key equal to an earlier row's in the chunk (the first is kept, as Pandera's
    ``report_duplicates="exclude_first"``; nulls are never duplicates, Pandera drops them from the
    failure cases). Pandera's dtype and column-presence checks never name a row, so they quarantine
    nothing; ``coerce_chunk`` builds exactly the schema's dtypes and columns.
    (Pandera itself formats every failing column's values into a message, which cost more than the
    rest of the extract's checks together; ``test_validate_contract`` compares both.)
    ``keys_distinct``: the caller knows the non-null primary keys are all different (no duplicate search).
    """
    out = []
    for cname, col in obj.columns.items():
        if not col.nullable:
            nulls = typed[cname].isna().to_numpy(bool)
            if nulls.any():
                out.append((cname, "not_nullable", "not_nullable", nulls))
    pk = obj.primary_key
    if pk is not None and not keys_distinct:
        key = typed[pk]
        dup = (key.duplicated(keep="first") & key.notna()).to_numpy(bool)
        if dup.any():
            out.append((pk, "multiple_fields_uniqueness", "duplicate primary key", dup))
    return [(c, label, mask) for c, _, label, mask in sorted(out, key=lambda f: (f[0], f[1]))]


class SeenKeys:
    """Primary keys kept so far by one extract, to quarantine a key repeated in a later chunk.

    A Python set of native-typed keys (``int`` for an int key, ``str`` otherwise): each chunk is
    checked with one set intersection and added with one update, so time is linear in the rows and
    memory grows with the distinct keys only (nothing seen is copied or hashed again per chunk).
    """

    def __init__(self) -> None:
        self._keys: set = set()

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def native(keys: pd.Series) -> list:
        """The non-null keys as the set holds them (``int`` or ``str``), in row order."""
        if _arrow_text_column(keys):  # Arrow text: Python strings made by Arrow, not per value by pandas
            arr = pa.array(keys.array)
            return (arr.drop_null() if arr.null_count else arr).to_numpy(zero_copy_only=False).tolist()
        keys = keys.dropna()
        if pd.api.types.is_integer_dtype(keys.dtype):
            return keys.astype("int64").tolist()
        return keys.astype("string").astype(object).tolist()

    def repeats(self, keys: pd.Series, native: list | set | None = None) -> np.ndarray:
        """Bool per row of ``keys``: the key was added by an earlier chunk (``native``: ``native(keys)``
        when the caller has it already)."""
        if not self._keys:
            return np.zeros(len(keys), dtype=bool)
        hits = self._keys.intersection(self.native(keys) if native is None else native)
        if not hits:
            return np.zeros(len(keys), dtype=bool)
        native = keys.astype("Int64") if pd.api.types.is_integer_dtype(keys.dtype) else keys.astype("string")
        return native.isin(list(hits)).fillna(False).to_numpy(bool)

    def add(self, keys: pd.Series, native: list | set | None = None) -> None:
        """Remember the (non-null) keys of rows this chunk kept (``native``: ``native(keys)`` if known)."""
        self._keys.update(self.native(keys) if native is None else native)


@dataclass
class ChunkResult:
    """Good rows (typed), quarantine rows (row_number, source_id, reason, line) and warning counts
    (rule label -> kept rows failing a ``warn`` rule) of one chunk.

    ``kept``: the good rows with text columns still Arrow-backed (what an Arrow writer takes without
    a Python string per value); ``good``: the same rows with text as pandas ``string`` (made on first use).
    """
    kept: pd.DataFrame
    quarantine: pd.DataFrame  # columns: row_number, source_id, reason, line, value:<column>...
    warnings: Counter = field(default_factory=Counter)

    @cached_property
    def good(self) -> pd.DataFrame:
        """The good rows, text columns as pandas ``string``."""
        return python_strings(self.kept)


def _may_have_edge_space(arr: pa.Array) -> bool:
    """False when no value of the ``string`` array starts or ends with a byte that can begin or end
    whitespace (ASCII controls and space, DEL, any non-ASCII byte): then trimming changes nothing.
    Reads only each value's first and last byte (NumPy on the offsets)."""
    n = len(arr)
    if n == 0 or arr.null_count == n:
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    first, stop = offsets[:-1], offsets[1:]
    filled = stop > first
    if not filled.any():
        return False
    edges = np.concatenate((data[first[filled]], data[stop[filled] - 1]))
    return bool(((edges <= 0x20) | (edges >= 0x7F)).any())


def _trim_keys(obj: SourceObject, text: pd.DataFrame, warn: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    # a key with surrounding whitespace is the same key: " a1" must not slip past the duplicate check
    for key in dict.fromkeys(k for k in (obj.primary_key, obj.wave_key) if k):
        if _typed_arrow(text[key]) is not None:
            continue  # a typed key (a database integer) has no whitespace
        raw = pa.array(text[key], type=pa.string(), from_pandas=True)  # zero-copy for Arrow-backed text
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        if not _may_have_edge_space(raw):
            continue
        trimmed = pc.utf8_trim_whitespace(raw)
        changed = np.asarray(pc.fill_null(pc.not_equal(raw, trimmed), False).to_numpy(zero_copy_only=False), bool)
        if changed.any():
            warn.append((f"{key}: whitespace_trimmed", changed))
            text = text.assign(**{key: pd.Series(pd.arrays.ArrowExtensionArray(trimmed), index=text.index)})
    return text


_EMPTY_QUARANTINE: dict[tuple, pd.DataFrame] = {}


def _quarantine_frame(obj: SourceObject, typed: pd.DataFrame, bad_idx: np.ndarray, row_numbers: np.ndarray,
                      reasons: list[str], lines: np.ndarray | None) -> pd.DataFrame:
    """The quarantine rows of a chunk: ``row_number``, ``source_id``, ``reason``, ``line`` and the
    rows' typed values (``value:<column>``, text as pandas ``string``)."""
    pk = obj.primary_key
    source_ids = (typed[pk].iloc[bad_idx].astype("string").fillna("") if pk is not None
                  else pd.Series([""] * len(bad_idx), dtype="string"))
    quarantine = pd.DataFrame({
        "row_number": row_numbers,
        "source_id": source_ids.to_numpy() if len(bad_idx) else np.array([], dtype=object),
        "reason": reasons,
        "line": lines if lines is not None else np.full(len(bad_idx), pd.NA, dtype=object),
    })
    if len(bad_idx):
        values = python_strings(typed.iloc[bad_idx].reset_index(drop=True))
    else:  # no row to take (pandas' take and astype cost ~1 ms per column)
        values = pd.DataFrame({c: pd.Series([], dtype=PANDAS_DTYPES[col.type]) for c, col in obj.columns.items()})
    return pd.concat([quarantine, values.add_prefix(QUARANTINE_VALUE_PREFIX)], axis=1)


def split_chunk(obj: SourceObject, name: str, text: pd.DataFrame, *, first_row: int,
                seen_keys: SeenKeys | None = None, now: datetime | None = None,
                rows: np.ndarray | None = None, lines: np.ndarray | None = None,
                rejects: pd.Series | None = None) -> ChunkResult:
    """Type, validate and split one chunk into good rows and quarantined rows.

    Args:
        text: the chunk as text columns (canonical names; ``string`` or Arrow-backed), default RangeIndex.
        first_row: 1-based data-row number of the chunk's first row in the file, for reasons (used
            when ``rows`` is not given).
        seen_keys: primary keys kept from earlier chunks; a repeat is quarantined as a duplicate, and
            this chunk's kept keys are added.
        now: the clock of ``not_in_future`` rules (default: now, UTC).
        rows, lines: per row, its data-row number and physical line (a reader's ``ROW_COLUMN`` /
            ``LINE_COLUMN``); ``rejects``: per row, a reader's reason the row is unreadable (or null);
            such a row is quarantined with that reason alone.
    """
    warn: list[tuple[str, np.ndarray]] = []  # counted among the rows kept, once every reason is known
    text = _trim_keys(obj, text.reset_index(drop=True), warn)
    typed, parse_failed = coerce_chunk(obj, text, arrow_strings=True)
    n = len(typed)
    reasons: dict[int, list[str]] = {}

    def add(mask, reason: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            reasons.setdefault(int(i), []).append(reason)

    for cname, col in obj.columns.items():
        if parse_failed[cname].any():
            add(parse_failed[cname], f"{cname}: not a {col.type}")
    pk = obj.primary_key
    pk_native = None  # the chunk's keys as Python values: checked now, added below when every row is kept
    keys_distinct = False
    if pk is not None and seen_keys is not None:
        listed = seen_keys.native(typed[pk])
        pk_native = set(listed)  # hashed once: the repeat check, the add and the in-chunk duplicate check
        # equal keys <=> equal native values for text and int keys (not for floats: 0.0 and -0.0)
        keys_distinct = obj.columns[pk].type in ("string", "int") and len(pk_native) == len(listed)
        add(seen_keys.repeats(typed[pk], pk_native), f"{pk}: duplicate primary key (seen in an earlier chunk)")
    for failure in evaluate(obj, typed, now=now or datetime.now(UTC), text=text):
        if failure.action == "quarantine":
            add(failure.mask, failure.label)
        else:
            warn.append((failure.label, failure.mask))

    for column, label, mask in contract_failures(obj, typed, keys_distinct=keys_distinct):
        # a value that failed to parse is already explained; don't call it "not nullable" too
        add(mask & ~parse_failed[column].to_numpy(bool), f"{column}: {label}")

    if rejects is not None:  # the reader could not read these rows: their one reason
        rej = rejects.reset_index(drop=True)
        for i in np.flatnonzero(rej.notna().to_numpy(bool)):
            reasons[int(i)] = [str(rej.iat[i])]
    bad_idx = np.asarray(sorted(reasons), dtype=np.int64)
    bad_mask = np.zeros(n, dtype=bool)
    bad_mask[bad_idx] = True
    if len(bad_idx):
        row_numbers = np.asarray(rows, dtype=np.int64) if rows is not None else np.arange(n, dtype=np.int64) + first_row
        quarantine = _quarantine_frame(obj, typed, bad_idx, row_numbers[bad_idx],
                                       ["; ".join(dict.fromkeys(reasons[i])) for i in bad_idx.tolist()],
                                       None if lines is None else np.asarray(lines, dtype=np.int64)[bad_idx])
    else:  # the usual chunk: the same empty frame, built once per shape (~4 ms of pandas each time)
        key = (tuple((c, col.type) for c, col in obj.columns.items()), pk, lines is None)
        if key not in _EMPTY_QUARANTINE:
            _EMPTY_QUARANTINE[key] = _quarantine_frame(obj, typed, bad_idx, bad_idx, [],
                                                       None if lines is None else bad_idx)
        quarantine = _EMPTY_QUARANTINE[key].copy(deep=False)  # no row to protect: a new frame is enough
    good = typed.loc[~bad_mask].reset_index(drop=True) if len(bad_idx) else typed
    if pk is not None and seen_keys is not None:
        seen_keys.add(good[pk], None if len(bad_idx) else pk_native)
    warnings: Counter = Counter()
    for label, mask in warn:
        if kept := int((mask & ~bad_mask).sum()):
            warnings[label] += kept
    return ChunkResult(kept=good, quarantine=quarantine, warnings=warnings)
