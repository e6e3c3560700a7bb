"""Sandbox-only behaviour switches set through the admin endpoints (not part of the Salesforce API).

- ``RowFaults`` (``POST /__sandbox/row-faults``): the next ``count`` otherwise-successful record writes of
  ``object`` (Bulk rows, Collections records, single REST writes) fail with ``errorCode`` (default
  ``UNABLE_TO_LOCK_ROW``, notes §7: the record is not written, safe to retry). ``field`` + ``values``
  restrict the rule to records whose field value is in ``values`` (so chosen rows fail). Body:
  ``{"object", "count"=1, "errorCode"="UNABLE_TO_LOCK_ROW", "message"?, "field"?, "values"?}``.
- ``ValidationRules`` (``POST /__sandbox/validation-rules``): stand-ins for org validation rules: a record
  of ``object`` whose ``field`` is empty (``required: true``) or does not fully match ``pattern`` fails with
  ``FIELD_CUSTOM_VALIDATION_EXCEPTION`` and ``message``.
- ``JobFaults`` (``POST /__sandbox/job-faults``): the next ``count`` Bulk ingest jobs (of ``object``, or any)
  stay ``InProgress`` for ``in_progress_polls`` more polls and/or end ``Failed`` with ``fail`` as
  ``errorMessage`` (all rows unprocessed), notes §8 item 9.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from flit_sandboxes.salesforce.errors import RowError

LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records: {id}"


def _object_name(spec: dict[str, Any], required: bool = True) -> str | None:
    name = spec.get("object")
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name:
        raise ValueError("'object' must be a non-empty string")
    return name


def _count(spec: dict[str, Any]) -> int:
    count = spec.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("'count' must be an integer >= 1")
    return count


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def _add(self, rule: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            rule = {"id": next(self._ids), **rule}
            self._rules.append(rule)
            return dict(rule)

    def list(self) -> list[dict[str, Any]]:
        """Pending rules."""
        with self._lock:
            return [dict(rule) for rule in self._rules]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()


class RowFaults(_Registry):
    """Per-record transient failures (module docstring)."""

    def add(self, spec: Any) -> dict[str, Any]:
        """Register a rule; raises ValueError for a bad body."""
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(spec) - {"object", "count", "errorCode", "message", "field", "values"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        code = spec.get("errorCode", "UNABLE_TO_LOCK_ROW")
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z_]+", code):
            raise ValueError("'errorCode' must be an upper-case status code")
        values = spec.get("values")
        if (spec.get("field") is None) != (values is None) or (values is not None and not isinstance(values, list)):
            raise ValueError("'field' and 'values' (a list) go together")
        return self._add({"object": _object_name(spec), "count": _count(spec), "errorCode": code,
                          "message": spec.get("message"), "field": spec.get("field"),
                          "values": [str(v) for v in values] if values is not None else None, "fired": 0})

    def take(self, object_name: str, record: dict[str, Any], record_id: str) -> RowError | None:
        """Consume the first matching rule for this record write; the error to report, or None."""
        with self._lock:
            for rule in self._rules:
                if rule["object"].lower() != object_name.lower():
                    continue
                if rule["field"] is not None:
                    value = next((v for k, v in record.items() if k.lower() == rule["field"].lower()), None)
                    if value is None or str(value) not in rule["values"]:
                        continue
                rule["count"] -= 1
                rule["fired"] += 1
                if rule["count"] <= 0:
                    self._rules.remove(rule)
                message = rule["message"] or (LOCK_MESSAGE.format(id=record_id) if rule["errorCode"] ==
                                              "UNABLE_TO_LOCK_ROW" else "sandbox row fault")
                return RowError(rule["errorCode"], message, [])
        return None


class ValidationRules(_Registry):
    """Stand-in validation rules (module docstring)."""

    def add(self, spec: Any) -> dict[str, Any]:
        """Register a rule; raises ValueError for a bad body."""
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        field = spec.get("field")
        message = spec.get("message")
        pattern = spec.get("pattern")
        if not isinstance(field, str) or not isinstance(message, str) or not message:
            raise ValueError("'field' and 'message' are required strings")
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as error:
                raise ValueError(f"bad 'pattern': {error}") from None
        if pattern is None and not spec.get("required"):
            raise ValueError("a rule needs 'pattern' or 'required': true")
        return self._add({"object": _object_name(spec), "field": field, "pattern": pattern,
                          "required": bool(spec.get("required")), "message": message})

    def check(self, object_name: str, record: dict[str, Any]) -> RowError | None:
        """The first rule this record breaks, as ``FIELD_CUSTOM_VALIDATION_EXCEPTION``, or None."""
        for rule in self.list():
            if rule["object"].lower() != object_name.lower():
                continue
            value = next((v for k, v in record.items() if k.lower() == rule["field"].lower()), None)
            empty = value is None or value == ""
            if (rule["required"] and empty) or (rule["pattern"] and not empty
                                                and not re.fullmatch(rule["pattern"], str(value))):
                return RowError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule["message"], [rule["field"]])
        return None


class JobFaults(_Registry):
    """Slow or failing Bulk jobs (module docstring)."""

    def add(self, spec: Any) -> dict[str, Any]:
        """Register a rule; raises ValueError for a bad body."""
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        polls = spec.get("in_progress_polls", 0)
        fail = spec.get("fail")
        if not isinstance(polls, int) or isinstance(polls, bool) or polls < 0:
            raise ValueError("'in_progress_polls' must be an integer >= 0")
        if fail is not None and (not isinstance(fail, str) or not fail):
            raise ValueError("'fail' must be the errorMessage text")
        if not polls and fail is None:
            raise ValueError("a job fault needs 'in_progress_polls' or 'fail'")
        return self._add({"object": _object_name(spec, required=False), "count": _count(spec),
                          "in_progress_polls": polls, "fail": fail})

    def take(self, object_name: str) -> dict[str, Any] | None:
        """Consume the first rule for a job of ``object_name`` being closed."""
        with self._lock:
            for rule in self._rules:
                if rule["object"] is not None and rule["object"].lower() != object_name.lower():
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self._rules.remove(rule)
                return {"in_progress_polls": rule["in_progress_polls"], "fail": rule["fail"]}
        return None
