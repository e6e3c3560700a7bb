"""Operation table plumbing: one ``Operation`` per implemented HighLevel v2 operation.

Each operation names its bundled OpenAPI document (``spec``) and the document's path template,
which is also the sandbox route (the vendor's base URL has no path prefix). ``endpoint`` wraps a
handler with, in order:

0. the token kind: an operation whose spec ``security`` is ``Agency-Access`` only (create custom
   object schema) needs the agency token, every other one the sub-account token; otherwise 401
   ``"The token is not authorized for this scope."`` (status/wording UNCONFIRMED);
1. the ``Version`` header check: missing -> 400 ``{"statusCode": 400, "message": "Version header
   was not found", "error": "Bad Request"}`` (wording UNCONFIRMED); a value other than the one
   the operation declares (``2021-07-28``; ``2021-04-15`` under ``/calendars``) -> 422 (notes §1);
2. OpenAPI validation (path/query/header parameters and JSON body) -> 422 ``UnprocessableDTO``;
3. undeclared top-level body properties -> 422 ``"property X should not exist"`` (issue#262);
4. the handler; ``ApiError`` is rendered as the vendor's error body, other exceptions as 500.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.highlevel.context import HighLevelContext
from flit_sandboxes.highlevel.errors import (
    WRONG_TOKEN_KIND_MESSAGE,
    ApiError,
    bad_request,
    error_response,
    forbidden_location,
    unprocessable,
)
from flit_sandboxes.highlevel.validation import (
    problems_error,
    required_version,
    security_kinds,
    unknown_properties,
)

logger = logging.getLogger("flit_sandboxes.highlevel")

Handler = Callable[["Call"], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One implemented vendor operation.

    Attributes:
        method: HTTP method, upper case.
        spec: bundled document name (``validation.DOCUMENTS``: ``contacts``, ``calendars``, ...).
        spec_path: the document's path template (= the sandbox route).
        handler: coroutine ``handler(call) -> Response``.
        operation_id: the document's ``operationId`` (documentation and stats).
        body: ``"json"`` (parsed and validated here) or ``"form"`` (multipart: parameters are
            validated here, the handler parses the form and calls ``validate_form``).
    """

    method: str
    spec: str
    spec_path: str
    handler: Handler
    operation_id: str = ""
    body: str = "json"

    @property
    def path(self) -> str:
        """Route template (same as ``spec_path``)."""
        return self.spec_path


@dataclass
class Call:
    """One request as handlers see it."""

    request: Request
    ctx: HighLevelContext
    op: Operation
    body: Any

    def path(self, name: str) -> str:
        """A path parameter."""
        return self.request.path_params[name]

    def body_object(self) -> dict[str, Any]:
        """The JSON body as an object (``{}`` when empty; 422 if not an object)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise unprocessable(["request body must be an object"])
        return self.body

    def check_location(self, location_id: Any) -> None:
        """403 unless ``location_id`` is the token's location (notes §1, §3)."""
        if location_id != self.ctx.settings.location_id:
            raise forbidden_location()


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``op.handler`` into a Starlette endpoint (steps in the module docstring)."""
    version = required_version(op.spec, op.method, op.spec_path)
    kinds = security_kinds(op.spec, op.method, op.spec_path)

    async def run(request: Request) -> Response:
        ctx: HighLevelContext = request.app.state.sandbox
        try:
            if request.scope.get("highlevel.token_kind", "location") not in kinds:
                raise ApiError(401, WRONG_TOKEN_KIND_MESSAGE)
            presented = request.headers.get("version")
            if version is not None:
                if not presented:
                    raise bad_request("Version header was not found")
                if presented != version:
                    raise unprocessable([f"header parameter 'Version' must be one of: \"{version}\""])
            if op.body == "form":
                if ctx.settings.validate:
                    problems = ctx.validators[op.spec].validate(
                        op.method, op.spec_path, path_params=request.path_params, query=request.query_params,
                        headers=request.headers, check_body=False,
                    )
                    if problems:
                        raise problems_error(problems)
                return await op.handler(Call(request, ctx, op, None))
            raw = await request.body()
            if ctx.settings.validate:
                problems = ctx.validators[op.spec].validate(
                    op.method, op.spec_path, path_params=request.path_params, query=request.query_params,
                    headers=request.headers, content_type=request.headers.get("content-type"), body=raw,
                )
                if problems:
                    raise problems_error(problems)
            body: Any = None
            if raw.strip():
                try:
                    body = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    raise bad_request("request body is not valid JSON") from None
            extra = unknown_properties(op.spec, op.method, op.spec_path, body)
            if extra:
                raise unprocessable(extra)
            return await op.handler(Call(request, ctx, op, body))
        except ApiError as error:
            return error_response(error)
        except Exception as exc:  # a sandbox bug: answer like the vendor's 500
            # Exception type and stack only: messages can quote submitted values (patient data).
            logger.error("handler %s %s failed: %s\n%s", op.method, op.path, type(exc).__name__,
                         "".join(traceback.format_tb(exc.__traceback__)))
            return error_response(ApiError(500, "Internal server error"))

    run.__name__ = op.operation_id.replace("-", "_") or f"{op.method.lower()}_{op.spec_path}"
    return run
