"""SOQL over REST (notes §2.4; the subset in ``soql``, semantics in ``query``).

- ``GET /query?q=SELECT ...`` / ``GET /queryAll?q=...`` (deleted rows too) -> 200 ``{"totalSize", "done",
  "records": [...]}`` plus ``"nextRecordsUrl": "/services/data/vXX.X/query/01g...-2000"`` when ``done`` is false.
  Page size: ``query_page_size`` (default 2000) or the ``Sforce-Query-Options: batchSize=N`` hint (200-2000).
- ``GET /query/{locator}`` (and ``/queryAll/{locator}``) -> the next page; an unknown or expired cursor (15
  minutes) -> 400 ``INVALID_QUERY_LOCATOR`` (UNCONFIRMED status).
- ``SELECT COUNT() FROM ...`` -> ``{"totalSize": n, "done": true, "records": []}``.
- Aggregate queries (``SELECT COUNT(Id) n, SUM(Amount__c) total FROM Invoice__c``, GROUP BY, HAVING) ->
  ``AggregateResult`` records, all in one page (REST cannot page GROUP BY results; ``aggregate``); parent-to-child
  sub-queries nest a query result (or null) per record (``query``).
- Errors: 400 ``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``, ``INVALID_QUERY_FILTER_OPERATOR``.
- ``GET /tooling/query?q=`` lives in ``routes_tooling``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce.context import SalesforceContext
from flit_sandboxes.salesforce.errors import SfError
from flit_sandboxes.salesforce.query import Runner
from flit_sandboxes.salesforce.web import API, ctx_of, json_response, table

_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def page_size(request: Request, ctx: SalesforceContext) -> int:
    """The page size for this request (module docstring)."""
    hint = _BATCH.search(request.headers.get("sforce-query-options", ""))
    if hint:
        return min(2000, max(200, int(hint[1])))
    return ctx.settings.query_page_size


def run_query(ctx: SalesforceContext, text: str, version: str, include_deleted: bool, size: int,
              endpoint: str) -> dict[str, Any]:
    """The first page of a query (opens a cursor if there are more)."""
    with ctx.tables.lock:
        runner = Runner(ctx.source(version), text)
        rows = runner.rows(include_deleted)
        if runner.query.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        rendered = [runner.render(r) for r in rows]
    total = len(rendered)
    if total <= size or runner.grouping is not None:
        return {"totalSize": total, "done": True, "records": rendered}
    locator = ctx.cursors.open(rendered, size)
    next_url = f"/services/data/v{version}/{endpoint}/{locator}-{size}"
    return {"totalSize": total, "done": False, "nextRecordsUrl": next_url, "records": rendered[:size]}


async def query(request: Request) -> Response:
    """``GET /query?q=`` and ``GET /queryAll?q=``."""
    ctx = ctx_of(request)
    endpoint = "queryAll" if request.url.path.rstrip("/").endswith("queryAll") else "query"
    text = request.query_params.get("q")
    if text is None:
        raise SfError(400, "MALFORMED_QUERY", "A query string is required (parameter q)")
    body = await run_in_threadpool(run_query, ctx, text, request.path_params["version"], endpoint == "queryAll",
                                   page_size(request, ctx), endpoint)
    return json_response(body)


async def more(request: Request) -> Response:
    """``GET /query/{locator}-{offset}``."""
    ctx = ctx_of(request)
    endpoint = "queryAll" if "/queryAll/" in request.url.path else "query"
    locator, _, offset = request.path_params["locator"].rpartition("-")
    found = ctx.cursors.page(locator, int(offset)) if offset.isdigit() else None
    if found is None:
        raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, size, total = found
    body: dict[str, Any] = {"totalSize": total, "done": int(offset) + len(rows) >= total, "records": rows}
    if not body["done"]:
        following = int(offset) + len(rows)
        body = {"totalSize": total, "done": False,
                "nextRecordsUrl": f"/services/data/v{request.path_params['version']}/{endpoint}/{locator}-{following}",
                "records": rows}
    return json_response(body)


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family."""
    return table(
        ("GET", f"{API}/query", query),
        ("GET", f"{API}/queryAll", query),
        ("GET", f"{API}/query/{{locator}}", more),
        ("GET", f"{API}/queryAll/{{locator}}", more),
    )
