"""Column and field names, normalised for matching: case and separators split, abbreviations expanded,
compound words split (catalog vocabulary, then ``wordsegment``), prefixes that repeat the object's
own name dropped.

``ABBREVIATIONS`` is a general dictionary of abbreviations used in medical and office records
(DOB, MRN, Pt, Prov, Apt, Zip, Cell, Addr, Dt, Ins, Proc, Appt...): it is not built from any source
this project migrates or evaluates on, and ``abbreviation_count`` reports its size for the benchmark.
"""

from __future__ import annotations

import re
from functools import lru_cache

from flit_pipelines.catalog import load_catalog

ABBREVIATIONS_SOURCE = "general dictionary of medical and office abbreviations"
ABBREVIATIONS: dict[str, str] = {
    "dob": "date of birth", "bdate": "birth date", "birthdt": "birth date", "dod": "date of death",
    "mrn": "medical record number", "pt": "patient", "pat": "patient", "pts": "patients", "prov": "provider",
    "dr": "doctor", "apt": "apartment", "appt": "appointment", "zip": "zip code", "zipcode": "zip code",
    "cell": "mobile phone", "mob": "mobile phone", "mobile": "mobile phone", "addr": "address", "dt": "date",
    "ins": "insurance", "proc": "procedure", "tel": "phone", "ph": "phone", "phn": "phone", "telephone": "phone",
    "fname": "first name", "lname": "last name", "mname": "middle name", "mi": "middle initial",
    "nm": "name", "fn": "first name", "ln": "last name", "sex": "gender", "gndr": "gender",
    "st": "state", "cty": "city", "cnty": "county", "ctry": "country", "postcode": "postal code",
    "amt": "amount", "bal": "balance", "desc": "description", "descr": "description", "descript": "description",
    "dx": "diagnosis", "rx": "prescription", "tx": "treatment", "px": "procedure", "hx": "history",
    "ssn": "social security number", "dl": "driver licence", "dln": "driver licence number",
    "no": "number", "num": "number", "nbr": "number", "yr": "year", "mo": "month", "mon": "month",
    "dy": "day", "tm": "time", "ts": "timestamp", "org": "organization", "dept": "department",
    "ref": "referral", "qty": "quantity", "svc": "service", "stat": "status", "sts": "status",
    "dos": "date of service", "pmt": "payment", "pymt": "payment", "chg": "charge", "adj": "adjustment",
    "guar": "guarantor", "subscr": "subscriber", "grp": "group", "pol": "policy", "lang": "language",
    "emp": "employee", "mgr": "manager", "tz": "time zone", "url": "web address", "www": "web address",
    "email": "email", "e-mail": "email", "mail": "email", "eml": "email", "typ": "type", "cat": "category",
    "cmt": "comment", "cmts": "comments", "msg": "message", "dur": "duration", "min": "minutes",
    "mins": "minutes", "hrs": "hours", "strt": "start", "beg": "begin", "fin": "end", "lst": "last",
    "frst": "first", "pref": "preferred", "nick": "nickname", "title": "title", "salut": "salutation",
    "npi": "national provider identifier", "icd": "diagnosis code", "cpt": "procedure code",
    "cdt": "dental procedure code", "ada": "dental", "loinc": "lab code", "add": "address", "line1": "line 1",
    "line2": "line 2", "addr1": "address line 1", "addr2": "address line 2", "id": "id", "ext": "extension",
    "wk": "work", "hm": "home", "hme": "home", "bus": "business", "spec": "specialty", "lic": "licence",
    "fax": "fax", "dba": "doing business as", "co": "company", "inc": "incorporated",
    "surname": "last name", "forename": "first name", "given": "first", "family": "last",
}
# Words that name the record itself, dropped from a column name when other words remain
# ("patient_first_name" on a patients object is its "first name").
_SELF_WORDS = {"patient", "patients", "client", "clients", "person", "contact", "customer", "member"}
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")


