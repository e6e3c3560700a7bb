"""Local, vendor-faithful HighLevel (LeadConnector API v2) emulator ("sandbox") for tests.

Public interface (same semantics as ``flit_pipelines.sandbox.pipedrive``):

- ``create_app(state_path, token, *, location_id="loc_sandbox", agency_token=None, burst_limit=100,
  window_seconds=10.0, daily_limit=200_000, users=None, validate=True,
  allow_duplicate_contact=False, duplicate_priority=("email", "phone")) -> Starlette``
- ``serve(port, state_path, token, host="127.0.0.1", **settings)``: foreground uvicorn
- ``running_sandbox(state_path, token="test-token", **settings)``: context manager yielding
  ``"http://127.0.0.1:PORT"`` with the server in a background thread

Vendor facts: ``shared/notes/highlevel.md`` (cited as notes §N) and the bundled OpenAPI
documents in ``flit_pipelines/sandbox/vendor_specs/highlevel`` (cited as spec:<file>).
"""

from flit_pipelines.sandbox.highlevel.app import create_app
from flit_pipelines.sandbox.highlevel.server import running_sandbox, serve

__all__ = ["create_app", "running_sandbox", "serve"]
