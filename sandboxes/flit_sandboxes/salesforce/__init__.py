"""Local Salesforce Sales Cloud emulator ("sandbox"): REST, sObject Collections, SOQL, Tooling custom
objects/fields, permission sets (FLS), Bulk API 2.0 ingest and query, Salesforce Files, limits.

Public interface:

- ``create_app(state_path, *, client_id, client_secret, users=None, api_daily_limit=100_000,
  bulk_delay_seconds=0.2, **settings) -> Starlette`` (settings in ``app.create_app``)
- ``serve(port, state_path, host="127.0.0.1", *, client_id=..., client_secret=..., **settings)``: foreground uvicorn
- ``running_sandbox(state_path, *, client_id=..., client_secret=..., **settings)``: context manager yielding the
  instance URL ``"http://127.0.0.1:PORT"`` with the server in a background thread
- ``client_session(url)``: a ``requests.Session`` for ``simple_salesforce.Salesforce(session=...)`` (it always
  uses https URLs); ``fetch_token(url, client_id, client_secret)``; ``token_url(url)``

Vendor facts: ``shared/notes/salesforce.md`` (cited as notes §N). Choices the notes leave open are marked
UNCONFIRMED in the module docstrings. Modules: ``gateway`` (auth, limits, faults), ``routes_*`` (one per API
family), ``dml`` + ``dml_hooks`` (record writes), ``soql`` + ``query`` + ``aggregate`` (SOQL: relationship
queries both ways, aggregate functions, GROUP BY/HAVING), ``csvio`` + ``bulk`` +
``bulk_query`` (Bulk 2.0), ``metadata`` + ``tooling`` (custom objects/fields), ``perms`` (FLS), ``schema`` +
``standard_objects`` + ``describe``, ``values``, ``ids``, ``store``, ``rules`` + ``admin`` (sandbox-only
switches).
"""

from flit_sandboxes.salesforce.app import create_app
from flit_sandboxes.salesforce.server import (
    DEFAULT_API_VERSION,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    client_session,
    fetch_token,
    running_sandbox,
    serve,
    token_url,
)

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "client_session", "create_app",
           "fetch_token", "running_sandbox", "serve", "token_url"]
