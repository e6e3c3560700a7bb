"""PHI detector of the review queue: which note/attachment payload rows carry protected health
information that a person should see before it is sent (issue 5, "PHI review queue").

A target's ``phi_review`` (``flit_pipelines.spec.model.PhiReview``) names the payload fields to scan,
the pattern names, file-name globs and an optional text-file path column. Detection is vectorised:
each pattern is one regular expression run over a whole pandas string column (HTML tags and the
common entities are removed first, since note bodies are HTML). Only text files (by extension) are
read, up to ``max_text_bytes``, through ``flit_pipelines.files`` (inside the files root, regular files
only: a path outside the export, a FIFO or a device is never opened); PDFs and images are judged by
their file name only.

Patterns (US-centred, tuned to miss plain clinical prose such as "Prefers morning appointments"):

* ``ssn``: ``123-45-6789``, or 9 digits after an "SSN" / "social security" label;
* ``dob``: a date (``01/02/1990``, ``1990-01-02``, ``Jan 2, 1990``, ``2 January 1990``) right after
  "DOB", "D.O.B.", "date of birth", "birth date" or "born";
* ``mrn``: an identifier with a digit after "MRN", "medical record (number|no|#)" or "chart (number|no|#)";
* ``phone``: ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``+1 555 123 4567``, E.164
  ``+15551234567``, or 10-11 digits after a phone/tel/cell/mobile/fax label;
* ``email``: an e-mail address;
* ``icd10``: an ICD-10-CM code with its decimal part (``E11.9``, ``S93.401A``), or a code after an
  "ICD-10" label (``ICD-10: E11``);
* ``member_id``: an identifier with a digit after "member / subscriber / policy / insurance /
  medicaid / medicare" + "id / # / no / number".

Results name patterns, never the matched text, so they can go to logs, the ledger and reports.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from flit_pipelines.files import DocumentFiles
from flit_pipelines.spec.model import PhiReview

HOLD_PREFIX = "held for PHI review: "
TEXT_SUFFIXES = frozenset({".txt", ".csv", ".md", ".html", ".htm", ".xml", ".json", ".rtf"})
FILE_NAME_PATTERN = "file_name"

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|{_MONTH}\s\d{{1,2}},?\s\d{{4}}"
         rf"|\d{{1,2}}\s{_MONTH}\s\d{{4}})")
PATTERNS: dict[str, re.Pattern[str]] = {
    "ssn": re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"
                      r"|(?i:\b(?:SSN|social\s+security(?:\s+(?:number|no\.?|#))?)\b)"
                      r"[\s:#.-]{0,5}\d{3}[ -]?\d{2}[ -]?\d{4}\b"),
    "dob": re.compile(rf"(?i)(?:\bDOB\b|\bD\.O\.B\.?|\bdate\s+of\s+birth\b|\bbirth\s?date\b|\bborn(?:\s+on)?\b)"
                      rf"[\s:#.-]{{0,5}}{_DATE}"),
    "mrn": re.compile(r"(?i)\b(?:MRN|medical\s+record\s+(?:number|no\.?|#)|chart\s+(?:number|no\.?|#))"
                      r"[\s:#.-]{0,5}(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{3,}"),
    "phone": re.compile(r"(?<![\w+-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
                        r"|(?<![\w+])\+\d{10,14}(?!\d)"
                        r"|(?i:\b(?:phone|tel|cell|mobile|fax)\b)[\s.:#]{0,4}\d{10,11}\b"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "icd10": re.compile(r"\b[A-TV-Z]\d[0-9AB]\.[0-9A-TV-Z]{1,4}\b"
                        r"|(?i:\bICD-?10(?:-CM)?\b)[\s:#.-]{0,5}[A-TV-Z]\d[0-9AB]"),
    "member_id": re.compile(r"(?i)\b(?:member|subscriber|policy|insurance|medicaid|medicare)\s?"
                            r"(?:id|#|no\.?|number)(?![a-z])[\s:#.-]{0,5}(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{4,}"),
}
_TAG = re.compile(r"<[^>]*>")
_ENTITIES = (("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'"), ("&#39;", "'"),
             ("&amp;", "&"))


def plain_text(values: pd.Series) -> pd.Series:
    """Strings with HTML tags replaced by spaces and the common entities decoded (vectorised)."""
    text = values.astype("string").str.replace(_TAG, " ", regex=True)
    for entity, char in _ENTITIES:
        text = text.str.replace(entity, char, regex=False)
    return text


def scan_text(text: pd.Series, patterns: Sequence[str]) -> pd.Series:
    """Per row, the names of ``patterns`` found in ``text`` ("dob, phone"), or <NA> for none.

    Raises KeyError naming an unknown pattern."""
    text = text.astype("string")
    names = pd.Series("", index=text.index, dtype="string")
    for name in patterns:
        hit = text.str.contains(PATTERNS[name], regex=True, na=False).astype(bool)
        names = names.mask(hit, names.where(names == "", names + ", ") + name)
    return names.mask(names == "")


def _merge_names(a: pd.Series, b: pd.Series) -> pd.Series:
    both = a.notna() & b.notna()
    return a.fillna(b).mask(both, a + ", " + b)


def _file_name_hits(names: pd.Series, globs: Iterable[str]) -> pd.Series:
    rx = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs), re.IGNORECASE)
    return names.astype("string").str.match(rx, na=False).astype(bool)


def _read_text(files: DocumentFiles, path: str, limit: int) -> str | None:
    data = files.read_prefix(path, limit)  # None: missing/outside/not regular, the destination flags it
    return None if data is None else data.decode("utf-8", errors="replace")


def _text_file_bodies(paths: pd.Series, root: Path | None, limit: int) -> pd.Series:
    """Contents of the rows' text files (by extension); <NA> for other files and unreadable paths."""
    paths = paths.astype("string")
    suffix = paths.str.lower().str.extract(r"(\.[a-z0-9]+)$", expand=False)
    is_text = suffix.isin(TEXT_SUFFIXES).fillna(False).astype(bool)
    bodies = pd.Series(pd.NA, index=paths.index, dtype="string")
    if is_text.any():  # file I/O is per file; matching stays vectorised
        files = DocumentFiles(root)
        texts = paths[is_text]
        bodies[is_text] = pd.Series([_read_text(files, p, limit) for p in texts], index=texts.index, dtype="string")
    return bodies


