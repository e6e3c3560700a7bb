"""Deterministic synthetic Dentrix-shaped practice database (schema ``admin``).

``build_practice(out, patients=N, seed=S, dialect="sqlite"|"postgresql")`` writes the objects a
Dentrix G / Enterprise reader queries (``/work/shared/notes/sources.md`` §1.1) as plain tables and
returns ``{object name: row count}``. All values are synthetic (Faker name pools, SSNs ``999-xx-xxxx``,
e-mails at ``example.com``/``example.org``/``example.net``, phones ``(xxx)555-xxxx``).

How ``admin.<object>`` resolves (the schema choice)
-----------------------------------------------------
Readers use the same SQL text, e.g. ``SELECT patient_id, guar_id FROM admin.v_patient``, on both
engines:

* **SQLite** has no schemas. The whole practice goes into *one* SQLite file whose tables carry the
  bare object names (``v_patient``, ``fullproclog`` ...). A reader opens any connection and runs
  ``ATTACH DATABASE '<file>' AS admin``; ``admin.v_patient`` then resolves. The builder itself does
  exactly that (``:memory:`` main database + the output file attached as ``admin``), so the DDL from
  ``practice_ddl("sqlite")`` is literally ``CREATE TABLE admin.v_patient (...)``. See ``attach_sqlite``.
* **PostgreSQL**: ``out_path`` is a SQLAlchemy URL (``postgresql+psycopg2://postgres@127.0.0.1:5432/db``);
  the builder drops and recreates schema ``admin`` in that database and loads it with ``COPY``.

Dentrix's ``v_*`` objects are read-only *views* over base tables; here every object is a table with
the view's name and columns (a reader cannot tell the difference through ``SELECT``).

Objects (see ``SCHEMA`` for columns/types, ``ORIGIN`` for provenance)
-----------------------------------------------------------------------
From public code (§1.1; column subsets as seen there, plus a modified-at column where none was seen):
``v_patient``, ``v_provider``, ``v_staff``, ``v_operatory``, ``v_appt_status_codes``,
``v_referral_specialty``, ``v_appt``, ``proccode``, ``feeschedule``, ``fullproclog``,
``v_insurance_plans``, ``v_insured``, ``v_patient_insurance``, ``v_guarantor_balance``, ``v_employers``,
``v_notes``, ``hhitem``, ``hhlinkpat_item``, ``v_patient_recall``.

**Documented defaults** (no public source; a site overrides them with its real catalogue/DDP list),
plus the column ``v_provider.email`` (a site adds it, or a directory view, to match CRM users by e-mail):
``v_treatment_plan``, ``v_clinical_notes``, ``v_referral``, ``v_patient_referral``, ``v_document``, and
these code values (``dentrix_practice_codes``):

* ``fullproclog.chartstatus``: 105 completed (hinted by public code), 101 treatment-planned (default),
  90 ledger-only row = payment/adjustment (hinted by public code).
* ``fullproclog.proclogclass``: 0 procedure/charge, 1 patient payment, 2 insurance payment,
  3 adjustment (write-off) - defaults.
* ``v_appt.status_id``: -106 complete and 150 checked out (the "finished visit" values in public code),
  1 scheduled, 2 confirmed, -103 broken/no-show (``broken = 1``), -104 cancelled - the last four defaults.
* ``v_insured.ins_type`` 0 = dental (public code filters on 0; meaning undocumented).
* ``v_document.file_name`` ``<patient_id:08X><document_id:08X>.<EXT>`` under
  ``\\\\DTXSERVER\\Dentrix\\DocCenter\\<patient_id mod 256 as 2 hex>\\`` (Document Center paths are not public).
* Every object has a modified-at column: ``modified_time_stamp`` on ``v_*`` objects (as on ``v_appt``)
  and ``automodifiedtimestamp`` on base tables (as on ``hhitem``), §1.2. Where public code showed none
  it is a default.

Content model
-------------
* Reference time ``REF_DAY`` = 2024-04-27 (all modified-at values are <= ``REF_TIME``); 3 years of
  history plus 60 days of future appointments.
* Families of 1-5 (guarantor = first member, ``guar_id`` = the guarantor's ``patient_id`` for every
  member incl. the guarantor). A family shares last name, address, home phone and one e-mail (10 % of
  families have none).
* Appointments per patient ~ Poisson(6) (inactive: 2, older than a year). Past: 84 % finished
  (-106/150), 9 % broken, 7 % cancelled; future: scheduled/confirmed. Hygiene visits are with the
  family's hygienist (``addtnl_provider_id`` = the dentist who does the exam).
* Finished appointments produce ``fullproclog`` charges (CDT code, tooth 1-32 or NULL, surface flags
  0/1). ``v_appt.amount`` = the sum of its procedures' fees.
* Treatment plans (~30 % of active patients): items proposed/accepted -> ``fullproclog`` rows with
  chartstatus 101 (not on the ledger); completed -> chartstatus 105 charges. ``procid`` links both.
* Ledger money, in ``fullproclog.amt`` (signed dollars, two decimals): charges positive, payments and
  adjustments negative. Payments/adjustments dated after ``REF_DAY`` are not written, and ~4 % of
  patient shares are never paid, so per guarantor::

      sum(amt of rows with chartstatus <> 101 and guarid = g)
          == balance_0_30_days + balance_31_60_days + balance_61_90_days + balance_91_plus_days

  (exact in cents), where a charge's unpaid remainder is aged by ``REF_DAY - procdate``.

Scale, units, errors
--------------------
Generation is whole-table numpy (no per-row Python except GUID/file-name formatting); Faker only fills
small pools; rows go to the database in batches of ``WRITE_BATCH``. Measured for 50,000 patients
(~2.1 M rows, 1.40 M of them ``fullproclog``): SQLite 14 s, 199 MB file, ~0.9 GB peak RSS; PostgreSQL
(local, COPY) 27 s, 398 MB database. Memory grows linearly (~18 MB per 1,000 patients), so very large
builds need proportionate RAM. Dates are ``DATE`` (PostgreSQL) / ``'YYYY-MM-DD'`` text
(SQLite); timestamps ``TIMESTAMP`` / ``'YYYY-MM-DD HH:MM:SS'``; money ``NUMERIC(12,2)`` / ``REAL``.
Output is deterministic for (patients, seed): the SQLite file is byte-identical.
``ValueError`` for ``patients < 1``, an unknown dialect, or a non-PostgreSQL URL with ``postgresql``.

File export and documents
-------------------------
``export_files(db, out_dir)`` writes the structured file export, ``<object>.csv`` per object with the
same columns and canonical text a database read yields (read back with ``CsvExportSource``).
``write_documents(db, documents_dir)`` writes each ``v_document`` file as ``<folder>/<file_name>``
(folder = the 2-hex-digit last part of ``file_path``) with tiny valid content of its ``file_type``
(``document_bytes``). ``source_objects()`` gives the spec objects of all 24 objects.

CLI: ``python -m flit_sandboxes.dentrix_practice OUT --patients N --seed S [--dialect ...]
[--export-dir DIR] [--documents-dir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sqlite3
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.synthetic import NamePools, name_pools

if TYPE_CHECKING:
    from flit_pipelines.spec.model import SourceObject

__all__ = ["SCHEMA", "ORIGIN", "REF_DAY", "attach_sqlite", "build_practice", "practice_ddl", "main",
           "document_bytes", "export_files", "source_objects", "write_documents"]

REF_DAY = np.datetime64("2024-04-27", "D")
REF_TIME = REF_DAY.astype("datetime64[s]")
HISTORY_DAYS = 3 * 365
FUTURE_DAYS = 60
DAY_S = 86_400

# --- schema: object -> ((column, type), ...); first listed PK columns in PRIMARY_KEYS -------------
# types: int (not null), int? (nullable), money, text, date, ts
_TS = ("modified_time_stamp", "ts")
_ATS = ("automodifiedtimestamp", "ts")
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "v_referral_specialty": (("defid", "int"), ("description", "text"), _TS),
    "v_appt_status_codes": (("defid", "int"), ("descript", "text"), _TS),
    "v_provider": (
        ("provider_id", "int"), ("provider_code", "text"), ("first_name", "text"), ("last_name", "text"),
        ("mi", "text"), ("suffix", "text"), ("npi", "text"), ("tin", "text"), ("ssn", "text"),
        ("address_line1", "text"), ("address_line2", "text"), ("city", "text"), ("state", "text"),
        ("zip_code", "text"), ("work_phone", "text"), ("issecondaryprovider", "int"), ("inactive", "int"),
        ("specialty_id", "int"), ("email", "text"), _TS),
    "v_staff": (("staff_id", "int"), ("first_name", "text"), ("last_name", "text"), ("title", "text"), _TS),
    "v_operatory": (("op_id", "int"), ("op_title", "text"), _TS),
    "v_employers": (
        ("employer_id", "int"), ("employer_name", "text"), ("address_line1", "text"), ("address_line2", "text"),
        ("city", "text"), ("state", "text"), ("zip_code", "text"), ("phone", "text"), _TS),
    "v_insurance_plans": (
        ("ins_id", "int"), ("ins_co_name", "text"), ("group_name", "text"), ("group_number", "text"),
        ("address_line1", "text"), ("address_line2", "text"), ("city", "text"), ("state", "text"),
        ("zipcode", "text"), ("payor_id", "text"), _TS),
    "v_patient": (
        ("patient_id", "int"), ("patient_guid", "text"), ("first_name", "text"), ("last_name", "text"),
        ("mi", "text"), ("salutation", "text"), ("preferred_name", "text"), ("status", "int"),
        ("birth_date", "date"), ("gender", "int"), ("email", "text"), ("mobile_phone", "text"),
        ("home_phone", "text"), ("work_phone", "text"), ("address_line1", "text"), ("address_line2", "text"),
        ("city", "text"), ("state", "text"), ("zipcode", "text"), ("guar_id", "int"),
        ("pri_provider_id", "int"), ("sec_provider_id", "int?"), ("first_visit_date", "date"),
        ("last_visit_date", "date"), ("privacy_flags", "int"), ("social_sec_num", "text"),
        ("driverslicense", "text"), ("employer_id", "int?"), ("primdentalinsuredid", "int?"),
        ("secdentalinsuredid", "int?"), _TS),
    "v_insured": (("insured_id", "int"), ("ins_plan_id", "int"), ("ins_type", "int"), ("ins_party_id", "int"),
                  ("id_num", "text"), _TS),
    "v_patient_insurance": (
        ("patient_id", "int"), ("patient_guid", "text"), ("first_name", "text"), ("last_name", "text"),
        ("primary_insurance_carrier_id", "int"), ("primary_insurance_carrier_name", "text"),
        ("primary_insured_id", "int"), ("primary_insured_first_name", "text"),
        ("primary_insured_last_name", "text"), ("secondary_insurance_carrier_id", "int?"),
        ("secondary_insurance_carrier_name", "text"), ("secondary_insured_id", "int?"), _TS),
    "v_appt": (
        ("appointment_id", "int"), ("patient_id", "int"), ("patient_name", "text"), ("appointment_date", "date"),
        ("start_hour", "int"), ("start_minute", "int"), ("length", "int"), ("reason", "text"),
        ("status_id", "int"), ("operatory_id", "int"), ("provider_id", "int"), ("addtnl_provider_id", "int?"),
        ("amount", "money"), ("broken", "int"), _TS, ("modified_date", "date")),
    "proccode": (("proccodeid", "int"), ("adacode", "text"), ("abbrevdescript", "text"),
                 ("description", "text"), _ATS),
    "feeschedule": (("proccodeid", "int"), ("amt", "money"), _ATS),
    "fullproclog": (
        ("procid", "int"), ("patid", "int"), ("guarid", "int"), ("provid", "int"), ("proccodeid", "int?"),
        ("procdate", "date"), ("createdate", "date"), ("amt", "money"), ("chartstatus", "int"),
        ("proclogclass", "int"), ("proclogorder", "int"), ("checknum", "text"), ("toothrangestart", "int?"),
        ("toothrangeend", "int?"), ("surfm", "int"), ("surfo", "int"), ("surfd", "int"), ("surfl", "int"),
        ("surff", "int"), ("surf5", "int"), _ATS),
    "v_treatment_plan": (
        ("plan_item_id", "int"), ("plan_id", "int"), ("patient_id", "int"), ("provider_id", "int"),
        ("plan_date", "date"), ("item_order", "int"), ("proccodeid", "int"), ("adacode", "text"),
        ("tooth", "int?"), ("surfaces", "text"), ("fee", "money"), ("status", "text"), ("procid", "int"), _TS),
    "v_guarantor_balance": (
        ("guar_id", "int"), ("first_name", "text"), ("last_name", "text"), ("social_sec_num", "text"),
        ("birth_date", "date"), ("balance_0_30_days", "money"), ("balance_31_60_days", "money"),
        ("balance_61_90_days", "money"), ("balance_91_plus_days", "money"), _TS),
    "v_notes": (("noteid", "int"), ("notetype", "int"), ("notetext", "text"), _TS),
    "v_clinical_notes": (("note_id", "int"), ("patient_id", "int"), ("appointment_id", "int"),
                         ("provider_id", "int"), ("note_date", "date"), ("note_text", "text"), _TS),
    "hhitem": (("itemid", "int"), ("description", "text"), ("hhtype", "int"), ("status", "int"),
               ("popup", "int"), ("critical", "int"), _ATS),
    "hhlinkpat_item": (
        ("linkid", "int"), ("patid", "int"), ("hhitemid", "int"), ("status", "int"), ("reporteddate", "date"),
        ("startdate", "date"), ("enddate", "date"), ("note", "text"), ("popup", "int"), ("critical", "int"), _ATS),
    "v_patient_recall": (("recall_id", "int"), ("patient_id", "int"), ("recall_type", "text"),
                         ("due_date", "date"), ("prior_date", "date"), ("provider_id", "int"), _TS),
    "v_referral": (
        ("referral_id", "int"), ("first_name", "text"), ("last_name", "text"), ("specialty_id", "int"),
        ("practice_name", "text"), ("phone", "text"), ("email", "text"), ("address_line1", "text"),
        ("city", "text"), ("state", "text"), ("zip_code", "text"), _TS),
    "v_patient_referral": (("patient_referral_id", "int"), ("patient_id", "int"), ("referral_id", "int"),
                           ("referral_date", "date"), ("direction", "text"), _TS),
    "v_document": (
        ("document_id", "int"), ("patient_id", "int"), ("doc_date", "date"), ("category", "text"),
        ("description", "text"), ("file_path", "text"), ("file_name", "text"), ("file_type", "text"),
        ("file_size", "int"), _TS),
}
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {"v_notes": ("notetype", "noteid"),
                                            "v_patient_insurance": ("patient_id",),
                                            "feeschedule": ("proccodeid",)}
DEFAULT_OBJECTS = frozenset({"v_treatment_plan", "v_clinical_notes", "v_referral", "v_patient_referral",
                             "v_document"})
ORIGIN: dict[str, str] = {t: ("default" if t in DEFAULT_OBJECTS else "public") for t in SCHEMA}

_SQL_TYPES = {
    "sqlite": {"int": "INTEGER NOT NULL", "int?": "INTEGER", "money": "REAL", "text": "TEXT", "date": "TEXT",
               "ts": "TEXT NOT NULL"},
    "postgresql": {"int": "BIGINT NOT NULL", "int?": "BIGINT", "money": "NUMERIC(12,2)", "text": "TEXT",
                   "date": "DATE", "ts": "TIMESTAMP NOT NULL"},
}


def practice_ddl(dialect: str) -> list[str]:
    """CREATE statements for every ``admin`` object, in load order.

    ``"postgresql"`` starts with ``CREATE SCHEMA admin``; ``"sqlite"`` expects the target file attached
    as ``admin`` (see module docstring). Raises ``ValueError`` for another dialect.
    """
    if dialect not in _SQL_TYPES:
        raise ValueError(f"dialect must be 'sqlite' or 'postgresql', not {dialect!r}")
    types = _SQL_TYPES[dialect]
    out = ["CREATE SCHEMA admin"] if dialect == "postgresql" else []
    for table, cols in SCHEMA.items():
        pk = PRIMARY_KEYS.get(table, (cols[0][0],))
        body = ", ".join(f"{c} {types[t]}" for c, t in cols)
        out.append(f"CREATE TABLE admin.{table} ({body}, PRIMARY KEY ({', '.join(pk)}))")
    return out


def attach_sqlite(conn: sqlite3.Connection, path: str | Path) -> sqlite3.Connection:
    """Attach a practice file as schema ``admin`` on ``conn`` (so ``admin.v_patient`` resolves)."""
    conn.execute("ATTACH DATABASE ? AS admin", (str(path),))
    return conn


# --- random streams and pools -----------------------------------------------------------------------

_STREAMS = {"pools": 1, "ref": 2, "families": 3, "appts": 4, "procs": 5, "plans": 6, "ledger": 7,
            "insurance": 8, "notes": 9, "medical": 10, "referrals": 11, "documents": 12, "ids": 13, "recalls": 14}


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per purpose, so adding one table never shifts another's draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream]]))


def _build_pools(seed: int) -> NamePools:
    """Small deterministic Faker pools (names, streets, cities, companies)."""
    return name_pools(seed, first=300, last=500, street=800, city=150, company=120)


# --- small vector helpers ---------------------------------------------------------------------------


def _cat(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays/scalars -> object array."""
    n = max(len(p) for p in parts if not isinstance(p, str))
    out = pd.Series([""] * n, dtype=object)
    for p in parts:
        out = out + (p if isinstance(p, str) else pd.Series(np.asarray(p).astype(str), dtype=object))
    return out.to_numpy(dtype=object)


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """``n`` zero-padded random digit strings of ``width``."""
    if n == 0:
        return np.empty(0, dtype=object)
    return np.char.zfill(rng.integers(0, 10**width, n).astype(str), width).astype(object)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fictional ``(AAA)555-XXXX`` numbers."""
    return _cat("(", rng.integers(201, 990, n), ")555-", _digits(rng, n, 4))


def _nullable(values: np.ndarray, mask: np.ndarray) -> pd.arrays.IntegerArray:
    """Int64 array with NULL where ``mask`` is true."""
    return pd.arrays.IntegerArray(np.asarray(values, dtype=np.int64), np.asarray(mask, dtype=bool))


def _where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array: ``values`` where ``mask`` else None."""
    out = np.asarray(values, dtype=object).copy()
    out[~np.asarray(mask, dtype=bool)] = None
    return out


