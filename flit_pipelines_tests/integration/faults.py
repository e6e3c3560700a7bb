"""Helpers of the fault tests: sandbox fault rules, a wave run's event log, the export's patient values."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import requests

# the patient columns of the Synthea export whose values must never reach a log line
PATIENT_COLUMNS = ("FIRST", "LAST", "MAIDEN", "BIRTHDATE", "SSN", "DRIVERS", "PASSPORT", "ADDRESS", "EMAIL")


def add_faults(base: str, headers: dict[str, str], rules: list[dict]) -> int:
    """Register ``rules`` on a sandbox; returns how many requests they will hit in all."""
    for rule in rules:
        requests.post(f"{base}/__sandbox/faults", json=rule, headers=headers, timeout=10).raise_for_status()
    return sum(rule.get("count", 1) for rule in rules)


def pending_faults(base: str, headers: dict[str, str]) -> list[dict]:
    """The rules that have not fired yet (a fault test whose faults never fired proves nothing)."""
    resp = requests.get(f"{base}/__sandbox/faults", headers=headers, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


def patient_values(export: Path) -> list[str]:
    """Every non-empty value of the patient columns of an export's patients.csv."""
    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    cols = [c for c in PATIENT_COLUMNS if c in patients.columns]
    return sorted({v for c in cols for v in patients[c] if len(v) >= 4})


def last_run_events() -> str:
    """The whole event log of the newest run on the instance in ``DAGSTER_HOME``, serialised."""
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        return "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(run.run_id))


def leaked(text: str, values: list[str]) -> list[str]:
    """The values that occur in ``text`` (case-insensitive)."""
    low = text.lower()
    return [v for v in values if v.lower() in low]
