"""One demo practice (tenant) per call, for ``flit demo --tenants N``: its own source and destination account.

``PRACTICES[migration](stack, folder, name, i, patients)`` builds the practice's source (a clinic export,
a Dentrix-shaped database, a PracticeHub or Dentrix Ascend sandbox seeded with its own practice, a FHIR
sandbox with its own SMART client), starts its destination sandbox (one Pipedrive company, HighLevel
location or Salesforce org per practice) as child processes of ``stack``, and returns the tenant's
settings (``PracticeSetup``). Everything of one practice lives in its ``folder``
(``<data>/practices/<migration>/<tenant>/``: the source, the sandboxes' state and logs). Practice ``i`` is
built with seed ``100 + i`` and the size the caller asks for, so no two tenants hold the same records (the
FHIR practices serve the bundled Bulk export: there is no FHIR builder; each still has its own server,
client key and account).

The sandboxes run at the single-practice demo's rates (``demo.py``): a HighLevel burst of 10x, PracticeHub
at 20 requests/s (the spec copy reads at that rate, see ``demo_tenants``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from flit_sandboxes.clinic_export import build_clinic_export
from flit_sandboxes.demo import (ASCEND_CLIENT, DEMO_AGENCY_TOKEN, DEMO_TOKEN, FHIR_CLIENT_ID,
                                 LIFECYCLE_PIPELINE, PRACTICEHUB_DEMO_RATE, SALESFORCE_CLIENT,
                                 build_demo_practice, free_port, highlevel_users, salesforce_users,
                                 sandbox_process, start_fhir_sandboxes)
from flit_sandboxes.practicehub import build_practicehub

__all__ = ["PRACTICES", "PracticeSetup", "seed_of"]


def seed_of(i: int) -> int:
    """The builder seed of practice ``i`` (1-based): every practice holds other records."""
    return 100 + i


@dataclass
class PracticeSetup:
    """One tenant's settings, as its tenants-file entry needs them.

    ``source`` / ``destination``: plain launchpad fields (``directory``, ``api_base``, ``location_id``, ...)
    -> value. ``secrets``: ``(side, field)`` -> secret value for a ``*_env`` field; the tenants file names a
    variable per tenant and field (``demo_tenants.secret_env``) and the demo sets it. ``env``: process-wide
    variables the spec reads outside the tenant's settings (HighLevel's agency token). ``what``: for people.
    """

    source: dict[str, str] = field(default_factory=dict)
    destination: dict[str, str] = field(default_factory=dict)
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    what: str = ""


Builder = Callable[[ExitStack, Path, str, int, int], PracticeSetup]


def _clinic(stack: ExitStack, folder: Path, name: str, i: int, patients: int) -> PracticeSetup:
    """A synthetic clinic export -> a Pipedrive sandbox (one company)."""
    export = folder / "export"
    build_clinic_export(export, patients=patients, seed=seed_of(i))
    url = stack.enter_context(sandbox_process("pipedrive", folder / "pipedrive.db", free_port(),
                                              "--token", DEMO_TOKEN))
    return PracticeSetup(source={"directory": str(export)}, destination={"api_base": url},
                         secrets={("destination", "api_token_env"): DEMO_TOKEN},
                         what=f"clinic export of {patients} patients -> Pipedrive sandbox {url}")


def _highlevel(stack: ExitStack, folder: Path, name: str, db: Path, source: str) -> tuple[str, str]:
    """A HighLevel sandbox holding one location for practice ``name`` of the ``source`` migration (users from
    its providers); returns (API base, location ID). The location ID names the migration too: the account
    tag is the location's, and two migrations' demo practices are different accounts."""
    users, pipelines = folder / "highlevel_users.json", folder / "highlevel_pipelines.json"
    users.write_text(json.dumps(highlevel_users(db)))
    pipelines.write_text(json.dumps([LIFECYCLE_PIPELINE]))
    location = f"loc_{source}_{name.replace('-', '_')}"
    url = stack.enter_context(sandbox_process(
        "highlevel", folder / "highlevel.db", free_port(), "--token", DEMO_TOKEN, "--location-id",
        location, "--users-file", str(users), "--pipelines-file", str(pipelines), "--agency-token",
        DEMO_AGENCY_TOKEN, "--burst-limit", "1000"))
    return url, location


def _dentrix(stack: ExitStack, folder: Path, name: str, i: int, patients: int) -> PracticeSetup:
    """A Dentrix-shaped practice database (SQLite, read as schema ``admin``) -> a HighLevel location."""
    db, _ = build_demo_practice(folder, patients=patients, seed=seed_of(i))
    url, location = _highlevel(stack, folder, name, db, "dentrix")
    return PracticeSetup(destination={"api_base": url, "location_id": location},
                         secrets={("source", "url_env"): f"sqlite:///{db}",
                                  ("destination", "api_token_env"): DEMO_TOKEN},
                         env={"HIGHLEVEL_AGENCY_TOKEN": DEMO_AGENCY_TOKEN},
                         what=f"Dentrix database of {patients} patients -> HighLevel location {location} on {url}")


def _ascend(stack: ExitStack, folder: Path, name: str, i: int, patients: int) -> PracticeSetup:
    """A Dentrix Ascend API sandbox serving the practice's own database -> a HighLevel location."""
    db, _ = build_demo_practice(folder, patients=patients, seed=seed_of(i))
    client_id, secret, org = ASCEND_CLIENT
    api = stack.enter_context(sandbox_process(
        "dentrix-ascend", folder / "ascend.db", free_port(), "--practice", str(db), "--client-id",
        client_id, "--client-secret", secret, "--organization-id", org))
    url, location = _highlevel(stack, folder, name, db, "ascend")
    return PracticeSetup(
        source={"api_base": f"{api}/ascend-gateway/api", "token_url": f"{api}/oauth/client_credential/accesstoken",
                "organization_id": org},
        destination={"api_base": url, "location_id": location},
        secrets={("source", "client_id_env"): client_id, ("source", "client_secret_env"): secret,
                 ("destination", "api_token_env"): DEMO_TOKEN},
        env={"HIGHLEVEL_AGENCY_TOKEN": DEMO_AGENCY_TOKEN},
        what=f"Ascend sandbox {api} ({patients} patients) -> HighLevel location {location} on {url}")