def _ts_before(rng: np.random.Generator, day: np.ndarray, max_days: int = 5) -> np.ndarray:
    """Timestamp (datetime64[s]) some hours/days after ``day``, capped at ``REF_TIME``."""
    secs = day.astype("datetime64[s]") + rng.integers(8 * 3600, max_days * DAY_S, len(day)).astype("timedelta64[s]")
    return np.minimum(secs, REF_TIME)


def _recent_ts(rng: np.random.Generator, n: int, days: int = 720) -> np.ndarray:
    """Timestamps uniformly in the ``days`` before ``REF_TIME``."""
    return REF_TIME - rng.integers(0, days * DAY_S, n).astype("timedelta64[s]")


# --- reference tables ---------------------------------------------------------------------------------


@dataclass
class _Ref:
    dentists: np.ndarray  # provider ids
    hygienists: np.ndarray
    n_ops: int
    n_employers: int
    n_plans: int
    plan_names: np.ndarray
    n_referrals: int
    codes: pd.DataFrame  # proccodeid, adacode, fee_cents, kind, surfaces


def _reference(seed: int, n: int, pools: NamePools, tables: dict) -> _Ref:
    """Providers, staff, operatories, employers, plans, codes, lookups. Sizes grow slowly with ``n``."""
    rng = _rng(seed, "ref")
    n_dent, n_hyg = max(2, math.ceil(n / 1500)), max(1, math.ceil(n / 2000))
    n_prov = n_dent + n_hyg
    spec = np.concatenate([[1], rng.choice([1, 1, 1, 2, 3, 4, 5, 6, 7], n_dent - 1), [C.HYGIENE_SPECIALTY] * n_hyg])
    female = rng.random(n_prov) < 0.5
    first = np.where(female, pools.first_f[rng.integers(0, len(pools.first_f), n_prov)],
                     pools.first_m[rng.integers(0, len(pools.first_m), n_prov)])
    hyg = np.arange(n_prov) >= n_dent
    code = np.where(hyg, _cat("HYG", np.arange(n_prov) - n_dent + 1), _cat("DDS", np.arange(n_prov) + 1))
    practice_city = rng.integers(0, len(pools.city))
    tables["v_provider"] = {
        "provider_id": np.arange(1, n_prov + 1), "provider_code": code, "first_name": first,
        "last_name": pools.last[rng.integers(0, len(pools.last), n_prov)],
        "mi": np.array(list("ABCDEFGHJKLMNPRSTW"), dtype=object)[rng.integers(0, 18, n_prov)],
        "suffix": _where(~hyg, np.full(n_prov, "DDS", dtype=object)),
        "npi": _cat("1", _digits(rng, n_prov, 9)), "tin": _cat("99-", _digits(rng, n_prov, 7)),
        "ssn": _cat("999-", _digits(rng, n_prov, 2), "-", _digits(rng, n_prov, 4)),
        "address_line1": np.full(n_prov, pools.street[0], dtype=object), "address_line2": np.full(n_prov, None),
        "city": np.full(n_prov, pools.city[practice_city]), "state": np.full(n_prov, pools.state[practice_city]),
        "zip_code": np.full(n_prov, pools.zipcode[practice_city]), "work_phone": _phones(rng, n_prov),
        "issecondaryprovider": hyg.astype(int), "inactive": np.zeros(n_prov, int), "specialty_id": spec,
        "modified_time_stamp": _recent_ts(rng, n_prov),
    }
    # documented default column (no public source shows a provider e-mail): matches CRM users by e-mail
    tables["v_provider"]["email"] = pd.Series(_cat(first, ".", tables["v_provider"]["last_name"], "@smiledental.example")
                                              ).str.lower().to_numpy(dtype=object)
    n_staff = max(3, math.ceil(n / 1000))
    tables["v_staff"] = {
        "staff_id": np.arange(1, n_staff + 1),
        "first_name": pools.first_f[rng.integers(0, len(pools.first_f), n_staff)],
        "last_name": pools.last[rng.integers(0, len(pools.last), n_staff)],
        "title": np.array(C.STAFF_TITLES, dtype=object)[np.arange(n_staff) % len(C.STAFF_TITLES)],
        "modified_time_stamp": _recent_ts(rng, n_staff)}
    n_ops = max(3, math.ceil(n / 800))
    tables["v_operatory"] = {"op_id": np.arange(1, n_ops + 1), "op_title": _cat("OP-", np.arange(1, n_ops + 1)),
                             "modified_time_stamp": _recent_ts(rng, n_ops)}
    tables["v_referral_specialty"] = {"defid": np.array([d for d, _ in C.SPECIALTIES]),
                                      "description": np.array([s for _, s in C.SPECIALTIES], dtype=object),
                                      "modified_time_stamp": _recent_ts(rng, len(C.SPECIALTIES), 3000)}
    tables["v_appt_status_codes"] = {"defid": np.array([d for d, _ in C.APPT_STATUS_CODES]),
                                     "descript": np.array([s for _, s in C.APPT_STATUS_CODES], dtype=object),
                                     "modified_time_stamp": _recent_ts(rng, len(C.APPT_STATUS_CODES), 3000)}
    n_emp = min(len(pools.company) // 2, max(10, math.ceil(n / 500)))
    ecity = rng.integers(0, len(pools.city), n_emp)
    tables["v_employers"] = {
        "employer_id": np.arange(1, n_emp + 1), "employer_name": pools.company[:n_emp],
        "address_line1": pools.street[rng.integers(0, len(pools.street), n_emp)], "address_line2": np.full(n_emp, None),
        "city": pools.city[ecity], "state": pools.state[ecity], "zip_code": pools.zipcode[ecity],
        "phone": _phones(rng, n_emp), "modified_time_stamp": _recent_ts(rng, n_emp)}
    n_plans = min(len(pools.company) - n_emp, max(8, math.ceil(n / 2500)))
    pcity = rng.integers(0, len(pools.city), n_plans)
    names = _cat(pools.company[n_emp:n_emp + n_plans], " Dental Benefits")
    tables["v_insurance_plans"] = {
        "ins_id": np.arange(1, n_plans + 1), "ins_co_name": names,
        "group_name": _cat(pools.company[rng.integers(0, n_emp, n_plans)], " Group"),
        "group_number": _cat("G", _digits(rng, n_plans, 7)),
        "address_line1": _cat("PO Box ", rng.integers(100, 99999, n_plans)), "address_line2": np.full(n_plans, None),
        "city": pools.city[pcity], "state": pools.state[pcity], "zipcode": pools.zipcode[pcity],
        "payor_id": _cat("9", _digits(rng, n_plans, 4)), "modified_time_stamp": _recent_ts(rng, n_plans)}
    codes = pd.DataFrame(C.PROC_CODES, columns=["adacode", "abbrev", "description", "fee", "kind", "surfaces"])
    codes["proccodeid"] = np.arange(1, len(codes) + 1)
    codes["fee_cents"] = np.round(codes["fee"].to_numpy() * 100).astype(np.int64)
    ts = _recent_ts(rng, len(codes), 3000)
    tables["proccode"] = {"proccodeid": codes["proccodeid"].to_numpy(), "adacode": codes["adacode"].to_numpy(object),
                          "abbrevdescript": codes["abbrev"].to_numpy(object),
                          "description": codes["description"].to_numpy(object), "automodifiedtimestamp": ts}
    tables["feeschedule"] = {"proccodeid": codes["proccodeid"].to_numpy(), "amt": codes["fee_cents"].to_numpy(),
                             "automodifiedtimestamp": ts}
    hh = np.arange(len(C.HH_ITEMS))
    tables["hhitem"] = {"itemid": hh + 1, "description": np.array([d for d, _, _ in C.HH_ITEMS], dtype=object),
                        "hhtype": np.array([t for _, t, _ in C.HH_ITEMS]), "status": np.ones(len(hh), int),
                        "popup": np.array([c for _, _, c in C.HH_ITEMS]),
                        "critical": np.array([c for _, _, c in C.HH_ITEMS]),
                        "automodifiedtimestamp": _recent_ts(rng, len(hh), 3000)}
    n_ref = max(5, math.ceil(n / 1000))
    rcity = rng.integers(0, len(pools.city), n_ref)
    rlast = pools.last[rng.integers(0, len(pools.last), n_ref)]
    tables["v_referral"] = {
        "referral_id": np.arange(1, n_ref + 1), "first_name": pools.first_m[rng.integers(0, len(pools.first_m), n_ref)],
        "last_name": rlast, "specialty_id": rng.integers(1, 8, n_ref),
        "practice_name": _cat(rlast, " Dental Specialists"), "phone": _phones(rng, n_ref),
        "email": _cat("office", np.arange(1, n_ref + 1), "@example.org"),
        "address_line1": pools.street[rng.integers(0, len(pools.street), n_ref)], "city": pools.city[rcity],
        "state": pools.state[rcity], "zip_code": pools.zipcode[rcity], "modified_time_stamp": _recent_ts(rng, n_ref)}
    return _Ref(dentists=np.arange(1, n_dent + 1), hygienists=np.arange(n_dent + 1, n_prov + 1), n_ops=n_ops,
                n_employers=n_emp, n_plans=n_plans, plan_names=names, n_referrals=n_ref, codes=codes)


# --- patients and families -------------------------------------------------------------------------


@dataclass
class _People:
    fam: np.ndarray  # (n,) family index
    pos: np.ndarray  # (n,) position in family, 0 = guarantor
    fam_start: np.ndarray  # (families,) index of the guarantor
    age: np.ndarray
    active: np.ndarray
    dentist: np.ndarray  # (n,) family dentist provider id
    hygienist: np.ndarray


def _patients(seed: int, n: int, pools: NamePools, ref: _Ref, tables: dict) -> _People:
    """``v_patient`` (without visit dates / insurance, filled later) and the family structure."""
    rng = _rng(seed, "families")
    sizes = rng.choice([1, 2, 3, 4, 5], n, p=[0.42, 0.22, 0.15, 0.14, 0.07])
    cum = np.cumsum(sizes)
    nf = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:nf].copy()
    sizes[-1] -= cum[nf - 1] - n
    fam = np.repeat(np.arange(nf), sizes)
    fam_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.arange(n) - fam_start[fam]
    g_age = rng.integers(25, 86, nf)
    age = np.where(pos == 0, g_age[fam], np.where(pos == 1, np.clip(g_age[fam] + rng.integers(-6, 7, n), 20, 90),
                                                 rng.integers(1, 20, n)))
    birth = REF_DAY - (age * 365.2425).astype(np.int64).astype("timedelta64[D]") - rng.integers(
        0, 365, n).astype("timedelta64[D]")
    g_gender = rng.integers(1, 3, nf)
    gender = np.where(pos == 0, g_gender[fam], np.where(pos == 1, 3 - g_gender[fam], rng.integers(1, 3, n)))
    female = gender == 2
    first = np.where(female, pools.first_f[rng.integers(0, len(pools.first_f), n)],
                     pools.first_m[rng.integers(0, len(pools.first_m), n)])
    last = pools.last[rng.integers(0, len(pools.last), nf)][fam]
    street = pools.street[rng.integers(0, len(pools.street), nf)][fam]
    city_i = rng.integers(0, len(pools.city), nf)[fam]
    tld = np.array(["example.com", "example.org", "example.net"], dtype=object)[rng.integers(0, 3, nf)]
    g_email = _cat(pd.Series(first[fam_start]).str.lower(), ".", pd.Series(last[fam_start]).str.lower(),
                   np.arange(1, nf + 1), "@", tld)
    has_email = rng.random(nf) < 0.9
    email = _where(has_email[fam], g_email[fam])
    adult = age >= 18
    active = rng.random(n) < 0.88
    dentist = ref.dentists[rng.integers(0, len(ref.dentists), nf)][fam]
    hygienist = ref.hygienists[rng.integers(0, len(ref.hygienists), nf)][fam]
    ids = np.arange(1, n + 1)
    g = _rng(seed, "ids").integers(0, 2**63, (n, 2), dtype=np.int64)
    guid = np.array([f"{a:016X}{b:016X}" for a, b in g], dtype=object)
    guid = _cat("{", pd.Series(guid).str[:8], "-", pd.Series(guid).str[8:12], "-", pd.Series(guid).str[12:16], "-",
                pd.Series(guid).str[16:20], "-", pd.Series(guid).str[20:], "}")
    tables["v_patient"] = {
        "patient_id": ids, "patient_guid": guid, "first_name": first, "last_name": last,
        "mi": np.array(list("ABCDEFGHJKLMNPRSTW"), dtype=object)[rng.integers(0, 18, n)],
        "salutation": _where(adult, np.where(female, "Ms.", "Mr.").astype(object)),
        "preferred_name": _where(rng.random(n) < 0.08, first),
        "status": np.where(active, 1, 3), "birth_date": birth, "gender": gender, "email": email,
        "mobile_phone": _where(adult & (rng.random(n) < 0.85), _phones(rng, n)),
        "home_phone": _phones(rng, nf)[fam], "work_phone": _where(adult & (rng.random(n) < 0.3), _phones(rng, n)),
        "address_line1": street,
        "address_line2": _where(rng.random(nf)[fam] < 0.1, _cat("Apt ", rng.integers(1, 400, n))),
        "city": pools.city[city_i], "state": pools.state[city_i], "zipcode": pools.zipcode[city_i],
        "guar_id": fam_start[fam] + 1, "pri_provider_id": dentist,
        "sec_provider_id": _nullable(hygienist, age < 3),  # toddlers have no hygienist yet
        "privacy_flags": np.zeros(n, int),
        "social_sec_num": _where(adult & (rng.random(n) < 0.6),
                                 _cat("999-", _digits(rng, n, 2), "-", _digits(rng, n, 4))),
        "driverslicense": _where(adult & (rng.random(n) < 0.3), _cat("D", _digits(rng, n, 8))),
        "employer_id": _nullable(rng.integers(1, ref.n_employers + 1, n), ~(adult & (rng.random(n) < 0.55))),
        "modified_time_stamp": _recent_ts(rng, n),
    }
    return _People(fam=fam, pos=pos, fam_start=fam_start, age=age, active=active, dentist=dentist, hygienist=hygienist)


