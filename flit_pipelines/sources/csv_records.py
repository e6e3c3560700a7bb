"""Record boundaries of a CSV block, found column-wise with NumPy (issue 9, item 2).

Arrow's CSV reader is fast but, on bad input, either fails the whole file (``CSV parse error:
Expected 27 columns, got 17: <the row's text>``, ``straddling object straddles two block
boundaries``) or, streaming, reports an invalid row without its number. So before Arrow parses a
block, ``scan_records`` finds where each record starts and ends, its physical line, how many fields it
has and whether its quoting is broken; the reader then hands Arrow only well-formed records and
quarantines the others by line number. The scan never keeps or returns text: positions and counts.

Quoting follows RFC 4180 as Arrow and Python's ``csv`` read it: a quote opens a quoted value only at
the start of a field; inside one, ``""`` is a literal quote and a quote followed by the delimiter or a
line break closes it; a quote elsewhere in an unquoted value is literal (``5'11"``). Two faults are
marked on the record where the quoted value opened:

* ``MALFORMED``: a closing quote followed by other text on the same line (``"He said "hi" ok"``);
* ``UNTERMINATED``: a quoted value that never closes (a truncated last row), that closes only after
  ``max_record`` bytes, or that closes lines later followed by text: the opening quote is then taken
  as literal and the following lines are read as the records they are.

Line breaks are LF, CRLF and a lone CR. Most blocks need only vectorised work (every quote sits where
a well-formed file puts it); a block with a stray or broken quote runs the quote state machine over
its quote positions (a Python loop over quotes, not bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

LF, CR, QUOTE, SPACE, TAB = 10, 13, 34, 32, 9
OK, MALFORMED, UNTERMINATED = 0, 1, 2


@dataclass(frozen=True)
class Records:
    """The complete records of one block (all arrays have one entry per record, int64 unless noted).

    ``start``/``end``: first byte and one past the last content byte (line break excluded);
    ``stop``: where the next record starts; ``fields``: delimiters outside quotes + 1; ``line``:
    line breaks before the record in the block (its 0-based line within the block); ``inner_breaks``:
    line breaks inside it (quoted multi-line values); ``blank`` (bool): empty or spaces only;
    ``quote`` (int8): ``OK``, ``MALFORMED`` or ``UNTERMINATED``; ``trailing_delimiter`` (bool): its
    last byte is the delimiter. ``consumed``: bytes these records cover (the rest is an incomplete
    record to carry into the next block); ``lines``: line breaks within ``consumed``.
    """

    start: np.ndarray
    end: np.ndarray
    stop: np.ndarray
    fields: np.ndarray | None  # None: not counted (``scan_records(count=False)``; see ``count_fields``)
    line: np.ndarray
    inner_breaks: np.ndarray
    blank: np.ndarray
    quote: np.ndarray
    trailing_delimiter: np.ndarray
    consumed: int
    lines: int
    structural: np.ndarray | None = None  # positions of the quotes that open/close quoted values

    def __len__(self) -> int:
        return len(self.start)


def _line_breaks(buf: np.ndarray, final: bool) -> np.ndarray:
    n = len(buf)
    lf = np.flatnonzero(buf == LF)
    cr = np.flatnonzero(buf == CR)
    if not len(cr):
        return lf
    after = buf[np.minimum(cr + 1, n - 1)]
    # a CR at the very end of a block may be the first half of CRLF: decide with the next block
    lone = np.where(cr + 1 < n, after != LF, final)
    return np.union1d(lf, cr[lone])


def _fast_quotes(buf: np.ndarray, q: np.ndarray, delimiter: int, final: bool, max_record: int) -> bool:
    """True when every quote is where a well-formed file puts it, so quote parity alone tells
    which bytes are inside quoted values."""
    n = len(buf)
    op, cl = q[0::2], q[1::2]
    prev = buf[np.maximum(op - 1, 0)]
    ok_open = (op == 0) | (prev == delimiter) | (prev == LF) | (prev == CR)
    ok_open[1:] |= cl[:len(op) - 1] == op[1:] - 1  # the second quote of a doubled ""
    nxt = buf[np.minimum(cl + 1, n - 1)]
    ok_close = (cl + 1 >= n) | (nxt == delimiter) | (nxt == LF) | (nxt == CR) | (nxt == QUOTE)
    if not (ok_open.all() and ok_close.all()):
        return False
    if len(q) % 2:  # a value still open at the end of the block: fine unless it can never close
        return not (final or n - int(q[-1]) > max_record)
    return True


def _quote_machine(buf: np.ndarray, q: np.ndarray, delimiter: int, final: bool, max_record: int,
                   breaks: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The quote state machine over quote positions: (structural quote positions, [(position of the
    opening quote, MALFORMED | UNTERMINATED)])."""
    n = len(buf)
    prev = buf[np.maximum(q - 1, 0)]
    field_start = ((q == 0) | (prev == delimiter) | (prev == LF) | (prev == CR)).tolist()
    at_end = (q + 1 >= n)
    nb = buf[np.minimum(q + 1, n - 1)]
    closes = (((nb == delimiter) | (nb == LF) | (nb == CR)) & ~at_end).tolist()
    at_end = at_end.tolist()
    qs = q.tolist()
    m = len(qs)
    structural: list[int] = []
    marks: list[tuple[int, int]] = []
    k = 0
    while True:
        inside, open_k, open_len = False, -1, 0
        while k < m:
            p = qs[k]
            if not inside:
                if field_start[k]:
                    inside, open_k, open_len = True, k, len(structural)
                    structural.append(p)
                k += 1
                continue
            if k + 1 < m and qs[k + 1] == p + 1:  # "" inside a quoted value
                structural += (p, p + 1)
                k += 2
                continue
            if closes[k] or (at_end[k] and final):
                structural.append(p)
                inside = False
                k += 1
                continue
            if at_end[k]:  # the last byte of the block: the next block decides
                break
            o = qs[open_k]  # a quote followed by text
            if np.searchsorted(breaks, o) != np.searchsorted(breaks, p):
                marks.append((o, UNTERMINATED))  # it swallowed line breaks: the opening quote is literal
                del structural[open_len:]
                inside, k = False, open_k + 1
                continue
            marks.append((o, MALFORMED))
            structural.append(p)
            inside = False
            k += 1
        if inside and (final or n - qs[open_k] > max_record):
            marks.append((qs[open_k], UNTERMINATED))
            del structural[open_len:]
            k = open_k + 1
            continue
        return np.asarray(structural, dtype=np.int64), marks