def _practicehub(stack: ExitStack, folder: Path, name: str, i: int, patients: int) -> PracticeSetup:
    """A PracticeHub sandbox seeded with the practice (its own API account) -> a Salesforce sandbox org."""
    state = folder / "practicehub.db"
    if not state.exists():  # --keep reuses the practice already seeded
        build_practicehub(state, patients=patients, seed=seed_of(i))
    users = folder / "salesforce_users.json"
    users.write_text(json.dumps(salesforce_users(state)))
    ph = stack.enter_context(sandbox_process(
        "practicehub", state, free_port(), "--token", DEMO_TOKEN, "--rate-per-second", str(PRACTICEHUB_DEMO_RATE + 5)))
    client_id, secret = SALESFORCE_CLIENT
    sf = stack.enter_context(sandbox_process(
        "salesforce", folder / "salesforce.db", free_port(), "--client-id", client_id,
        "--client-secret", secret, "--users-file", str(users)))
    return PracticeSetup(source={"api_base": f"{ph}/api"}, destination={"api_base": sf},
                         secrets={("source", "api_key_env"): DEMO_TOKEN, ("destination", "client_id_env"): client_id,
                                  ("destination", "client_secret_env"): secret},
                         what=f"PracticeHub sandbox {ph} ({patients} patients) -> Salesforce sandbox {sf}")


def _fhir(stack: ExitStack, folder: Path, name: str, i: int, patients: int) -> PracticeSetup:
    """A FHIR sandbox serving the bundled Bulk export to the practice's own SMART client (a fresh RS384
    key) -> a Pipedrive sandbox. ``patients`` is not used: there is no FHIR practice builder."""
    fhir, pd, key = start_fhir_sandboxes(stack, key_dir=folder / "fhir_client", users_file=folder / "pipedrive_users.json",
                                         fhir_state=folder / "fhir.db", pipedrive_state=folder / "pipedrive.db")
    return PracticeSetup(source={"base_url": f"{fhir}/fhir", "client_id": FHIR_CLIENT_ID},
                         destination={"api_base": pd},
                         secrets={("source", "private_key_path_env"): str(key),
                                  ("destination", "api_token_env"): DEMO_TOKEN},
                         what=f"FHIR sandbox {fhir}/fhir (bundled Bulk export) -> Pipedrive sandbox {pd}")


PRACTICES: dict[str, Builder] = {
    "clinic_to_pipedrive": _clinic,
    "dentrix_to_highlevel": _dentrix,
    "henry_schein_one_to_highlevel": _ascend,
    "practicehub_to_salesforce": _practicehub,
    "fhir_clinic_to_pipedrive": _fhir,
}
