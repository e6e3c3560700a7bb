"""Tenants: partition keys, tenants files (validation with file and line), settings precedence, accounts."""

from __future__ import annotations

import shutil

import pytest

from flit_pipelines.spec.load import SPEC_DIR, load_spec
from flit_pipelines.spec.settings import ConfigurationError, ConnectionSettings
from flit_pipelines.tenants import (DEFAULT_TENANT, TenantError, destination_account, get_tenant, load_tenants,
                                    partition_key, split_key, tenant_data_dir, tenant_run_tags)
from flit_pipelines.tenants.paths import ledger_schema

M = "clinic_to_pipedrive"
GOOD = """migration: clinic_to_pipedrive
tenants:
  riverside:
    description: Riverside Family Clinic
    source: {directory: /exports/riverside}
    destination:
      api_base: https://riverside.pipedrive.com
      api_token_env: RIVERSIDE_PIPEDRIVE_TOKEN
  hill-top_2:
    destination: {api_base: https://hilltop.pipedrive.com/}
"""


@pytest.fixture
def specs(tmp_path):
    shutil.copy(SPEC_DIR / f"{M}.yaml", tmp_path / f"{M}.yaml")
    (tmp_path / "tenants").mkdir()
    return tmp_path


def write(specs, text: str):
    path = specs / "tenants" / f"{M}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC_DIR / f"{M}.yaml")


def test_partition_keys_round_trip_and_the_default_tenant_keeps_bare_waves():
    assert partition_key(DEFAULT_TENANT, "full") == "full"
    assert partition_key("riverside", "delta-20261201T000000") == "riverside.delta-20261201T000000"
    for tenant, wave in [("default", "sample"), ("a_b-1", "full"), ("x", "delta-20261201T000000")]:
        assert split_key(partition_key(tenant, wave)) == (tenant, wave)
    assert split_key("delta-20261201T000000") == ("default", "delta-20261201T000000")
    for bad in ["default.full", "Big.full", "a.b.c", "a.", "bad name.full"]:
        with pytest.raises(ValueError):
            split_key(bad)
    with pytest.raises(ValueError):
        partition_key("UPPER", "full")


def test_tenant_data_dirs_and_ledger_schemas_are_apart(tmp_path):
    assert tenant_data_dir(tmp_path, "default") == tmp_path
    assert tenant_data_dir(tmp_path, "riverside") == tmp_path / "tenants" / "riverside"
    assert ledger_schema("default") is None
    assert ledger_schema("hill-top") == "flit_tenant_hill_top"


def test_a_tenants_file_loads_with_the_default_tenant_first(specs, spec):
    write(specs, GOOD)
    tenants = load_tenants(spec, specs)
    assert list(tenants) == ["default", "riverside", "hill-top_2"]
    r = tenants["riverside"]
    assert r.source == {"directory": "/exports/riverside"}
    assert r.destination == {"api_base": "https://riverside.pipedrive.com",
                             "api_token_env": "RIVERSIDE_PIPEDRIVE_TOKEN"}
    assert r.description == "Riverside Family Clinic"
    assert tenants["default"].file is None and tenants["default"].values("source") == {}


@pytest.mark.parametrize("body, line, words", [
    ("  riverside:\n    destination: {api_token: abc}\n", 4, ["unknown setting 'api_token'", "api_token_env"]),
    ("  riverside:\n    destination:\n      api_token_env: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15\n",
     5, ["destination.api_token_env is rejected", "NAME of an environment variable"]),
    ("  riverside:\n    destination:\n      api_token_env: AB12CD34EF56GH78IJ90KL\n", 5, ["generated token"]),
    ("  riverside:\n    source:\n      directory: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc\n", 5, ["JSON Web Token"]),
    ("  riverside:\n    destination:\n      api_base: https://admin:hunter2@x.pipedrive.com\n", 5,
     ["a password in it"]),
    ("  Riverside:\n    source: {directory: /x}\n", 3, ["tenant name 'Riverside' is not valid"]),
    ("  riverside:\n    sauce: {directory: /x}\n", 3, ["unknown keys ['sauce']"]),
])
def test_bad_tenants_files_are_rejected_naming_file_and_line_never_the_value(specs, spec, body, line, words):
    path = write(specs, f"migration: {M}\ntenants:\n{body}")
    with pytest.raises(TenantError) as err:
        load_tenants(spec, specs)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}:"), msg
    for w in words:
        assert w in msg
    for secret in ("9f86d081884c7d659a2feaa0c55ad015", "AB12CD34EF56GH78IJ90KL", "eyJhbGci", "hunter2", "abc}"):
        assert secret not in msg


def test_a_file_for_another_migration_and_an_unknown_tenant_are_clear_errors(specs, spec):
    path = write(specs, "migration: dentrix_to_highlevel\ntenants: {}\n")
    with pytest.raises(TenantError, match=f"^{path}:1: migration must be 'clinic_to_pipedrive'"):
        load_tenants(spec, specs)
    write(specs, GOOD)
    with pytest.raises(TenantError, match="has no tenant 'nowhere'.*declared: default, riverside, hill-top_2"):
        get_tenant(spec, "nowhere", specs)


