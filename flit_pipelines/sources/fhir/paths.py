"""FHIRPath-like column paths: where a spec column's value is in a FHIR resource.

A column's ``source`` (default: its canonical name) is a small subset of FHIRPath (HL7 FHIRPath
N1, §5 "Navigation model", §5.6 indexer, §5.2 ``where``), evaluated over a resource's JSON:

* ``name.family``: navigation; every step maps over the current collection and flattens lists,
  so ``name.given`` is every given name of every name (FHIRPath collection semantics);
* ``given[0]``: the indexer, on the whole collection so far (``name[use=official].given[0]``);
* ``telecom[system=email]``: ``where(system = 'email')``; the key may be dotted
  (``identifier[type.coding.code=MR].value``), the value may be quoted (``'...'``) and may hold dots
  and slashes (``extension[url=http://hl7.org/fhir/StructureDefinition/patient-birthPlace]``);
* ``link[]``: explode: one row per element of that collection, the other columns repeated; every
  ``[]`` column of an object names the same collection (as ``sources.json_api`` does for JSON APIs);
* ``id & ':' & link[].other.reference.refId()``: FHIRPath string concatenation (``&``, an empty
  operand is ``''``; null when every path operand is empty), e.g. a key per exploded element;
* ``medicationCodeableConcept.text | medicationReference.display``: FHIRPath union (the items of
  each operand), e.g. whichever of two alternatives a resource carries;
* functions at the end, FHIRPath spelling: ``first()``, ``last()``, ``count()``, ``exists()``,
  ``join(' ')`` (FHIRPath 2.0), and three of ours: ``refId()`` (the id of a reference string:
  ``Patient/123`` -> ``123``; a conditional reference ``Practitioner?identifier=sys|9999`` -> ``9999``;
  ``urn:uuid:x`` -> ``x``; an absolute URL's ``Type/id`` part, ``_history`` dropped; ``refId('Patient')``
  keeps only references to that type, e.g. ``participant.actor.reference.refId('Patient')``), ``refType()``
  (``Patient/123`` -> ``Patient``) and ``base64()`` (an attachment's ``data`` as UTF-8 text).

The value of a column is the resulting collection: empty -> null; one item -> its text form
(``json_api.to_text``: numbers in plain decimal notation, booleans ``true``/``false``, timestamps
with a zone to UTC for ``datetime`` columns, objects as compact JSON); several items -> a compact JSON
list. Errors name the path's position, never a resource value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flit_pipelines.sources.json_api import to_text

__all__ = ["EXPLODE", "CompiledPath", "PathError", "compile_path", "reference_id", "reference_type"]

EXPLODE = "[]"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FUNC = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\((.*)\)$", re.S)
_NO_ARGS = ("first", "last", "count", "exists", "refId", "refType", "base64")


class PathError(ValueError):
    """A column path that cannot be compiled (names the path and what is wrong)."""


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets, parentheses and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def reference_id(ref: str) -> str | None:
    """The id a FHIR reference string points at (module docstring, ``refId()``), or None."""
    ref = ref.strip()
    if not ref:
        return None
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        return ref.split(":", 2)[2]
    if "?" in ref:  # conditional reference: Type?identifier=system|value
        query = ref.split("?", 1)[1]
        value = query.split("=", 1)[-1]
        return value.rsplit("|", 1)[-1] or None
    parts = [p for p in ref.split("/") if p]
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    return parts[-1] if parts else None


def reference_type(ref: str) -> str | None:
    """The resource type a FHIR reference string names (``Patient/1``, ``Patient?identifier=...``)."""
    ref = ref.strip()
    if "?" in ref:
        return ref.split("?", 1)[0].rsplit("/", 1)[-1] or None
    parts = [p for p in ref.split("/") if p]
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    return parts[-2] if len(parts) >= 2 else None


def _decode_base64(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


Step = Callable[[list[Any]], list[Any]]


def _child(name: str) -> Step:
    def step(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict):
                value = item.get(name)
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                elif value is not None:
                    out.append(value)
        return out
    return step


def _index(n: int) -> Step:
    return lambda items: [items[n]] if -len(items) <= n < len(items) else []


def _where(key: list[Step], value: str) -> Step:
    def step(items: list[Any]) -> list[Any]:
        out = []
        for item in items:
            found = [item]
            for s in key:
                found = s(found)
            if any(to_text(v, "string") == value for v in found):
                out.append(item)
        return out
    return step


def _function(name: str, arg: str, path: str) -> Step:
    if name == "join":
        sep = _unquote(arg)
        return lambda items: [sep.join(to_text(v, "string") or "" for v in items)] if items else []
    if name == "refId" and arg.strip():  # refId('Patient'): only references to that type
        wanted = _unquote(arg)
        return lambda items: [r for v in items if isinstance(v, str) and reference_type(v) == wanted
                              for r in [reference_id(v)] if r]
    if arg.strip():
        raise PathError(f"{path}: {name}() takes no argument")
    table: dict[str, Step] = {
        "first": lambda items: items[:1],
        "last": lambda items: items[-1:],
        "count": lambda items: [len(items)],
        "exists": lambda items: [bool(items)],
        "refId": lambda items: [r for r in (reference_id(v) for v in items if isinstance(v, str)) if r],
        "refType": lambda items: [r for r in (reference_type(v) for v in items if isinstance(v, str)) if r],
        "base64": lambda items: [t for t in (_decode_base64(v) for v in items) if t is not None],
    }
    if name not in table:
        raise PathError(f"{path}: unknown function {name}() (one of join, {', '.join(_NO_ARGS)})")
    return table[name]


def _steps(text: str, path: str, *, allow_explode: bool) -> tuple[list[Step], int | None]:
    """Compile dotted ``text``; returns the steps and the index of the step after which rows
    explode (``[]``), or None."""
    steps: list[Step] = []
    explode_at: int | None = None
    functions_started = False
    for part in _split(text, "."):
        part = part.strip()
        if not part:
            raise PathError(f"{path}: empty step")
        fn = _FUNC.match(part)
        if fn and "[" not in part.split("(", 1)[0]:
            steps.append(_function(fn.group(1), fn.group(2), path))
            functions_started = True
            continue
        if functions_started:
            raise PathError(f"{path}: functions go at the end")
        name, selectors = part, []
        if "[" in part:
            name = part[:part.index("[")]
            rest = part[part.index("["):]
            for sel in re.findall(r"\[((?:[^\[\]'\"]|'[^']*'|\"[^\"]*\")*)\]", rest):
                selectors.append(sel)
            if "".join(f"[{s}]" for s in selectors) != rest:
                raise PathError(f"{path}: malformed brackets in {part!r}")
        if not _NAME.match(name):
            raise PathError(f"{path}: {part!r} is not an element name")
        steps.append(_child(name))
        for sel in selectors:
            if sel == "":
                if not allow_explode or explode_at is not None:
                    raise PathError(f"{path}: only one [] level is supported")
                explode_at = len(steps)
            elif sel.strip().lstrip("-").isdigit():
                steps.append(_index(int(sel)))
            elif "=" in sel:
                key, value = sel.split("=", 1)
                key_steps, _ = _steps(key.strip(), path, allow_explode=False)
                steps.append(_where(key_steps, _unquote(value)))
            else:
                raise PathError(f"{path}: selector [{sel}] is neither an index, key=value nor []")
    return steps, explode_at


@dataclass(frozen=True)
class _Term:
    """A literal (``'-'``) or a path: ``outer`` steps from the resource; with an explode, ``inner``
    steps from each exploded element."""

    literal: str | None = None
    outer: tuple[Step, ...] = ()
    inner: tuple[Step, ...] | None = None


def _run(steps: tuple[Step, ...], node: Any) -> list[Any]:
    items: list[Any] = [node]
    for step in steps:  # no early exit on an empty collection: count()/exists() still apply
        items = step(items)
    return items


@dataclass(frozen=True)
class CompiledPath:
    """One compiled column path: operands joined by FHIRPath's ``|`` (union: the items of each, in
    order), each operand one term or terms joined by ``&`` (string concatenation, an empty operand
    counting as ``''``). ``explode_key`` names the collection the path explodes (``[]``), or None."""

    text: str
    groups: tuple[tuple[_Term, ...], ...]
    explode_key: str | None = None

    @property
    def explodes(self) -> bool:
        """Whether the path has a ``[]``."""
        return self.explode_key is not None

    def elements(self, resource: dict[str, Any]) -> list[Any]:
        """The collection an exploding path explodes (one row per element)."""
        term = next(t for g in self.groups for t in g if t.inner is not None)
        return _run(term.outer, resource)

    def value(self, resource: dict[str, Any], element: Any, ctype: str) -> str | None:
        """The column's text for ``resource`` (and, on an exploding path, the row's ``element``)."""
        items: list[Any] = []
        for group in self.groups:
            if len(group) == 1:
                items += _items(group[0], resource, element)
                continue
            out, any_value = [], False
            for term in group:
                text = term.literal if term.literal is not None else \
                    collection_text(_items(term, resource, element), "string")
                any_value = any_value or (term.literal is None and text is not None)
                out.append(text or "")
            if any_value:
                items.append("".join(out))
        return collection_text(items, ctype)


def _items(term: _Term, resource: dict[str, Any], element: Any) -> list[Any]:
    if term.literal is not None:
        return [term.literal]
    return _run(term.inner, element) if term.inner is not None else _run(term.outer, resource)


def collection_text(items: list[Any], ctype: str) -> str | None:
    """The text of a column whose path gave ``items`` (module docstring)."""
    if not items:
        return None
    if len(items) == 1:
        return to_text(items[0], ctype)
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def compile_path(text: str) -> CompiledPath:
    """Compile one column path (module docstring); ``a | b`` is a union, ``a & '-' & b`` concatenates.

    Raises:
        PathError: empty, malformed, an unknown function, or more than one ``[]`` collection.
    """
    if not text or not text.strip():
        raise PathError("empty column path")
    groups, keys = [], set()
    for alternative in _split(text.strip(), "|"):
        terms = []
        for part in _split(alternative.strip(), "&"):
            part = part.strip()
            if not part:
                raise PathError(f"{text}: empty operand of & or |")
            if part[0] in "'\"":
                terms.append(_Term(literal=_unquote(part)))
                continue
            steps, explode_at = _steps(part, text, allow_explode=True)
            if explode_at is None:
                terms.append(_Term(outer=tuple(steps)))
            else:
                keys.add(part[:part.index(EXPLODE)])
                terms.append(_Term(outer=tuple(steps[:explode_at]), inner=tuple(steps[explode_at:])))
        groups.append(tuple(terms))
    if len(keys) > 1:
        raise PathError(f"{text}: only one [] collection per path")
    return CompiledPath(text, tuple(groups), keys.pop() if keys else None)
