"""A drifted copy of a clinic export: what another version of the same clinic software writes
(renamed headers, a birth date split into year/month/day, a dropped optional column, added columns, a
new column order). Used by the demo's proposal step and the proposal tests.

CLI-free: ``drifted_export(src_dir, out_dir)``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

# Renames in the styles real systems use (prefixes, camelCase, spaces, abbreviations, UPPER).
PATIENT_RENAMES = {"FIRST": "PAT_FIRST_NAME", "LAST": "patLastName", "ZIP": "Zip Code", "EMAIL": "E-mail Address",
                   "ADDRESS": "Street Addr", "GENDER": "Sex"}
ENCOUNTER_RENAMES = {"ENCOUNTERCLASS": "Visit Class", "REASONDESCRIPTION": "reasonDescription"}


def drifted_export(src: Path, out: Path) -> Path:
    """Copy ``src`` with renamed headers, BIRTHDATE split into year/month/day columns, a dropped optional
    column (MOBILE_PHONE), added columns and a new column order in patients.csv and encounters.csv."""
    shutil.copytree(src, out)
    p = pd.read_csv(out / "patients.csv", dtype=str, keep_default_na=False)
    born = pd.to_datetime(p["BIRTHDATE"])
    p["BIRTH_YEAR"], p["BIRTH_MONTH"], p["BIRTH_DAY"] = born.dt.year.astype(str), born.dt.month.astype(str), \
        born.dt.day.astype(str)
    p = p.drop(columns=["BIRTHDATE"] + [c for c in ("MOBILE_PHONE",) if c in p.columns])
    p["PREFERRED_LANGUAGE"] = ["English" if i % 4 else "Spanish" for i in range(len(p))]
    p = p.rename(columns=PATIENT_RENAMES)
    p = p[list(reversed(p.columns))]  # reordered
    p.to_csv(out / "patients.csv", index=False)
    e = pd.read_csv(out / "encounters.csv", dtype=str, keep_default_na=False)
    e = e.rename(columns=ENCOUNTER_RENAMES)
    e["ROOM"] = "A1"
    e.to_csv(out / "encounters.csv", index=False)
    return out
