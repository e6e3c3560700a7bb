"""Vendor-agnostic request validation against an OpenAPI 3.0 document, built on openapi-core.

Sandboxes (Pipedrive now; HighLevel and Salesforce later) route requests themselves, so they
already know which operation a request targets. This helper therefore validates *by operation*
(method + the document's path template) instead of letting openapi-core search the document's
paths and servers for every request. That keeps the cost per request low enough for a sandbox
that must serve hundreds of requests per second:

- the YAML document is parsed once per file (``load_openapi_document`` is cached);
- the operation and its parameter list are resolved once per operation and cached;
- only query/path parameters that are present (or required) are validated, because openapi-core
  spends most of its time on absent optional parameters (~0.35 ms each on a 2-core machine);
- jsonschema validators are built once per schema location (see ``_CachingSchemaValidatorsFactory``).

The actual checks (style deserialising, casting, JSON-schema validation, media types, formats)
are openapi-core's. Two gaps of the library are bridged here, each documented where it is done:

1. ``multipart/form-data`` fields arrive as strings and openapi-core 0.23 does not cast them to
   the schema's ``integer``/``number``/``boolean`` types, so every integer form field would fail.
   ``validate_form`` casts scalar fields first, then validates with openapi-core's schema validator.
2. Vendors document some query parameters as "comma-separated" while the schema declares a single
   ``enum`` value. Such parameters (string + enum + "comma" in the description) are validated
   item by item.

Messages in ``RequestProblem`` name the failing location and rule but never echo the submitted
value (values can be patient data).

Note: this relies on two underscore methods of openapi-core's ``V30RequestValidator``
(``_get_parameter`` and ``_get_body``), stable from 0.19 through the pinned 0.23.1. If a future
openapi-core drops them, ``OpenAPIRequestValidator`` raises ``RuntimeError`` at construction so the
break is loud, not silent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema_path import SchemaPath
from openapi_core.casting.schemas import oas30_types_caster
from openapi_core.casting.schemas.exceptions import CastError
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.exceptions import DeserializeError
from openapi_core.deserializing.styles.exceptions import EmptyQueryParameterValue
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    MissingParameter,
    MissingRequestBody,
    MissingRequiredParameter,
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.request.validators import V30RequestValidator
from openapi_core.validation.schemas import oas30_write_schema_validators_factory
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_core.validation.schemas.validators import SchemaValidator
from werkzeug.datastructures import ImmutableMultiDict

__all__ = [
    "OpenAPIRequestValidator",
    "RequestProblem",
    "UnknownOperation",
    "load_openapi_document",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.lru_cache(maxsize=8)
def load_openapi_document(path: str | Path) -> dict[str, Any]:
    """Parse an OpenAPI YAML/JSON file once per process and return it as a dict.

    The result is shared between callers (it is cached), so treat it as read-only.
    Uses libyaml's C loader when available: the Pipedrive v1 document (1.8 MB) parses in ~0.5 s.

    Raises:
        OSError: the file cannot be read.
        yaml.YAMLError: the file is not valid YAML/JSON.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - safe loader


class _CachingSchemaValidatorsFactory(SchemaValidatorsFactory):
    """openapi-core builds a fresh jsonschema validator (deep-copying its format checker) for
    every schema of every request; that was ~0.5 ms per request here. A sandbox validates the
    same few schemas over and over, and ``SchemaValidator`` keeps no per-call state, so build
    each one once per schema location. Calls with custom format validators are not cached."""

    def __init__(self, base: SchemaValidatorsFactory):
        super().__init__(base.schema_validator_cls, base.format_checker)
        self._cache: dict[tuple[str, bool, bool], SchemaValidator] = {}

    def create(
        self,
        spec: SchemaPath,
        schema: SchemaPath,
        format_validators: Any = None,
        extra_format_validators: Any = None,
        forbid_unspecified_additional_properties: bool = False,
        enforce_properties_required: bool = False,
    ) -> SchemaValidator:
        if format_validators is not None or extra_format_validators is not None:
            return super().create(spec, schema, format_validators, extra_format_validators,
                                  forbid_unspecified_additional_properties, enforce_properties_required)
        key = (schema.as_uri(), forbid_unspecified_additional_properties, enforce_properties_required)
        validator = self._cache.get(key)
        if validator is None:
            validator = super().create(spec, schema, None, None, forbid_unspecified_additional_properties,
                                       enforce_properties_required)
            self._cache[key] = validator  # idempotent: a race only builds the same validator twice
        return validator