def _spaces(b: np.ndarray, delimiter: int) -> np.ndarray:
    out = (b == SPACE) | (b == CR) | (b == LF)
    return out | (b == TAB) if delimiter != TAB else out


def _blank(buf: np.ndarray, start: np.ndarray, end: np.ndarray, delimiter: int) -> np.ndarray:
    """Records that are empty or spaces only. Only records starting with a space are candidates, so
    the usual block costs one comparison per record, not per byte."""
    blank = end == start
    cand = np.flatnonzero(~blank & _spaces(buf[np.minimum(start, max(len(buf) - 1, 0))], delimiter))
    if len(cand) > 64:  # many: one pass over the bytes
        filled = np.concatenate(([0], np.cumsum(~_spaces(buf, delimiter), dtype=np.int64)))
        blank[cand] = filled[end[cand]] == filled[start[cand]]
    else:
        for i in cand.tolist():
            blank[i] = bool(_spaces(buf[start[i]:end[i]], delimiter).all())
    return blank


def count_fields(buf: np.ndarray, recs: Records, delimiter: int) -> Records:
    """``recs`` with ``fields`` counted (delimiters outside quoted values + 1 per record): one index
    pass over the block's delimiters, lookups per record and per quoted value (not per delimiter)."""
    if recs.fields is not None:
        return recs
    d = np.flatnonzero(buf[:recs.consumed] == delimiter)
    fields = np.searchsorted(d, recs.stop) - np.searchsorted(d, recs.start) + 1
    structural = recs.structural
    if structural is not None and len(structural) > 1:
        opened, closed = structural[0:len(structural) - 1:2], structural[1::2]
        quoted = np.searchsorted(d, closed) - np.searchsorted(d, opened)
        fields -= np.bincount(np.searchsorted(recs.stop, opened, side="right"), weights=quoted,
                              minlength=len(recs))[:len(recs)].astype(np.int64)
    return replace(recs, fields=fields.astype(np.int64))


