"""Local, vendor-faithful Pipedrive API emulator ("sandbox") for tests and the demo.

Public interface:

- ``create_app(state_path, token, *, burst_limit=40, search_burst_limit=10, window_seconds=2.0,
  daily_budget=1_000_000, file_size_limit=50 MiB, users=None, validate=True) -> Starlette``
- ``serve(port, state_path, token, host="127.0.0.1", **settings)``: foreground uvicorn
- ``running_sandbox(state_path, token="test-token", **settings)``: context manager yielding
  ``"http://127.0.0.1:PORT"`` with the server running in a background thread

Vendor facts come from ``shared/notes/pipedrive.md`` and the bundled OpenAPI documents in
``sandboxes/flit_sandboxes/vendor_specs/pipedrive``.
"""

from flit_sandboxes.pipedrive.app import create_app
from flit_sandboxes.pipedrive.server import running_sandbox, serve

__all__ = ["create_app", "running_sandbox", "serve"]