class UnknownOperation(KeyError):
    """The (method, path template) pair is not an operation of the document."""


@dataclass(frozen=True)
class RequestProblem:
    """One reason a request does not conform to the document.

    Attributes:
        location: ``"path"``, ``"query"``, ``"header"``, ``"body"``.
        name: the parameter name or a dotted/indexed pointer into the body (``emails[0].primary``);
            empty for the body as a whole.
        message: human-readable rule that failed; never contains the submitted value.
    """

    location: str
    name: str
    message: str


@dataclass(frozen=True)
class _Parameter:
    name: str
    location: str
    required: bool
    spec: SchemaPath
    comma_separated_enum: bool


@dataclass(frozen=True)
class _Operation:
    spec: SchemaPath
    parameters: tuple[_Parameter, ...]
    has_body: bool
    raw: Mapping[str, Any]


class OpenAPIRequestValidator:
    """Validate requests against one OpenAPI 3.0 document, one known operation at a time.

    Args:
        document: the parsed document (see ``load_openapi_document``). Not modified.

    ``validate`` returns a list of ``RequestProblem``; empty means the request conforms.
    Security requirements are not checked (the sandbox authenticates requests itself).

    Thread-safe: the per-operation cache is filled idempotently, validation keeps no state.
    """

    def __init__(self, document: Mapping[str, Any]):
        if not hasattr(V30RequestValidator, "_get_parameter") or not hasattr(
            V30RequestValidator, "_get_body"
        ):
            raise RuntimeError(
                "openapi-core no longer provides V30RequestValidator._get_parameter/_get_body; "
                "update flit_sandboxes.openapi_validation"
            )
        self._document = document
        self._spec = SchemaPath.from_dict(document)
        schema_validators = _CachingSchemaValidatorsFactory(oas30_write_schema_validators_factory)
        self._validator = V30RequestValidator(
            self._spec,
            schema_validators_factory=schema_validators,
            schema_casters_factory=SchemaCastersFactory(schema_validators, oas30_types_caster),
        )
        self._operations: dict[tuple[str, str], _Operation] = {}

    # ------------------------------------------------------------------ lookup
    def has_operation(self, method: str, path_template: str) -> bool:
        """True if ``paths[path_template][method]`` exists in the document."""
        item = self._document.get("paths", {}).get(path_template)
        return isinstance(item, Mapping) and method.lower() in item

    def operation_extension(self, method: str, path_template: str, name: str, default: Any = None) -> Any:
        """Return a vendor extension (e.g. ``x-token-cost``) of an operation, or ``default``."""
        item = self._document.get("paths", {}).get(path_template) or {}
        operation = item.get(method.lower()) or {}
        return operation.get(name, default)

    def iter_operations(self) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
        """Yield ``(METHOD, path_template, operation_dict)`` for every operation of the document."""
        for template, item in self._document.get("paths", {}).items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    yield method.upper(), template, operation

    def _operation(self, method: str, path_template: str) -> _Operation:
        key = (method.lower(), path_template)
        cached = self._operations.get(key)
        if cached is not None:
            return cached
        if not self.has_operation(*key):
            raise UnknownOperation(f"{method.upper()} {path_template}")
        path_spec = self._spec / "paths" / path_template
        op_spec = path_spec / key[0]
        raw_path = self._document["paths"][path_template]
        raw_op = raw_path[key[0]]
        parameters: list[_Parameter] = []
        seen: set[tuple[str, str]] = set()
        # Operation-level parameters override path-level ones with the same (name, in).
        for owner, raw_owner in ((op_spec, raw_op), (path_spec, raw_path)):
            if "parameters" not in raw_owner:
                continue
            for param in owner / "parameters":
                with param.resolve() as resolved:
                    contents = resolved.contents
                name, location = contents["name"], contents["in"]
                if (name, location) in seen:
                    continue
                seen.add((name, location))
                schema = contents.get("schema") or {}
                if "$ref" in schema:
                    with (param / "schema").resolve() as resolved_schema:
                        schema = resolved_schema.contents
                comma_enum = (
                    schema.get("type") == "string"
                    and "enum" in schema
                    and "comma" in str(contents.get("description", "")).lower()
                )
                parameters.append(
                    _Parameter(name, location, bool(contents.get("required")), param, comma_enum)
                )
        operation = _Operation(op_spec, tuple(parameters), "requestBody" in raw_op, raw_op)
        self._operations[key] = operation
        return operation

    # -------------------------------------------------------------- validation
    def validate(
        self,
        method: str,
        path_template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        body: bytes | None = None,
        check_body: bool = True,
    ) -> list[RequestProblem]:
        """Validate path/query/header parameters and (optionally) the body of one request.

        Args:
            method: HTTP method (any case).
            path_template: the document's path key, e.g. ``"/persons/{id}"``.
            path_params: raw string values of the template's variables.
            query: multi-dict of raw query strings; needs ``getlist`` for array parameters
                (Starlette ``QueryParams`` and werkzeug ``MultiDict`` both qualify).
            headers: request headers (case-insensitive mapping preferred).
            content_type: the request's Content-Type header (with parameters).
            body: raw body bytes; ``None``/empty means no body.
            check_body: ``False`` to skip the body (e.g. multipart, see ``validate_form``).

        Returns:
            The problems found, in document order; empty if the request conforms.

        Raises:
            UnknownOperation: the operation is not in the document.
        """
        operation = self._operation(method, path_template)
        query = query if query is not None else ImmutableMultiDict()
        params = RequestParameters(
            query=query,
            header=headers or {},
            cookie=ImmutableMultiDict(),
            path=dict(path_params or {}),
        )
        problems: list[RequestProblem] = []
        for parameter in operation.parameters:
            location_values = params[parameter.location]
            present = parameter.name in location_values
            if not present and not parameter.required:
                continue
            problems.extend(self._check_parameter(params, parameter))
        if check_body and operation.has_body:
            problems.extend(self._check_body(operation, content_type, body))
        return problems

    def _check_parameter(self, params: RequestParameters, parameter: _Parameter) -> list[RequestProblem]:
        if parameter.comma_separated_enum and parameter.location == "query":
            raw = params.query.get(parameter.name)
            if isinstance(raw, str) and "," in raw:
                problems: list[RequestProblem] = []
                for item in raw.split(","):
                    single = RequestParameters(query=ImmutableMultiDict({parameter.name: item.strip()}))
                    problems.extend(self._check_single_parameter(single, parameter))
                return problems[:1]
        return self._check_single_parameter(params, parameter)

    def _check_single_parameter(self, params: RequestParameters, parameter: _Parameter) -> list[RequestProblem]:
        label = f"{parameter.location} parameter '{parameter.name}'"
        try:
            self._validator._get_parameter(params, parameter.spec)  # noqa: SLF001 - see module doc
        except MissingRequiredParameter:
            return [RequestProblem(parameter.location, parameter.name, f"{label} is required")]
        except MissingParameter:
            return []
        except ParameterValidationError as exc:
            return [
                RequestProblem(parameter.location, parameter.name, message)
                for message in _describe_cause(exc.__cause__, label)
            ]
        return []

    def _check_body(self, operation: _Operation, content_type: str | None, body: bytes | None) -> list[RequestProblem]:
        try:
            self._validator._get_body(  # noqa: SLF001 - see module doc
                body or None, content_type or "application/json", operation.spec
            )
        except MissingRequiredRequestBody:
            return [RequestProblem("body", "", "request body is required")]
        except MissingRequestBody:
            return []
        except RequestBodyValidationError as exc:
            cause = exc.__cause__
            if isinstance(cause, MediaTypeNotFound):
                return [RequestProblem("body", "", "unsupported content type")]
            if isinstance(cause, InvalidSchemaValue):
                return [_schema_problem("body", err) for err in cause.schema_errors]
            if isinstance(cause, DeserializeError):
                return [RequestProblem("body", "", "request body could not be parsed")]
            return [RequestProblem("body", "", "request body is invalid")]
        return []

    def validate_form(
        self,
        method: str,
        path_template: str,
        fields: Mapping[str, Any],
        *,
        media_type: str = "multipart/form-data",
    ) -> list[RequestProblem]:
        """Validate already-parsed form fields against the operation's form schema.

        Scalar string fields are cast to the property's declared ``integer``/``number``/
        ``boolean`` type first (openapi-core does not do that for form bodies), then the
        resulting object is validated with openapi-core's schema validator. Pass file parts as
        ``bytes`` (content is not inspected; an empty ``b""`` placeholder is fine).

        Raises:
            UnknownOperation: the operation is not in the document.
        """
        operation = self._operation(method, path_template)
        content = operation.raw.get("requestBody", {}).get("content", {})
        if media_type not in content:
            return [RequestProblem("body", "", "unsupported content type")]
        body_spec = self._spec / "paths" / path_template / method.lower() / "requestBody"
        schema_path = body_spec / "content" / media_type / "schema"
        with schema_path.resolve() as resolved:
            properties = (resolved.contents or {}).get("properties", {})
        value: dict[str, Any] = {}
        problems: list[RequestProblem] = []
        for name, raw in fields.items():
            declared = (properties.get(name) or {}).get("type")
            try:
                value[name] = _cast_form_value(raw, declared)
            except ValueError:
                problems.append(RequestProblem("body", name, f"{name} must be of type {declared}"))
                value[name] = raw
        if problems:
            return problems
        validator = self._validator.schema_validators_factory.create(self._spec, schema_path)
        try:
            validator.validate(value)
        except InvalidSchemaValue as exc:
            return [_schema_problem("body", err) for err in exc.schema_errors]
        return []


