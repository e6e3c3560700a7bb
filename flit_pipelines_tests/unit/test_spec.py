"""Mapping-spec model: validation, load order, approval gate."""

from __future__ import annotations

import shutil

import pytest
import yaml

from flit_pipelines.spec import SpecError, approval_status, load_order, load_spec
from flit_pipelines.spec.load import approve_spec_file, field_map_sha256
from flit_pipelines_tests.conftest import SPEC_PATH
from flit_pipelines_tests.spec_edit import edit_spec_file


def test_committed_spec_loads_with_every_seed_object(spec):
    assert spec.migration == "clinic_to_pipedrive"
    assert len(spec.seed_objects) == 12
    landed = {s.name for s in spec.seed_objects}
    assert "Patient-to-patient relationship" in landed and "Billing/invoice" in landed


def test_load_order_puts_parents_first(spec):
    order = load_order(spec)
    assert order.index("organizations") < order.index("persons")
    assert order.index("providers") < order.index("persons")
    for child in ("visits", "treatment_plans", "billing", "clinical_notes", "relationship_notes", "documents"):
        assert order.index("persons") < order.index(child)


def _write(tmp_path, mutate):
    raw = yaml.safe_load(SPEC_PATH.read_text())
    mutate(raw)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_lookup_cycle_is_a_clear_error(tmp_path):
    def cycle(raw):
        raw["targets"]["organizations"]["lookups"] = {"owner_id": {"target": "persons", "column": "Id"}}

    with pytest.raises(SpecError, match=r"cycle: .*organizations.*persons|cycle: .*persons.*organizations"):
        load_spec(_write(tmp_path, cycle))


def test_dangling_names_are_reported(tmp_path):
    def dangling(raw):
        raw["targets"]["visits"]["lookups"]["participants"]["target"] = "patients_typo"
        raw["targets"]["visits"]["from"] = "encounterz"

    with pytest.raises(SpecError) as err:
        load_spec(_write(tmp_path, dangling))
    assert "patients_typo" in str(err.value) and "encounterz" in str(err.value)


def test_unknown_keys_are_rejected(tmp_path):
    with pytest.raises(SpecError, match="colum"):
        load_spec(_write(tmp_path, lambda raw: raw["targets"]["persons"]["fields"]["name"].update(colum="x")))


def test_committed_spec_is_not_approved_until_a_person_approves(spec):
    st = approval_status(spec)
    assert not st.approved
    assert "approval.approved_by is empty" in st.reasons


def test_approval_binds_to_the_field_map(tmp_path):
    path = tmp_path / SPEC_PATH.name
    shutil.copy(SPEC_PATH, path)
    digest = approve_spec_file(path, "Dana Reviewer", "2026-11-20T10:00:00+00:00")
    spec = load_spec(path)
    assert approval_status(spec).approved and digest == field_map_sha256(spec)
    # any change to the field map voids the approval
    edit_spec_file(path, "Clinic Phone:", "Clinic Telephone:")
    st = approval_status(load_spec(path))
    assert not st.approved
    assert st.reasons == ["the field map changed after approval (field_map_sha256 does not match)"]


def test_every_spec_loads_into_one_valid_code_location():
    """What `dagster dev` / `dagster definitions validate` load: every spec's assets, checks, jobs
    (migration + rollback) and sensors together, with names unique across the code location."""
    import dagster as dg

    from flit_pipelines.definitions import defs

    d = defs()
    dg.Definitions.validate_loadable(d)
    jobs = {j.name for j in d.resolve_all_job_defs()}
    sensors = {s.name for s in d.sensors}
    for m in ("clinic_to_pipedrive", "dentrix_to_highlevel", "henry_schein_one_to_highlevel",
              "practicehub_to_salesforce"):
        assert {f"{m}_migration", f"{m}_rollback"} <= jobs
        assert {f"{m}_wave_partitions", f"{m}_delta_pickup"} <= sensors
