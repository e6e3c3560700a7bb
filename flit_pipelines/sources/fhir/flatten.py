"""FHIR resources -> the spec object's text columns, in bounded chunks, validated with fhir.resources.

``ResourcePlan`` compiles an object's column paths (``paths``) once. ``ResourcePlan.batch`` takes
up to ``CHUNK_RESOURCES`` NDJSON lines (or parsed resources) of one resource type and returns one
all-text ``pa.RecordBatch`` in the object's column order (``sources.base``) plus the reader's
``REJECT_COLUMN`` (``sources.base``): a resource that is not JSON, is of another type, or fails
its FHIR R4B model (``fhir.resources.R4B``, pydantic) yields one row holding only its ``id`` (the
primary key column, when the key path is ``id``) and the reason; ``run_extract`` quarantines it.

Reasons name the model, the failing element's location and the pydantic error type (``FHIR R4B
Patient: gender: enum``), never a value. Why a plain Python loop over a bounded chunk: model
validation costs about 0.35 ms per resource, path evaluation a few microseconds; a vectorised
(pyarrow JSON reader) flattening would not change the total (``benchmarks/fhir_extract.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from flit_pipelines.sources.base import REJECT_COLUMN
from flit_pipelines.sources.fhir.paths import CompiledPath, PathError, compile_path
from flit_pipelines.spec.model import SourceObject

__all__ = ["CHUNK_RESOURCES", "ResourcePlan", "chunked", "model_class", "validation_reason"]

CHUNK_RESOURCES = 2_000  # resources per batch: ~1-4 MB of NDJSON, a few MB of Python objects
_MAX_ERRORS_NAMED = 3


@lru_cache(maxsize=64)
def model_class(resource_type: str) -> Any:
    """The ``fhir.resources.R4B`` model class of a resource type.

    Raises:
        ValueError: not an R4B resource type (names it).
    """
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        raise ValueError(f"{resource_type!r} is not a FHIR R4B resource type") from None


def validation_reason(resource_type: str, error: ValidationError) -> str:
    """``FHIR R4B <Type>: <loc>: <error type>[; ...] (+N more)``: locations and types only, never
    the input or the message (both can hold the value)."""
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    named = []
    for err in errors[:_MAX_ERRORS_NAMED]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or "(resource)"
        named.append(f"{loc}: {err.get('type', 'invalid')}")
    more = f" (+{len(errors) - _MAX_ERRORS_NAMED} more)" if len(errors) > _MAX_ERRORS_NAMED else ""
    return f"FHIR R4B {resource_type}: " + "; ".join(named) + more


def chunked(lines: Iterable[Any], size: int = CHUNK_RESOURCES) -> Iterator[list[Any]]:
    """``lines`` in lists of at most ``size`` (the last may be shorter; none is empty)."""
    chunk: list[Any] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class ResourcePlan:
    """Compiled column paths of one spec object over one resource type.

    Args:
        obj: the spec object (columns with FHIRPath-like ``source`` paths; default: the name).
        resource_type: the type its rows come from (``Patient``).
        validate: check each resource against its R4B model (default True; the benchmark turns it
            off to measure flattening alone).

    Raises:
        PathError: a path that does not compile, or ``[]`` columns naming different collections.
        ValueError: ``resource_type`` is not an R4B type.
    """

    def __init__(self, obj: SourceObject, resource_type: str, *, validate: bool = True):
        self.resource_type = resource_type
        self.names = list(obj.columns)
        self.types = {n: c.type for n, c in obj.columns.items()}
        self.paths: dict[str, CompiledPath] = {}
        for name, col in obj.columns.items():
            try:
                self.paths[name] = compile_path(col.source or name)
            except PathError as exc:
                raise PathError(f"{resource_type} column {name}: {exc}") from None
        keys = {p.explode_key for p in self.paths.values() if p.explodes}
        if len(keys) > 1:
            raise PathError(f"{resource_type}: columns explode different collections {sorted(map(str, keys))}")
        self.explode = next((p for p in self.paths.values() if p.explodes), None)
        pk = obj.primary_key
        self.key_is_id = pk is not None and (obj.columns[pk].source or pk) == "id"
        self.primary_key = pk
        self.validate = validate
        self.model = model_class(resource_type) if validate else None
        self.schema = pa.schema([(n, pa.string()) for n in self.names] + [(REJECT_COLUMN, pa.string())])

    # ------------------------------------------------------------------ one chunk
    def batch(self, chunk: list[Any]) -> pa.RecordBatch:
        """The rows of ``chunk`` (NDJSON lines as ``str``/``bytes``, or parsed resources as dicts)
        as one record batch (module docstring)."""
        columns: dict[str, list[str | None]] = {n: [] for n in self.names}
        rejects: list[str | None] = []
        for item in chunk:
            resource, reason = self._parse(item)
            if reason is None:
                reason = self._check(resource)
            if reason is not None:
                self._reject_row(columns, rejects, resource, reason)
                continue
            self._rows(resource, columns, rejects)
        arrays = [pa.array(columns[n], type=pa.string()) for n in self.names]
        arrays.append(pa.array(rejects, type=pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _parse(self, item: Any) -> tuple[dict[str, Any] | None, str | None]:
        if isinstance(item, dict):
            return item, None
        try:
            resource = json.loads(item)
        except (ValueError, TypeError):
            return None, "not a JSON resource (NDJSON line unreadable)"
        if not isinstance(resource, dict):
            return None, "not a JSON resource (NDJSON line unreadable)"
        return resource, None

    def _check(self, resource: dict[str, Any]) -> str | None:
        kind = resource.get("resourceType")
        if kind != self.resource_type:
            return f"resourceType {kind!r} where {self.resource_type} was expected" if isinstance(kind, str) \
                else f"no resourceType where {self.resource_type} was expected"
        if self.model is None:
            return None
        try:
            self.model.model_validate(resource)
        except ValidationError as exc:
            return validation_reason(self.resource_type, exc)
        return None

    def _reject_row(self, columns: dict[str, list[str | None]], rejects: list[str | None],
                    resource: dict[str, Any] | None, reason: str) -> None:
        ident = resource.get("id") if isinstance(resource, dict) else None
        for name in self.names:
            keep = self.key_is_id and name == self.primary_key and isinstance(ident, str)
            columns[name].append(ident if keep else None)
        rejects.append(reason)

    def _rows(self, resource: dict[str, Any], columns: dict[str, list[str | None]],
              rejects: list[str | None]) -> None:
        if self.explode is None:
            for name, path in self.paths.items():
                columns[name].append(path.value(resource, None, self.types[name]))
            rejects.append(None)
            return
        plain = {name: path.value(resource, None, self.types[name])
                 for name, path in self.paths.items() if not path.explodes}
        for element in self.explode.elements(resource):
            for name, path in self.paths.items():
                columns[name].append(plain[name] if not path.explodes else path.value(resource, element,
                                                                                       self.types[name]))
            rejects.append(None)

    def rejected(self, rows: list[tuple[str | None, str]]) -> pa.RecordBatch | None:
        """A batch of reader rejects ``(resource id, reason)`` (e.g. the Bulk export's error-file
        entries of this type), None when ``rows`` is empty."""
        if not rows:
            return None
        columns: dict[str, list[str | None]] = {n: [] for n in self.names}
        rejects: list[str | None] = []
        for ident, reason in rows:
            self._reject_row(columns, rejects, {"id": ident}, reason)
        arrays = [pa.array(columns[n], type=pa.string()) for n in self.names]
        arrays.append(pa.array(rejects, type=pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