# --- appointments -------------------------------------------------------------------------------------


@dataclass
class _Appts:
    pat: np.ndarray  # (a,) patient index
    day: np.ndarray  # datetime64[D]
    hygiene: np.ndarray
    finished: np.ndarray
    provider: np.ndarray
    dentist: np.ndarray
    modified: np.ndarray  # datetime64[s]


def _appointments(seed: int, people: _People, ref: _Ref, tables: dict) -> _Appts:
    """``v_appt``; ``amount`` is filled in by ``_procedures``."""
    rng = _rng(seed, "appts")
    n = len(people.fam)
    counts = rng.poisson(np.where(people.active, 6.0, 2.0))
    pat = np.repeat(np.arange(n), counts)
    a = len(pat)
    active = people.active[pat]
    lo = np.where(active, -HISTORY_DAYS, -HISTORY_DAYS)
    hi = np.where(active, FUTURE_DAYS, -365)
    day = REF_DAY + (lo + (rng.random(a) * (hi - lo)).astype(np.int64)).astype("timedelta64[D]")
    hour, minute = rng.integers(8, 17, a), rng.integers(0, 6, a) * 10
    order = np.lexsort((pat, minute, hour, day))
    pat, day, hour, minute = pat[order], day[order], hour[order], minute[order]
    hygiene = rng.random(a) < np.where(people.age[pat] < 14, 0.8, 0.55)
    past = day < REF_DAY
    u = rng.random(a)
    status = np.select(
        [~past & (u < 0.5), ~past, u < 0.63, u < 0.84, u < 0.93],
        [C.STATUS_SCHEDULED, C.STATUS_CONFIRMED, C.STATUS_COMPLETE, C.STATUS_CHECKED_OUT, C.STATUS_BROKEN],
        C.STATUS_CANCELLED)
    finished = (status == C.STATUS_COMPLETE) | (status == C.STATUS_CHECKED_OUT)
    provider = np.where(hygiene, people.hygienist[pat], people.dentist[pat])
    dentist = people.dentist[pat]
    booked = REF_TIME - rng.integers(DAY_S, 60 * DAY_S, a).astype("timedelta64[s]")
    modified = np.where(past, _ts_before(rng, day, 4), booked)
    names = tables["v_patient"]
    tables["v_appt"] = {
        "appointment_id": np.arange(1, a + 1), "patient_id": pat + 1,
        "patient_name": _cat(names["last_name"][pat], ", ", names["first_name"][pat]), "appointment_date": day,
        "start_hour": hour, "start_minute": minute,
        "length": np.where(hygiene, 60, rng.integers(3, 10, a) * 10),
        "reason": np.where(hygiene, "Recare: PerEx, Pro", np.where(rng.random(a) < 0.1, "Emergency", "Restorative")
                           ).astype(object),
        "status_id": status, "operatory_id": rng.integers(1, ref.n_ops + 1, a), "provider_id": provider,
        "addtnl_provider_id": _nullable(dentist, ~hygiene), "amount": np.zeros(a, np.int64),
        "broken": (status == C.STATUS_BROKEN).astype(int), "modified_time_stamp": modified,
        "modified_date": modified.astype("datetime64[D]"),
    }
    return _Appts(pat=pat, day=day, hygiene=hygiene, finished=finished, provider=provider, dentist=dentist,
                  modified=modified)