def abbreviation_count() -> int:
    """Entries in the general abbreviations dictionary."""
    return len(ABBREVIATIONS)


def tokens(name: str) -> list[str]:
    """``"PAT_BirthDate2"`` -> ``["pat", "birth", "date", "2"]`` (lower case, no expansion)."""
    out: list[str] = []
    for part in _SPLIT.split(str(name)):
        if part:
            out.extend(p.lower() for p in _CAMEL.split(part) if p)
    return out


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Words compound tokens are split into: every word of the catalogs and the abbreviations."""
    words: set[str] = set()
    for phrase in ABBREVIATIONS.values():
        words.update(phrase.split())
    for kind in ("pipedrive", "highlevel", "salesforce"):
        cat = load_catalog(kind)
        for ent in cat._all_entities():
            for f in ent.fields.values():
                for n in f.names:
                    words.update(tokens(n))
            for s in ent.seed_terms:
                words.update(tokens(s.term))
    words.update({"birth", "date", "first", "last", "name", "code", "phone", "address", "zip", "postal", "number",
                  "start", "end", "time", "stop", "type", "status", "city", "state", "street", "line", "home",
                  "work", "mobile", "middle", "maiden", "death", "provider", "patient", "id", "description", "note",
                  "total", "amount", "paid", "due", "country", "county", "gender", "email", "web", "site", "family",
                  "given", "sur"})
    return frozenset(w for w in words if len(w) >= 2)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-3] + "y" if word.endswith("ies") else word[:-1]
    return word


@lru_cache(maxsize=1)
def _wordsegment():
    """wordsegment (Grant Jenks, Apache-2.0): English word segmentation over the unigram and bigram
    counts of the Google Web Trillion Word Corpus, shipped inside the wheel (no download)."""
    import wordsegment

    wordsegment.load()
    return wordsegment.segment


@lru_cache(maxsize=4096)
def _segment(token: str) -> list[str]:
    """Split a run-together token into words: a compound of two vocabulary words of 3+ letters first
    (``birthdate`` -> ``birth date``, ``zipcode`` -> ``zip code``), else English word segmentation
    (``outstandingp`` -> ``outstanding p``, ``encounterclass`` -> ``encounter class``); a token that is
    a vocabulary word or a dictionary abbreviation stays whole."""
    vocab = _vocabulary()
    if token in ABBREVIATIONS or len(token) < 5 or not token.isalpha():
        return [token]
    if len(token) >= 6:
        for i in range(3, len(token) - 2):
            a, b = token[:i], token[i:]
            if a in vocab and (_singular(b) in vocab or b in ABBREVIATIONS):
                return [a, *ABBREVIATIONS.get(b, _singular(b)).split()]
    if token in vocab:
        return [token]
    parts = _wordsegment()(token)
    return parts if len(parts) > 1 and "".join(parts) == token else [token]


@lru_cache(maxsize=65536)
def normalise(name: str, *, drop_self: bool = True, singular: bool = True, expand: bool = True) -> str:
    """Matching form of a name: tokens, abbreviations expanded, compounds split, record words dropped.

    ``"PtDOB"`` -> ``"date of birth"``; ``"CellNo"`` -> ``"mobile phone number"``;
    ``"zipcode"`` -> ``"zip code"``. ``expand=False`` for destination field names, which are words
    (Pipedrive's ``add_time`` is "add time", not "address time").
    """
    words: list[str] = []
    for t in tokens(name):
        if t in ABBREVIATIONS and expand:
            words.extend(ABBREVIATIONS[t].split())
        elif t in ABBREVIATIONS:
            words.append(t)
        else:
            for s in _segment(t):
                words.extend(ABBREVIATIONS.get(s, s).split() if expand and s in ABBREVIATIONS and s != t else [s])
    if singular:
        words = [_singular(w) for w in words]
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]  # "mobile phone phone"
    if drop_self:
        kept = [w for w in words if w not in _SELF_WORDS]
        words = kept or words
    return " ".join(words)
