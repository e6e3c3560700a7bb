"""``sources.registry.open_fhir``: SMART Backend Services with only one of its two settings set."""

from __future__ import annotations

import pytest

from flit_pipelines.runtime import PROJECT_ROOT
from flit_pipelines.sources.registry import ConfigurationError, open_fhir
from flit_pipelines.spec.load import load_spec

SPEC = PROJECT_ROOT / "mapping_specs" / "fhir_clinic_to_pipedrive.yaml"
CLIENT_ID = "client-id-value-7f3a"  # a value that must never appear in the message


@pytest.fixture
def fhir_env(monkeypatch):
    for name in ("FHIR_TOKEN", "FHIR_CLIENT_ID", "FHIR_PRIVATE_KEY_PATH", "FHIR_TOKEN_URL", "FHIR_GROUP_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FHIR_BASE_URL", "http://127.0.0.1:9/fhir")
    monkeypatch.setenv("FHIR_CLIENT_ID", CLIENT_ID)


def test_client_id_without_a_declared_key_path_names_the_missing_spec_field(fhir_env):
    spec = load_spec(SPEC)
    cfg = spec.source.model_copy(update={"token_env": None, "private_key_path_env": None})
    with pytest.raises(ConfigurationError) as err:
        open_fhir(spec, cfg, None)
    text = str(err.value)
    assert "only one is set" in text
    assert text.endswith("The spec's source names no private_key_path_env.")
    assert CLIENT_ID not in text


def test_client_id_without_its_key_file_names_the_key_variable(fhir_env):
    spec = load_spec(SPEC)
    cfg = spec.source.model_copy(update={"token_env": None})
    with pytest.raises(ConfigurationError) as err:
        open_fhir(spec, cfg, None)
    text = str(err.value)
    assert "FHIR_PRIVATE_KEY_PATH" in text.split("only one is set.", 1)[1]
    assert "None" not in text
    assert CLIENT_ID not in text