# --- procedures -----------------------------------------------------------------------------------------


def _code_index(ref: _Ref, adacodes: Sequence[str]) -> np.ndarray:
    """Row positions in ``ref.codes`` of the given CDT codes."""
    pos = {c: i for i, c in enumerate(ref.codes["adacode"])}
    return np.array([pos[c] for c in adacodes])


def _teeth_and_surfaces(rng: np.random.Generator, ref: _Ref, code_i: np.ndarray):
    """Tooth (1-32, NULL mask) and (k, 5) surface flags for code positions ``code_i``."""
    k = len(code_i)
    kind = ref.codes["kind"].to_numpy()[code_i]
    nsurf = ref.codes["surfaces"].to_numpy()[code_i]
    ada = ref.codes["adacode"].to_numpy()[code_i]
    anterior = np.array([6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 27])
    posterior = np.array([2, 3, 4, 5, 12, 13, 14, 15, 18, 19, 20, 21, 28, 29, 30, 31])
    tooth = np.where(np.isin(ada, ["D2330", "D3310"]), anterior[rng.integers(0, 12, k)],
                     np.where(np.isin(ada, ["D2391", "D2392", "D2393", "D3330", "D1351"]),
                              posterior[rng.integers(0, 16, k)], rng.integers(1, 33, k)))
    ranks = np.argsort(np.argsort(rng.random((k, 5)), axis=1), axis=1)
    surf = (ranks < nsurf[:, None]).astype(int)
    return tooth, kind != "tooth", surf


