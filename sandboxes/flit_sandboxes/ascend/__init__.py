"""Local Dentrix Ascend "API Exchange" emulator ("sandbox") serving the demo Dentrix practice.

Public interface (same semantics as ``flit_sandboxes.highlevel``):

- ``create_app(practice_db, *, client_id, client_secret, organization_id, page_size_max=500,
  default_page_size=100, rate_per_second=15, daily_limit=50_000, token_ttl_seconds=3600,
  location_name="Sandbox Dental", timezone="America/New_York") -> Starlette``
- ``serve(port, practice_db, host="127.0.0.1", *, client_id=..., client_secret=...,
  organization_id=..., **settings)``: foreground uvicorn
- ``running_sandbox(practice_db, *, client_id=..., client_secret=..., organization_id=..., **settings)``:
  context manager yielding ``"http://127.0.0.1:PORT"`` with the server in a background thread
- ``api_base(url)`` / ``token_url(url)``: the API base and token endpoint of a server URL

Vendor facts: ``shared/notes/sources.md`` §2 (cited as notes §2). The vendor's OpenAPI document
could not be read, so resource names beyond the notes, field names, enums, paging metadata names,
error item shapes and limits are UNCONFIRMED choices, documented in ``resources``, ``filters``,
``routes`` and ``gateway``. ``SPEC_OBJECTS.yaml`` beside this file holds the mapping-spec
``objects:`` block for the Henry Schein One -> HighLevel migration read through this API.
"""

from flit_sandboxes.ascend.app import create_app
from flit_sandboxes.ascend.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORGANIZATION_ID,
    api_base,
    running_sandbox,
    serve,
    token_url,
)

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_ORGANIZATION_ID", "api_base", "create_app",
           "running_sandbox", "serve", "token_url"]
