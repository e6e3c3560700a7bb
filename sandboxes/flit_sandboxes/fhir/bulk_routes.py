"""Bulk Data export routes (HL7 FHIR Bulk Data IG v2, "Export"): kick-off, status, files, delete.

* Kick-off ``GET /fhir/Patient/$export``, ``/fhir/Group/{id}/$export`` (any id: the sandbox serves one
  population) or ``/fhir/$export``: ``Prefer: respond-async`` required (else 400); ``_outputFormat``
  ``application/fhir+ndjson`` / ``application/ndjson`` / ``ndjson`` (else 400); ``_type`` (comma list;
  default every type held; types not held give no files); ``_since`` (a FHIR instant; else 400).
  -> 202, ``Content-Location: <server>/fhir/$export-status/<job>``, an informational OperationOutcome.
* Status ``GET /fhir/$export-status/{job}`` -> 202 with ``X-Progress: "in progress: N%"`` and
  ``Retry-After`` (``retry_after_seconds``) while running; 200 with the manifest (``jobs.Job.manifest``;
  ``requiresAccessToken`` true) when complete; 500 OperationOutcome ``exception`` (not transient) when
  the job failed; 404 for an unknown or deleted job.
* ``DELETE /fhir/$export-status/{job}`` -> 202 (files removed); 404 unknown.
* Files ``GET /fhir/$export-files/{job}/{name}`` (the token required, as the manifest says): NDJSON
  (``application/fhir+ndjson``); ``Content-Encoding: gzip`` when the request accepts gzip (the file as
  stored), else decompressed on the fly. 404 once the job is deleted.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from flit_sandboxes.fhir.context import FhirContext
from flit_sandboxes.fhir.gateway import Operation, outcome, outcome_response
from flit_sandboxes.fhir.routes import fhir_json, parse_instant, server_url

OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")


def _ctx(request: Request) -> FhirContext:
    return request.app.state.sandbox


async def kick_off(request: Request) -> Response:
    """The three kick-off routes (module docstring)."""
    ctx = _ctx(request)
    if not ctx.settings.bulk:
        return outcome_response(404, "not-supported", "this server does not offer Bulk Data export")
    if "respond-async" not in request.headers.get("prefer", ""):
        return outcome_response(400, "invalid", "Prefer: respond-async is required")
    if request.query_params.get("_outputFormat", "application/fhir+ndjson") not in OUTPUT_FORMATS:
        return outcome_response(400, "invalid", "_outputFormat must be application/fhir+ndjson")
    held = sorted(ctx.store.types())
    raw = request.query_params.get("_type")
    types = [t.strip() for t in raw.split(",") if t.strip()] if raw else held
    if any(not t.isalpha() for t in types):
        return outcome_response(400, "invalid", "_type must be a comma-separated list of resource types")
    since = None
    if request.query_params.get("_since"):
        try:
            since = parse_instant(request.query_params["_since"])
        except ValueError:
            return outcome_response(400, "invalid", "_since must be a FHIR instant")
    server = server_url(request)
    job = ctx.jobs.start([t for t in types if t in held], since, str(request.url), server)
    return fhir_json(outcome("informational", "export job accepted", "information"), status=202,
                     headers={"Content-Location": f"{server}/fhir/$export-status/{job.id}"})


async def status(request: Request) -> Response:
    """``GET /fhir/$export-status/{job}``."""
    ctx = _ctx(request)
    job = ctx.jobs.get(request.path_params["job"])
    if job is None:
        return outcome_response(404, "not-found", "export job not found (deleted or expired)")
    if job.state == "failed":
        return outcome_response(500, "exception", "the export job failed")
    if job.state == "running":
        return Response(status_code=202, headers={"X-Progress": f"in progress: {job.progress(time.time())}%",
                                                  "Retry-After": str(ctx.settings.retry_after_seconds)})
    return Response(json.dumps(job.manifest(True)), media_type="application/json")


async def delete(request: Request) -> Response:
    """``DELETE /fhir/$export-status/{job}``."""
    ctx = _ctx(request)
    if not await run_in_threadpool(ctx.jobs.delete, request.path_params["job"]):
        return outcome_response(404, "not-found", "export job not found (deleted or expired)")
    return fhir_json(outcome("informational", "export job deleted", "information"), status=202)


def _decompressed(path) -> Iterator[bytes]:
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk


async def file(request: Request) -> Response:
    """``GET /fhir/$export-files/{job}/{name}``."""
    ctx = _ctx(request)
    path = ctx.jobs.path(request.path_params["job"], request.path_params["name"])
    if path is None:
        return outcome_response(404, "not-found", "file not found (the export was deleted or expired)")
    ctx.jobs.served()
    if "gzip" in request.headers.get("accept-encoding", ""):
        return FileResponse(path, media_type="application/fhir+ndjson", headers={"Content-Encoding": "gzip"})
    return StreamingResponse(_decompressed(path), media_type="application/fhir+ndjson")


def routes_and_operations() -> tuple[list[Route], list[Operation]]:
    """The Bulk routes and their operations (before the generic REST routes)."""
    table = [("GET", "/fhir/Patient/$export", kick_off), ("GET", "/fhir/Group/{group}/$export", kick_off),
             ("GET", "/fhir/$export", kick_off), ("GET", "/fhir/$export-status/{job}", status),
             ("DELETE", "/fhir/$export-status/{job}", delete), ("GET", "/fhir/$export-files/{job}/{name}", file)]
    return ([Route(path, fn, methods=[method]) for method, path, fn in table],
            [Operation(method, path) for method, path, _ in table])