def detect(payload: pd.DataFrame, review: PhiReview, *, files_root: Path | None = None) -> pd.Series:
    """Per payload row (same index), the comma-joined names of what matched, or <NA>.

    Args:
        payload: the target's payload frame (destination field names; ``cf:`` custom fields).
        review: the target's ``phi_review``.
        files_root: directory relative ``text_file_column`` paths resolve against.
    Raises:
        KeyError: a named column is missing from the payload.
    """
    found = pd.Series(pd.NA, index=payload.index, dtype="string")
    if len(payload) == 0:
        return found
    if review.columns:
        text = plain_text(payload[review.columns[0]]).fillna("")
        for col in review.columns[1:]:
            text = text + "\n" + plain_text(payload[col]).fillna("")
        found = scan_text(text, review.patterns)
    if review.text_file_column:
        bodies = _text_file_bodies(payload[review.text_file_column], files_root, review.max_text_bytes)
        found = _merge_names(found, scan_text(bodies, review.patterns))
    if review.file_names:
        hit = _file_name_hits(payload[review.file_name_column], review.file_names)
        by_name = pd.Series(pd.NA, index=payload.index, dtype="string").mask(hit, FILE_NAME_PATTERN)
        found = _merge_names(found, by_name)
    # one name once, in a stable order (a body and a column can both match "phone")
    return found.str.split(", ").map(lambda xs: ", ".join(dict.fromkeys(xs)), na_action="ignore").astype("string")


def hold_reasons(payload: pd.DataFrame, review: PhiReview | None, approved: Iterable[str] = (), *,
                 files_root: Path | None = None) -> pd.Series:
    """Per payload row, ``"held for PHI review: <names>"`` for rows to hold, else <NA>.

    Rows whose ``source_id`` is in ``approved`` (approved by a person) are not held."""
    if review is None or len(payload) == 0:
        return pd.Series(pd.NA, index=payload.index, dtype="string")
    found = detect(payload, review, files_root=files_root)
    found = found.mask(payload["source_id"].astype("string").isin(set(approved)).astype(bool))
    return (HOLD_PREFIX + found).astype("string")


def patterns_of(reasons: pd.Series) -> pd.Series:
    """The pattern names of hold reasons (``"dob, phone"``); <NA> for other reasons."""
    reasons = reasons.astype("string")
    return reasons.str.removeprefix(HOLD_PREFIX).where(reasons.str.startswith(HOLD_PREFIX).fillna(False))