def test_precedence_is_launchpad_then_tenant_then_environment(spec):
    env = {"CLINIC_EXPORT_DIR": "/env", "PIPEDRIVE_API_TOKEN": "env-token", "RIVER_TOKEN": "river-token",
           "OTHER": "other-token"}
    tenant = {"directory": "/tenant"}
    st = ConnectionSettings.of(spec, "source", {"directory": None}, env, tenant=tenant)
    assert st.get("CLINIC_EXPORT_DIR") == "/tenant"
    st = ConnectionSettings.of(spec, "source", {"directory": "/launchpad"}, env, tenant=tenant)
    assert st.get("CLINIC_EXPORT_DIR") == "/launchpad"
    assert ConnectionSettings.of(spec, "source", {}, env).get("CLINIC_EXPORT_DIR") == "/env"
    # secrets: the launchpad's default (the spec's own variable) is no override of the tenant's variable
    dest = {"api_token_env": "RIVER_TOKEN"}
    st = ConnectionSettings.of(spec, "destination", {"api_token_env": "PIPEDRIVE_API_TOKEN"}, env, tenant=dest)
    assert st.get("PIPEDRIVE_API_TOKEN") == "river-token"
    st = ConnectionSettings.of(spec, "destination", {"api_token_env": "OTHER"}, env, tenant=dest)
    assert st.get("PIPEDRIVE_API_TOKEN") == "other-token"
    st = ConnectionSettings.of(spec, "destination", {}, {}, tenant=dest, tenant_label="tenant riverside (t.yaml)")
    with pytest.raises(ConfigurationError, match="RIVER_TOKEN, named in api_token_env of tenant riverside"):
        st.require("PIPEDRIVE_API_TOKEN")


def test_destination_accounts_come_from_the_account_address_never_the_token(spec, specs, monkeypatch):
    def account(base: str, token: str) -> str:
        return destination_account(spec, ConnectionSettings.of(spec, "destination", {"api_base": base},
                                                                {"PIPEDRIVE_API_TOKEN": token}))

    a = account("https://riverside.pipedrive.com", "t1")
    assert a.startswith("pipedrive-") and len(a) == len("pipedrive-") + 12
    assert account("HTTPS://Riverside.pipedrive.com/", "t2") == a  # same account, another token
    assert account("https://hilltop.pipedrive.com", "t1") != a
    with pytest.raises(ConfigurationError, match="PIPEDRIVE_API_BASE"):
        destination_account(spec, ConnectionSettings.of(spec, "destination", {}, {}))
    write(specs, GOOD)
    monkeypatch.setenv("FLIT_SPEC_DIR", str(specs))
    tags = tenant_run_tags(spec, "riverside")
    assert tags == {"flit/tenant": "riverside", "flit/destination_account": a}
    assert tenant_run_tags(spec, "hill-top_2")["flit/destination_account"] == account(
        "https://hilltop.pipedrive.com", "x")


def test_paths_and_urls_are_not_taken_for_pasted_secrets():
    from flit_pipelines.tenants.model import pasted_secret_reason

    for fine in ("/work/wt/tenants/flit_pipelines_tests/fixtures/clinic_extras", "http://127.0.0.1:45313",
                 "https://riverside.pipedrive.com", "C:\\exports\\riverside2026\\december", "ve9EPM428h8vShlRW1KT"):
        assert pasted_secret_reason(fine) is None, fine
    assert pasted_secret_reason("dGhpcyBpcyBhIHNlY3JldCB0b2tlbiB2YWx1ZQ4Kz") is not None


def test_campaign_status_lists_each_tenant_with_waves_records_checks_and_delta_window(specs, spec, tmp_path,
                                                                                       monkeypatch):
    import json
    import os

    from flit_pipelines.reports.campaign import campaign_rows, format_campaign

    write(specs, GOOD)
    monkeypatch.setenv("FLIT_SPEC_DIR", str(specs))
    data = tmp_path / "data"
    full = data / "tenants" / "riverside" / "reports" / M / "full"
    full.mkdir(parents=True)
    (full / "migration_report.json").write_text(json.dumps({"all_checks_passed": False, "targets": {
        "persons": {"created": 4, "updated": 1, "checks": {"counts_reconcile": True, "no_duplicate_source_ids": True}},
        "visits": {"created": 8, "updated": 0, "checks": {"counts_reconcile": False}}}}))
    os.utime(full / "migration_report.json", (1_000_000, 1_000_000))
    rows = {r["tenant"]: r for r in campaign_rows([spec], data, now=1_000_000 + 3600)}
    assert list(rows) == ["default", "riverside", "hill-top_2"]
    r = rows["riverside"]
    assert (r["waves"], r["records_moved"], r["checks_passed"], r["checks_failed"]) == ({"full": "FAILED"}, 13, 2, 1)
    assert r["delta_window"].startswith("open until 1970-01-")
    assert rows["default"]["waves"] == {} and rows["default"]["delta_window"] == "not open (no full wave)"
    later = campaign_rows([spec], data, now=1_000_000 + spec.delta.window_hours * 3600 + 1)
    assert later[1]["delta_window"].startswith("closed ")
    text = format_campaign(list(rows.values()))
    assert "riverside" in text and "full FAILED" in text and "2/1" in text


def test_a_tenants_file_named_after_no_migration_is_reported(specs):
    from flit_pipelines.tenants.load import unknown_tenant_files

    (specs / "tenants" / "clinic_to_pipdrive.yaml").write_text("migration: clinic_to_pipdrive\ntenants: {}\n")
    (msg,) = unknown_tenant_files(["clinic_to_pipedrive"], specs)
    assert msg.startswith(f"{specs / 'tenants' / 'clinic_to_pipdrive.yaml'}: no migration 'clinic_to_pipdrive'")
