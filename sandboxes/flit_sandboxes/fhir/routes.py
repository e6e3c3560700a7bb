"""FHIR R4 REST routes of the sandbox: CapabilityStatement, search, read (FHIR R4 §3.1 "RESTful API").

* ``GET /fhir/metadata`` -> a ``CapabilityStatement`` (fhirVersion 4.0.1) listing every type the
  store holds with ``read`` and ``search-type``, the SMART security service, and, unless the app
  was built with ``bulk=False``, ``instantiates`` the Bulk Data CapabilityStatement with the
  ``export`` operations (patient, group, system level).
* ``GET /fhir/<Type>`` -> a ``searchset`` Bundle: ``_count`` (default ``page_size_default``, at most
  ``page_size_max``; 0 -> only ``total``), ``_lastUpdated`` (repeatable, prefixes ``gt ge lt le eq``,
  a FHIR ``instant`` or date), ``_include=<Type>:<param>`` / ``_revinclude=<Type>:<param>`` for the
  reference parameters of ``store.REFERENCE_PARAMS`` (entries with ``search.mode: include``),
  ``_page_token`` (opaque, in ``next`` links). Resources in ``seq`` order; ``link`` ``self`` and
  ``next`` (absolute, on the host the client used); ``total`` on the first page only. Other
  parameters are ignored (lenient handling).
  A type the store does not hold -> 404 OperationOutcome ``not-supported``; a bad value -> 400 ``invalid``.
* ``GET /fhir/<Type>/<id>`` -> the resource; 404 ``not-found``; 410 for a deleted one. ``Binary``
  asked without ``application/fhir+json``/``application/json`` in ``Accept`` answers its raw bytes
  with its ``contentType`` (FHIR R4 Binary "Serving Binary Resources").
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.fhir.context import FhirContext
from flit_sandboxes.fhir.gateway import Operation, outcome_response
from flit_sandboxes.fhir.store import REFERENCE_PARAMS, references

FHIR_CT = "application/fhir+json"
BULK_CAPABILITY = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
_PREFIXES = ("gt", "ge", "lt", "le", "eq")


class QueryError(ValueError):
    """A bad search parameter (400); the message names the parameter, never its value."""


def _ctx(request: Request) -> FhirContext:
    return request.app.state.sandbox


def server_url(request: Request) -> str:
    """``scheme://host:port`` as the client addressed the server."""
    return f"{request.url.scheme}://{request.url.netloc}"


def fhir_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON answer (``application/fhir+json``)."""
    return Response(json.dumps(payload, separators=(",", ":"), ensure_ascii=False), status_code=status,
                    media_type=FHIR_CT, headers=headers)


def parse_instant(text: str) -> float:
    """A FHIR ``instant``/``dateTime``/``date`` (``Z``, an offset or none = UTC) -> epoch seconds.

    Raises:
        ValueError: not ISO 8601.
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def last_updated_conditions(values: list[str]) -> list[tuple[str, float]]:
    """``_lastUpdated`` values -> ``(operator, epoch)`` (no prefix = ``eq``... as a day range is not
    needed here: ``eq`` compares the instant). Raises QueryError."""
    out = []
    for value in values:
        op, rest = (value[:2], value[2:]) if value[:2] in _PREFIXES else ("eq", value)
        try:
            out.append((op, parse_instant(rest)))
        except ValueError:
            raise QueryError("_lastUpdated must be a FHIR instant with an optional gt/ge/lt/le/eq prefix") from None
    return out


