"""Setup shared by the FHIR reader, sandbox, delta and end-to-end tests.

* ``SAMPLE`` (the bundled Bulk export, 13 Synthea patients) and ``EXTRAS`` (``fixtures/fhir_extras``:
  every resource type the spec reads, hand-checkable);
* ``ScaledClock``: an injected clock that records every wait asked for (``Retry-After``, backoffs)
  and sleeps a twentieth of it for real, so the sandbox's export thread can progress while the
  client honours (on its clock) the server's waits, without a test sleeping through them;
* ``admin``: a ``/__sandbox/`` call with the admin token; ``smart_client``: an RSA or EC key pair
  written for ``FHIR_PRIVATE_KEY_PATH`` and its JWKS for the sandbox; ``source``: a ``FhirSource``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from flit_pipelines.sources.fhir import FhirClient, FhirSource
from flit_pipelines.sources.fhir.auth import BackendServicesAuth, BearerAuth, load_private_key
from flit_sandboxes.fhir.context import DEFAULT_ADMIN_TOKEN
from flit_sandboxes.fhir.keys import new_client_key

SAMPLE = Path(__file__).parents[2] / "flit_pipelines" / "sample_data" / "fhir_bulk_sample"
EXTRAS = Path(__file__).parents[1] / "fixtures" / "fhir_extras"
TOKEN = "fhir-reader-token-never-logged"
CLIENT_ID = "flit-backend-client"


class ScaledClock:
    """``Clock`` whose ``sleep`` records the seconds asked for and really sleeps ``scale`` of them."""

    def __init__(self, scale: float = 0.05):
        self.scale = scale
        self.slept: list[float] = []
        self._lock = threading.Lock()
        self._offset = 0.0

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._offset += max(0.0, seconds) * (1 - self.scale)
        time.sleep(max(0.0, seconds) * self.scale)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self._offset)


def admin(url: str, method: str, path: str, body: Any = None) -> dict:
    """A sandbox admin call (``/__sandbox/<path>``) with the admin token; returns ``data``."""
    resp = requests.request(method, f"{url}/__sandbox/{path.lstrip('/')}", json=body, timeout=10,
                            headers={"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"})
    resp.raise_for_status()
    return resp.json()["data"]


def smart_client(folder: Path, kind: str = "rsa") -> tuple[Path, dict]:
    """(private key path, ``{client_id: JWKS}`` for ``create_app(clients=...)``)."""
    path, jwks = new_client_key(folder, kind=kind)
    return path, {CLIENT_ID: jwks}


def source(url: str, state: Path, objects: dict, *, run_id: str | None = "run-1", key: Path | None = None,
           clock: Any = None, **options: Any) -> FhirSource:
    """A ``FhirSource`` on the sandbox at ``url``: bearer ``TOKEN``, or SMART with ``key``."""
    kwargs = {"clock": clock} if clock is not None else {}
    client = FhirClient(f"{url}/fhir", backoff_initial=0.05, backoff_max=0.2, **kwargs)
    if key is None:
        client.auth = BearerAuth(TOKEN)
    else:
        client.auth = BackendServicesAuth(CLIENT_ID, load_private_key(key), client.token_request,
                                          client.discover_token_url, clock=client.clock)
    return FhirSource(client, state_dir=state, objects=objects, run_id=run_id, poll_interval=0.5, **options)
