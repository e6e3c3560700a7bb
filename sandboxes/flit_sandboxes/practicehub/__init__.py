"""Local PracticeHub API emulator ("sandbox") serving a deterministic demo practice.

Public interface (same pattern as ``flit_sandboxes.ascend``, on the shared kernel):

- ``create_app(state_path, *, api_key, account="demo", patients=200, seed=7, rate_per_second=1.0,
  page_size_max=100, default_page_size=100, require_app_details=True) -> Starlette``; seeds the demo
  practice into the SQLite ``state_path`` on first start
- ``build_practicehub(path, *, patients=200, seed=7) -> {resource: rows}``: seed a state file separately
- ``serve(port, state_path, host="127.0.0.1", *, api_key=DEFAULT_API_KEY, **settings)``: foreground uvicorn
- ``running_sandbox(state_path, *, api_key=DEFAULT_API_KEY, **settings)``: context manager yielding
  ``"http://127.0.0.1:PORT"`` with the server in a background thread
- ``api_base(url)``: the API base (``<url>/api``) for ``PracticeHubSource``

Vendor facts: ``shared/notes/sources.md`` §3 (cited as notes §3): the ``x-practicehub-key`` and
``x-app-details`` headers, pages of at most 100 with ``total_entries``/``data``/``links``,
``updated=`` on appointments, ``/api/patients`` and ``/api/appointments``. Everything else (the
other resources, all field names and enums, the 1 request/s limit and its 429, error statuses and
bodies) is an UNCONFIRMED choice documented in ``resources``, ``routes``, ``gateway`` and
``context``. ``SPEC_OBJECTS.yaml`` beside this file holds the mapping-spec ``objects:`` block for
the PracticeHub -> Salesforce migration read through this API.
"""

from flit_sandboxes.practicehub.app import create_app
from flit_sandboxes.practicehub.builder import build_practicehub
from flit_sandboxes.practicehub.server import (
    DEFAULT_API_KEY,
    DEFAULT_APP_DETAILS,
    api_base,
    running_sandbox,
    serve,
)

__all__ = ["DEFAULT_API_KEY", "DEFAULT_APP_DETAILS", "api_base", "build_practicehub", "create_app",
           "running_sandbox", "serve"]