def capability_statement(ctx: FhirContext, server: str) -> dict[str, Any]:
    """The server's CapabilityStatement (module docstring)."""
    types = sorted(ctx.store.types())
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {"service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                              "code": "SMART-on-FHIR"}]}],
                     "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                    "extension": [{"url": "token", "valueUri": f"{server}/auth/token"}]}]},
        "resource": [{"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}],
                      "searchParam": [{"name": "_lastUpdated", "type": "date"}, {"name": "_count", "type": "number"}]}
                     for t in types],
    }
    caps: dict[str, Any] = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
                            "kind": "instance", "fhirVersion": "4.0.1", "format": ["json", FHIR_CT],
                            "implementation": {"description": "flit FHIR sandbox", "url": f"{server}/fhir"},
                            "rest": [rest]}
    if ctx.settings.bulk:
        caps["instantiates"] = [BULK_CAPABILITY]
        rest["operation"] = [
            {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"},
            {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"},
            {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}]
    return caps


async def metadata(request: Request) -> Response:
    """``GET /fhir/metadata``."""
    ctx = _ctx(request)
    return fhir_json(await run_in_threadpool(capability_statement, ctx, server_url(request)))


async def smart_configuration(request: Request) -> Response:
    """``GET /fhir/.well-known/smart-configuration`` (SMART App Launch 2.x §2.1, backend services subset)."""
    server = server_url(request)
    return Response(json.dumps({
        "token_endpoint": f"{server}/auth/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.rs", "system/*.read"],
        "capabilities": ["client-confidential-asymmetric"]}), media_type="application/json")


def _count(request: Request, ctx: FhirContext) -> int:
    raw = request.query_params.get("_count")
    if raw is None:
        return ctx.settings.page_size_default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError("_count must be an integer") from None
    if value < 0:
        raise QueryError("_count must be >= 0")
    return min(value, ctx.settings.page_size_max)


def _includes(request: Request, name: str) -> list[tuple[str, str]]:
    out = []
    for value in request.query_params.getlist(name):
        rtype, _, param = value.partition(":")
        if (rtype, param) not in REFERENCE_PARAMS:
            raise QueryError(f"{name} supports {sorted(f'{t}:{p}' for t, p in REFERENCE_PARAMS)}")
        out.append((rtype, param))
    return out


def _search(ctx: FhirContext, request: Request, rtype: str) -> Response:
    if rtype not in ctx.store.types():
        return outcome_response(404, "not-supported", f"resource type {rtype} is not supported")
    try:
        count = _count(request, ctx)
        conds = last_updated_conditions(request.query_params.getlist("_lastUpdated"))
        token = request.query_params.get("_page_token", "0")
        if not token.isdigit():
            raise QueryError("_page_token is not one this server issued")
        includes, revincludes = _includes(request, "_include"), _includes(request, "_revinclude")
    except QueryError as error:
        return outcome_response(400, "invalid", str(error))
    server = server_url(request)
    rows = ctx.store.page(rtype, conds, after_seq=int(token), limit=count) if count else []
    resources = [json.loads(text) for _, text in rows]
    entries = [{"fullUrl": f"{server}/fhir/{rtype}/{res['id']}", "resource": res, "search": {"mode": "match"}}
               for res in resources]
    refs = [f"{rtype}/{e['resource']['id']}" for e in entries]
    extra: dict[str, dict[str, Any]] = {}
    for src_type, param in revincludes:
        for text in ctx.store.referencing(src_type, param, refs):
            res = json.loads(text)
            extra[f"{src_type}/{res['id']}"] = res
    for src_type, param in includes:
        if src_type != rtype:
            continue
        for entry in entries:
            for ref in references(entry["resource"], REFERENCE_PARAMS[(src_type, param)]):
                target_type, _, ident = ref.partition("/")
                stored, deleted = ctx.store.get(target_type, ident)
                if stored and not deleted:
                    extra[ref] = json.loads(stored)
    entries += [{"fullUrl": f"{server}/fhir/{key}", "resource": res, "search": {"mode": "include"}}
                for key, res in extra.items()]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_page_token"]
    links = [{"relation": "self", "url": f"{server}/fhir/{rtype}?{urlencode(params + [('_page_token', token)])}"}]
    if count and len(rows) == count:
        links.append({"relation": "next",
                      "url": f"{server}/fhir/{rtype}?{urlencode(params + [('_page_token', str(rows[-1][0]))])}"})
    ctx.count("search_pages")
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    if token == "0":  # Bundle.total is optional: counted once, on the first page (a COUNT per page is O(n^2))
        bundle["total"] = ctx.store.count(rtype, conds)
    return fhir_json(bundle)


async def search(request: Request) -> Response:
    """``GET /fhir/{type}`` (module docstring)."""
    return await run_in_threadpool(_search, _ctx(request), request, request.path_params["type"])


def _read(ctx: FhirContext, request: Request, rtype: str, ident: str) -> Response:
    text, deleted = ctx.store.get(rtype, ident)
    if text is None:
        return outcome_response(404, "not-found", f"{rtype} not found")
    if deleted:
        return outcome_response(410, "deleted", f"{rtype} was deleted")
    accept = request.headers.get("accept", "")
    if rtype == "Binary" and "fhir+json" not in accept and "application/json" not in accept:
        res = json.loads(text)
        return Response(base64.b64decode(res.get("data") or ""), media_type=res.get("contentType") or
                        "application/octet-stream")
    return Response(text, media_type=FHIR_CT)


async def read(request: Request) -> Response:
    """``GET /fhir/{type}/{id}`` (module docstring)."""
    return await run_in_threadpool(_read, _ctx(request), request, request.path_params["type"],
                                   request.path_params["id"])


def routes_and_operations() -> tuple[list[Route], list[Operation]]:
    """The REST routes (after the Bulk routes, which are more specific) and their operations."""
    table = [("GET", "/fhir/metadata", metadata), ("GET", "/fhir/.well-known/smart-configuration", smart_configuration),
             ("GET", "/fhir/{type}", search), ("GET", "/fhir/{type}/{id}", read)]
    return ([Route(path, fn, methods=[method]) for method, path, fn in table],
            [Operation(method, path) for method, path, _ in table])
