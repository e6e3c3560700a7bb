"""``POST /contacts/search`` (operationId ``search-contacts-advanced``; notes §4.1).

The spec's body schema ``SearchBodyV2DTO`` is empty; the shape follows the white-label copy of
the vendor doc [mirror]:

    {"locationId"*, "page", "pageLimit"* (1..500), "searchAfter": [..], "query": str (<=75),
     "filters": [{"field", "operator", "value"} | {"group": "AND"|"OR", "filters": [...]}],
     "sort": [{"field", "direction": "asc"|"desc"}]}

Top-level ``filters`` are AND-ed. Operators: ``eq, not_eq, contains, not_contains, exists,
not_exists, range`` (range value ``{"gt"|"gte"|"lt"|"lte": ...}``). ``field`` is a contact
attribute of the rendered contact (``email``, ``firstNameLowerCase``, ``tags``, ``dateAdded``,
...) or a custom field as integrators write it [code]: ``customFields.<custom field id>`` (the id
from ``/locations/{locationId}/customFields``, not the fieldKey), e.g. finding a contact by a
"source key" field: ``{"field": "customFields.<id>", "operator": "eq", "value": "dentrix:123"}``;
``exists``/``not_exists`` take no ``value``. String comparison is case-insensitive (UNCONFIRMED).
``eq`` on a list field (``tags``, CHECKBOX values) means "contains the value".

Response ``{"contacts": [...], "total": n}``; each contact carries ``searchAfter``
``[dateAdded epoch ms, id]``, the cursor for the next request (shape UNCONFIRMED). Results are
immediately consistent (the vendor's are eventually consistent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from flit_sandboxes.highlevel.clock import epoch_ms
from flit_sandboxes.highlevel.errors import unprocessable

MAX_PAGE_LIMIT = 500
MAX_QUERY_LENGTH = 75
MAX_WINDOW = 10_000
OPERATORS = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range")
QUERY_FIELDS = ("firstName", "lastName", "name", "email", "phone", "companyName")


def parse_request(body: dict[str, Any]) -> dict[str, Any]:
    """Check the search body; returns it with defaults. Raises ApiError 422 with all problems."""
    problems: list[str] = []
    if not isinstance(body.get("locationId"), str):
        problems.append("locationId must be a string")
    limit = body.get("pageLimit")
    if not _is_int(limit) or not 1 <= limit <= MAX_PAGE_LIMIT:
        problems.append(f"pageLimit must be an integer between 1 and {MAX_PAGE_LIMIT}")
    page = body.get("page", 1)
    if not _is_int(page) or page < 1:
        problems.append("page must be an integer >= 1")
    if "searchAfter" in body and "page" in body:
        problems.append("page must not be sent with searchAfter")
    if "searchAfter" in body and not (isinstance(body["searchAfter"], list) and len(body["searchAfter"]) == 2):
        problems.append("searchAfter must be the searchAfter array of a previous result")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH):
        problems.append(f"query must be a string of at most {MAX_QUERY_LENGTH} characters")
    if not isinstance(body.get("filters", []), list):
        problems.append("filters must be an array")
    else:
        problems.extend(_check_filters(body.get("filters", []), "filters"))
    if not problems and "searchAfter" not in body and page * limit > MAX_WINDOW:
        problems.append(f"page * pageLimit must not exceed {MAX_WINDOW}; use searchAfter")
    if problems:
        raise unprocessable(problems)
    return {**body, "page": page}


def _check_filters(filters: list[Any], label: str) -> list[str]:
    problems: list[str] = []
    for index, item in enumerate(filters):
        where = f"{label}[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object")
        elif "group" in item:
            if item["group"] not in ("AND", "OR") or not isinstance(item.get("filters"), list):
                problems.append(f"{where} group must be AND/OR with a filters array")
            else:
                problems.extend(_check_filters(item["filters"], f"{where}.filters"))
        elif not isinstance(item.get("field"), str) or item.get("operator") not in OPERATORS:
            problems.append(f"{where} needs field and an operator in: {', '.join(OPERATORS)}")
        elif item["operator"] == "range" and not isinstance(item.get("value"), dict):
            problems.append(f"{where} range value must be an object of gt/gte/lt/lte")
    return problems


def run(contacts: list[dict[str, Any]], request: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Filter, sort and page rendered ``contacts``; returns ``(page, total)``."""
    matches = [c for c in contacts if _all(request.get("filters", []), c) and _query_ok(request.get("query"), c)]
    for contact in matches:
        contact["searchAfter"] = [epoch_ms(contact["dateAdded"]), contact["id"]]
    matches.sort(key=lambda c: tuple(c["searchAfter"]))
    for rule in reversed(request.get("sort") or []):
        if isinstance(rule, dict) and isinstance(rule.get("field"), str):
            field: str = rule["field"]
            matches.sort(key=lambda c: _sort_key(_get(c, field)), reverse=rule.get("direction") == "desc")
    total = len(matches)
    limit = request["pageLimit"]
    if "searchAfter" in request:
        after = tuple(request["searchAfter"])
        index = next((i for i, c in enumerate(matches) if tuple(c["searchAfter"]) == after), None)
        start = index + 1 if index is not None else len(matches)
        return matches[start:start + limit], total
    start = (request["page"] - 1) * limit
    return matches[start:start + limit], total


def _all(filters: list[dict[str, Any]], contact: dict[str, Any]) -> bool:
    return all(_match(item, contact) for item in filters)


def _match(item: dict[str, Any], contact: dict[str, Any]) -> bool:
    if "group" in item:
        results = (_match(sub, contact) for sub in item["filters"])
        return all(results) if item["group"] == "AND" else any(results)
    actual = _get(contact, item["field"])
    return _OPS[item["operator"]](actual, item.get("value"))


def _get(contact: dict[str, Any], field: str) -> Any:
    if field.startswith("customFields."):
        wanted = field.split(".", 1)[1]
        return next((entry["value"] for entry in contact.get("customFields", []) if entry["id"] == wanted), None)
    return contact.get(field)


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _eq(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return _fold(expected) in [_fold(item) for item in actual]
    return _fold(actual) == _fold(expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_contains(item, expected) for item in actual)
    return isinstance(actual, str) and isinstance(expected, str) and expected.lower() in actual.lower()


def _exists(actual: Any, _expected: Any) -> bool:
    return actual not in (None, "", [])


def _range(actual: Any, bounds: Any) -> bool:
    if actual is None:
        return False
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    }
    try:
        return all(checks[name](actual, bound) for name, bound in bounds.items() if name in checks)
    except TypeError:
        return False


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _eq,
    "not_eq": lambda a, e: not _eq(a, e),
    "contains": _contains,
    "not_contains": lambda a, e: not _contains(a, e),
    "exists": _exists,
    "not_exists": lambda a, e: not _exists(a, e),
    "range": _range,
}


def _query_ok(query: str | None, contact: dict[str, Any]) -> bool:
    if not query:
        return True
    needle = query.lower()
    return any(needle in str(contact.get(field) or "").lower() for field in QUERY_FIELDS)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, _fold(value) if not isinstance(value, list) else str(value))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