def _proc_rows(rng, ref, pat, day, prov, code_i, order, people, chartstatus, modified) -> dict:
    """``fullproclog`` columns for procedure rows (amount = fee)."""
    tooth, no_tooth, surf = _teeth_and_surfaces(rng, ref, code_i)
    k = len(pat)
    return {
        "patid": pat + 1, "guarid": people.fam_start[people.fam[pat]] + 1, "provid": prov,
        "proccodeid": ref.codes["proccodeid"].to_numpy()[code_i], "procdate": day, "createdate": day,
        "amt": ref.codes["fee_cents"].to_numpy()[code_i], "chartstatus": np.full(k, chartstatus),
        "proclogclass": np.full(k, C.CLASS_PROCEDURE), "proclogorder": order, "checknum": np.full(k, None),
        "toothrangestart": (tooth, no_tooth), "toothrangeend": (tooth, no_tooth),
        **{f: surf[:, j] for j, f in enumerate(C.SURFACE_FLAGS)}, "surf5": np.zeros(k, int),
        "automodifiedtimestamp": modified,
    }


def _visit_procedures(seed: int, people: _People, ap: _Appts, ref: _Ref) -> tuple[dict, np.ndarray]:
    """Charges for finished appointments; returns (fullproclog columns, appointment index per row)."""
    rng = _rng(seed, "procs")
    idx = np.flatnonzero(ap.finished)
    hyg, rest = idx[ap.hygiene[idx]], idx[~ap.hygiene[idx]]
    child = people.age[ap.pat[hyg]] < 14
    perio = ~child & (rng.random(len(hyg)) < 0.1)
    exam = _code_index(ref, ["D0120"])[0]
    clean = np.where(child, _code_index(ref, ["D1120"])[0], np.where(perio, _code_index(ref, ["D4910"])[0],
                                                                     _code_index(ref, ["D1110"])[0]))
    bw = rng.random(len(hyg)) < 0.35
    fl = child & (rng.random(len(hyg)) < 0.7)
    rest_codes = list(C.RESTORATIVE_WEIGHTS)
    w = np.array(list(C.RESTORATIVE_WEIGHTS.values()), float)
    nrest = 1 + (rng.random(len(rest)) < 0.45) + (rng.random(len(rest)) < 0.15)
    rest_rep = np.repeat(rest, nrest)
    parts = [  # (appointment index, code position, provider)
        (hyg, np.full(len(hyg), exam), ap.dentist[hyg]),
        (hyg, clean, ap.provider[hyg]),
        (hyg[bw], np.full(bw.sum(), _code_index(ref, ["D0274"])[0]), ap.provider[hyg[bw]]),
        (hyg[fl], np.full(fl.sum(), _code_index(ref, ["D1206"])[0]), ap.provider[hyg[fl]]),
        (rest_rep, _code_index(ref, rest_codes)[rng.choice(len(rest_codes), len(rest_rep), p=w / w.sum())],
         ap.provider[rest_rep]),
    ]
    appt_i = np.concatenate([p[0] for p in parts])
    code_i = np.concatenate([p[1] for p in parts])
    prov = np.concatenate([p[2] for p in parts])
    o = np.argsort(appt_i, kind="stable")
    appt_i, code_i, prov = appt_i[o], code_i[o], prov[o]
    first = np.r_[True, appt_i[1:] != appt_i[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(appt_i)), 0))
    order = np.arange(len(appt_i)) - start + 1
    rows = _proc_rows(rng, ref, ap.pat[appt_i], ap.day[appt_i], prov, code_i, order, people, C.CHART_COMPLETED,
                      ap.modified[appt_i])
    return rows, appt_i


def _treatment_plans(seed: int, people: _People, ref: _Ref) -> tuple[dict, dict]:
    """(plan items table, fullproclog columns for their rows); item ``procid`` set by the caller."""
    rng = _rng(seed, "plans")
    n = len(people.fam)
    has = people.active & (rng.random(n) < 0.3)
    pats = np.flatnonzero(has)
    nitems = rng.integers(1, 5, len(pats))
    plan_of = np.repeat(np.arange(len(pats)), nitems)
    pat = pats[plan_of]
    k = len(pat)
    plan_day = REF_DAY - rng.integers(1, 730, len(pats)).astype("timedelta64[D]")
    codes = list(C.PLAN_WEIGHTS)
    w = np.array(list(C.PLAN_WEIGHTS.values()), float)
    code_i = _code_index(ref, codes)[rng.choice(len(codes), k, p=w / w.sum())]
    u = rng.random(k)
    status = np.where(u < 0.5, "proposed", np.where(u < 0.8, "accepted", "completed")).astype(object)
    done = status == "completed"
    day = plan_day[plan_of]
    gap = np.minimum((REF_DAY - day).astype(np.int64), rng.integers(7, 120, k))
    proc_day = np.where(done, day + gap.astype("timedelta64[D]"), day)
    start = np.concatenate([[0], np.cumsum(nitems)[:-1]])
    order = np.arange(k) - start[plan_of] + 1
    modified = _ts_before(rng, proc_day, 3)
    rows = _proc_rows(rng, ref, pat, proc_day, people.dentist[pat], code_i, order, people, C.CHART_TREATMENT_PLANNED,
                      modified)
    rows["chartstatus"] = np.where(done, C.CHART_COMPLETED, C.CHART_TREATMENT_PLANNED)
    tooth, no_tooth = rows["toothrangestart"]
    flags = np.stack([rows[f] for f in C.SURFACE_FLAGS], axis=1)
    letters = np.array(C.SURFACE_LETTERS, dtype=object)
    surf_txt = np.array(["".join(letters[f.astype(bool)]) or None for f in flags], dtype=object)
    plan = {
        "plan_item_id": np.arange(1, k + 1), "plan_id": plan_of + 1, "patient_id": pat + 1,
        "provider_id": people.dentist[pat], "plan_date": day, "item_order": order,
        "proccodeid": rows["proccodeid"], "adacode": ref.codes["adacode"].to_numpy(object)[code_i],
        "tooth": _nullable(tooth, no_tooth), "surfaces": surf_txt, "fee": rows["amt"], "status": status,
        "procid": None, "modified_time_stamp": modified,
    }
    return plan, rows


# --- ledger ---------------------------------------------------------------------------------------------


def _ledger(seed: int, charges: dict, insured_pat: np.ndarray, n: int, nf: int,
            fam_of_guar: np.ndarray) -> tuple[dict, np.ndarray]:
    """Payments/adjustments for charge rows; returns (fullproclog columns, (families, 4) aging in cents).

    ``charges`` holds completed charge rows only (amt in cents). ``insured_pat`` (n,) bool.
    """
    rng = _rng(seed, "ledger")
    fee = charges["amt"]
    k = len(fee)
    pat = charges["patid"] - 1
    day = charges["procdate"]
    ins = insured_pat[pat]
    adj = np.where(ins & (rng.random(k) < 0.35), np.round(fee * rng.uniform(0.05, 0.25, k)), 0).astype(np.int64)
    net = fee - adj
    ins_amt = np.where(ins, np.round(net * rng.uniform(0.5, 0.8, k)), 0).astype(np.int64)
    pat_amt = net - ins_amt
    adj_day = day + rng.integers(20, 46, k).astype("timedelta64[D]")
    ins_day = day + rng.integers(14, 61, k).astype("timedelta64[D]")
    pat_day = day + np.where(rng.random(k) < 0.5, 0, rng.integers(1, 91, k)).astype("timedelta64[D]")
    bad_debt = rng.random(k) < 0.04
    parts = []  # (mask, amount cents (positive), day, class)
    for mask, amt, d, cls in ((adj > 0, adj, adj_day, C.CLASS_ADJUSTMENT),
                              (ins_amt > 0, ins_amt, ins_day, C.CLASS_INSURANCE_PAYMENT),
                              ((pat_amt > 0) & ~bad_debt, pat_amt, pat_day, C.CLASS_PATIENT_PAYMENT)):
        m = mask & (d <= REF_DAY)
        parts.append((np.flatnonzero(m), amt[m], d[m], cls))
    rows_i = np.concatenate([p[0] for p in parts])
    amt = np.concatenate([p[1] for p in parts])
    paid = np.bincount(rows_i, weights=amt, minlength=k).astype(np.int64)
    remaining = fee - paid
    age = (REF_DAY - day).astype(np.int64)
    bucket = np.select([age <= 30, age <= 60, age <= 90], [0, 1, 2], 3)
    fam = fam_of_guar[charges["guarid"] - 1]
    aging = np.zeros((nf, 4), np.int64)
    np.add.at(aging, (fam, bucket), remaining)
    cls = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])
    d = np.concatenate([p[2] for p in parts])
    m = len(rows_i)
    is_check = (cls == C.CLASS_INSURANCE_PAYMENT) | ((cls == C.CLASS_PATIENT_PAYMENT) & (rng.random(m) < 0.4))
    rows = {
        "patid": charges["patid"][rows_i], "guarid": charges["guarid"][rows_i], "provid": charges["provid"][rows_i],
        "proccodeid": None, "procdate": d, "createdate": d, "amt": -amt, "chartstatus": np.full(m, C.CHART_LEDGER),
        "proclogclass": cls, "proclogorder": np.ones(m, int), "checknum": _where(is_check, _digits(rng, m, 6)),
        "toothrangestart": None, "toothrangeend": None, **{f: np.zeros(m, int) for f in C.SURFACE_FLAGS},
        "surf5": np.zeros(m, int), "automodifiedtimestamp": _ts_before(rng, d, 2),
    }
    return rows, aging


