"""Deterministic synthetic "Clinic Management Software" CSV export in Synthea's CSV layout.

``build_clinic_export(out_dir, patients=N, seed=S)`` writes the Synthea files this project reads
(``patients``, ``organizations``, ``providers``, ``payers``, ``payer_transitions``, ``encounters``,
``careplans``, ``claims``, ``claims_transactions``, ``medications``, ``observations``,
``imaging_studies``) with the same headers, column order and value formats as the bundled real
sample (``flit_pipelines/sample_data/synthea_csv_sample``): UUID ids, ISO-8601 UTC timestamps
(``2013-03-22T18:34:30Z``), ``YYYY-MM-DD`` dates, 5-digit ZIPs with leading zeros, names with numeric
suffixes (``Temika453``), money with two decimals, claims ``OUTSTANDING*`` as ``0`` or ``169.10``.

With ``with_extras=True`` it also writes what a real clinic export has beyond Synthea:

* ``encounters.csv`` + trailing ``STATUS`` (completed | cancelled | no-show, ~90/7/3 %) and
  ``CANCELLATION_REASON`` (set only when cancelled).
* ``patients.csv`` + trailing ``EMAIL`` (adults ~75 %; minors none). Synthea has no patient e-mail,
  but the "patient is also a provider" rule below needs one.
* ``notes.csv``, ``documents.csv`` (+ the files under ``documents/``), ``relationships.csv``,
  ``provider_directory.csv``. Headers are in ``clinic_export_codes.EXTRA_HEADERS``.

Is-provider match rule
----------------------
About 1 % of patients (at least one) are also providers. Such a patient has

* ``FIRST + " " + LAST == providers.NAME`` exactly, numeric suffixes included (Synthea writes a
  provider's NAME as ``First123 Last456``, with no prefix, e.g. ``Ted955 Reilly981``),
* the same ``GENDER``, and
* ``patients.EMAIL == provider_directory.EMAIL`` of that provider (case-insensitive). The e-mail is the
  deciding key; the name is corroboration. Every such provider is listed in the directory; overall
  about 80 % of providers are listed (at least one is missing whenever there are two or more).

Money model (claims ledger)
---------------------------
Per claim line (one ``CHARGE`` row each) the primary payer covers a share; the rest is transferred
(``TRANSFEROUT`` + ``TRANSFERIN`` with ``TRANSFERTYPE`` ``2`` = secondary payer or ``p`` = patient) and
then paid. As in Synthea, a ``PAYMENT`` row leaves ``AMOUNT`` empty and carries the paid amount in
``PAYMENTS``; ``CHARGE`` and ``TRANSFERIN`` carry ``AMOUNT``. ~5 % of claims leave the patient (or
secondary) share unpaid and ~2 % leave the whole charge unpaid by the insurer, so for every claim::

    OUTSTANDING1 + OUTSTANDING2 + OUTSTANDINGP
        == sum(AMOUNT of CHARGE rows) - sum(PAYMENTS of PAYMENT rows)        (exact, in cents)

``ADJUSTMENTS`` is always ``0.00``. Two deliberate departures from the sample's quirks: a row's
``OUTSTANDING`` is the line's running balance after that row (Synthea writes ``0.00`` on CHARGE rows),
and ``STATUS2``/``OUTSTANDING2``/``LASTBILLEDDATE2`` are filled only when the claim has a secondary payer
(Synthea fills them exactly when it has none).

Other modelling choices
-----------------------
* Reference time is fixed at 2024-04-27T00:00:00Z (the sample's run date), history is 10 years.
* Only completed encounters are billed and carry medications, observations, care plans, imaging and
  encounter notes. Cancelled/no-show encounters have ``TOTAL_CLAIM_COST``/``PAYER_COVERAGE`` ``0.00``.
* The core files are byte-identical with and without extras except for the extra trailing columns,
  because extras draw from their own random streams.
* Families (~30 % of patients, 2-4 members) share surname (except guardians' wards) and address; a
  minor's parent or guardian is the guarantor (``relationships.csv``) and the plan owner
  (``payer_transitions.PLAN_OWNERSHIP = Guardian``).
* Documents exist only for the first ``DOCUMENT_PATIENTS`` (200) patients and at most
  ``MAX_LARGE_DOCUMENTS`` (2) of them are large (~3 MB PNG), so big builds do not write gigabytes.

Scale and determinism
---------------------
Columns are generated as numpy/Arrow arrays per chunk of ``chunk_patients`` patients and appended to
the CSVs through Arrow's C++ CSV writer; Faker only fills small name/street/city pools. Output is
byte-identical for the same arguments (including ``chunk_patients``: each chunk has its own random
streams, so a different chunk size gives a different, equally valid, export).

CLI: ``python -m flit_sandboxes.clinic_export OUT_DIR --patients N --seed S``.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from flit_sandboxes import clinic_export_codes as C

__all__ = ["build_clinic_export", "main"]

# --- time base (all times are int64 seconds since the Unix epoch, UTC) ----------------------------

DAY = 86_400
YEAR = int(365.2425 * DAY)
REF_TIME = int(np.datetime64("2024-04-27T00:00:00", "s").astype(np.int64))
HISTORY_START = REF_TIME - 3652 * DAY  # ten years back, still at midnight

# --- volume knobs not exposed in the signature ------------------------------------------------------

LINES_EXTRA_MEAN = 0.25  # extra procedure lines per claim (Poisson)
MEDICATION_P = 0.25  # per completed encounter
OBSERVATIONS_MEAN = 1.5  # per completed encounter (Poisson)
CAREPLANS_MEAN = 0.4  # per patient (Poisson)
FAMILY_SHARE = 0.30
PROVIDER_PATIENT_SHARE = 0.01
DIRECTORY_SHARE = 0.80
DOCUMENT_PATIENTS = 200
DOCUMENTS_MEAN = 1.2  # per document patient (Poisson)
MAX_LARGE_DOCUMENTS = 2
LARGE_PNG_SIDE = 1024  # 1024 x 1024 RGB noise ~ 3.1 MB

# One random stream per (chunk, purpose): extras never shift the core's draws.
_STREAMS = {
    "reference": 1, "patients": 2, "families": 3, "coverage": 4, "encounters": 5, "claims": 6,
    "clinical": 7, "email": 8, "notes": 9, "relationships": 10, "documents": 11, "payers": 12,
}
_GLOBAL_CHUNK = 2**31  # chunk number used for streams that are not per chunk


def _rng(seed: int, chunk: int, stream: str) -> np.random.Generator:
    """Independent generator for one purpose in one chunk (SeedSequence keeps them uncorrelated)."""
    return np.random.default_rng([seed, chunk, _STREAMS[stream]])


# ==================================================================================================
# Column formatting helpers: numpy in, pyarrow string arrays out (the CSV writer's input).
# ==================================================================================================

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_POS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]


def _fixed_width(chars: np.ndarray) -> pa.Array:
    """(n, w) uint8 ASCII matrix -> n strings of width w, without a per-row Python step."""
    n, w = chars.shape
    data = np.ascontiguousarray(chars).reshape(-1)
    offsets = np.arange(0, w * (n + 1), w, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random lower-case 8-4-4-4-12 hex ids (Synthea's id shape)."""
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16)
    out = np.full((n, 36), ord("-"), np.uint8)
    out[:, _UUID_POS[0::2]] = _HEX[raw >> 4]
    out[:, _UUID_POS[1::2]] = _HEX[raw & 15]
    return _fixed_width(out)


def _ts(sec: np.ndarray) -> pa.Array:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ``."""
    s = np.datetime_as_string(np.asarray(sec, np.int64).astype("datetime64[s]"), unit="s")
    out = np.empty((len(s), 20), np.uint8)
    out[:, :19] = s.astype("S19").view(np.uint8).reshape(-1, 19)
    out[:, 19] = ord("Z")
    return _fixed_width(out)


def _date(sec: np.ndarray) -> pa.Array:
    """Epoch seconds -> ``YYYY-MM-DD``."""
    days = np.asarray(sec, np.int64).astype("datetime64[s]").astype("datetime64[D]")
    s = np.datetime_as_string(days, unit="D")
    return _fixed_width(s.astype("S10").view(np.uint8).reshape(-1, 10))


def _int_str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, np.int64)), pa.string())


def _zpad(values: np.ndarray, width: int) -> pa.Array:
    """Non-negative ints as zero-padded decimal strings (ZIP, SSN parts)."""
    return pc.utf8_lpad(_int_str(values), width, "0")


def _money(cents: np.ndarray) -> pa.Array:
    """Non-negative integer cents -> ``123.45``."""
    c = np.asarray(cents, np.int64)
    return _join(_int_str(c // 100), _zpad(c % 100, 2), sep=".")


def _money_or_zero(cents: np.ndarray) -> pa.Array:
    """Claims' OUTSTANDING format: ``0`` when zero, else ``169.10``."""
    c = np.asarray(cents, np.int64)
    return pc.if_else(pa.array(c == 0), "0", _money(c))


