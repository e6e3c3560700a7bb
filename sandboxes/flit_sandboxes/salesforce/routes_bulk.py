"""Bulk API 2.0 routes (notes §1; behaviour in ``bulk`` and ``bulk_query``). Errors are
``[{"errorCode", "message"}]`` (``INVALIDJOB``, ``NOT_FOUND``; codes partly UNCONFIRMED).

Ingest:
- ``POST /jobs/ingest`` JSON -> 200 job info + ``contentUrl`` (state Open); bad body -> 400.
- ``PUT /jobs/ingest/{id}/batches`` ``text/csv`` -> 201 empty; a second PUT -> 400 "Found multiple contents for
  job"; not Open -> 409; too large -> 413.
- ``PATCH /jobs/ingest/{id}`` ``{"state": "UploadComplete"|"Aborted"}`` -> 200 job info; bad transition -> 409.
- ``GET /jobs/ingest/{id}`` -> 200 job info; ``GET /jobs/ingest`` -> 200 ``{"done", "records", "nextRecordsUrl"}``.
- ``GET /jobs/ingest/{id}/successfulResults`` | ``failedResults`` | ``unprocessedrecords`` -> 200 ``text/csv``
  (the ``unprocessedRecords`` spelling simple-salesforce sends is accepted too).
- ``DELETE /jobs/ingest/{id}`` -> 204 (409 while Open/InProgress). Unknown job -> 404 ``NOT_FOUND``.

Query: ``POST /jobs/query`` -> 200; ``GET /jobs/query/{id}`` -> 200; ``GET /jobs/query/{id}/results`` -> 200
``text/csv`` + ``Sforce-Locator`` / ``Sforce-NumberOfRecords``; ``PATCH`` (Aborted) -> 200; ``DELETE`` -> 204;
``GET /jobs/query`` -> 200.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.salesforce.errors import not_found
from flit_sandboxes.salesforce.web import API, ctx_of, json_body, json_response, no_content, table

RESULT_KINDS = {"successfulresults": "successfulResults", "failedresults": "failedResults",
                "unprocessedrecords": "unprocessedrecords"}


async def create_ingest(request: Request) -> Response:
    """``POST /jobs/ingest``."""
    ctx = ctx_of(request)
    body = await json_body(request)
    return json_response(ctx.ingest.create(body, request.path_params["version"]))


async def upload(request: Request) -> Response:
    """``PUT /jobs/ingest/{id}/batches``."""
    ctx = ctx_of(request)
    content = await request.body()
    await run_in_threadpool(ctx.ingest.upload, request.path_params["job_id"], content,
                            request.headers.get("content-type", ""))
    return Response(status_code=201)


async def set_state(request: Request) -> Response:
    """``PATCH /jobs/ingest/{id}``."""
    ctx = ctx_of(request)
    body = await json_body(request)
    return json_response(await run_in_threadpool(ctx.ingest.set_state, request.path_params["job_id"], body))


async def ingest_info(request: Request) -> Response:
    """``GET /jobs/ingest/{id}``."""
    ctx = ctx_of(request)
    return json_response(await run_in_threadpool(ctx.ingest.info, request.path_params["job_id"]))


async def ingest_list(request: Request) -> Response:
    """``GET /jobs/ingest``."""
    return json_response(await run_in_threadpool(ctx_of(request).ingest.list))


async def ingest_results(request: Request) -> Response:
    """``GET /jobs/ingest/{id}/{kind}``."""
    ctx = ctx_of(request)
    kind = RESULT_KINDS.get(request.path_params["kind"].lower())
    if kind is None:
        raise not_found()
    text = await run_in_threadpool(ctx.ingest.results, request.path_params["job_id"], kind)
    return Response(text.encode("utf-8"), media_type="text/csv")


async def ingest_delete(request: Request) -> Response:
    """``DELETE /jobs/ingest/{id}``."""
    await run_in_threadpool(ctx_of(request).ingest.delete, request.path_params["job_id"])
    return no_content()


async def create_query(request: Request) -> Response:
    """``POST /jobs/query``."""
    ctx = ctx_of(request)
    body = await json_body(request)
    return json_response(await run_in_threadpool(ctx.query_jobs.create, body, request.path_params["version"],
                                                 ctx.tables.lock))


async def query_info(request: Request) -> Response:
    """``GET /jobs/query/{id}``."""
    return json_response(ctx_of(request).query_jobs.info(request.path_params["job_id"]))


async def query_results(request: Request) -> Response:
    """``GET /jobs/query/{id}/results``."""
    params = request.query_params
    text, locator, count = ctx_of(request).query_jobs.results(request.path_params["job_id"], params.get("maxRecords"),
                                                               params.get("locator"))
    return Response(text.encode("utf-8"), media_type="text/csv",
                    headers={"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)})


async def query_abort(request: Request) -> Response:
    """``PATCH /jobs/query/{id}``."""
    body = await json_body(request)
    return json_response(ctx_of(request).query_jobs.abort(request.path_params["job_id"], body))


async def query_delete(request: Request) -> Response:
    """``DELETE /jobs/query/{id}``."""
    ctx_of(request).query_jobs.delete(request.path_params["job_id"])
    return no_content()


async def query_list(request: Request) -> Response:
    """``GET /jobs/query``."""
    return json_response(ctx_of(request).query_jobs.list())


def routes() -> tuple[list[Any], list[Any]]:
    """Routes and operations of this family."""
    ingest, query = f"{API}/jobs/ingest", f"{API}/jobs/query"
    return table(
        ("POST", ingest, create_ingest),
        ("GET", ingest, ingest_list),
        ("PUT", f"{ingest}/{{job_id}}/batches", upload),
        ("PATCH", f"{ingest}/{{job_id}}", set_state),
        ("GET", f"{ingest}/{{job_id}}", ingest_info),
        ("DELETE", f"{ingest}/{{job_id}}", ingest_delete),
        ("GET", f"{ingest}/{{job_id}}/{{kind}}", ingest_results),
        ("POST", query, create_query),
        ("GET", query, query_list),
        ("GET", f"{query}/{{job_id}}", query_info),
        ("GET", f"{query}/{{job_id}}/results", query_results),
        ("PATCH", f"{query}/{{job_id}}", query_abort),
        ("DELETE", f"{query}/{{job_id}}", query_delete),
    )