# --- insurance ------------------------------------------------------------------------------------------


def _insurance(seed: int, people: _People, ref: _Ref, tables: dict) -> np.ndarray:
    """``v_insured``, ``v_patient_insurance`` and v_patient's insured ids; returns (n,) insured mask."""
    rng = _rng(seed, "insurance")
    nf = len(people.fam_start)
    sizes = np.diff(np.r_[people.fam_start, len(people.fam)])
    fam_ins = rng.random(nf) < 0.7
    fam_sec = fam_ins & (sizes >= 2) & (rng.random(nf) < 0.15)
    p_plan = rng.integers(0, ref.n_plans, nf)
    s_plan = (p_plan + rng.integers(1, ref.n_plans, nf)) % ref.n_plans
    pf, sf = np.flatnonzero(fam_ins), np.flatnonzero(fam_sec)
    p_id = np.zeros(nf, np.int64)
    s_id = np.zeros(nf, np.int64)
    p_id[pf] = np.arange(1, len(pf) + 1)
    s_id[sf] = len(pf) + np.arange(1, len(sf) + 1)
    party = np.r_[people.fam_start[pf], people.fam_start[sf] + 1]  # guarantor; spouse for secondary
    k = len(party)
    tables["v_insured"] = {
        "insured_id": np.arange(1, k + 1), "ins_plan_id": np.r_[p_plan[pf], s_plan[sf]] + 1,
        "ins_type": np.zeros(k, int), "ins_party_id": party + 1, "id_num": _cat("W", _digits(rng, k, 9)),
        "modified_time_stamp": _recent_ts(rng, k)}
    fam = people.fam
    pt = tables["v_patient"]
    pt["primdentalinsuredid"] = _nullable(p_id[fam], ~fam_ins[fam])
    pt["secdentalinsuredid"] = _nullable(s_id[fam], ~fam_sec[fam])
    who = np.flatnonzero(fam_ins[fam])
    f = fam[who]
    sub = people.fam_start[f]
    tables["v_patient_insurance"] = {
        "patient_id": who + 1, "patient_guid": pt["patient_guid"][who], "first_name": pt["first_name"][who],
        "last_name": pt["last_name"][who], "primary_insurance_carrier_id": p_plan[f] + 1,
        "primary_insurance_carrier_name": ref.plan_names[p_plan[f]], "primary_insured_id": p_id[f],
        "primary_insured_first_name": pt["first_name"][sub], "primary_insured_last_name": pt["last_name"][sub],
        "secondary_insurance_carrier_id": _nullable(s_plan[f] + 1, ~fam_sec[f]),
        "secondary_insurance_carrier_name": _where(fam_sec[f], ref.plan_names[s_plan[f]]),
        "secondary_insured_id": _nullable(s_id[f], ~fam_sec[f]), "modified_time_stamp": _recent_ts(rng, len(who))}
    return fam_ins[fam]


# --- notes, medical, recall, referrals, documents --------------------------------------------------------


def _notes(seed: int, people: _People, ap: _Appts, tables: dict) -> None:
    """``v_notes`` (notetype 3 patient notes) and ``v_clinical_notes`` (default) for finished visits."""
    rng = _rng(seed, "notes")
    n = len(people.fam)
    who = np.flatnonzero(rng.random(n) < 0.35)
    tables["v_notes"] = {"noteid": who + 1, "notetype": np.full(len(who), 3),
                         "notetext": np.array(C.PATIENT_NOTES, dtype=object)[
                             rng.integers(0, len(C.PATIENT_NOTES), len(who))],
                         "modified_time_stamp": _recent_ts(rng, len(who))}
    vis = np.flatnonzero(ap.finished & (rng.random(len(ap.pat)) < 0.6))
    reason = tables["v_appt"]["reason"][vis]
    tmpl = rng.integers(0, len(C.CLINICAL_NOTE_TEMPLATES), len(vis))
    text = np.empty(len(vis), dtype=object)
    for t, s in enumerate(C.CLINICAL_NOTE_TEMPLATES):
        m = tmpl == t
        pre, post = s.split("{reason}")
        text[m] = _cat(pre, reason[m], post) if m.any() else text[m]
    tables["v_clinical_notes"] = {
        "note_id": np.arange(1, len(vis) + 1), "patient_id": ap.pat[vis] + 1, "appointment_id": vis + 1,
        "provider_id": ap.provider[vis], "note_date": ap.day[vis], "note_text": text,
        "modified_time_stamp": ap.modified[vis]}


def _medical(seed: int, people: _People, tables: dict) -> None:
    """``hhlinkpat_item`` rows linking patients to ``hhitem`` alerts."""
    rng = _rng(seed, "medical")
    n = len(people.fam)
    pat = np.repeat(np.arange(n), rng.poisson(np.where(people.age >= 18, 0.6, 0.2)))
    k = len(pat)
    item = rng.integers(0, len(C.HH_ITEMS), k)
    active = rng.random(k) < 0.85
    rep = REF_DAY - rng.integers(1, 2000, k).astype("timedelta64[D]")
    end = np.where(active, np.datetime64("NaT"), np.minimum(rep + rng.integers(30, 700, k).astype("timedelta64[D]"),
                                                            REF_DAY))
    crit = tables["hhitem"]["critical"][item]
    tables["hhlinkpat_item"] = {
        "linkid": np.arange(1, k + 1), "patid": pat + 1, "hhitemid": item + 1, "status": active.astype(int),
        "reporteddate": rep, "startdate": rep, "enddate": end.astype("datetime64[D]"),
        "note": _where(rng.random(k) < 0.2, np.full(k, "Confirmed with patient", dtype=object)),
        "popup": crit, "critical": crit, "automodifiedtimestamp": _ts_before(rng, rep, 3)}


def _recalls(seed: int, people: _People, ap: _Appts, tables: dict) -> None:
    """``v_patient_recall``: PROPHY (6 months) and, for half, BWX (12 months) after the last hygiene visit."""
    rng = _rng(seed, "recalls")
    n = len(people.fam)
    done = ap.finished & ap.hygiene
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, ap.pat[done], ap.day[done].astype(np.int64))
    who = np.flatnonzero(people.active & (last > np.iinfo(np.int64).min))
    bwx = who[rng.random(len(who)) < 0.5]
    pats = np.r_[who, bwx]
    prior = last[pats].astype("datetime64[D]")
    k = len(pats)
    tables["v_patient_recall"] = {
        "recall_id": np.arange(1, k + 1), "patient_id": pats + 1,
        "recall_type": np.r_[np.full(len(who), C.RECALL_PROPHY, dtype=object),
                             np.full(len(bwx), C.RECALL_BWX, dtype=object)],
        "due_date": prior + np.r_[np.full(len(who), 182), np.full(len(bwx), 365)].astype("timedelta64[D]"),
        "prior_date": prior, "provider_id": people.hygienist[pats], "modified_time_stamp": _ts_before(rng, prior, 2)}


def _referrals(seed: int, people: _People, ref: _Ref, tables: dict) -> None:
    """``v_patient_referral`` (default): ~15 % referred in, ~5 % referred out."""
    rng = _rng(seed, "referrals")
    n = len(people.fam)
    pin, pout = np.flatnonzero(rng.random(n) < 0.15), np.flatnonzero(rng.random(n) < 0.05)
    pats = np.r_[pin, pout]
    k = len(pats)
    d = REF_DAY - rng.integers(1, HISTORY_DAYS, k).astype("timedelta64[D]")
    tables["v_patient_referral"] = {
        "patient_referral_id": np.arange(1, k + 1), "patient_id": pats + 1,
        "referral_id": rng.integers(1, ref.n_referrals + 1, k), "referral_date": d,
        "direction": np.r_[np.full(len(pin), "in", dtype=object), np.full(len(pout), "out", dtype=object)],
        "modified_time_stamp": _ts_before(rng, d, 2)}