def _tenths(v10: np.ndarray) -> pa.Array:
    """Non-negative integer tenths -> ``101.8`` (Synthea's one-decimal observation values)."""
    v = np.asarray(v10, np.int64)
    return _join(_int_str(v // 10), _int_str(v % 10), sep=".")


def _float_str(values: np.ndarray) -> pa.Array:
    """Shortest round-trip repr, like Synthea's LAT/LON (``42.16260877593776``)."""
    return pc.cast(pa.array(np.asarray(values, np.float64)), pa.string())


def _join(*cols: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise string concatenation (a null input gives a null output)."""
    return pc.binary_join_element_wise(*cols, sep)


def _const(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _nulls(n: int) -> pa.Array:
    """Written as an empty field."""
    return pa.nulls(n, pa.string())


def _pick(pool: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    """pool[idx] for a small pool of strings."""
    arr = pool if isinstance(pool, pa.Array) else pa.array(list(pool), pa.string())
    return arr.take(pa.array(np.asarray(idx, np.int64)))


def _where(mask: np.ndarray, yes: pa.Array | str | None, no: pa.Array | str | None) -> pa.Array:
    """Element-wise ``yes if mask else no``; ``None`` means an empty field."""
    def scalar(v):
        return pa.scalar(v, pa.string()) if v is None or isinstance(v, str) else v
    return pc.if_else(pa.array(np.asarray(mask, bool)), scalar(yes), scalar(no))


def _select(pools: Sequence[pa.Array], which: np.ndarray, index: np.ndarray) -> pa.Array:
    """Row i = ``pools[which[i]][index[i]]``; ``which[i] < 0`` gives an empty field.

    The one primitive behind the ledger columns: each row picks a value from one of a few
    per-line (or constant) arrays, chosen by its row type.
    """
    which = np.asarray(which, np.int64)
    starts = np.cumsum([0] + [len(p) for p in pools])[:-1]
    flat = starts[np.maximum(which, 0)] + np.asarray(index, np.int64)
    flat[which < 0] = 0
    return pa.concat_arrays(list(pools)).take(pa.array(flat, mask=which < 0))


def _lookup(pool: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    """pool[idx], with ``idx < 0`` giving an empty field."""
    arr = pool if isinstance(pool, pa.Array) else pa.array(list(pool), pa.string())
    idx = np.asarray(idx, np.int64)
    return _select([arr], np.where(idx < 0, -1, 0), np.maximum(idx, 0))


def _runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For group sizes ``counts``: (group index per item, position of the item within its group)."""
    counts = np.asarray(counts, np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(len(group)) - starts[group]


def _choice(rng: np.random.Generator, p: Sequence[float], n: int) -> np.ndarray:
    """n draws of an index with probabilities p (normalised)."""
    weights = np.asarray(p, np.float64)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _day_slot(rng: np.random.Generator, day_start: np.ndarray) -> np.ndarray:
    """A clinic appointment time on the given midnight: 08:00-17:45 UTC in 15-minute slots."""
    return day_start + 8 * 3600 + rng.integers(0, 40, len(day_start)) * 900


def _random_day(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A midnight uniformly in [lo, hi - 1 day] (lo, hi are midnights, hi > lo)."""
    days = np.maximum((hi - lo) // DAY, 1)
    return lo + np.floor(rng.random(len(lo)) * days).astype(np.int64) * DAY


# ==================================================================================================
# CSV writing
# ==================================================================================================


class _TableWriter:
    """Append-only writer of one CSV file: header once, then chunks in column order.

    Synthea files are written by Arrow's C++ writer with ``quoting_style="none"``: like Synthea's own
    output nothing is quoted, and Arrow raises ``ArrowInvalid`` if a value contains a comma, quote or
    line break (a guard against unsanitised pool values). ``quoting=True`` (notes.csv) goes through
    pandas/csv instead, which quotes only the fields that need it (RFC 4180).
    """

    def __init__(self, path: Path, header: Sequence[str], *, quoting: bool = False):
        self.path = path
        self.header = tuple(header)
        self.quoting = quoting
        self.rows = 0
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write((",".join(self.header) + "\n").encode())
        self._schema = pa.schema([(h, pa.string()) for h in self.header])
        # write_csv per chunk rather than one CSVWriter: the writer keeps the last table alive,
        # which would double peak memory across chunks
        self._options = pcsv.WriteOptions(include_header=False, quoting_style="none")

    def write(self, columns: Mapping[str, pa.Array]) -> None:
        """Append rows. ``columns`` must hold exactly the header's columns, all of equal length."""
        if set(columns) != set(self.header):
            missing, extra = set(self.header) - set(columns), set(columns) - set(self.header)
            raise ValueError(f"{self.path.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        table = pa.table([columns[h] for h in self.header], schema=self._schema)
        if not self.quoting:
            pcsv.write_csv(table, self._sink, self._options)
        elif table.num_rows:
            text = table.to_pandas().to_csv(header=False, index=False, lineterminator="\n")
            self._sink.write(text.encode())
        self.rows += table.num_rows

    def close(self) -> None:
        self._sink.close()


# ==================================================================================================
# Small pools (Faker) and the reference tables (organisations, providers, payers)
# ==================================================================================================


@dataclass
class _Pools:
    """Name/place pools; ``*_lower`` are lower-case letters only (for e-mail local parts)."""

    first_f: pa.Array
    first_m: pa.Array
    first_f_lower: pa.Array
    first_m_lower: pa.Array
    last: pa.Array
    last_lower: pa.Array
    street: pa.Array
    city: pa.Array


def _faker_pool(make, size: int, clean) -> list[str]:
    """``size`` distinct cleaned values from a Faker method (small: only pools use Faker)."""
    seen: dict[str, None] = {}
    for _ in range(size * 20):
        value = clean(make())
        if value:
            seen.setdefault(value, None)
        if len(seen) == size:
            break
    return list(seen)


def _build_pools(seed: int) -> _Pools:
    """Deterministic pools from a seeded Faker. Commas/quotes are removed so no CSV field needs
    quoting (Synthea likewise strips commas, e.g. ``CENTERS OF MA  PC``)."""
    from faker import Faker  # imported lazily: only pools need it

    fake = Faker("en_US")
    fake.seed_instance(seed)
    letters = lambda s: "".join(ch for ch in s if ch.isalpha() and ch.isascii())  # noqa: E731
    plain = lambda s: " ".join(s.replace(",", " ").replace('"', " ").split())  # noqa: E731
    first_f = _faker_pool(fake.first_name_female, 300, letters)
    first_m = _faker_pool(fake.first_name_male, 300, letters)
    last = _faker_pool(fake.last_name, 500, letters)
    street = _faker_pool(fake.street_address, 800, plain)
    city = _faker_pool(fake.city, 150, plain)
    arr = lambda xs: pa.array(xs, pa.string())  # noqa: E731
    return _Pools(
        first_f=arr(first_f), first_m=arr(first_m),
        first_f_lower=arr([s.lower() for s in first_f]), first_m_lower=arr([s.lower() for s in first_m]),
        last=arr(last), last_lower=arr([s.lower() for s in last]),
        street=arr(street), city=arr(city),
    )


@dataclass
class _Names:
    """A person's name as pool indices + Synthea numeric suffixes (strings are built at the end)."""

    female: np.ndarray
    first_idx: np.ndarray
    first_sfx: np.ndarray
    last_idx: np.ndarray
    last_sfx: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, pools: _Pools, n: int) -> _Names:
        female = rng.random(n) < 0.5
        size = np.where(female, len(pools.first_f), len(pools.first_m))
        return cls(
            female=female,
            first_idx=np.floor(rng.random(n) * size).astype(np.int64),
            first_sfx=rng.integers(1, 1000, n),
            last_idx=rng.integers(0, len(pools.last), n),
            last_sfx=rng.integers(1, 1000, n),
        )

    def first(self, pools: _Pools) -> pa.Array:
        base = _where(self.female, _pick(pools.first_f, np.where(self.female, self.first_idx, 0)),
                      _pick(pools.first_m, np.where(self.female, 0, self.first_idx)))
        return _join(base, _int_str(self.first_sfx))

    def last(self, pools: _Pools) -> pa.Array:
        return _join(_pick(pools.last, self.last_idx), _int_str(self.last_sfx))

    def email_local(self, pools: _Pools) -> pa.Array:
        """``firstname.lastname`` without digits, lower-case."""
        first = _where(self.female, _pick(pools.first_f_lower, np.where(self.female, self.first_idx, 0)),
                       _pick(pools.first_m_lower, np.where(self.female, 0, self.first_idx)))
        return _join(first, _pick(pools.last_lower, self.last_idx), sep=".")


@dataclass
class _Reference:
    """Organisations, providers and payers (small; written once at the end with usage totals)."""

    org_ids: pa.Array
    org_city: np.ndarray
    org_kind: np.ndarray
    org_street: np.ndarray
    org_zip: np.ndarray
    org_lat: np.ndarray
    org_lon: np.ndarray
    org_phone: np.ndarray
    prov_ids: pa.Array
    prov_org: np.ndarray
    prov_names: _Names
    prov_speciality: np.ndarray
    prov_email: pa.Array
    prov_listed: np.ndarray
    payer_ids: pa.Array
    #: sorted global patient indices that are also providers, and the provider index of each
    pp_patient: np.ndarray
    pp_provider: np.ndarray

    @property
    def n_providers(self) -> int:
        return len(self.prov_org)

    def payers(self, idx: np.ndarray) -> pa.Array:
        """Payer ids for payer indices (into clinic_export_codes.PAYERS)."""
        return self.payer_ids.take(pa.array(np.asarray(idx, np.int64)))


def _unique_emails(local: pa.Array, domain: str) -> pa.Array:
    """Append 2, 3, ... to repeated local parts (``ann.lee``, ``ann.lee2``), as a mail admin would.
    Local parts have no digits, so a suffixed address never collides with a plain one."""
    values = local.to_pandas()
    rank = values.groupby(values).cumcount().to_numpy()
    suffix = np.where(rank > 0, (rank + 1).astype(str), "")
    return pa.array([f"{v}{s}@{domain}" for v, s in zip(values, suffix, strict=True)], pa.string())


def _build_reference(n_patients: int, seed: int, pools: _Pools) -> _Reference:
    """Organisation/provider/payer tables sized to the patient count (2 % providers, >= 3)."""
    rng = _rng(seed, _GLOBAL_CHUNK, "reference")
    n_prov = max(3, math.ceil(n_patients / 50))
    n_org = max(2, math.ceil(n_prov / 25))
    prov_org = rng.permutation(np.arange(n_prov) % n_org)  # every organisation has a provider
    names = _Names.draw(rng, pools, n_prov)
    emails = _unique_emails(names.email_local(pools), C.CLINIC_DOMAIN)

    n_pp = min(n_prov, max(1, round(n_patients * PROVIDER_PATIENT_SHARE)))
    pp_provider = rng.choice(n_prov, n_pp, replace=False)
    pp_patient = rng.choice(n_patients, n_pp, replace=False)
    order = np.argsort(pp_patient)
    # patient-providers must be listed (the e-mail match needs the entry); list the others with the
    # probability that keeps the overall share at DIRECTORY_SHARE
    p_other = np.clip((DIRECTORY_SHARE * n_prov - n_pp) / max(n_prov - n_pp, 1), 0.0, 1.0)
    listed = rng.random(n_prov) < p_other
    listed[pp_provider] = True
    unlisted_candidates = np.setdiff1d(np.arange(n_prov), pp_provider)
    if listed.all() and len(unlisted_candidates):
        listed[unlisted_candidates[-1]] = False  # keep "a provider missing from the directory" testable

    return _Reference(
        org_ids=_uuids(rng, n_org),
        org_city=rng.integers(0, len(pools.city), n_org),
        org_kind=rng.integers(0, len(C.ORG_KINDS), n_org),
        org_street=rng.integers(0, len(pools.street), n_org),
        org_zip=rng.integers(1001, 2792, n_org),
        org_lat=rng.uniform(41.6, 42.8, n_org),
        org_lon=rng.uniform(-73.2, -70.2, n_org),
        org_phone=rng.integers(0, 10_000_000, n_org),
        prov_ids=_uuids(rng, n_prov),
        prov_org=prov_org,
        prov_names=names,
        prov_speciality=_choice(rng, C.SPECIALITY_P, n_prov),
        prov_email=emails,
        prov_listed=listed,
        payer_ids=_uuids(rng, len(C.PAYERS)),
        pp_patient=pp_patient[order],
        pp_provider=pp_provider[order],
    )


@dataclass
class _Totals:
    """Usage counters accumulated over chunks for providers/organisations/payers files."""

    n_prov: int
    n_org: int
    chargeid: int = 0
    prov_encounters: np.ndarray = field(init=False)
    prov_procedures: np.ndarray = field(init=False)
    org_utilization: np.ndarray = field(init=False)
    payer: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.prov_encounters = np.zeros(self.n_prov, np.int64)
        self.prov_procedures = np.zeros(self.n_prov, np.int64)
        self.org_utilization = np.zeros(self.n_org, np.int64)
        keys = ("covered", "uncovered", "cov_enc", "uncov_enc", "cov_med", "uncov_med", "customers", "months")
        self.payer = {k: np.zeros(len(C.PAYERS), np.int64) for k in keys}

    def add(self, key: str, payer: np.ndarray, weights: np.ndarray | None = None) -> None:
        w = None if weights is None else np.asarray(weights, np.float64)
        self.payer[key] += np.rint(np.bincount(payer, w, minlength=len(C.PAYERS))).astype(np.int64)


# ==================================================================================================
# Patients (+ families and patient-providers, which change names, ages and addresses)
# ==================================================================================================

# family roles (relative to the family head)
_HEAD, _SPOUSE, _MINOR, _ADULT_CHILD, _SIBLING = 0, 1, 2, 3, 4


@dataclass
class _Family:
    """Family membership inside one chunk; ``member``/``head`` are local patient indices (non-heads)."""

    member: np.ndarray
    head: np.ndarray
    role: np.ndarray
    guardian: np.ndarray  # minor whose head is a guardian rather than a parent


@dataclass
class _Patients:
    """One chunk of patients: arrays indexed by local patient number."""

    n: int
    gidx: np.ndarray
    ids: pa.Array
    names: _Names
    birth: np.ndarray
    death: np.ndarray  # -1 = alive
    win_start: np.ndarray  # history window (midnights): coverage and encounters live in it
    win_end: np.ndarray
    primary_provider: np.ndarray
    provider_of: np.ndarray  # provider index if the patient is also a provider, else -1
    family: _Family
    guardian_head: np.ndarray  # local index of the guardian/parent of a family minor, else -1
    spouse_head: np.ndarray  # local index of the spouse head, else -1
    columns: dict[str, pa.Array]  # the Synthea patients.csv columns
    fullname: pa.Array


def _families(rng: np.random.Generator, eligible: np.ndarray) -> _Family:
    """Group ~30 % of the eligible patients into families of 2-4 and give each member a role."""
    target = int(round(FAMILY_SHARE * len(eligible)))
    sizes = rng.choice([2, 3, 4], size=target // 2 + 1, p=[0.45, 0.35, 0.20])
    sizes = sizes[np.cumsum(sizes) <= target]
    chosen = rng.permutation(eligible)[: sizes.sum()]
    fam, pos = _runs(sizes)
    head_of = chosen[(np.cumsum(sizes) - sizes)[fam]]
    not_head = pos > 0
    member, head, pos = chosen[not_head], head_of[not_head], pos[not_head]
    u = rng.random(len(member))
    # position 1 may be the spouse; other members are children (mostly minors) or siblings
    role = np.where(u < 0.7, _MINOR, np.where(u < 0.85, _ADULT_CHILD, _SIBLING))
    role = np.where((pos == 1) & (rng.random(len(member)) < 0.45), _SPOUSE, role)
    guardian = (role == _MINOR) & (rng.random(len(member)) < 0.15)
    return _Family(member=member, head=head, role=role, guardian=guardian)


def _family_ages(rng: np.random.Generator, age: np.ndarray, fam: _Family) -> None:
    """Make ages fit the roles (in place): heads 38-62, minors < 18, adult children >= 18 and at
    least 20 years younger than the head, spouses/siblings close to the head's age."""
    heads = np.unique(fam.head)
    age[heads] = rng.uniform(38, 62, len(heads))
    h = age[fam.head]
    n = len(fam.member)
    new = np.select(
        [fam.role == _SPOUSE, fam.role == _MINOR, fam.role == _ADULT_CHILD],
        [np.maximum(h + rng.uniform(-5, 5, n), 20), rng.uniform(0.5, 17.5, n),
         rng.uniform(18, 18 + np.maximum(h - 38, 0.1), n)],
        np.maximum(h + rng.uniform(-8, 8, n), 18),
    )
    age[fam.member] = new


def _patients_chunk(seed: int, chunk: int, g0: int, g1: int, pools: _Pools, ref: _Reference) -> _Patients:
    """Generate patients ``g0 <= global index < g1`` and their patients.csv columns.

    Order matters: patient-providers take a provider's identity first, families (which skip them)
    then adjust ages, surnames and addresses, and only then are birth dates and columns derived.
    """
    rng = _rng(seed, chunk, "patients")
    n = g1 - g0
    ids = _uuids(rng, n)
    names = _Names.draw(rng, pools, n)
    age = rng.uniform(0.3, 90.0, n)
    place = {
        "street": rng.integers(0, len(pools.street), n), "city": rng.integers(0, len(pools.city), n),
        "county": rng.integers(0, len(C.COUNTIES), n), "zip5": rng.integers(1001, 2792, n),
        "lat": rng.uniform(41.6, 42.8, n), "lon": rng.uniform(-73.2, -70.2, n),
    }
    provider_of = _adopt_provider_identities(rng, ref, g0, g1, names, age)
    fam_rng = _rng(seed, chunk, "families")
    fam = _families(fam_rng, np.flatnonzero(provider_of < 0))
    _family_ages(fam_rng, age, fam)
    _share_household(fam, names, place)

    birth = REF_TIME - (age * YEAR).astype(np.int64)
    birth -= birth % DAY
    in_family = np.zeros(n, bool)
    in_family[np.r_[fam.member, fam.head]] = True
    # deaths only among older patients outside families, so guardians and guarantors are alive
    dies = (age >= 60) & ~in_family & (provider_of < 0) & (rng.random(n) < 0.04)
    death = np.where(dies, REF_TIME - rng.integers(30, 9 * 365, n) * DAY, -1)
    win_start = np.maximum(birth, HISTORY_START)
    win_end = np.maximum(np.where(dies, death, REF_TIME), win_start + 2 * DAY)

    columns, fullname = _patient_columns(rng, pools, names, ids, age, birth, death, fam, place)
    return _Patients(n=n, gidx=np.arange(g0, g1), ids=ids, names=names, birth=birth, death=death,
                     win_start=win_start, win_end=win_end, primary_provider=rng.integers(0, ref.n_providers, n),
                     provider_of=provider_of, family=fam,
                     guardian_head=_head_of(n, fam, fam.role == _MINOR),
                     spouse_head=_head_of(n, fam, fam.role == _SPOUSE), columns=columns, fullname=fullname)


def _adopt_provider_identities(rng, ref: _Reference, g0: int, g1: int, names: _Names,
                               age: np.ndarray) -> np.ndarray:
    """Give the chunk's patient-providers their provider's name and gender and an adult age (in place).
    Returns the provider index per local patient (-1 = not a provider)."""
    provider_of = np.full(g1 - g0, -1, np.int64)
    in_chunk = (ref.pp_patient >= g0) & (ref.pp_patient < g1)
    local = ref.pp_patient[in_chunk] - g0
    provider_of[local] = ref.pp_provider[in_chunk]
    for attr in ("female", "first_idx", "first_sfx", "last_idx", "last_sfx"):
        getattr(names, attr)[local] = getattr(ref.prov_names, attr)[provider_of[local]]
    age[local] = rng.uniform(30, 65, len(local))
    return provider_of


def _share_household(fam: _Family, names: _Names, place: dict[str, np.ndarray]) -> None:
    """Members take the head's address, and surname unless they are a guardian's ward (in place)."""
    kin = ~fam.guardian
    names.last_idx[fam.member[kin]] = names.last_idx[fam.head[kin]]
    names.last_sfx[fam.member[kin]] = names.last_sfx[fam.head[kin]]
    for arr in place.values():
        arr[fam.member] = arr[fam.head]


def _head_of(n: int, fam: _Family, which: np.ndarray) -> np.ndarray:
    """Per local patient: the family head's index for members selected by ``which``, else -1."""
    head = np.full(n, -1, np.int64)
    head[fam.member[which]] = fam.head[which]
    return head


def _patient_columns(rng, pools: _Pools, names: _Names, ids: pa.Array, age: np.ndarray, birth: np.ndarray,
                     death: np.ndarray, fam: _Family,
                     place: dict[str, np.ndarray]) -> tuple[dict[str, pa.Array], pa.Array]:
    """The 27 Synthea patients.csv columns (adult-only fields empty for minors) and "FIRST LAST"."""
    n = len(age)
    street, city, county, zip5, lat, lon = (place[k] for k in ("street", "city", "county", "zip5", "lat", "lon"))
    adult = age >= 18
    marital = np.where(adult, _choice(rng, (0.50, 0.35, 0.10, 0.05), n), -1)
    spouses = fam.member[fam.role == _SPOUSE]
    marital[spouses] = 0
    marital[fam.head[fam.role == _SPOUSE]] = 0
    married_f = names.female & (marital == 0)
    prefix = np.where(~adult, -1, np.where(~names.female, 0, np.where(married_f, 1, 2)))
    maiden = married_f & (rng.random(n) < 0.6)
    race = _choice(rng, C.RACE_P, n)
    hispanic = (race == C.RACES.index("hispanic")) | (rng.random(n) < 0.05)
    first, last = names.first(pools), names.last(pools)
    maiden_name = _join(_pick(pools.last, rng.integers(0, len(pools.last), n)),
                        _int_str(rng.integers(1, 1000, n)))
    county_names = [c for c, _ in C.COUNTIES]
    fips = [f for _, f in C.COUNTIES]
    cols = {
        "Id": ids,
        "BIRTHDATE": _date(birth),
        "DEATHDATE": _where(death >= 0, _date(np.maximum(death, 0)), None),
        "SSN": _join("999", _zpad(rng.integers(10, 100, n), 2), _zpad(rng.integers(0, 10000, n), 4), sep="-"),
        "DRIVERS": _where(adult & (rng.random(n) < 0.9), _join("S999", _zpad(rng.integers(0, 100000, n), 5)), None),
        "PASSPORT": _where(adult & (rng.random(n) < 0.75),
                           _join("X", _zpad(rng.integers(0, 10**8, n), 8), "X"), None),
        "PREFIX": _lookup(pa.array(["Mr.", "Mrs.", "Ms."]), prefix),
        "FIRST": first,
        "LAST": last,
        "SUFFIX": _nulls(n),
        "MAIDEN": _where(maiden, maiden_name, None),
        "MARITAL": _lookup(pa.array(["M", "S", "D", "W"]), marital),
        "RACE": _pick(C.RACES, race),
        "ETHNICITY": _where(hispanic, "hispanic", "nonhispanic"),
        "GENDER": _where(names.female, "F", "M"),
        "BIRTHPLACE": _join(_pick(pools.city, rng.integers(0, len(pools.city), n)), f"  {C.STATE}  US"),
        "ADDRESS": _pick(pools.street, street),
        "CITY": _pick(pools.city, city),
        "STATE": _const(C.STATE, n),
        "COUNTY": _pick(county_names, county),
        "FIPS": _pick(fips, county),
        "ZIP": _zpad(zip5, 5),
        "LAT": _float_str(lat),
        "LON": _float_str(lon),
        "HEALTHCARE_EXPENSES": _money(rng.integers(0, 200_000_00, n)),
        "HEALTHCARE_COVERAGE": _money(rng.integers(0, 800_000_00, n)),
        "INCOME": _int_str(rng.integers(12_000, 250_000, n)),
    }
    return cols, _join(first, last, sep=" ")


def _patient_emails(seed: int, chunk: int, pat: _Patients, pools: _Pools, ref: _Reference) -> pa.Array:
    """Extra EMAIL column: providers' own directory address, ~75 % of other adults a personal one."""
    rng = _rng(seed, chunk, "email")
    adult = (REF_TIME - pat.birth) >= 18 * YEAR
    personal = _join(pat.names.email_local(pools), _int_str(rng.integers(1, 100, pat.n)),
                     f"@{C.PATIENT_MAIL_DOMAIN}")
    email = _where(adult & (rng.random(pat.n) < 0.75), personal, None)
    is_pp = pat.provider_of >= 0
    return _where(is_pp, ref.prov_email.take(pa.array(np.maximum(pat.provider_of, 0))), email)


# ==================================================================================================
# Coverage (payer_transitions) and encounters
# ==================================================================================================


@dataclass
class _Periods:
    """Insurance coverage periods, sorted by (patient, start); contiguous over the history window."""

    patient: np.ndarray
    start: np.ndarray
    end: np.ndarray
    payer: np.ndarray
    secondary: np.ndarray  # payer index or -1


def _coverage(seed: int, chunk: int, pat: _Patients, ref: _Reference) -> tuple[_Periods, dict[str, pa.Array]]:
    """1-3 consecutive coverage periods per patient; payer by age (Medicare from 65)."""
    rng = _rng(seed, chunk, "coverage")
    k = rng.choice([1, 2, 3], size=pat.n, p=[0.5, 0.3, 0.2])
    patient, pos = _runs(k)
    u = np.where(pos == 0, 0.0, rng.random(len(patient)))
    order = np.lexsort((u, patient))  # patient stays sorted; the u = 0 period stays first
    u = u[order]
    span = pat.win_end[patient] - pat.win_start[patient]
    start = pat.win_start[patient] + (u * span).astype(np.int64)
    start -= (start - pat.win_start[patient]) % DAY
    last = np.r_[patient[1:] != patient[:-1], True]
    end = np.where(last, pat.win_end[patient], np.r_[start[1:], 0])
    keep = end > start  # two cuts on the same day would leave an empty period
    patient, start, end = patient[keep], start[keep], end[keep]

    m = len(patient)
    senior = (start - pat.birth[patient]) >= 65 * YEAR
    private = np.asarray(C.PAYER_PRIVATE)[rng.integers(0, len(C.PAYER_PRIVATE), m)]
    senior_payer = np.array([C.PAYER_MEDICARE, C.PAYER_DUAL, -1])[_choice(rng, (0.80, 0.05, 0.15), m)]
    other_payer = np.array([C.PAYER_MEDICAID, C.PAYER_NONE, -1])[_choice(rng, (0.18, 0.07, 0.75), m)]
    payer = np.where(senior, senior_payer, other_payer)
    payer = np.where(payer < 0, private, payer)
    secondary = np.where((payer == C.PAYER_MEDICARE) & (rng.random(m) < 0.25), private, -1)
    periods = _Periods(patient=patient, start=start, end=end, payer=payer, secondary=secondary)

    minor = (start - pat.birth[patient]) < 18 * YEAR
    columns = {
        "PATIENT": pat.ids.take(pa.array(patient)),
        "MEMBERID": _uuids(rng, m),
        "START_DATE": _ts(start),
        "END_DATE": _ts(end),
        "PAYER": ref.payers(payer),
        "SECONDARY_PAYER": _where(secondary >= 0, ref.payers(np.maximum(secondary, 0)), None),
        **_plan_owner(rng, pat, patient, minor, payer == C.PAYER_NONE),
    }
    return periods, columns


def _plan_owner(rng, pat: _Patients, patient: np.ndarray, minor: np.ndarray,
                uninsured: np.ndarray) -> dict[str, pa.Array]:
    """PLAN_OWNERSHIP/OWNER_NAME: Self; Guardian for minors (a family head or a made-up parent);
    Spouse for half of the family spouses; empty when uninsured (as in the sample)."""
    m = len(patient)
    g_head = pat.guardian_head[patient]
    s_head = pat.spouse_head[patient]
    parent_first = rng.integers(0, pat.n, pat.n)[patient]  # one made-up parent per patient
    made_up_parent = _join(_pick(pat.columns["FIRST"], parent_first),
                           pat.columns["LAST"].take(pa.array(patient)), sep=" ")
    guardian_name = _where(g_head >= 0, pat.fullname.take(pa.array(np.maximum(g_head, 0))), made_up_parent)
    spouse = (s_head >= 0) & ~minor & (rng.random(m) < 0.5)
    kind = np.where(uninsured, -1, np.where(minor, 1, np.where(spouse, 2, 0)))
    own = pat.fullname.take(pa.array(patient))
    spouse_name = pat.fullname.take(pa.array(np.maximum(s_head, 0)))
    owner = _select([own, guardian_name, spouse_name], kind, np.arange(m))
    return {
        "PLAN_OWNERSHIP": _lookup(pa.array(["Self", "Guardian", "Spouse"]), kind),
        "OWNER_NAME": owner,
    }


@dataclass
class _Encounters:
    """Encounters of one chunk, sorted by (patient, START)."""

    n: int
    ids: pa.Array
    patient: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    code: np.ndarray  # index into _ENC_CODES
    reason: np.ndarray  # index into C.REASONS or -1
    provider: np.ndarray
    org: np.ndarray
    payer: np.ndarray
    secondary: np.ndarray
    status: np.ndarray  # 0 completed, 1 cancelled, 2 no-show
    cancel_reason: np.ndarray
    start_s: pa.Array | None = None  # formatted START/STOP, reused by claims and transactions
    stop_s: pa.Array | None = None

    @property
    def completed(self) -> np.ndarray:
        return self.status == 0


# the well-child code is appended to the table so that one index addresses every encounter code
_ENC_CODES = C.ENCOUNTER_CODES + ((1, C.WELL_CHILD[0], C.WELL_CHILD[1], 13680, 0.0, 0.0),)
_ENC_CLASS = np.array([e[0] for e in _ENC_CODES])
_ENC_COST = np.array([e[3] for e in _ENC_CODES], np.int64)
_GENERAL_EXAM = 5
_WELL_CHILD = len(_ENC_CODES) - 1


def _encounters(seed: int, chunk: int, pat: _Patients, periods: _Periods, ref: _Reference,
                rate: float) -> _Encounters:
    """Encounters per patient ~ max(1, Poisson(rate)) inside the patient's window."""
    rng = _rng(seed, chunk, "encounters")
    counts = np.maximum(rng.poisson(rate, pat.n), 1) if rate > 0 else np.zeros(pat.n, np.int64)
    patient, _ = _runs(counts)
    n = len(patient)
    last_day = np.maximum(pat.win_end[patient] - 5 * DAY, pat.win_start[patient] + DAY)  # room for a stay
    start = _day_slot(rng, _random_day(rng, pat.win_start[patient], last_day))
    order = np.lexsort((start, patient))
    patient, start = patient[order], start[order]

    code = _choice(rng, [e[4] for e in _ENC_CODES], n)
    minor = (start - pat.birth[patient]) < 18 * YEAR
    code = np.where((code == _GENERAL_EXAM) & minor, _WELL_CHILD, code)
    has_reason = rng.random(n) < np.array([e[5] for e in _ENC_CODES])[code]
    reason = np.where(has_reason, rng.integers(0, len(C.REASONS), n), -1)
    cls = _ENC_CLASS[code]
    lo = np.array([d[0] for d in C.CLASS_DURATION_MIN])[cls]
    hi = np.array([d[1] for d in C.CLASS_DURATION_MIN])[cls]
    stop = start + (lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)) * 60
    provider = np.where(rng.random(n) < 0.8, pat.primary_provider[patient],
                        rng.integers(0, ref.n_providers, n))
    # the period in force at START: periods are sorted by (patient, start) and cover the window
    key_p = periods.patient.astype(np.int64) * 2**33 + (periods.start - HISTORY_START)
    key_e = patient.astype(np.int64) * 2**33 + (start - HISTORY_START)
    period = np.searchsorted(key_p, key_e, side="right") - 1
    status = _choice(rng, C.ENCOUNTER_STATUS_P, n)
    enc = _Encounters(
        n=n, ids=_uuids(rng, n), patient=patient, start=start, stop=stop, code=code, reason=reason,
        provider=provider, org=ref.prov_org[provider], payer=periods.payer[period],
        secondary=periods.secondary[period], status=status,
        cancel_reason=rng.integers(0, len(C.CANCELLATION_REASONS), n),
    )
    enc.start_s, enc.stop_s = _ts(start), _ts(stop)
    return enc


# ==================================================================================================
# Claims and the claims_transactions ledger
# ==================================================================================================


@dataclass
class _Ledger:
    """Claims, their lines and the ledger rows of one chunk (all money in cents)."""

    claim_enc: np.ndarray
    line_claim: np.ndarray
    line_code: pa.Array
    line_desc: pa.Array
    line_cost: np.ndarray
    line_ins: np.ndarray
    line_rem: np.ndarray
    outstanding: np.ndarray  # (claims, 3): primary, secondary, patient
    claim_cols: dict[str, pa.Array]
    tx_cols: dict[str, pa.Array]


def _coverage_ratio(rng: np.random.Generator, payer: np.ndarray) -> np.ndarray:
    """Share of a line the primary payer covers: government 100 % or 80 %, private 60-90 %, none 0."""
    n = len(payer)
    gov = np.isin(payer, [C.PAYER_MEDICARE, C.PAYER_MEDICAID, C.PAYER_DUAL])
    gov_ratio = np.where(rng.random(n) < 0.6, 1.0, 0.8)
    private_ratio = np.array([0.6, 0.7, 0.8, 0.9])[rng.integers(0, 4, n)]
    return np.where(payer == C.PAYER_NONE, 0.0, np.where(gov, gov_ratio, private_ratio))


def _claim_lines(rng, enc: _Encounters, claim_enc: np.ndarray, claim_pos: np.ndarray):
    """Lines of each claim: 1 + Poisson(0.25). The first line of an encounter's first claim bills the
    encounter code at its base cost; the other lines bill procedures.
    Returns (line -> claim index, code, description, cost in cents)."""
    line_claim, line_pos = _runs(1 + rng.poisson(LINES_EXTRA_MEAN, len(claim_enc)))
    is_enc_line = (line_pos == 0) & (claim_pos[line_claim] == 0)
    proc = rng.integers(0, len(C.PROCEDURES), len(line_claim))
    enc_code = enc.code[claim_enc[line_claim]]

    def column(enc_col: int, proc_col: int) -> pa.Array:
        return _where(is_enc_line, _pick([e[enc_col] for e in _ENC_CODES], enc_code),
                      _pick([p[proc_col] for p in C.PROCEDURES], proc))

    cost = np.where(is_enc_line, _ENC_COST[enc_code], np.array([p[2] for p in C.PROCEDURES])[proc])
    return line_claim, column(1, 0), column(2, 1), cost


def _ledger(seed: int, chunk: int, enc: _Encounters, pat: _Patients, ref: _Reference,
            claims_per_encounter: float, chargeid0: int) -> _Ledger:
    """Claims for completed encounters and their CHARGE/PAYMENT/TRANSFER rows.

    Each line has up to five rows, in this order (slot numbers):
    0 CHARGE (always), 1 insurer PAYMENT (if the insurer paid and covered > 0),
    2 TRANSFEROUT + 3 TRANSFERIN of the remainder (if paid by insurer or none, remainder > 0),
    4 PAYMENT of the remainder by the secondary payer or the patient (closed claims only).
    """
    rng = _rng(seed, chunk, "claims")
    whole, frac = divmod(claims_per_encounter, 1.0)
    k = np.where(enc.completed, int(whole) + (rng.random(enc.n) < frac), 0)
    claim_enc, claim_pos = _runs(k)
    n_claims = len(claim_enc)
    line_claim, line_code, line_desc, cost = _claim_lines(rng, enc, claim_enc, claim_pos)
    n_lines = len(line_claim)
    payer = enc.payer[claim_enc[line_claim]]
    ins = np.rint(cost * _coverage_ratio(rng, payer)).astype(np.int64)
    rem = cost - ins

    # claim state: 0 closed, 1 remainder unpaid (patient/secondary), 2 nothing paid by the insurer
    state = _choice(rng, C.CLAIM_STATE_P, n_claims)
    state = np.where((state == 2) & (enc.payer[claim_enc] == C.PAYER_NONE), 1, state)
    line_state = state[line_claim]
    has_secondary = enc.secondary[claim_enc] >= 0
    slots = np.zeros((n_lines, 5), bool)
    slots[:, 0] = True
    slots[:, 1] = (line_state != 2) & (ins > 0)
    slots[:, 2] = slots[:, 3] = (line_state != 2) & (rem > 0)
    slots[:, 4] = (line_state == 0) & (rem > 0)

    def per_claim(values: np.ndarray) -> np.ndarray:
        return np.rint(np.bincount(line_claim, values.astype(np.float64), minlength=n_claims)).astype(np.int64)

    owed1 = per_claim(np.where(line_state == 2, cost, 0))
    owed_rest = per_claim(np.where(line_state == 1, rem, 0))
    outstanding = np.stack([owed1, np.where(has_secondary, owed_rest, 0),
                            np.where(has_secondary, 0, owed_rest)], axis=1)

    led = _Ledger(claim_enc=claim_enc, line_claim=line_claim, line_code=line_code, line_desc=line_desc,
                  line_cost=cost, line_ins=ins, line_rem=rem, outstanding=outstanding,
                  claim_cols={}, tx_cols={})
    claim_ids = _uuids(rng, n_claims)
    led.claim_cols = _claim_columns(enc, pat, ref, led, claim_ids, has_secondary)
    led.tx_cols = _transaction_columns(rng, enc, pat, ref, led, claim_ids, slots, has_secondary, chargeid0)
    return led


def _claim_columns(enc: _Encounters, pat: _Patients, ref: _Reference, led: _Ledger, claim_ids: pa.Array,
                   has_secondary: np.ndarray) -> dict[str, pa.Array]:
    """claims.csv: STATUSx is BILLED while OUTSTANDINGx > 0, else CLOSED; suffix 2 only with a secondary."""
    e = led.claim_enc
    n = len(e)
    take = lambda arr: arr.take(pa.array(e))  # noqa: E731
    patient = pat.ids.take(pa.array(enc.patient[e]))
    provider = ref.prov_ids.take(pa.array(enc.provider[e]))
    dept = _int_str(enc.org[e] + 1)
    o1, o2, op = led.outstanding.T
    status = lambda owed: _where(owed > 0, "BILLED", "CLOSED")  # noqa: E731
    claim_type = np.array(C.CLASS_CLAIM_TYPE)[_ENC_CLASS[enc.code[e]]]
    reason = enc.reason[e]
    cols = {
        "Id": claim_ids,
        "PATIENTID": patient,
        "PROVIDERID": provider,
        "PRIMARYPATIENTINSURANCEID": _where(enc.payer[e] == C.PAYER_NONE, None, ref.payers(enc.payer[e])),
        "SECONDARYPATIENTINSURANCEID": _where(has_secondary, ref.payers(np.maximum(enc.secondary[e], 0)), None),
        "DEPARTMENTID": dept,
        "PATIENTDEPARTMENTID": dept,
        "DIAGNOSIS1": _lookup([x[0] for x in C.REASONS], reason),
        **{f"DIAGNOSIS{i}": _nulls(n) for i in range(2, 9)},
        "REFERRINGPROVIDERID": _nulls(n),
        "APPOINTMENTID": take(enc.ids),
        "CURRENTILLNESSDATE": take(enc.start_s),
        "SERVICEDATE": take(enc.start_s),
        "SUPERVISINGPROVIDERID": provider,
        "STATUS1": status(o1),
        "STATUS2": _where(has_secondary, status(o2), None),
        "STATUSP": status(op),
        "OUTSTANDING1": _money_or_zero(o1),
        "OUTSTANDING2": _where(has_secondary, _money_or_zero(o2), None),
        "OUTSTANDINGP": _money_or_zero(op),
        "LASTBILLEDDATE1": take(enc.stop_s),
        "LASTBILLEDDATE2": _where(has_secondary, take(enc.stop_s), None),
        "LASTBILLEDDATEP": take(enc.stop_s),
        "HEALTHCARECLAIMTYPEID1": _int_str(claim_type),
        "HEALTHCARECLAIMTYPEID2": _int_str(np.where(has_secondary, claim_type, 0)),
    }
    return cols


_TX_TYPES = pa.array(["CHARGE", "PAYMENT", "TRANSFEROUT", "TRANSFERIN", "PAYMENT"])


def _transaction_columns(rng, enc: _Encounters, pat: _Patients, ref: _Reference, led: _Ledger,
                         claim_ids: pa.Array, slots: np.ndarray, has_secondary: np.ndarray,
                         chargeid0: int) -> dict[str, pa.Array]:
    """claims_transactions.csv rows for the occupied (line, slot) pairs, line-major."""
    flat = np.flatnonzero(slots.ravel())
    line, slot = flat // 5, flat % 5
    n = len(line)
    claim = led.line_claim[line]
    e = led.claim_enc[claim]
    secondary = has_secondary[claim]
    chargeid = chargeid0 + np.arange(n)
    money = [_money(led.line_cost), _money(led.line_ins), _money(led.line_rem), pa.array(["0.00"])]
    zero = np.zeros(n, np.int64)
    # value source per slot: 0 = cost, 1 = insurer share, 2 = remainder, 3 = "0.00", -1 = empty
    amount_src = np.array([0, -1, -1, 2, -1])[slot]
    payments_src = np.array([3, 1, 3, 3, 2])[slot]
    transfers_src = np.array([-1, -1, 2, 2, -1])[slot]
    outstanding_src = np.array([0, 2, 2, 2, 3])[slot]
    line_or_zero = lambda src: np.where(src == 3, zero, line)  # noqa: E731
    insurer_method = _choice(rng, C.INSURER_METHOD_P, n)
    patient_method = np.where(secondary, 0, 1 + _choice(rng, C.PATIENT_METHOD_P, n))
    methods = pa.array(list(C.INSURER_METHODS) + ["ECHECK"] + list(C.PATIENT_METHODS))
    method = np.where(slot == 1, insurer_method, np.where(slot == 4, len(C.INSURER_METHODS) + patient_method, -1))
    transfer_type = np.where(slot == 0, 0, np.where(slot == 3, np.where(secondary, 1, 2), -1))
    enc_take = lambda arr: arr.take(pa.array(e))  # noqa: E731
    patient = pat.ids.take(pa.array(enc.patient[e]))
    provider = ref.prov_ids.take(pa.array(enc.provider[e]))
    has_dx = enc.reason[e] >= 0
    return {
        "ID": _uuids(rng, n),
        "CLAIMID": claim_ids.take(pa.array(claim)),
        "CHARGEID": _int_str(chargeid),
        "PATIENTID": patient,
        "TYPE": _TX_TYPES.take(pa.array(slot)),
        "AMOUNT": _select(money, amount_src, line_or_zero(amount_src)),
        "METHOD": _lookup(methods, method),
        "FROMDATE": enc_take(enc.start_s),
        "TODATE": enc_take(enc.stop_s),
        "PLACEOFSERVICE": ref.org_ids.take(pa.array(enc.org[e])),
        "PROCEDURECODE": led.line_code.take(pa.array(line)),
        "MODIFIER1": _nulls(n),
        "MODIFIER2": _nulls(n),
        "DIAGNOSISREF1": _where(has_dx, "1", None),
        "DIAGNOSISREF2": _nulls(n),
        "DIAGNOSISREF3": _nulls(n),
        "DIAGNOSISREF4": _nulls(n),
        "UNITS": _const("1", n),
        "DEPARTMENTID": _int_str(enc.org[e] + 1),
        "NOTES": led.line_desc.take(pa.array(line)),
        "UNITAMOUNT": _select(money, np.where(slot == 0, 0, 3), np.where(slot == 0, line, 0)),
        "TRANSFEROUTID": _where(slot == 3, _int_str(chargeid - 1), None),
        "TRANSFERTYPE": _lookup(pa.array(["1", "2", "p"]), transfer_type),
        "PAYMENTS": _select(money, payments_src, line_or_zero(payments_src)),
        "ADJUSTMENTS": _const("0.00", n),
        "TRANSFERS": _select(money, transfers_src, line_or_zero(transfers_src)),
        "OUTSTANDING": _select(money, outstanding_src, line_or_zero(outstanding_src)),
        "APPOINTMENTID": enc_take(enc.ids),
        "LINENOTE": _nulls(n),
        "PATIENTINSURANCEID": patient,  # the sample writes the patient id here
        "FEESCHEDULEID": _const("1", n),
        "PROVIDERID": provider,
        "SUPERVISINGPROVIDERID": provider,
    }


def _encounter_columns(enc: _Encounters, pat: _Patients, ref: _Reference, led: _Ledger,
                       with_extras: bool) -> dict[str, pa.Array]:
    """encounters.csv; TOTAL_CLAIM_COST/PAYER_COVERAGE are the sums over the encounter's claim lines."""
    line_enc = led.claim_enc[led.line_claim]
    total = np.rint(np.bincount(line_enc, led.line_cost.astype(float), minlength=enc.n)).astype(np.int64)
    covered = np.rint(np.bincount(line_enc, led.line_ins.astype(float), minlength=enc.n)).astype(np.int64)
    r = enc.reason
    cols = {
        "Id": enc.ids,
        "START": enc.start_s,
        "STOP": enc.stop_s,
        "PATIENT": pat.ids.take(pa.array(enc.patient)),
        "ORGANIZATION": ref.org_ids.take(pa.array(enc.org)),
        "PROVIDER": ref.prov_ids.take(pa.array(enc.provider)),
        "PAYER": ref.payers(enc.payer),
        "ENCOUNTERCLASS": _pick(C.ENCOUNTER_CLASSES, _ENC_CLASS[enc.code]),
        "CODE": _pick([e[1] for e in _ENC_CODES], enc.code),
        "DESCRIPTION": _pick([e[2] for e in _ENC_CODES], enc.code),
        "BASE_ENCOUNTER_COST": _money(_ENC_COST[enc.code]),
        "TOTAL_CLAIM_COST": _money(total),
        "PAYER_COVERAGE": _money(covered),
        "REASONCODE": _lookup([x[0] for x in C.REASONS], r),
        "REASONDESCRIPTION": _lookup([x[1] for x in C.REASONS], r),
    }
    if with_extras:
        cols["STATUS"] = _pick(C.ENCOUNTER_STATUSES, enc.status)
        cols["CANCELLATION_REASON"] = _where(enc.status == 1, _pick(C.CANCELLATION_REASONS, enc.cancel_reason), None)
    return cols


# ==================================================================================================
# Clinical files: medications, observations, care plans, imaging
# ==================================================================================================


def _random_completed_encounter(rng, enc: _Encounters, n_patients: int, patient: np.ndarray) -> np.ndarray:
    """For each entry of ``patient``: a random completed encounter of that patient, or -1 if none."""
    done = np.flatnonzero(enc.completed)  # sorted by patient, like the encounters
    u = rng.random(len(patient))
    if not len(done):
        return np.full(len(patient), -1, np.int64)
    per_patient = np.bincount(enc.patient[done], minlength=n_patients)
    first = np.cumsum(per_patient) - per_patient
    cnt = per_patient[patient]
    pick = np.minimum(first[patient] + np.floor(u * cnt).astype(np.int64), len(done) - 1)
    return np.where(cnt > 0, done[pick], -1)


def _medications(rng, enc: _Encounters, pat: _Patients, ref: _Reference, totals: _Totals) -> dict[str, pa.Array]:
    """~25 % of completed encounters prescribe one drug; chronic drugs of living patients may be active."""
    e = np.flatnonzero(enc.completed & (rng.random(enc.n) < MEDICATION_P))
    n = len(e)
    med = rng.integers(0, len(C.MEDICATIONS), n)
    chronic = np.array([m[3] for m in C.MEDICATIONS])[med]
    alive = pat.death[enc.patient[e]] < 0
    active = chronic & alive & (rng.random(n) < 0.5)
    start = enc.start[e]
    days = np.where(chronic, rng.integers(60, 720, n), rng.integers(7, 30, n))
    stop = np.minimum(start + days * DAY, pat.win_end[enc.patient[e]])
    dispenses = np.where(chronic, np.maximum(days // 30, 1), 1)
    base = np.array([m[2] for m in C.MEDICATIONS], np.int64)[med]
    total = base * dispenses
    payer = enc.payer[e]
    covered = np.rint(total * _coverage_ratio(rng, payer)).astype(np.int64)
    totals.add("cov_med", payer[payer != C.PAYER_NONE])
    totals.add("uncov_med", payer[payer == C.PAYER_NONE])
    totals.add("covered", payer, covered)
    totals.add("uncovered", payer, total - covered)
    r = enc.reason[e]
    return {
        "START": _ts(start),
        "STOP": _where(active, None, _ts(stop)),
        "PATIENT": pat.ids.take(pa.array(enc.patient[e])),
        "PAYER": ref.payers(payer),
        "ENCOUNTER": enc.ids.take(pa.array(e)),
        "CODE": _pick([m[0] for m in C.MEDICATIONS], med),
        "DESCRIPTION": _pick([m[1] for m in C.MEDICATIONS], med),
        "BASE_COST": _money(base),
        "PAYER_COVERAGE": _money(covered),
        "DISPENSES": _int_str(dispenses),
        "TOTALCOST": _money(total),
        "REASONCODE": _lookup([x[0] for x in C.REASONS], r),
        "REASONDESCRIPTION": _lookup([x[1] for x in C.REASONS], r),
    }


def _observations(rng, enc: _Encounters, pat: _Patients) -> dict[str, pa.Array]:
    """Poisson(1.5) observations per completed encounter: vitals, numeric labs, a few text answers."""
    done = np.flatnonzero(enc.completed)
    e = np.repeat(done, rng.poisson(OBSERVATIONS_MEAN, len(done)))
    n = len(e)
    obs = _choice(rng, [o[8] for o in C.OBSERVATIONS], n)
    mean, sd, low = (np.array([o[i] for o in C.OBSERVATIONS])[obs] for i in (5, 6, 7))
    tenths = np.rint(np.maximum(rng.normal(mean, sd), low) * 10).astype(np.int64)
    text_pool: list[str] = []
    text_idx = np.full(n, -1)
    for i, o in enumerate(C.OBSERVATIONS):
        if o[4] == "text":
            options = C.OBS_TEXT_VALUES[o[1]]
            rows = obs == i
            text_idx[rows] = len(text_pool) + rng.integers(0, len(options), rows.sum())
            text_pool.extend(options)
    is_text = text_idx >= 0
    value = _where(is_text, _pick(text_pool or [""], np.maximum(text_idx, 0)), _tenths(tenths))
    return {
        "DATE": enc.start_s.take(pa.array(e)),
        "PATIENT": pat.ids.take(pa.array(enc.patient[e])),
        "ENCOUNTER": enc.ids.take(pa.array(e)),
        "CATEGORY": _pick([o[0] for o in C.OBSERVATIONS], obs),
        "CODE": _pick([o[1] for o in C.OBSERVATIONS], obs),
        "DESCRIPTION": _pick([o[2] for o in C.OBSERVATIONS], obs),
        "VALUE": value,
        "UNITS": _pick([o[3] for o in C.OBSERVATIONS], obs),
        "TYPE": _pick([o[4] for o in C.OBSERVATIONS], obs),
    }


def _careplans(rng, enc: _Encounters, pat: _Patients) -> dict[str, pa.Array]:
    """Poisson(0.4) care plans per patient, started at a completed encounter; ~40 % still active."""
    patient, _ = _runs(rng.poisson(CAREPLANS_MEAN, pat.n))
    e = _random_completed_encounter(rng, enc, pat.n, patient)
    e = e[e >= 0]
    n = len(e)
    plan = rng.integers(0, len(C.CAREPLANS), n)
    start = enc.start[e] - enc.start[e] % DAY
    stop = start + rng.integers(7, 180, n) * DAY
    alive = pat.death[enc.patient[e]] < 0
    active = alive & ((rng.random(n) < 0.4) | (stop >= REF_TIME))  # no STOP in the future
    stop = np.minimum(stop, pat.win_end[enc.patient[e]])
    reason = np.array([p[2] for p in C.CAREPLANS])[plan]
    return {
        "Id": _uuids(rng, n),
        "START": _date(start),
        "STOP": _where(active, None, _date(stop)),
        "PATIENT": pat.ids.take(pa.array(enc.patient[e])),
        "ENCOUNTER": enc.ids.take(pa.array(e)),
        "CODE": _pick([p[0] for p in C.CAREPLANS], plan),
        "DESCRIPTION": _pick([p[1] for p in C.CAREPLANS], plan),
        "REASONCODE": _lookup([x[0] for x in C.REASONS], reason),
        "REASONDESCRIPTION": _lookup([x[1] for x in C.REASONS], reason),
    }


def _imaging(rng, enc: _Encounters, pat: _Patients) -> dict[str, pa.Array]:
    """Imaging for ~5 % of completed emergency/urgent/outpatient encounters, 0.2 % of the rest."""
    cls = _ENC_CLASS[enc.code]
    acute = np.isin(cls, [2, 3, 4])
    e = np.flatnonzero(enc.completed & (rng.random(enc.n) < np.where(acute, 0.05, 0.002)))
    n = len(e)
    kind = rng.integers(0, len(C.IMAGING), n)
    millis = _int_str(enc.start[e] * 1000 + rng.integers(0, 1000, n))
    col = lambda i: _pick([x[i] for x in C.IMAGING], kind)  # noqa: E731
    return {
        "Id": _uuids(rng, n),
        "DATE": enc.start_s.take(pa.array(e)),
        "PATIENT": pat.ids.take(pa.array(enc.patient[e])),
        "ENCOUNTER": enc.ids.take(pa.array(e)),
        "SERIES_UID": _join("1.2.840.99999999.1", _int_str(rng.integers(10**7, 10**8, n)), millis, sep="."),
        "BODYSITE_CODE": col(0),
        "BODYSITE_DESCRIPTION": col(1),
        "MODALITY_CODE": col(2),
        "MODALITY_DESCRIPTION": col(3),
        "INSTANCE_UID": _join("1.2.840.99999999.1.1", _int_str(rng.integers(10**7, 10**8, n)), millis, sep="."),
        "SOP_CODE": col(4),
        "SOP_DESCRIPTION": col(5),
        "PROCEDURE_CODE": col(6),
    }


# ==================================================================================================
# Extras: notes, relationships, documents, provider directory
# ==================================================================================================


def _note_pools() -> list[pa.Array]:
    """Rendered note sentences per NOTE_TYPE (a few hundred; sampled by index)."""
    pools = []
    for kind in C.NOTE_TYPES:
        texts = [t.format(cond=c, n=n)
                 for t in C.NOTE_TEMPLATES[kind] for c in C.NOTE_CONDITIONS for n in (1, 2, 3, 4, 6)]
        pools.append(pa.array(sorted(set(texts)), pa.string()))
    return pools


def _notes(seed: int, chunk: int, enc: _Encounters, pat: _Patients, ref: _Reference,
           rate: float) -> dict[str, pa.Array]:
    """Poisson(rate) notes per patient: ~75 % about a completed encounter (progress/clinical, by the
    encounter's provider, dated at its STOP), the rest phone notes (no encounter, primary provider)."""
    rng = _rng(seed, chunk, "notes")
    patient, _ = _runs(rng.poisson(rate, pat.n) if rate > 0 else np.zeros(pat.n, np.int64))
    n = len(patient)
    e = _random_completed_encounter(rng, enc, pat.n, patient)
    phone = (e < 0) | (rng.random(n) < 0.25)
    kind = np.where(phone, 2, (rng.random(n) < 0.4).astype(np.int64))
    phone_time = _day_slot(rng, _random_day(rng, pat.win_start[patient], pat.win_end[patient]))
    e0 = np.maximum(e, 0)
    at_enc = (lambda arr: arr[e0]) if enc.n else (lambda arr: np.zeros(n, arr.dtype))  # no encounters: all phone
    date = np.where(phone, phone_time, at_enc(enc.stop))
    author = np.where(phone, pat.primary_provider[patient], at_enc(enc.provider))
    pools = _note_pools()
    text_idx = np.floor(rng.random(n) * np.array([len(p) for p in pools])[kind]).astype(np.int64)
    return {
        "Id": _uuids(rng, n),
        "PATIENT": pat.ids.take(pa.array(patient)),
        "ENCOUNTER": _where(phone, None, enc.ids.take(pa.array(e0)) if enc.n else _nulls(n)),
        "DATE": _ts(date),
        "AUTHOR": ref.prov_ids.take(pa.array(author)),
        "NOTE_TYPE": _pick(C.NOTE_TYPES, kind),
        "TEXT": _select(pools, kind, text_idx),
    }


def _relationships(seed: int, chunk: int, pat: _Patients) -> dict[str, pa.Array]:
    """Two rows per non-head family member: member -> head and head -> member.

    ``RELATIONSHIP`` says what RELATED_PATIENT is to PATIENT; ``IS_GUARANTOR`` says whether
    RELATED_PATIENT is financially responsible for PATIENT (true for a minor's parent/guardian).
    """
    rng = _rng(seed, chunk, "relationships")
    f = pat.family
    rel = C.RELATIONSHIPS.index
    to_head = np.select([f.role == _SPOUSE, f.role == _SIBLING, f.guardian],
                        [rel("spouse"), rel("sibling"), rel("guardian")], rel("parent"))
    to_member = np.select([f.role == _SPOUSE, f.role == _SIBLING], [rel("spouse"), rel("sibling")], rel("child"))
    guarantor = f.role == _MINOR
    n = len(f.member)
    patient = np.r_[f.member, f.head]
    related = np.r_[f.head, f.member]
    order = np.argsort(np.r_[np.arange(n) * 2, np.arange(n) * 2 + 1], kind="stable")  # pairs together
    return {
        "Id": _uuids(rng, 2 * n),
        "PATIENT": pat.ids.take(pa.array(patient[order])),
        "RELATED_PATIENT": pat.ids.take(pa.array(related[order])),
        "RELATIONSHIP": _pick(C.RELATIONSHIPS, np.r_[to_head, to_member][order]),
        "IS_GUARANTOR": _where(np.r_[guarantor, np.zeros(n, bool)][order], "true", "false"),
    }


def _provider_directory(ref: _Reference) -> dict[str, pa.Array]:
    listed = pa.array(np.flatnonzero(ref.prov_listed))
    return {"PROVIDER": ref.prov_ids.take(listed), "EMAIL": ref.prov_email.take(listed)}


def _png(width: int, height: int, pixels: bytes) -> bytes:
    """A valid 8-bit RGB PNG of the given raw pixels (no filter)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    stride = 3 * width
    raw = b"".join(b"\x00" + pixels[r * stride:(r + 1) * stride] for r in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def _pdf(lines: Sequence[str]) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` (ASCII, no parentheses or backslashes)."""
    text = "BT /F1 10 Tf 72 740 Td 12 TL\n" + "".join(f"({ln}) Tj T*\n" for ln in lines) + "ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("ascii")


def _document_bytes(rng: np.random.Generator, ext: str, title: str, target: int, large: bool) -> bytes:
    """Synthetic file content of roughly ``target`` bytes (large -> ~3 MB PNG)."""
    if large:
        side = LARGE_PNG_SIDE
        return _png(side, side, rng.bytes(3 * side * side))
    filler = "Synthetic document for migration testing - not a real patient record."
    lines = [title, filler]
    while sum(len(x) + 12 for x in lines) < target:
        lines.append(f"Line {len(lines)}: {filler}")
    if ext == "txt":
        return ("\n".join(lines) + "\n").encode()
    if ext == "pdf":
        return _pdf(lines)
    side = max(4, int(math.sqrt(target / 3)))
    return _png(side, side, rng.bytes(3 * side * side))


def _documents(seed: int, out_dir: Path, who: list[tuple[str, int, int]]) -> dict[str, pa.Array]:
    """documents.csv rows and their files under ``out_dir/documents`` for the first patients.

    ``who`` holds (patient id, window start, window end) of the document patients. About 1 % of the
    documents, at most MAX_LARGE_DOCUMENTS, are ~3 MB; with 20+ documents at least one is large so a
    size limit can always be exercised.
    """
    rng = _rng(seed, _GLOBAL_CHUNK, "documents")
    counts = rng.poisson(DOCUMENTS_MEAN, len(who))
    owner, _ = _runs(counts)
    n = len(owner)
    large = np.flatnonzero(rng.random(n) < 0.01)[:MAX_LARGE_DOCUMENTS]
    if n >= 20 and not len(large):
        large = rng.integers(0, n, 1)
    is_large = np.zeros(n, bool)
    is_large[large] = True
    kind = np.where(is_large, 2, _choice(rng, [k[2] for k in C.DOCUMENT_KINDS], n))
    lo = np.array([w[1] for w in who], np.int64)[owner] if n else np.zeros(0, np.int64)
    hi = np.array([w[2] for w in who], np.int64)[owner] if n else np.zeros(0, np.int64)
    date = _day_slot(rng, _random_day(rng, lo, hi))
    ids = _uuids(rng, n).to_pylist()
    (out_dir / "documents").mkdir(parents=True, exist_ok=True)
    titles, paths, sizes = [], [], []
    for i in range(n):  # a few hundred files at most: a plain loop is clearer than anything else
        ext, _mime, _w = C.DOCUMENT_KINDS[kind[i]]
        options = C.DOCUMENT_TITLES[ext]
        title = options[rng.integers(0, len(options))]
        data = _document_bytes(rng, ext, title, int(rng.integers(300, 4000)), bool(is_large[i]))
        rel = f"documents/{ids[i]}.{ext}"
        (out_dir / rel).write_bytes(data)
        titles.append(title)
        paths.append(rel)
        sizes.append(len(data))
    return {
        "Id": pa.array(ids, pa.string()),
        "PATIENT": pa.array([who[o][0] for o in owner], pa.string()),
        "DATE": _ts(date),
        "TITLE": pa.array(titles, pa.string()),
        "FILE_PATH": pa.array(paths, pa.string()),
        "MIME_TYPE": _pick([k[1] for k in C.DOCUMENT_KINDS], kind),
        "SIZE_BYTES": _int_str(np.array(sizes, np.int64)),
    }


# ==================================================================================================
# Reference files (written last, with usage totals)
# ==================================================================================================


def _organization_columns(ref: _Reference, pools: _Pools, totals: _Totals) -> dict[str, pa.Array]:
    n = len(ref.org_city)
    city = _pick(pools.city, ref.org_city)
    return {
        "Id": ref.org_ids,
        "NAME": _join(city, _pick(C.ORG_KINDS, ref.org_kind), sep=" "),
        "ADDRESS": _pick(pools.street, ref.org_street),
        "CITY": city,
        "STATE": _const(C.STATE_ABBR, n),
        "ZIP": _zpad(ref.org_zip, 5),
        "LAT": _float_str(ref.org_lat),
        "LON": _float_str(ref.org_lon),
        "PHONE": _join("555", _zpad(ref.org_phone, 7)),
        "REVENUE": _const("0.0", n),
        "UTILIZATION": _int_str(totals.org_utilization),
    }


def _provider_columns(ref: _Reference, pools: _Pools, totals: _Totals,
                      orgs: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """providers.csv: address columns are the organisation's (as in Synthea); usage from totals."""
    o = pa.array(ref.prov_org)
    return {
        "Id": ref.prov_ids,
        "ORGANIZATION": ref.org_ids.take(o),
        "NAME": _join(ref.prov_names.first(pools), ref.prov_names.last(pools), sep=" "),
        "GENDER": _where(ref.prov_names.female, "F", "M"),
        "SPECIALITY": _pick(C.SPECIALITIES, ref.prov_speciality),
        **{k: orgs[k].take(o) for k in ("ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON")},
        "ENCOUNTERS": _int_str(totals.prov_encounters),
        "PROCEDURES": _int_str(totals.prov_procedures),
    }


def _payer_columns(seed: int, ref: _Reference, totals: _Totals) -> dict[str, pa.Array]:
    t = totals.payer
    n = len(C.PAYERS)
    rng = _rng(seed, _GLOBAL_CHUNK, "payers")
    qols = [repr(float(q)) if c else "NaN" for q, c in zip(rng.uniform(0.7, 1.0, n), t["customers"], strict=True)]
    premium = np.where(np.arange(n) == C.PAYER_NONE, 0, 250_00)
    return {
        "Id": ref.payer_ids,
        "NAME": pa.array([p[0] for p in C.PAYERS]),
        "OWNERSHIP": pa.array([p[1] for p in C.PAYERS]),
        **{k: _nulls(n) for k in ("ADDRESS", "CITY", "STATE_HEADQUARTERED", "ZIP", "PHONE")},
        "AMOUNT_COVERED": _money(t["covered"]),
        "AMOUNT_UNCOVERED": _money(t["uncovered"]),
        "REVENUE": _money(t["months"] * premium),
        "COVERED_ENCOUNTERS": _int_str(t["cov_enc"]),
        "UNCOVERED_ENCOUNTERS": _int_str(t["uncov_enc"]),
        "COVERED_MEDICATIONS": _int_str(t["cov_med"]),
        "UNCOVERED_MEDICATIONS": _int_str(t["uncov_med"]),
        **{k: _const("0", n) for k in ("COVERED_PROCEDURES", "UNCOVERED_PROCEDURES",
                                        "COVERED_IMMUNIZATIONS", "UNCOVERED_IMMUNIZATIONS")},
        "UNIQUE_CUSTOMERS": _int_str(t["customers"]),
        "QOLS_AVG": pa.array(qols),
        "MEMBER_MONTHS": _int_str(t["months"]),
    }


# ==================================================================================================
# Orchestration
# ==================================================================================================


def _validate(patients: int, seed: int, encounters_per_patient: float, claims_per_encounter: float,
              notes_per_patient: float, chunk_patients: int) -> None:
    """Raise ValueError for arguments the generator cannot honour."""
    if not isinstance(patients, (int, np.integer)) or patients < 1:
        raise ValueError(f"patients must be an int >= 1, got {patients!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not isinstance(chunk_patients, (int, np.integer)) or chunk_patients < 1:
        raise ValueError(f"chunk_patients must be an int >= 1, got {chunk_patients!r}")
    for name, value in (("encounters_per_patient", encounters_per_patient),
                        ("claims_per_encounter", claims_per_encounter),
                        ("notes_per_patient", notes_per_patient)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _headers(name: str, with_extras: bool) -> tuple[str, ...]:
    base = C.SYNTHEA_HEADERS.get(name) or C.EXTRA_HEADERS[name]
    return base + (C.EXTRA_COLUMNS.get(name, ()) if with_extras else ())


def build_clinic_export(out_dir: str | Path, *, patients: int = 100, seed: int = 7,
                        encounters_per_patient: float = 8.0, claims_per_encounter: float = 1.0,
                        notes_per_patient: float = 3.0, with_extras: bool = True,
                        chunk_patients: int = 20_000) -> dict[str, int]:
    """Write a Synthea-layout CSV export; return rows written per file name.

    Args:
        out_dir: directory to write into (created if missing). Existing export files are
            overwritten; other files (e.g. stale ``documents/*``) are left alone, so use a fresh
            directory when comparing builds.
        patients: number of patients (rows of patients.csv), >= 1.
        seed: non-negative int; the same arguments always give byte-identical files.
        encounters_per_patient: mean encounters per patient (Poisson, at least 1 when > 0).
        claims_per_encounter: mean claims per *completed* encounter (floor + Bernoulli(fraction)).
        notes_per_patient: mean notes per patient (Poisson; extras only).
        with_extras: also write the extra columns and files (see the module docstring).
        chunk_patients: patients generated and appended per step. Bounds memory (peak RSS of the
            whole process ~0.9 GB at the default) and is part of the determinism key.

    Returns:
        ``{"patients.csv": 100, "encounters.csv": 812, ...}``: data rows (header excluded) per CSV
        written. Document files are not counted (documents.csv rows are).

    Raises:
        ValueError: an argument is out of range.
        pyarrow.ArrowInvalid: a generated value would need CSV quoting in a Synthea file (a bug).
    """
    _validate(patients, seed, encounters_per_patient, claims_per_encounter, notes_per_patient, chunk_patients)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pools = _build_pools(seed)
    ref = _build_reference(patients, seed, pools)
    totals = _Totals(ref.n_providers, len(ref.org_ids))
    chunk_files = ["patients.csv", "payer_transitions.csv", "encounters.csv", "claims.csv",
                   "claims_transactions.csv", "medications.csv", "observations.csv", "careplans.csv",
                   "imaging_studies.csv"]
    if with_extras:
        chunk_files += ["notes.csv", "relationships.csv"]
    writers = {name: _TableWriter(out / name, _headers(name, with_extras), quoting=name == "notes.csv")
               for name in chunk_files}
    doc_patients: list[tuple[str, int, int]] = []
    try:
        for chunk, g0 in enumerate(range(0, patients, chunk_patients)):
            g1 = min(patients, g0 + chunk_patients)
            _build_chunk(seed, chunk, g0, g1, pools, ref, totals, writers, with_extras,
                         encounters_per_patient, claims_per_encounter, notes_per_patient, doc_patients)
    finally:
        for w in writers.values():
            w.close()
    rows = {name: w.rows for name, w in writers.items()}
    rows.update(_write_reference_files(out, seed, pools, ref, totals, with_extras, doc_patients))
    return rows


def _build_chunk(seed, chunk, g0, g1, pools, ref, totals, writers, with_extras, enc_rate, claim_rate,
                 note_rate, doc_patients) -> None:
    """Generate and append every per-patient file for patients g0..g1-1."""
    pat = _patients_chunk(seed, chunk, g0, g1, pools, ref)
    if with_extras:
        pat.columns["EMAIL"] = _patient_emails(seed, chunk, pat, pools, ref)
    writers["patients.csv"].write(pat.columns)

    periods, pt_cols = _coverage(seed, chunk, pat, ref)
    writers["payer_transitions.csv"].write(pt_cols)
    pair = np.unique(pat.gidx[periods.patient] * len(C.PAYERS) + periods.payer)
    totals.add("customers", pair % len(C.PAYERS))
    totals.add("months", periods.payer, (periods.end - periods.start) / (30.436875 * DAY))

    enc = _encounters(seed, chunk, pat, periods, ref, enc_rate)
    led = _ledger(seed, chunk, enc, pat, ref, claim_rate, totals.chargeid)
    writers["encounters.csv"].write(_encounter_columns(enc, pat, ref, led, with_extras))
    writers["claims.csv"].write(led.claim_cols)
    writers["claims_transactions.csv"].write(led.tx_cols)
    totals.chargeid += len(led.tx_cols["ID"])
    _count_usage(totals, enc, led)
    del led  # the ledger columns are the chunk's largest arrays: free them before the clinical files

    clinical = _rng(seed, chunk, "clinical")
    writers["medications.csv"].write(_medications(clinical, enc, pat, ref, totals))
    writers["observations.csv"].write(_observations(clinical, enc, pat))
    writers["careplans.csv"].write(_careplans(clinical, enc, pat))
    writers["imaging_studies.csv"].write(_imaging(clinical, enc, pat))
    if with_extras:
        writers["notes.csv"].write(_notes(seed, chunk, enc, pat, ref, note_rate))
        writers["relationships.csv"].write(_relationships(seed, chunk, pat))
        ids = pat.ids.to_pylist() if g0 < DOCUMENT_PATIENTS else []
        for i in range(min(g1, DOCUMENT_PATIENTS) - g0):
            doc_patients.append((ids[i], int(pat.win_start[i]), int(pat.win_end[i])))


def _count_usage(totals: _Totals, enc: _Encounters, led: _Ledger) -> None:
    """Provider/organisation/payer counters that Synthea reports in its reference files."""
    totals.prov_encounters += np.bincount(enc.provider, minlength=totals.n_prov)
    totals.org_utilization += np.bincount(enc.org, minlength=totals.n_org)
    line_enc = led.claim_enc[led.line_claim]
    extra_line = np.zeros(len(line_enc), bool)  # lines after a claim's first line are "procedures"
    extra_line[1:] = led.line_claim[1:] == led.line_claim[:-1]
    totals.prov_procedures += np.bincount(enc.provider[line_enc[extra_line]], minlength=totals.n_prov)
    payer = enc.payer[line_enc]
    totals.add("covered", payer, led.line_ins)
    totals.add("uncovered", payer, led.line_rem)
    billed = enc.payer[enc.completed]
    totals.add("cov_enc", billed[billed != C.PAYER_NONE])
    totals.add("uncov_enc", billed[billed == C.PAYER_NONE])


def _write_reference_files(out: Path, seed: int, pools: _Pools, ref: _Reference, totals: _Totals,
                           with_extras: bool, doc_patients) -> dict[str, int]:
    """Write the small files that need whole-build totals or a global random stream."""
    orgs = _organization_columns(ref, pools, totals)
    tables = {
        "organizations.csv": orgs,
        "providers.csv": _provider_columns(ref, pools, totals, orgs),
        "payers.csv": _payer_columns(seed, ref, totals),
    }
    if with_extras:
        tables["provider_directory.csv"] = _provider_directory(ref)
        tables["documents.csv"] = _documents(seed, out, doc_patients)
    rows = {}
    for name, cols in tables.items():
        writer = _TableWriter(out / name, _headers(name, with_extras))
        try:
            writer.write(cols)
        finally:
            writer.close()
        rows[name] = writer.rows
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build an export and print rows per file (and the total)."""
    parser = argparse.ArgumentParser(prog="python -m flit_sandboxes.clinic_export",
                                     description="Write a deterministic synthetic Synthea-layout clinic CSV export.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encounters-per-patient", type=float, default=8.0)
    parser.add_argument("--claims-per-encounter", type=float, default=1.0)
    parser.add_argument("--notes-per-patient", type=float, default=3.0)
    parser.add_argument("--no-extras", action="store_true", help="Synthea files only")
    parser.add_argument("--chunk-patients", type=int, default=20_000)
    args = parser.parse_args(argv)
    try:
        rows = build_clinic_export(
            args.out_dir, patients=args.patients, seed=args.seed,
            encounters_per_patient=args.encounters_per_patient,
            claims_per_encounter=args.claims_per_encounter, notes_per_patient=args.notes_per_patient,
            with_extras=not args.no_extras, chunk_patients=args.chunk_patients,
        )
    except ValueError as exc:
        parser.error(str(exc))
    width = max(len(k) for k in rows)
    for name in sorted(rows):
        print(f"{name:<{width}}  {rows[name]:>10,}")
    print(f"{'total':<{width}}  {sum(rows.values()):>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
