"""Missing settings and an unapproved field map say what to set or run (issue 13 item 5)."""

from __future__ import annotations

import pytest

from flit_pipelines.spec.load import SPEC_DIR, approval_fix, load_spec
from flit_pipelines.spec.settings import ConfigurationError, ConnectionSettings, launchpad_path, settings_of

TOKEN = "pd-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def clinic():
    return load_spec(SPEC_DIR / "clinic_to_pipedrive.yaml")


def test_settings_come_from_the_spec_with_secrets_as_names(clinic):
    src = settings_of(clinic, "source")
    dst = settings_of(clinic, "destination")
    assert [(s.role, s.env, s.field, s.secret) for s in src] == [("directory", "CLINIC_EXPORT_DIR", "directory", False)]
    assert [(s.field, s.env, s.secret) for s in dst] == [("api_base", "PIPEDRIVE_API_BASE", False),
                                                         ("api_token_env", "PIPEDRIVE_API_TOKEN", True)]
    assert src[0].meaning == "Directory holding the clinic's CSV export (one file per object)"


def test_a_missing_directory_names_the_variable_its_meaning_and_the_launchpad_field(clinic):
    st = ConnectionSettings.of(clinic, "source", environ={})
    with pytest.raises(ConfigurationError) as exc:
        st.require("CLINIC_EXPORT_DIR")
    assert str(exc.value) == (
        "clinic_to_pipedrive source: CLINIC_EXPORT_DIR is not set. What it is: Directory holding the clinic's "
        "CSV export (one file per object). How to set it: the environment variable CLINIC_EXPORT_DIR before "
        "starting `dg dev` or the flit command, or, for one run, set the Dagster launchpad field "
        "resources.flit.config.clinic_to_pipedrive.source.directory.")


def test_a_missing_token_asks_for_a_variable_name_never_a_value(clinic):
    st = ConnectionSettings.of(clinic, "destination", environ={})
    with pytest.raises(ConfigurationError) as exc:
        st.require("PIPEDRIVE_API_TOKEN")
    text = str(exc.value)
    assert "PIPEDRIVE_API_TOKEN is not set. What it is: API token of the dedicated Pipedrive admin user" in text
    assert ("put the NAME of another environment variable holding it in the Dagster launchpad field "
            "resources.flit.config.clinic_to_pipedrive.destination.api_token_env (never the value)") in text


def test_launchpad_values_win_and_secrets_are_read_from_the_named_variable(clinic):
    env = {"CLINIC_EXPORT_DIR": "/from/env", "PD_STAGING_TOKEN": TOKEN, "PIPEDRIVE_API_TOKEN": "other"}
    src = ConnectionSettings.of(clinic, "source", {"directory": "/from/launchpad"}, environ=env)
    assert src.require("CLINIC_EXPORT_DIR") == "/from/launchpad"
    assert ConnectionSettings.of(clinic, "source", {"directory": None}, environ=env).require(
        "CLINIC_EXPORT_DIR") == "/from/env"
    dst = ConnectionSettings.of(clinic, "destination", {"api_token_env": "PD_STAGING_TOKEN"}, environ=env)
    assert dst.require("PIPEDRIVE_API_TOKEN") == TOKEN


def test_a_named_variable_that_is_unset_is_named_and_a_pasted_secret_is_never_echoed(clinic):
    named = ConnectionSettings.of(clinic, "destination", {"api_token_env": "PD_STAGING_TOKEN"}, environ={})
    with pytest.raises(ConfigurationError) as exc:
        named.require("PIPEDRIVE_API_TOKEN")
    assert str(exc.value).startswith("clinic_to_pipedrive destination: environment variable PD_STAGING_TOKEN, named "
                                     "in the launchpad field resources.flit.config.clinic_to_pipedrive.destination."
                                     "api_token_env, is not set.")
    pasted = ConnectionSettings.of(clinic, "destination", {"api_token_env": TOKEN + "/=="}, environ={})
    with pytest.raises(ConfigurationError) as exc:
        pasted.require("PIPEDRIVE_API_TOKEN")
    assert TOKEN not in str(exc.value)
    assert "must hold the NAME of an environment variable, not the value itself" in str(exc.value)


def test_a_database_source_lists_every_alternative_with_its_field():
    spec = load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")
    st = ConnectionSettings.of(spec, "source", environ={})
    envs = [s.env for s in st.settings if s.role in ("odbc", "url", "export_dir")]
    with pytest.raises(ConfigurationError) as exc:
        st.require_any(envs)
    text = str(exc.value)
    assert text.startswith("dentrix_to_highlevel source: none of its settings is set. Set one of the environment "
                           "variables before starting `dg dev` or the flit command, or its launchpad field for one run:")
    for s in st.settings:
        if s.role in ("odbc", "url", "export_dir"):
            assert f"{s.env} (" in text and launchpad_path("dentrix_to_highlevel", "source", s.field) in text


def test_the_approval_fix_names_the_approve_command(clinic, monkeypatch):
    monkeypatch.setenv("FLIT_COMMAND", "./scripts/dev flit")
    assert "`./scripts/dev flit spec approve clinic_to_pipedrive --by NAME`" in approval_fix(clinic)
    monkeypatch.delenv("FLIT_COMMAND")
    assert "`flit spec approve clinic_to_pipedrive --by NAME` with the reviewer's name for NAME" in approval_fix(clinic)


def test_the_flit_resource_takes_launchpad_values_and_dagster_env_references(clinic, monkeypatch):
    import dagster as dg

    from flit_pipelines.assets.connections import flit_resource

    monkeypatch.setenv("EXPORT_OF_THIS_RUN", "/exports/dec")
    monkeypatch.setenv("CLINIC_EXPORT_DIR", "/exports/default")
    config = {"flit": {"config": {"clinic_to_pipedrive": {"source": {"directory": {"env": "EXPORT_OF_THIS_RUN"}}}}}}
    with dg.build_resources({"flit": flit_resource([clinic])}, resource_config=config) as res:
        assert res.flit.settings(clinic, "source").require("CLINIC_EXPORT_DIR") == "/exports/dec"
    with dg.build_resources({"flit": flit_resource([clinic])}) as res:  # nothing set: the spec's variable
        assert res.flit.settings(clinic, "source").require("CLINIC_EXPORT_DIR") == "/exports/default"
        assert res.flit.settings(clinic, "destination").overrides == {"api_base": None,
                                                                     "api_token_env": "PIPEDRIVE_API_TOKEN"}
