"""Local FHIR R4 server emulator ("sandbox"): Bulk Data export, search, SMART Backend Services.

Public interface (same pattern as the other sandboxes, on the shared kernel):

- ``create_app(state_path, *, data_dir, token=None, clients=None, ...) -> Starlette``: serves the NDJSON
  files of ``data_dir`` (one file per resource type, as a Bulk export writes them) at ``<server>/fhir``
- ``serve(port, state_path, host="127.0.0.1", **settings)``: foreground uvicorn (``flit sandbox serve fhir``)
- ``running_sandbox(state_path, **settings)``: context manager yielding ``"http://127.0.0.1:PORT"``
- ``fhir_base(url)``: ``<url>/fhir`` for ``FHIR_BASE_URL``; ``public_jwks(key)``: a client's JWKS

Standards followed (no vendor notes exist for FHIR in ``shared/notes``): HL7 FHIR R4 RESTful API
(search, read, Bundle paging), the Bulk Data Access IG v2 export lifecycle, SMART App Launch 2.x
Backend Services (discovery, JWT client assertion). Sandbox choices are named as such in ``gateway``
(limits, error bodies), ``jobs`` (delay, file size) and ``admin`` (edits, injected export errors).
"""

from flit_sandboxes.fhir.app import create_app
from flit_sandboxes.fhir.keys import public_jwks
from flit_sandboxes.fhir.server import fhir_base, running_sandbox, serve

__all__ = ["create_app", "fhir_base", "public_jwks", "running_sandbox", "serve"]