def _cast_form_value(raw: Any, declared: str | None) -> Any:
    if not isinstance(raw, str):
        return raw
    if declared == "integer":
        text = raw.strip()
        if not text.lstrip("-").isdigit():
            raise ValueError
        return int(text)
    if declared == "number":
        return float(raw)
    if declared == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError
    return raw


def _describe_cause(cause: BaseException | None, label: str) -> list[str]:
    if isinstance(cause, CastError):
        return [f"{label} must be of type {cause.type}"]
    if isinstance(cause, EmptyQueryParameterValue):
        return [f"{label} must not be empty"]
    if isinstance(cause, InvalidSchemaValue):
        return [_schema_message(label, err) for err in cause.schema_errors]
    return [f"{label} is invalid"]


def _schema_problem(location: str, error: Any) -> RequestProblem:
    pointer = _pointer(error.absolute_path)
    label = pointer or "request body"
    return RequestProblem(location, pointer, _schema_message(label, error))


def _pointer(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _schema_message(label: str, error: Any) -> str:
    """Describe a jsonschema ValidationError from its rule, never from the instance value."""
    rule = error.validator
    expected = error.validator_value
    if rule == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{label} must be of type {' or '.join(map(str, types))}"
    if rule == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in expected if name not in instance]
        names = ", ".join(missing) or ", ".join(expected)
        return f"{label} is missing required field(s): {names}"
    if rule == "enum":
        return f"{label} must be one of: {', '.join(json.dumps(v) for v in expected)}"
    if rule == "format":
        return f"{label} must be a valid {expected}"
    if rule == "nullable":
        return f"{label} must not be null"
    if rule == "additionalProperties":
        return f"{label} has properties that are not allowed"
    if rule in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                "minItems", "maxItems", "multipleOf", "pattern", "uniqueItems"):
        return f"{label} violates {rule}={json.dumps(expected)}"
    return f"{label} does not match the schema ({rule})"
