"""FHIRPath-like column paths over real resources (the bundled Synthea export, the fhir_extras fixture)."""

from __future__ import annotations

import json

import pytest

from flit_pipelines.sources.fhir.paths import PathError, compile_path, reference_id, reference_type
from flit_pipelines_tests.fixtures.make_fhir_extras import write
from flit_pipelines_tests.sources.fhir_helpers import EXTRAS, SAMPLE

PATIENT = json.loads((SAMPLE / "Patient.000.ndjson").read_text().splitlines()[0])
BOB = json.loads((EXTRAS / "Patient.000.ndjson").read_text().splitlines()[1])


def value(path: str, resource: dict, ctype: str = "string"):
    compiled = compile_path(path)
    if compiled.explodes:
        return [compiled.value(resource, e, ctype) for e in compiled.elements(resource)]
    return compiled.value(resource, None, ctype)


def test_navigation_selectors_and_functions_on_a_synthea_patient():
    assert value("name[use=official].given[0]", PATIENT) == "Sumiko254"
    assert value("name[use=official].given.join(' ')", PATIENT) == "Sumiko254 Larue605"
    assert value("name[use=maiden].family", PATIENT) == "Cummerata161"
    assert value("name.given", PATIENT) == '["Sumiko254","Larue605","Sumiko254","Larue605"]'  # a collection
    assert value("telecom[system=phone][use=home].value", PATIENT) == "555-810-7203"
    assert value("telecom[system=email].value.first()", PATIENT) is None
    assert value("identifier[type.coding.code=SS].value", PATIENT) == "999-94-5397"
    assert value("extension[url=http://hl7.org/fhir/StructureDefinition/patient-birthPlace].valueAddress.city",
                 PATIENT) == "Olathe"
    assert value("extension[url='http://hl7.org/fhir/us/core/StructureDefinition/us-core-race']"
                 ".extension[url=text].valueString", PATIENT) == "White"
    assert value("deceasedDateTime", PATIENT, "datetime") == "1989-05-10 00:35:22"  # -04:00 to UTC
    assert value("name.count()", PATIENT) == "2" and value("link.exists()", PATIENT) == "false"


def test_references_unions_concatenation_and_explode():
    assert reference_id("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493") == "9999974493"
    assert reference_id("https://ehr.example/fhir/Patient/p1/_history/3") == "p1"
    assert reference_type("Organization?identifier=https://github.com/synthetichealth/synthea|o1") == "Organization"
    appt = json.loads((EXTRAS / "Appointment.000.ndjson").read_text().splitlines()[0])
    assert value("participant.actor.reference.refId('Patient').first()", appt) == "fx-patient-3"
    assert value("participant.actor.reference.refId('Practitioner').first()", appt) == "9999900001"
    assert value("missing.text | description", appt) == "Blood pressure review"
    assert value("id & ':' & link[].other.reference.refId()", BOB) == ["fx-patient-2:fx-patient-3"]
    assert value("link[].type", BOB) == ["seealso"] and value("link[].type", PATIENT) == []
    doc = json.loads((EXTRAS / "DocumentReference.000.ndjson").read_text().splitlines()[0])
    assert value("content[0].attachment.data.base64()", doc).startswith("Chief complaint: follow-up.")


@pytest.mark.parametrize("bad", ["", "name..given", "name[0", "name.nosuch()", "a[].b & c[].d", "1name",
                                 "name.first().given"])
def test_malformed_paths_are_refused_naming_the_path(bad):
    with pytest.raises(PathError):
        compile_path(bad)


def test_the_committed_fixture_export_is_what_the_generator_writes(tmp_path):
    for path in write(tmp_path):
        assert path.read_bytes() == (EXTRAS / path.name).read_bytes(), path.name