def _documents(seed: int, people: _People, tables: dict) -> None:
    """``v_document`` (default) metadata with Document-Center-style encoded file names (no files)."""
    rng = _rng(seed, "documents")
    n = len(people.fam)
    counts = np.where(rng.random(n) < 0.4, 1 + rng.poisson(0.5, n), 0)
    pat = np.repeat(np.arange(n), counts)
    k = len(pat)
    cat = rng.integers(0, len(C.DOC_CATEGORIES), k)
    names = np.array([c[0] for c in C.DOC_CATEGORIES], dtype=object)
    ext = np.array([c[1] for c in C.DOC_CATEGORIES], dtype=object)[cat]
    lo = np.array([c[2] for c in C.DOC_CATEGORIES])[cat]
    hi = np.array([c[3] for c in C.DOC_CATEGORIES])[cat]
    doc_id = np.arange(1, k + 1)
    fname = np.array([f"{p + 1:08X}{d:08X}." for p, d in zip(pat, doc_id, strict=True)], dtype=object)
    fname = _cat(fname, pd.Series(ext).str.upper())
    folder = np.array([f"{(p + 1) % 256:02X}" for p in range(n)], dtype=object)[pat]
    d = REF_DAY - rng.integers(1, HISTORY_DAYS, k).astype("timedelta64[D]")
    tables["v_document"] = {
        "document_id": doc_id, "patient_id": pat + 1, "doc_date": d, "category": names[cat],
        "description": _cat(names[cat], " ", d.astype(str)),
        "file_path": _cat("\\\\DTXSERVER\\Dentrix\\DocCenter\\", folder, "\\"), "file_name": fname,
        "file_type": ext, "file_size": lo + (rng.random(k) * (hi - lo)).astype(np.int64),
        "modified_time_stamp": _ts_before(rng, d, 2)}


# --- assembly ---------------------------------------------------------------------------------------------


def _concat_rows(parts: list[dict]) -> dict:
    """Concatenate fullproclog column dicts; ``(values, null_mask)`` / None entries become nullable ints."""
    out = {}
    for col, typ in SCHEMA["fullproclog"]:
        if col == "procid":
            continue
        vals, masks = [], []
        for p in parts:
            k = len(p["patid"])
            v = p[col]
            if v is None:
                vals.append(np.zeros(k, np.int64) if typ == "int?" else np.full(k, None, dtype=object))
                masks.append(np.ones(k, bool))
            elif isinstance(v, tuple):
                vals.append(v[0])
                masks.append(v[1])
            else:
                vals.append(v)
                masks.append(np.zeros(k, bool))
        v = np.concatenate(vals)
        out[col] = _nullable(v, np.concatenate(masks)) if typ == "int?" else v
    return out


def _generate(n: int, seed: int) -> dict[str, dict]:
    """All tables as ``{name: {column: array}}`` (money in integer cents, dates datetime64)."""
    tables: dict[str, dict] = {}
    pools = _build_pools(seed)
    ref = _reference(seed, n, pools, tables)
    people = _patients(seed, n, pools, ref, tables)
    ap = _appointments(seed, people, ref, tables)
    insured = _insurance(seed, people, ref, tables)
    visit_rows, appt_i = _visit_procedures(seed, people, ap, ref)
    tables["v_appt"]["amount"] = np.bincount(appt_i, weights=visit_rows["amt"], minlength=len(ap.pat)).astype(np.int64)
    plan, plan_rows = _treatment_plans(seed, people, ref)
    n_visit = len(visit_rows["patid"])
    plan["procid"] = n_visit + np.arange(1, len(plan["plan_id"]) + 1)
    tables["v_treatment_plan"] = plan
    done = plan_rows["chartstatus"] == C.CHART_COMPLETED
    charges = {c: np.r_[visit_rows[c], plan_rows[c][done]] for c in ("amt", "patid", "procdate", "guarid", "provid")}
    nf = len(people.fam_start)
    fam_of_guar = np.zeros(n, np.int64)
    fam_of_guar[people.fam_start] = np.arange(nf)
    ledger_rows, aging = _ledger(seed, charges, insured, n, nf, fam_of_guar)
    log = _concat_rows([visit_rows, plan_rows, ledger_rows])
    tables["fullproclog"] = {"procid": np.arange(1, len(log["patid"]) + 1), **log}
    pt = tables["v_patient"]
    fin = ap.finished
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(lo, ap.pat[fin], ap.day[fin].astype(np.int64))
    np.maximum.at(hi, ap.pat[fin], ap.day[fin].astype(np.int64))
    seen = hi > np.iinfo(np.int64).min
    pt["first_visit_date"] = np.where(seen, lo, np.datetime64("NaT").astype(np.int64)).astype("datetime64[D]")
    pt["last_visit_date"] = np.where(seen, hi, np.datetime64("NaT").astype(np.int64)).astype("datetime64[D]")
    g = people.fam_start
    last_ledger = np.full(nf, REF_TIME - np.timedelta64(720 * DAY_S, "s"))
    np.maximum.at(last_ledger, fam_of_guar[log["guarid"] - 1], log["automodifiedtimestamp"])
    tables["v_guarantor_balance"] = {
        "guar_id": g + 1, "first_name": pt["first_name"][g], "last_name": pt["last_name"][g],
        "social_sec_num": pt["social_sec_num"][g], "birth_date": pt["birth_date"][g],
        "balance_0_30_days": aging[:, 0], "balance_31_60_days": aging[:, 1], "balance_61_90_days": aging[:, 2],
        "balance_91_plus_days": aging[:, 3], "modified_time_stamp": last_ledger}
    _notes(seed, people, ap, tables)
    _medical(seed, people, tables)
    _recalls(seed, people, ap, tables)
    _referrals(seed, people, ref, tables)
    _documents(seed, people, tables)
    return {t: tables[t] for t in SCHEMA}


def _to_python(values, typ: str) -> list:
    """A column as a list of Python values (None for NULL) ready for a DB-API driver."""
    if len(values) == 0:
        return []
    if typ == "money":
        return (np.asarray(values, dtype=np.int64) / 100).round(2).tolist()
    if typ in ("date", "ts"):
        arr = np.asarray(values).astype("datetime64[D]" if typ == "date" else "datetime64[s]")
        s = np.datetime_as_string(arr).astype(object)
        if typ == "ts":
            s = np.char.replace(s.astype(str), "T", " ").astype(object)
        s[np.isnat(arr)] = None
        return s.tolist()
    if typ == "int?" and isinstance(values, pd.arrays.IntegerArray):
        return values.to_numpy(dtype=object, na_value=None).tolist()
    if typ in ("int", "int?"):
        return np.asarray(values, dtype=np.int64).tolist()
    return np.asarray(values, dtype=object).tolist()


WRITE_BATCH = 200_000  # rows converted to Python objects at a time (bounds peak memory)


def _batches(table: str, data: dict):
    """Yield (column names, list of column value lists) for ``table`` in batches of ``WRITE_BATCH`` rows."""
    cols = SCHEMA[table]
    missing = [c for c, _ in cols if c not in data]
    if missing:
        raise KeyError(f"{table}: generator did not fill {missing}")
    names = [c for c, _ in cols]
    n = len(data[cols[0][0]])
    for start in range(0, max(n, 1), WRITE_BATCH):
        yield names, [_to_python(data[c][start:start + WRITE_BATCH], t) for c, t in cols]


def _write_sqlite(path: Path, tables: dict[str, dict]) -> dict[str, int]:
    """Write one SQLite file (replacing it) through an ``admin`` attachment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(":memory:")
    try:
        attach_sqlite(conn, path)
        conn.execute("PRAGMA admin.journal_mode=OFF")
        conn.execute("PRAGMA admin.synchronous=OFF")
        for stmt in practice_ddl("sqlite"):
            conn.execute(stmt)
        counts = {}
        for table, data in tables.items():
            counts[table] = 0
            for names, cols in _batches(table, data):
                sql = f"INSERT INTO admin.{table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                conn.executemany(sql, zip(*cols, strict=True))
                counts[table] += len(cols[0])
        conn.commit()
        conn.execute("DETACH DATABASE admin")
    finally:
        conn.close()
    return counts


def _write_postgresql(url: str, tables: dict[str, dict]) -> dict[str, int]:
    """Recreate schema ``admin`` in the database at SQLAlchemy ``url`` and COPY every table in."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    if not make_url(url).drivername.startswith("postgresql"):
        raise ValueError(f"dialect 'postgresql' needs a postgresql:// SQLAlchemy URL, got {url!r}")
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP SCHEMA IF EXISTS admin CASCADE")
        for stmt in practice_ddl("postgresql"):
            cur.execute(stmt)
        counts = {}
        for table, data in tables.items():
            counts[table] = 0
            for names, cols in _batches(table, data):
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(zip(*cols, strict=True))
                buf.seek(0)
                cur.copy_expert(f"COPY admin.{table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", buf)
                counts[table] += len(cols[0])
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return counts