def scan_records(buf: np.ndarray, delimiter: int, *, final: bool, max_record: int, count: bool = True) -> Records:
    """Split ``buf`` (uint8, starting at a record boundary) into records; see ``Records``.

    Args:
        delimiter: the delimiter byte (``ord(",")``).
        final: ``buf`` ends the file (its last record needs no line break; an open quote is unterminated).
        max_record: a quoted value open longer than this (bytes) is taken as unterminated.
        count: count each record's fields now; False leaves ``fields`` None for ``count_fields`` to fill
            when needed (the reader lets Arrow's parser check the usual block's field counts, and
            counts only when it reports a row that does not fit: the count is most of the scan's cost).
    """
    n = len(buf)
    if n == 0:
        none = np.zeros(0, dtype=np.int64)
        return Records(start=none, end=none, stop=none, fields=none, line=none, inner_breaks=none,
                       blank=np.zeros(0, bool), quote=np.zeros(0, np.int8), trailing_delimiter=np.zeros(0, bool),
                       consumed=0, lines=0, structural=none)
    breaks = _line_breaks(buf, final)
    q = np.flatnonzero(buf == QUOTE)
    marks: list[tuple[int, int]] = []
    if not len(q) or _fast_quotes(buf, q, delimiter, final, max_record):
        structural = q
    else:
        structural, marks = _quote_machine(buf, q, delimiter, final, max_record, breaks)
    ends = breaks[(np.searchsorted(structural, breaks) & 1) == 0]  # line breaks outside quoted values
    stop = ends + 1
    end = ends.copy()
    crlf = (buf[ends] == LF) & (ends > 0)
    crlf[crlf] &= buf[ends[crlf] - 1] == CR
    end[crlf] -= 1
    tail_start = int(stop[-1]) if len(stop) else 0
    if final and tail_start < n:  # the last record without a line break
        stop = np.append(stop, n)
        end = np.append(end, n)
    start = np.concatenate(([0], stop[:-1])).astype(np.int64) if len(stop) else np.zeros(0, np.int64)
    consumed = int(stop[-1]) if len(stop) else 0
    end = np.maximum(end, start)  # an empty CRLF line
    nrec = len(start)
    line = np.searchsorted(breaks, start)
    inner = np.searchsorted(breaks, end) - line
    blank = _blank(buf, start, end, delimiter)
    quote = np.zeros(nrec, dtype=np.int8)
    if marks:
        pos = np.array([p for p, _ in marks], dtype=np.int64)
        code = np.array([c for _, c in marks], dtype=np.int8)
        rec = np.searchsorted(stop, pos, side="right")
        keep = rec < nrec
        np.maximum.at(quote, rec[keep], code[keep])
    last = buf[np.maximum(end - 1, 0)]
    trailing = (end > start) & (last == delimiter)
    recs = Records(start=start, end=end, stop=stop, fields=None, line=line.astype(np.int64),
                   inner_breaks=inner.astype(np.int64), blank=blank, quote=quote, trailing_delimiter=trailing,
                   consumed=consumed, lines=int(np.searchsorted(breaks, consumed)), structural=structural)
    return count_fields(buf, recs, delimiter) if count else recs
