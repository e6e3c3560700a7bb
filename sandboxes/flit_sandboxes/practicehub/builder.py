"""Deterministic synthetic PracticeHub practice: ``build_practicehub(path, patients=N, seed=S)``.

All values are synthetic: Faker name/street/city pools (seeded), e-mails at ``example.com``,
phones ``(xxx) 555-xxxx``, fictional insurance carriers, NPIs ``1`` + 9 random digits. Same
``patients`` + ``seed`` -> byte-identical table contents. Generation is whole-column numpy (Faker
only fills small pools; JSON lists are concatenated from pre-rendered fragments), one independent
random stream per table, so adding a table never shifts another's draws.

Content model (reference time ``REF_TIME`` 2025-06-30T17:00:00Z; nothing is created or updated
after it, except by the admin ``touch``):

* patients created over the 3 years before ``REF_TIME``; 7 % archived;
* practitioners: ``max(3, ceil(patients / 40))``, 90 % active;
* patient_practitioners: one ``primary`` per patient, a ``secondary`` for 35 %;
* appointments ~ Poisson(7) per patient (archived: 2) between the patient's creation and 60 days
  after ``REF_TIME``, in 15-minute slots 08:00-17:30 UTC; a patient's first is an "Initial
  Assessment". Past: 83 % completed, 9 % cancelled, 8 % no_show; future: booked/confirmed, 5 %
  cancelled;
* treatment_notes: one per completed appointment; the patient's ICD-10 condition (+ 30 % a
  secondary finding); CPT procedures 1-3 (an evaluation code first on initial assessments), each
  line with ``id`` = note id x 10 + line number;
* invoices: one per treatment note (amount = sum of units x unit_fee of its procedures) plus a
  50.00 fee for 30 % of no-shows; paid/pending/overdue/cancelled from the due date (issue + 30
  days) vs ``REF_TIME``;
* insurances: a primary for 85 % of patients, a secondary for 18 % of those;
* policy_documents: privacy notice and consent for everyone, others by share (``codes``);
* attachments ~ Poisson(1.5) per patient, owned by the patient (50 %), one of their treatment
  notes (30 %) or invoices (20 %), falling back to the patient.

Size: ~26 records per patient (200 patients -> ~5,200 rows, ~55 pages of 100).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flit_sandboxes.practicehub import codes as K
from flit_sandboxes.practicehub.resources import BY_NAME
from flit_sandboxes.practicehub.store import SEEDED_KEY, PracticeHubStore
from flit_sandboxes.synthetic import NamePools, name_pools

REF_TIME = np.datetime64("2025-06-30T17:00:00", "s")
REF_DAY = REF_TIME.astype("datetime64[D]")
DAY = np.timedelta64(1, "D")
SEC_PER_DAY = 86_400
HISTORY_DAYS = 3 * 365
FUTURE_DAYS = 60
_STREAMS = {"pools": 1, "patients": 2, "practitioners": 3, "associations": 4, "appointments": 5, "notes": 6,
            "invoices": 7, "insurances": 8, "documents": 9, "attachments": 10}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream]]))


# ------------------------------------------------------------------------------------ vector helpers
def _s(values: Any) -> pd.Series:
    """Values as a pandas object Series of text (for vectorised concatenation)."""
    return pd.Series(np.asarray(values, dtype=object)).astype(str)


def _cat(*parts: Any) -> np.ndarray:
    """Element-wise text concatenation of arrays and scalars."""
    n = max(len(p) for p in parts if not isinstance(p, str))
    out = pd.Series([""] * n, dtype=object)
    for p in parts:
        out = out + (p if isinstance(p, str) else _s(p))
    return out.to_numpy(dtype=object)


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10 ** width, n).astype(str), width).astype(object)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    return _cat("(", rng.integers(201, 990, n), ") 555-", _digits(rng, n, 4))


def _where(mask: np.ndarray, values: np.ndarray) -> list[Any]:
    """``values`` where ``mask``, else None, as a Python list."""
    out = np.asarray(values, dtype=object).copy()
    out[~np.asarray(mask, dtype=bool)] = None
    return out.tolist()


def _ts(values: np.ndarray) -> np.ndarray:
    """datetime64[s] -> ``YYYY-MM-DDTHH:MM:SSZ`` text (NaT -> None)."""
    arr = np.asarray(values, dtype="datetime64[s]")
    out = np.char.add(np.datetime_as_string(arr, unit="s"), "Z").astype(object)
    out[np.isnat(arr)] = None
    return out


def _date(values: np.ndarray) -> np.ndarray:
    """datetime64 -> ``YYYY-MM-DD`` text (NaT -> None)."""
    arr = np.asarray(values).astype("datetime64[D]")
    out = np.datetime_as_string(arr, unit="D").astype(object)
    out[np.isnat(arr)] = None
    return out


def _secs(rng: np.random.Generator, low: np.ndarray | int, high: np.ndarray | int, n: int) -> np.ndarray:
    """Random whole seconds in ``[low, high)`` as timedelta64[s] (``high`` clipped above ``low``)."""
    low = np.asarray(low, dtype=np.int64)
    high = np.maximum(np.asarray(high, dtype=np.int64), low + 1)
    return (low + (rng.random(n) * (high - low)).astype(np.int64)).astype("timedelta64[s]")


def _cap(values: np.ndarray) -> np.ndarray:
    """Never after ``REF_TIME``."""
    return np.minimum(values, REF_TIME)


def _pick_per_patient(rng: np.random.Generator, owner_patient: np.ndarray, rows_patient: np.ndarray,
                      row_ids: np.ndarray) -> np.ndarray:
    """For each entry of ``owner_patient``, a random id among ``row_ids`` of the same patient (0: none)."""
    if not len(rows_patient):
        return np.zeros(len(owner_patient), dtype=np.int64)
    order = np.argsort(rows_patient, kind="stable")
    size = int(max(owner_patient.max(initial=0), rows_patient.max(initial=0))) + 1
    counts = np.bincount(rows_patient, minlength=size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cnt = counts[owner_patient]
    idx = starts[owner_patient] + (rng.random(len(owner_patient)) * np.maximum(cnt, 1)).astype(np.int64)
    picked = row_ids[order][np.minimum(idx, len(order) - 1)]
    return np.where(cnt > 0, picked, 0)


# ------------------------------------------------------------------------------------ Faker pools
def _pools(seed: int) -> NamePools:
    return name_pools(seed, first=250, last=400, street=300, city=120, street_kind="street_name")


def _choice(rng: np.random.Generator, values: np.ndarray | tuple, n: int, p: list[float] | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def _email(first: np.ndarray, last: np.ndarray, ident: np.ndarray, domain: str) -> np.ndarray:
    local = _s(_cat(first, ".", last)).str.lower().str.replace(r"[^a-z.]", "", regex=True)
    return _cat(local.to_numpy(dtype=object), ident, "@", domain)


# ------------------------------------------------------------------------------------ tables
Columns = dict[str, list[Any]]


def _patients(seed: int, n: int, pools: NamePools) -> tuple[Columns, dict[str, np.ndarray]]:
    rng = _rng(seed, "patients")
    ids = np.arange(1, n + 1)
    r = rng.random(n)
    female, male = r < 0.5, (r >= 0.5) & (r < 0.98)
    first = np.where(female, pools.first_f[rng.integers(0, len(pools.first_f), n)],
                     pools.first_m[rng.integers(0, len(pools.first_m), n)])
    last = pools.last[rng.integers(0, len(pools.last), n)]
    title = np.where(female, _choice(rng, ("Ms", "Mrs"), n), np.where(male, "Mr", None)).astype(object)
    title[rng.random(n) < 0.04] = "Dr"
    age_days = rng.integers(4 * 365, 92 * 365, n)
    city_idx = rng.integers(0, len(pools.city), n)
    created = REF_TIME - _secs(rng, 30 * SEC_PER_DAY, HISTORY_DAYS * SEC_PER_DAY, n)
    updated = created + ((REF_TIME - created).astype(np.int64) * rng.random(n) ** 2).astype("timedelta64[s]")
    archived = rng.random(n) < 0.07
    cols: Columns = {
        "id": ids.tolist(),
        "title": title.tolist(),
        "first_name": first.tolist(),
        "last_name": last.tolist(),
        "preferred_name": _where(rng.random(n) < 0.08, np.where(
            female, pools.first_f[rng.integers(0, len(pools.first_f), n)],
            pools.first_m[rng.integers(0, len(pools.first_m), n)])),
        "date_of_birth": _date(REF_DAY - age_days.astype("timedelta64[D]")).tolist(),
        "gender": np.where(female, "female", np.where(male, "male", "other")).tolist(),
        "email": _where(rng.random(n) < 0.88, _email(first, last, ids, "example.com")),
        "mobile_phone": _where(rng.random(n) < 0.85, _phones(rng, n)),
        "home_phone": _where(rng.random(n) < 0.25, _phones(rng, n)),
        "address_line1": _cat(rng.integers(1, 9900, n), " ",
                              pools.street[rng.integers(0, len(pools.street), n)]).tolist(),
        "address_line2": _where(rng.random(n) < 0.12, _cat("Apt ", rng.integers(1, 400, n))),
        "address_city": pools.city[city_idx].tolist(),
        "address_state": pools.state[city_idx].tolist(),
        "address_postal_code": pools.zipcode[city_idx].tolist(),
        "address_country": ["US"] * n,
        "referral_source": _where(rng.random(n) < 0.8, _choice(rng, K.REFERRAL_SOURCES, n)),
        "archived": archived.astype(int).tolist(),
        "created_at": _ts(created).tolist(),
        "updated_at": _ts(updated).tolist(),
    }
    return cols, {"created": created, "archived": archived, "age_days": age_days}


def _practitioners(seed: int, m: int, pools: NamePools) -> Columns:
    rng = _rng(seed, "practitioners")
    ids = np.arange(1, m + 1)
    female = rng.random(m) < 0.55
    first = np.where(female, pools.first_f[rng.integers(0, len(pools.first_f), m)],
                     pools.first_m[rng.integers(0, len(pools.first_m), m)])
    last = pools.last[rng.integers(0, len(pools.last), m)]
    profession = _choice(rng, K.PROFESSIONS, m, p=[0.5, 0.25, 0.1, 0.1, 0.05])
    doctor = np.isin(profession, ["Chiropractor", "Sports Medicine Physician"]) | (rng.random(m) < 0.3)
    created = REF_TIME - _secs(rng, 400 * SEC_PER_DAY, (HISTORY_DAYS + 400) * SEC_PER_DAY, m)
    created[0] = REF_TIME - np.timedelta64((HISTORY_DAYS + 400) * SEC_PER_DAY, "s")  # the founder
    updated = _cap(created + _secs(rng, 0, 600 * SEC_PER_DAY, m))
    return {
        "id": ids.tolist(), "title": _where(doctor, np.full(m, "Dr", dtype=object)),
        "first_name": first.tolist(), "last_name": last.tolist(), "profession": profession.tolist(),
        "email": _email(first, last, np.full(m, "", dtype=object), "clinic.example.com").tolist(),
        "phone": _phones(rng, m).tolist(), "npi": _cat("1", _digits(rng, m, 9)).tolist(),
        "active": ((rng.random(m) < 0.9) | (ids == 1)).astype(int).tolist(),
        "created_at": _ts(created).tolist(), "updated_at": _ts(updated).tolist(),
    }


def _associations(seed: int, n: int, m: int, pat: dict[str, np.ndarray]) -> tuple[Columns, np.ndarray]:
    rng = _rng(seed, "associations")
    primary = rng.integers(1, m + 1, n)
    has_second = rng.random(n) < 0.35
    second = (primary - 1 + 1 + rng.integers(0, m - 1, n)) % m + 1
    pid = np.concatenate([np.arange(1, n + 1), np.arange(1, n + 1)[has_second]])
    prac = np.concatenate([primary, second[has_second]])
    role = np.array(["primary"] * n + ["secondary"] * int(has_second.sum()), dtype=object)
    created = _cap(pat["created"][pid - 1] + _secs(rng, 60, 30 * SEC_PER_DAY, len(pid)))
    order = np.lexsort((pid, created))
    pid, prac, role, created = pid[order], prac[order], role[order], created[order]
    k = len(pid)
    updated = _cap(created + ((REF_TIME - created).astype(np.int64) * rng.random(k) ** 3).astype("timedelta64[s]"))
    active = ~pat["archived"][pid - 1] & (rng.random(k) < 0.95)
    return {
        "id": list(range(1, k + 1)), "patient_id": pid.tolist(), "practitioner_id": prac.tolist(),
        "role": role.tolist(), "started_on": _date(created).tolist(), "active": active.astype(int).tolist(),
        "created_at": _ts(created).tolist(), "updated_at": _ts(updated).tolist(),
    }, primary


def _appointments(seed: int, n: int, m: int, pat: dict[str, np.ndarray], primary: np.ndarray
                  ) -> tuple[Columns, dict[str, np.ndarray]]:
    rng = _rng(seed, "appointments")
    k = rng.poisson(np.where(pat["archived"], 2, 7))
    pid = np.repeat(np.arange(1, n + 1), k)
    a = len(pid)
    first_day = pat["created"][pid - 1].astype("datetime64[D]") + DAY
    last_day = np.where(pat["archived"][pid - 1], REF_DAY - 30, REF_DAY + FUTURE_DAYS)
    span = np.maximum((last_day - first_day).astype(np.int64), 1)
    day = first_day + (rng.random(a) * span).astype(np.int64).astype("timedelta64[D]")
    start = day.astype("datetime64[s]") + (8 * 3600 + 900 * rng.integers(0, 39, a)).astype("timedelta64[s]")
    order = np.lexsort((start, pid))  # by patient, then time: the first of each patient is the assessment
    pid, start = pid[order], start[order]
    first_of_patient = np.r_[True, pid[1:] != pid[:-1]] if a else np.zeros(0, dtype=bool)
    type_idx = np.where(first_of_patient, 0, rng.choice([1, 2, 3, 4], a, p=[0.5, 0.3, 0.1, 0.1]))
    chrono = np.argsort(start, kind="stable")  # ids follow time
    pid, start, type_idx = pid[chrono], start[chrono], type_idx[chrono]
    names = np.array([t[0] for t in K.APPOINTMENT_TYPES], dtype=object)
    minutes = np.array([t[1] for t in K.APPOINTMENT_TYPES])[type_idx]
    end = start + (minutes * 60).astype("timedelta64[s]")
    prac = np.where(rng.random(a) < 0.8, primary[pid - 1], rng.integers(1, m + 1, a))
    past = start < REF_TIME
    status = np.where(past, _choice(rng, ("completed", "cancelled", "no_show"), a, p=[0.83, 0.09, 0.08]),
                      _choice(rng, ("booked", "confirmed", "cancelled"), a, p=[0.55, 0.40, 0.05])).astype(object)
    created = np.maximum(start - _secs(rng, 3600, 30 * SEC_PER_DAY, a), pat["created"][pid - 1])
    created = _cap(np.minimum(created, start))
    cancelled = status == "cancelled"
    cancelled_at = _cap(created + ((start - created).astype(np.int64) * rng.random(a)).astype("timedelta64[s]"))
    updated = np.where(cancelled, cancelled_at,
                       np.where(past, _cap(end + _secs(rng, 60, 2 * SEC_PER_DAY, a)),
                                _cap(created + ((REF_TIME - created).astype(np.int64) * rng.random(a) ** 2)
                                     .astype("timedelta64[s]"))))
    updated = np.maximum(updated, created)
    ids = np.arange(1, a + 1)
    cols: Columns = {
        "id": ids.tolist(), "patient_id": pid.tolist(), "practitioner_id": prac.tolist(),
        "appointment_type": names[type_idx].tolist(), "duration_minutes": minutes.tolist(),
        "status": status.tolist(), "starts_at": _ts(start).tolist(), "ends_at": _ts(end).tolist(),
        "cancelled_at": _where(cancelled, _ts(cancelled_at)),
        "cancellation_reason": _where(cancelled, _choice(rng, K.CANCELLATION_REASONS, a)),
        "created_at": _ts(created).tolist(), "updated_at": _ts(updated).tolist(),
    }
    return cols, {"id": ids, "pid": pid, "prac": prac, "start": start, "end": end, "status": status,
                  "type_idx": type_idx}


def _fragments(items: tuple, render) -> np.ndarray:
    return np.array([json.dumps(render(item), separators=(",", ":")) for item in items], dtype=object)


def _treatment_notes(seed: int, n: int, appt: dict[str, np.ndarray]) -> tuple[Columns, dict[str, np.ndarray]]:
    rng = _rng(seed, "notes")
    done = np.flatnonzero(appt["status"] == "completed")
    t = len(done)
    pid, prac, appt_id = appt["pid"][done], appt["prac"][done], appt["id"][done]
    start, end, initial = appt["start"][done], appt["end"][done], appt["type_idx"][done] == 0
    condition = rng.integers(0, len(K.ICD_PRIMARY), n + 1)[pid]
    dx1 = _fragments(K.ICD_PRIMARY, lambda c: {"code": c[0], "description": c[1], "primary": True})[condition]
    dx2 = _fragments(K.ICD_SECONDARY, lambda c: {"code": c[0], "description": c[1], "primary": False})[
        rng.integers(0, len(K.ICD_SECONDARY), t)]
    diagnoses = _cat("[", dx1, np.where(rng.random(t) < 0.3, _cat(",", dx2), ""), "]")
    # procedures: slot 0 is an evaluation on initial assessments; otherwise 1-3 distinct treatment codes
    catalogue = K.CPT_EVALUATION + K.CPT_TREATMENT
    n_treat = len(K.CPT_TREATMENT)
    frag = np.array([[json.dumps({"code": c, "description": d, "units": u, "unit_fee": f / 100},
                                 separators=(",", ":")) for u in range(1, 5)] for c, d, f in catalogue], dtype=object)
    fee = np.array([c[2] for c in catalogue], dtype=np.int64)
    timed = np.array([c[0] in K.TIMED_CPT for c in catalogue])
    base, step = rng.integers(0, n_treat, t), rng.integers(1, n_treat, t)
    count = rng.choice([1, 2, 3], t, p=[0.3, 0.45, 0.25])
    parts, cents = [], np.zeros(t, dtype=np.int64)
    for slot in range(3):
        code = len(K.CPT_EVALUATION) + (base + slot * step) % n_treat
        if slot == 0:
            code = np.where(initial, rng.integers(0, len(K.CPT_EVALUATION), t), code)
        units = np.where(timed[code], rng.integers(1, 5, t), 1)
        present = slot < count
        line_id = _cat('{"id":', np.arange(1, t + 1) * 10 + slot + 1, ",")  # note id * 10 + line (1-3)
        parts.append(np.where(present, _cat(line_id, _s(frag[code, units - 1]).str.slice(1)), None))
        cents += np.where(present, fee[code] * units, 0)
    procedures = _cat("[", parts[0], np.where(parts[1] != None, _cat(",", parts[1].astype(str)), ""),  # noqa: E711
                      np.where(parts[2] != None, _cat(",", parts[2].astype(str)), ""), "]")  # noqa: E711
    note = _cat(_choice(rng, K.NOTE_SUBJECTIVE, t), " ", _choice(rng, K.NOTE_OBJECTIVE, t), " ",
                _choice(rng, K.NOTE_PLAN, t))
    created = _cap(end + _secs(rng, 60, 2 * 3600, t))
    signed = _cap(created + _secs(rng, 600, 3 * SEC_PER_DAY, t))
    is_signed = rng.random(t) < 0.95
    updated = np.where(is_signed, np.maximum(signed, created), created)
    ids = np.arange(1, t + 1)
    cols: Columns = {
        "id": ids.tolist(), "patient_id": pid.tolist(), "practitioner_id": prac.tolist(),
        "appointment_id": appt_id.tolist(), "treatment_date": _date(start).tolist(),
        "diagnoses": diagnoses.tolist(), "procedures": procedures.tolist(), "note": note.tolist(),
        "signed_at": _where(is_signed, _ts(signed)), "created_at": _ts(created).tolist(),
        "updated_at": _ts(updated).tolist(),
    }
    return cols, {"id": ids, "pid": pid, "appt": appt_id, "day": start.astype("datetime64[D]"),
                  "created": created, "cents": cents}


def _invoices(seed: int, appt: dict[str, np.ndarray], notes: dict[str, np.ndarray]) -> tuple[Columns, dict]:
    rng = _rng(seed, "invoices")
    no_show = np.flatnonzero(appt["status"] == "no_show")
    no_show = no_show[rng.random(len(no_show)) < 0.3]
    pid = np.concatenate([notes["pid"], appt["pid"][no_show]])
    note_id = np.concatenate([notes["id"], np.zeros(len(no_show), dtype=np.int64)])
    appt_id = np.concatenate([notes["appt"], appt["id"][no_show]])
    issue = np.concatenate([notes["day"], appt["start"][no_show].astype("datetime64[D]")])
    cents = np.concatenate([notes["cents"], np.full(len(no_show), K.NO_SHOW_FEE_CENTS)])
    order = np.lexsort((appt_id, issue))
    pid, note_id, appt_id, issue, cents = pid[order], note_id[order], appt_id[order], issue[order], cents[order]
    v = len(pid)
    due = issue + 30 * DAY
    not_due = due > REF_DAY
    status = np.where(not_due, _choice(rng, ("pending", "paid"), v, p=[0.6, 0.4]),
                      _choice(rng, ("paid", "overdue", "cancelled"), v, p=[0.86, 0.09, 0.05])).astype(object)
    paid = status == "paid"
    room = np.maximum((REF_DAY - issue).astype(np.int64), 0)
    paid_day = issue + (rng.random(v) * np.minimum(room + 1, 46)).astype(np.int64).astype("timedelta64[D]")
    created = _cap(issue.astype("datetime64[s]") + np.timedelta64(18 * 3600, "s") + _secs(rng, 0, 3600, v))
    updated = np.where(paid, _cap(paid_day.astype("datetime64[s]") + np.timedelta64(12 * 3600, "s")),
                       np.where(status == "overdue", _cap((due + DAY).astype("datetime64[s]")), created))
    updated = np.maximum(updated, created)
    method = _choice(rng, K.PAYMENT_METHODS, v, p=[0.45, 0.35, 0.08, 0.07, 0.05])
    ids = np.arange(1, v + 1)
    cols: Columns = {
        "id": ids.tolist(), "number": _cat("INV-", np.char.zfill(ids.astype(str), 6)).tolist(),
        "patient_id": pid.tolist(), "treatment_note_id": _where(note_id > 0, note_id),
        "appointment_id": appt_id.tolist(), "issue_date": _date(issue).tolist(), "due_date": _date(due).tolist(),
        "paid_date": _where(paid, _date(paid_day)), "amount": (cents / 100).round(2).tolist(),
        "amount_paid": np.where(paid, cents / 100, 0.0).round(2).tolist(), "currency": ["USD"] * v,
        "status": status.tolist(), "payment_method": _where(paid, method),
        "created_at": _ts(created).tolist(), "updated_at": _ts(updated).tolist(),
    }
    return cols, {"id": ids, "pid": pid, "created": created}


def _insurances(seed: int, n: int, pat: dict[str, np.ndarray]) -> tuple[Columns, np.ndarray]:
    rng = _rng(seed, "insurances")
    has1 = rng.random(n) < 0.85
    has2 = has1 & (rng.random(n) < 0.18)
    pid = np.concatenate([np.flatnonzero(has1), np.flatnonzero(has2)]) + 1
    priority = np.array(["primary"] * int(has1.sum()) + ["secondary"] * int(has2.sum()), dtype=object)
    order = np.lexsort((priority != "primary", pid))
    pid, priority = pid[order], priority[order]
    k = len(pid)
    carrier = rng.integers(0, len(K.CARRIERS), k)
    coverage = _choice(rng, K.COVERAGE_TYPES, k, p=[0.35, 0.2, 0.08, 0.05, 0.15, 0.09, 0.05, 0.03])
    prefixes = np.array([c[1] for c in K.CARRIERS], dtype=object)
    minor = pat["age_days"][pid - 1] < 18 * 365
    relationship = np.where(minor, "child", _choice(rng, ("self", "spouse"), k, p=[0.82, 0.18]))
    p_created = pat["created"][pid - 1]
    effective = p_created.astype("datetime64[D]") - rng.integers(0, 730, k).astype("timedelta64[D]")
    expires = rng.random(k) < 0.3
    expiration = effective + rng.integers(365, 3 * 365, k).astype("timedelta64[D]")
    active = ~(expires & (expiration < REF_DAY)) & ~pat["archived"][pid - 1]
    created = _cap(p_created + _secs(rng, 60, 7 * SEC_PER_DAY, k))
    updated = _cap(created + ((REF_TIME - created).astype(np.int64) * rng.random(k) ** 3).astype("timedelta64[s]"))
    copay = np.where(np.isin(coverage, ["Medicaid", "Workers Compensation", "Auto (PIP)"]), 0.0,
                     rng.integers(2, 13, k) * 5.0)
    return {
        "id": list(range(1, k + 1)), "patient_id": pid.tolist(), "priority": priority.tolist(),
        "carrier": [K.CARRIERS[i][0] for i in carrier], "coverage_type": coverage.tolist(),
        "member_id": _cat(prefixes[carrier], _digits(rng, k, 9)).tolist(),
        "group_number": _where(~np.isin(coverage, list(K.NO_GROUP_COVERAGE)), _cat("G", _digits(rng, k, 6))),
        "subscriber_relationship": relationship.tolist(), "effective_date": _date(effective).tolist(),
        "expiration_date": _where(expires, _date(expiration)), "copay": copay.tolist(),
        "active": active.astype(int).tolist(), "created_at": _ts(created).tolist(), "updated_at": _ts(updated).tolist(),
    }, has1


def _policy_documents(seed: int, n: int, pat: dict[str, np.ndarray], insured: np.ndarray) -> Columns:
    rng = _rng(seed, "documents")
    pid_parts, type_parts = [], []
    for index, (doc_type, _title, _version, _months, share) in enumerate(K.POLICY_DOCUMENTS):
        mask = rng.random(n) < share
        if doc_type == "assignment_of_benefits":
            mask &= insured
        pid_parts.append(np.flatnonzero(mask) + 1)
        type_parts.append(np.full(int(mask.sum()), index))
    pid, kind = np.concatenate(pid_parts), np.concatenate(type_parts)
    order = np.lexsort((kind, pid))
    pid, kind = pid[order], kind[order]
    k = len(pid)
    table = np.array(K.POLICY_DOCUMENTS, dtype=object)
    created = pat["created"][pid - 1]
    signed = rng.random(k) < 0.92
    signed_at = _cap(created + _secs(rng, 60, 7 * SEC_PER_DAY, k))
    months = table[kind, 3].astype(np.int64)
    expires_on = signed_at.astype("datetime64[D]") + (months * 365 // 12).astype("timedelta64[D]")
    return {
        "id": list(range(1, k + 1)), "patient_id": pid.tolist(), "document_type": table[kind, 0].tolist(),
        "title": table[kind, 1].tolist(), "version": table[kind, 2].tolist(),
        "status": np.where(signed, "signed", "pending").tolist(), "signed_at": _where(signed, _ts(signed_at)),
        "expires_on": _where(signed & (months > 0), _date(expires_on)),
        "created_at": _ts(created).tolist(), "updated_at": _ts(np.where(signed, signed_at, created)).tolist(),
    }


def _attachments(seed: int, n: int, pat: dict[str, np.ndarray], notes: dict, invoices: dict) -> Columns:
    rng = _rng(seed, "attachments")
    pid = np.repeat(np.arange(1, n + 1), rng.poisson(1.5, n))
    k = len(pid)
    note_id = _pick_per_patient(rng, pid, notes["pid"], notes["id"])
    invoice_id = _pick_per_patient(rng, pid, invoices["pid"], invoices["id"])
    r = rng.random(k)
    owner = np.where((r >= 0.5) & (r < 0.8) & (note_id > 0), "treatment_note",
                     np.where((r >= 0.8) & (invoice_id > 0), "invoice", "patient")).astype(object)
    owner_id = np.where(owner == "treatment_note", note_id, np.where(owner == "invoice", invoice_id, pid))
    category, ext, ctype = (np.empty(k, dtype=object) for _ in range(3))
    for kind, options in K.ATTACHMENT_KINDS.items():
        mask = owner == kind
        pick = rng.integers(0, len(options), k)[mask]
        opts = np.array(options, dtype=object)
        category[mask], ext[mask], ctype[mask] = opts[pick, 0], opts[pick, 1], opts[pick, 2]
    base = pat["created"][pid - 1]  # owner's creation time
    for kind, ids_, created_ in (("treatment_note", note_id, notes["created"]), ("invoice", invoice_id,
                                                                                 invoices["created"])):
        mask = owner == kind
        base[mask] = created_[ids_[mask] - 1]
    created = _cap(base + _secs(rng, 60, SEC_PER_DAY, k))
    order = np.argsort(created, kind="stable")
    pid, owner, owner_id, category, ext, ctype, created = (a[order] for a in
                                                           (pid, owner, owner_id, category, ext, ctype, created))
    ids = np.arange(1, k + 1)
    slug = _s(category).str.lower().str.replace(" ", "-", regex=False).to_numpy(dtype=object)
    size = np.clip(np.exp(rng.normal(11.0, 1.0, k)), 1024, 512 * 1024).astype(np.int64)
    return {
        "id": ids.tolist(), "patient_id": pid.tolist(), "owner_type": owner.tolist(), "owner_id": owner_id.tolist(),
        "category": category.tolist(),
        "file_name": _cat(slug, "-", np.char.zfill(ids.astype(str), 6), ".", ext).tolist(),
        "content_type": ctype.tolist(), "size_bytes": size.tolist(),
        "created_at": _ts(created).tolist(), "updated_at": _ts(created).tolist(),
    }


# ------------------------------------------------------------------------------------ entry point
def generate(patients: int, seed: int) -> dict[str, Columns]:
    """All tables of the demo practice, column-wise, keyed by resource name (see module docstring).

    Raises:
        ValueError: ``patients < 1``.
    """
    if patients < 1:
        raise ValueError("patients must be >= 1")
    pools = _pools(seed)
    m = max(3, math.ceil(patients / 40))
    pat_cols, pat = _patients(seed, patients, pools)
    assoc_cols, primary = _associations(seed, patients, m, pat)
    appt_cols, appt = _appointments(seed, patients, m, pat, primary)
    note_cols, notes = _treatment_notes(seed, patients, appt)
    inv_cols, inv = _invoices(seed, appt, notes)
    ins_cols, insured = _insurances(seed, patients, pat)
    return {
        "patients": pat_cols, "practitioners": _practitioners(seed, m, pools), "patient_practitioners": assoc_cols,
        "appointments": appt_cols, "treatment_notes": note_cols, "insurances": ins_cols, "invoices": inv_cols,
        "policy_documents": _policy_documents(seed, patients, pat, insured),
        "attachments": _attachments(seed, patients, pat, notes, inv),
    }


def seed_store(store: PracticeHubStore, *, patients: int, seed: int) -> dict[str, int]:
    """Write the demo practice into an empty store; returns ``{resource name: rows}``.

    Raises:
        ValueError: the store already holds a practice, or ``patients < 1``.
    """
    if store.seeded() is not None:
        raise ValueError(f"{store.path.name} already holds a demo practice")
    tables = generate(patients, seed)
    counts = {name: len(cols["id"]) for name, cols in tables.items()}
    with store.transaction():
        for name, cols in tables.items():
            store.insert(BY_NAME[name], cols)
        store.set_meta(SEEDED_KEY, json.dumps({"patients": patients, "seed": seed, "counts": counts}))
    return counts


def build_practicehub(path: str | Path, *, patients: int = 200, seed: int = 7) -> dict[str, int]:
    """Create the sandbox state file ``path`` holding a demo practice of ``patients`` patients.

    Deterministic in ``(patients, seed)``. Returns ``{resource name: rows}``; ``create_app`` then
    serves the file as is.

    Raises:
        ValueError: ``path`` already holds a practice, or ``patients < 1``.
    """
    store = PracticeHubStore(path)
    try:
        return seed_store(store, patients=patients, seed=seed)
    finally:
        store.close()
