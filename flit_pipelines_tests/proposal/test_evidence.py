"""The proposer's evidence: words (segmentation), meaning (bundled static embeddings, offline), values
(recogniser gates), the calibrated combiner (reproducible from development data only), and adapt mode
on run-together / re-cased headers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from flit_pipelines.catalog import load_catalog
from flit_pipelines.proposal import meaning
from flit_pipelines.proposal.adapt import Adapter
from flit_pipelines.proposal.combiner import MODEL_PATH, bands
from flit_pipelines.proposal.entities import _fields_with_parts
from flit_pipelines.proposal.names import normalise
from flit_pipelines.proposal.profile import profile_column
from flit_pipelines.proposal.score import HIGH, score_column
from flit_pipelines.proposal.sources import read_csv_directory
from flit_pipelines.spec.load import SPEC_DIR, load_spec
from flit_pipelines_tests.conftest import FIXTURE_EXPORT

REPO = Path(__file__).resolve().parents[2]


def test_run_together_upper_and_snake_headers_split_into_the_same_words():
    assert normalise("OUTSTANDINGP") == normalise("outstanding_p") == normalise("OutstandingP") == "outstanding p"
    assert normalise("ENCOUNTERCLASS") == normalise("encounterClass") == "encounter class"
    assert normalise("REASONDESCRIPTION") == "reason description"
    assert normalise("BIRTHDATE") == normalise("birth_date") == "birth date"  # a catalog word still splits
    assert normalise("PtDOB") == "date of birth"  # dictionary abbreviations still expand in headers
    # destination names are words: Pipedrive's add_time is not "address time"
    assert normalise("add_time", expand=False) == "add time"


def test_meaning_loads_from_the_wheel_with_the_network_refused(monkeypatch):
    import requests

    def refuse(*_a, **_k):
        raise AssertionError("the embedding model must not be downloaded")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    meaning._model.cache_clear()
    meaning._CACHE.clear()
    assert meaning.available()
    assert meaning.embed(["date of birth"]).shape == (1, 256)
    assert meaning.similarity("date of birth", "birthday") > meaning.similarity("date of birth", "zip code") + 0.4
    assert meaning.similarity("surname", "last name") > meaning.similarity("surname", "e-mail") + 0.3


def _col(name: str, values: list[str]):
    return profile_column(name, pd.Series(values, dtype="string"), len(values))


def test_values_gate_typed_fields_and_lead_where_names_say_nothing():
    cat = load_catalog("pipedrive")
    person = cat.entity("person")
    fields = _fields_with_parts(person)
    # "Email consent" holds yes/no: it is not the e-mail field (importcsv/importcsv#15)
    consent = score_column(_col("Email consent", ["yes", "no", "yes", "no"] * 10), fields, entity_label=person.label)
    emails = next(c for c in consent if c.field == "emails")
    assert consent[0].field != "emails" and emails.confidence < 0.1
    real = score_column(_col("Email address", [f"p{i}@example.org" for i in range(40)]), fields,
                        entity_label=person.label)
    assert real[0].field == "emails" and real[0].confidence >= HIGH
    # a note's only date field takes a column of dates, whatever its header
    note = cat.entity("note")
    dated = score_column(_col("DATE", [f"2024-0{1 + i % 9}-1{i % 9}" for i in range(40)]), _fields_with_parts(note),
                         entity_label=note.label)
    assert dated[0].field == "add_time"


def test_the_combiner_is_refitted_identically_from_development_data_only():
    doc = json.loads(MODEL_PATH.read_text())
    assert doc["held_out"]["high_band_precision"] >= 0.98 and bands()["high"] == doc["bands"]["high"] == HIGH
    text = (REPO / "scripts" / "train_proposer.py").read_text()
    for forbidden in ("mapping_specs", "flit_sandboxes", "benchmarks", "clinic_extras", "read_csv"):
        assert forbidden not in text  # no spec, demo source, evaluation set or fixture feeds the training
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "train_proposer.py"), "--check"], cwd=REPO,
                         capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                                              "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_adapt_resolves_re_cased_and_run_together_renames(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export, ignore=shutil.ignore_patterns("documents"))
    renames = {"claims.csv": {"OUTSTANDINGP": "OutstandingP", "SERVICEDATE": "service_date", "STATUS1": "Status 1"},
               "patients.csv": {"DEATHDATE": "DEATH_DATE", "BIRTHDATE": "birthDate",
                                "MARITAL": "marital_status"},
               "encounters.csv": {"ENCOUNTERCLASS": "encounter_class", "REASONDESCRIPTION": "ReasonDescription"}}
    for file, ren in renames.items():
        df = pd.read_csv(export / file, dtype=str, keep_default_na=False).rename(columns=ren)
        df[list(reversed(df.columns))].to_csv(export / file, index=False)
    spec = load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml")
    raw = yaml.safe_load((SPEC_DIR / "clinic_to_pipedrive.yaml").read_text())
    objects = Adapter(spec, raw, read_csv_directory(export), load_catalog("pipedrive"), {}).propose(
        read_csv_directory(FIXTURE_EXPORT))
    got = {(o, (c or {}).get("source")) for o, body in objects.items() for c in body["columns"].values()}
    stems = {Path(spec.objects[o].file).name: o for o in spec.objects if spec.objects[o].file}
    for file, ren in renames.items():
        for new in ren.values():
            assert (stems[file], new) in got, new


def test_adapt_keeps_json_fields_in_their_nested_object_and_matches_re_spelled_headers():
    from flit_pipelines.proposal.profile import profile_frames

    spec = load_spec(SPEC_DIR / "henry_schein_one_to_highlevel.yaml")
    raw = yaml.safe_load((SPEC_DIR / "henry_schein_one_to_highlevel.yaml").read_text())
    obj = spec.objects["appointments"]
    headers = [c.source or n for n, c in obj.columns.items()]
    before = pd.DataFrame({h: [str(i + j) for j in range(30)] for i, h in enumerate(headers)}, dtype="string")
    renames = {"id": "pt_id", "patient.id": "patient.pt_id", "operatory.id": "OPERATORY.ID"}
    after = before.rename(columns=renames)
    adapted = Adapter(spec, raw, profile_frames({"appointments": after}, kind="ascend_api"), load_catalog("highlevel"),
                      {}).propose(profile_frames({"appointments": before}, kind="ascend_api"))
    cols = adapted["appointments"]["columns"]
    assert cols["appointment_id"]["source"] == "pt_id"
    assert cols["patient_id"]["source"] == "patient.pt_id"
    assert cols["operatory_id"]["source"] == "OPERATORY.ID"