def build_practice(
    out_path: str | Path, *, patients: int = 500, seed: int = 7, dialect: str = "sqlite",
    export_dir: str | Path | None = None, documents_dir: str | Path | None = None,
) -> dict[str, int]:
    """Write a Dentrix-shaped practice database; return rows per view/table.

    ``out_path``: a SQLite file path (replaced) for ``dialect="sqlite"``, or a SQLAlchemy PostgreSQL URL
    for ``dialect="postgresql"`` (schema ``admin`` is dropped and recreated there). ``patients`` >= 1.
    ``export_dir``: also write the structured file export there (``export_files``); ``documents_dir``:
    also write the ``v_document`` files there (``write_documents``).
    Returns ``{object name: row count}`` in ``SCHEMA`` order. Raises ``ValueError`` on bad arguments.
    """
    if patients < 1:
        raise ValueError(f"patients must be >= 1, got {patients}")
    if dialect not in _SQL_TYPES:
        raise ValueError(f"dialect must be 'sqlite' or 'postgresql', not {dialect!r}")
    tables = _generate(int(patients), int(seed))
    if dialect == "sqlite":
        if str(out_path).startswith(("postgresql:", "postgresql+")):
            raise ValueError("a PostgreSQL URL needs dialect='postgresql'")
        counts = _write_sqlite(Path(out_path), tables)
    else:
        counts = _write_postgresql(str(out_path), tables)
    del tables
    if export_dir is not None:
        export_files(out_path, export_dir)
    if documents_dir is not None:
        write_documents(out_path, documents_dir)
    return counts


# --- structured file export and Document Center files ---------------------------------------------------

_SPEC_TYPES = {"int": "int", "int?": "int", "money": "money", "text": "string", "date": "date", "ts": "datetime"}


def source_objects() -> dict[str, SourceObject]:
    """Spec ``SourceObject``s of every practice object: ``table`` ``admin.<name>``, typed columns,
    the single-column primary key (none for ``v_notes``, whose key has two columns) and the
    modified-at column; what a database spec declares, built from ``SCHEMA``."""
    from flit_pipelines.spec.model import ColumnSpec, SourceObject

    out = {}
    for table, cols in SCHEMA.items():
        pk = PRIMARY_KEYS.get(table, (cols[0][0],))
        out[table] = SourceObject(
            table=f"admin.{table}", primary_key=pk[0] if len(pk) == 1 else None,
            modified_at=next(c for c, t in cols if t == "ts"),
            columns={c: ColumnSpec(type=_SPEC_TYPES[t], nullable=t not in ("int", "ts")) for c, t in cols})
    return out


def _practice_source(db: str | Path):
    """A ``DatabaseSource`` on a practice: a SQLite file path or a SQLAlchemy URL."""
    from flit_pipelines.sources.database import DatabaseSource

    text = str(db)
    url = text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"
    return DatabaseSource.from_url(url, chunk_rows=WRITE_BATCH)


def export_files(db: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write the structured file export of a practice: ``<out_dir>/<object>.csv`` for every object.

    ``db``: the SQLite file (or a SQLAlchemy URL, e.g. the PostgreSQL practice). Each file has a header
    row and the object's columns in ``SCHEMA`` order, read through ``DatabaseSource`` so the values are
    the same canonical text a database read yields (UTF-8, quoted strings, NULL as an empty field);
    ``CsvExportSource`` reads ``admin.v_patient`` from ``v_patient.csv``. Streams ``WRITE_BATCH`` rows
    at a time. Returns ``{object: rows written}``; files are replaced.
    """
    import pyarrow.csv as pacsv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with _practice_source(db) as src:
        for table, obj in source_objects().items():
            schema = pa.schema([(c, pa.string()) for c in obj.columns])
            counts[table] = 0
            with pacsv.CSVWriter(out / f"{table}.csv", schema) as writer:
                for batch in src.read(obj):
                    writer.write_batch(batch)
                    counts[table] += batch.num_rows
    return counts


def _jpeg(comment: str) -> bytes:
    """A valid 8x8 mid-grey baseline JPEG with ``comment`` in a COM segment (unique per document)."""
    def seg(marker: int, body: bytes) -> bytes:
        return struct.pack(">HH", marker, len(body) + 2) + body
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one 1-bit Huffman code for symbol 0 (DC diff 0 / EOB)
    return b"".join([
        b"\xff\xd8",
        seg(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        seg(0xFFFE, comment.encode("ascii")),
        seg(0xFFDB, b"\x00" + b"\x01" * 64),
        seg(0xFFC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
        seg(0xFFC4, b"\x00" + one_code), seg(0xFFC4, b"\x10" + one_code),
        seg(0xFFDA, b"\x01\x01\x00\x00\x3f\x00"),
        b"\x3f",  # DC "0" + EOB "0", padded with 1-bits
        b"\xff\xd9",
    ])


def _tiff(level: int) -> bytes:
    """A valid 1x1 8-bit greyscale baseline TIFF (little-endian)."""
    entries = [(256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 8 * 12 + 4),
               (278, 3, 1), (279, 4, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", t, typ, 1, v) for t, typ, v in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes([level & 0xFF])


def _dicom(document_id: int) -> bytes:
    """A valid DICOM Part 10 file (explicit VR little endian, Secondary Capture, 8x8 8-bit image)."""
    def el(group: int, elem: int, vr: str, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\x00" if vr in ("UI", "OB") else b" "
        if vr in ("OB", "OW", "SQ", "UN", "UT"):
            return struct.pack("<HH", group, elem) + vr.encode() + b"\x00\x00" + struct.pack("<I", len(value)) + value
        return struct.pack("<HH", group, elem) + vr.encode() + struct.pack("<H", len(value)) + value
    us = lambda v: struct.pack("<H", v)  # noqa: E731
    sop_class, instance = b"1.2.840.10008.5.1.4.1.1.7", f"2.25.{document_id}".encode()
    meta = b"".join([el(2, 1, "OB", b"\x00\x01"), el(2, 2, "UI", sop_class), el(2, 3, "UI", instance),
                     el(2, 0x10, "UI", b"1.2.840.10008.1.2.1"), el(2, 0x12, "UI", b"2.25.1")])
    data = b"".join([
        el(8, 0x16, "UI", sop_class), el(8, 0x18, "UI", instance), el(8, 0x60, "CS", b"IO"),
        el(0x28, 2, "US", us(1)), el(0x28, 4, "CS", b"MONOCHROME2"), el(0x28, 0x10, "US", us(8)),
        el(0x28, 0x11, "US", us(8)), el(0x28, 0x100, "US", us(8)), el(0x28, 0x101, "US", us(8)),
        el(0x28, 0x102, "US", us(7)), el(0x28, 0x103, "US", us(0)),
        el(0x7FE0, 0x10, "OB", bytes((document_id + i) & 0xFF for i in range(64)))])
    return b"\x00" * 128 + b"DICM" + el(2, 0, "UL", struct.pack("<I", len(meta))) + meta + data


def document_bytes(document_id: int, file_type: str, category: str = "Document") -> bytes:
    """Small deterministic content of one ``v_document`` file, valid for its ``file_type``.

    ``pdf`` (one page), ``jpg``/``jpeg``, ``png``, ``tif``/``tiff``, ``dcm`` (DICOM); anything else is
    plain text. A few hundred bytes each: ``v_document.file_size`` describes the real Document Center
    file, not this stand-in. No patient data is written.
    """
    from flit_sandboxes.clinic_export import _pdf, _png

    title = f"Synthetic {category} - document {document_id}"
    kind = file_type.lower()
    if kind == "pdf":
        return _pdf([title, "Synthetic document for migration testing - not a real patient record."])
    if kind in ("jpg", "jpeg"):
        return _jpeg(title)
    if kind == "png":
        return _png(2, 2, bytes((document_id * 7 + i) & 0xFF for i in range(12)))
    if kind in ("tif", "tiff"):
        return _tiff(document_id)
    if kind == "dcm":
        return _dicom(document_id)
    return (title + "\n").encode("ascii")


def write_documents(db: str | Path, documents_dir: str | Path) -> int:
    """Write every ``v_document`` file as ``<documents_dir>/<folder>/<file_name>``.

    ``folder`` is the last part of ``file_path`` (2 hex digits, ``\\\\DTXSERVER\\...\\DocCenter\\1F\\``), so
    the directory mirrors the Document Center share a destination uploads from. ``db`` as in
    ``export_files``. Returns the number of files written (existing ones are replaced).
    """
    obj = source_objects()["v_document"]
    root = Path(documents_dir)
    n = 0
    with _practice_source(db) as src:
        for batch in src.read(obj):
            cols = batch.to_pydict()
            for doc_id, path, name, ftype, cat in zip(cols["document_id"], cols["file_path"], cols["file_name"],
                                                      cols["file_type"], cols["category"], strict=True):
                folder = path.rstrip("\\").rsplit("\\", 1)[-1]
                target = root / folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(document_bytes(int(doc_id), ftype, cat))
                n += 1
    return n


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints ``table rows`` lines."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="SQLite file, or SQLAlchemy URL with --dialect postgresql")
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dialect", choices=sorted(_SQL_TYPES), default="sqlite")
    ap.add_argument("--export-dir", help="also write the structured file export (<object>.csv) here")
    ap.add_argument("--documents-dir", help="also write the v_document files (<folder>/<file_name>) here")
    args = ap.parse_args(argv)
    counts = build_practice(args.out, patients=args.patients, seed=args.seed, dialect=args.dialect,
                            export_dir=args.export_dir, documents_dir=args.documents_dir)
    for table, rows in counts.items():
        print(f"{table}\t{rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
