"""Pipedrive's token-based rate limits (notes/pipedrive.md §8, emulator checklist §7 item 8), as
settings of the kernel's ``RateLimiter``, plus the operation costs and the headers.

Two independent limits, as the vendor documents them:

- **Burst**: a rolling window (default 2 s) per API token allows ``burst_limit`` requests; the
  Search API has its own lower ``search_burst_limit`` (10 / 2 s on all plans). A search request
  counts against both windows (UNCONFIRMED: the docs only say search has its own limit).
- **Daily token budget** shared by the whole company: each request costs its operation's
  ``x-token-cost`` from the OpenAPI documents (default 10 when an operation has none). The budget
  resets at the next UTC midnight (the real reset is "start of the next day", zone UNCONFIRMED).

A request is admitted while the budget has any tokens left; the admitted request may overdraw
and the remaining budget is floored at 0, so ``x-daily-ratelimit-token-remaining: 0`` always
means "exhausted" (what Airbyte's client checks). UNCONFIRMED: the vendor may instead refuse a
request whose cost exceeds what is left.

A refused request (429) is not executed and costs nothing.
"""

from __future__ import annotations

from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.openapi_validation import OpenAPIRequestValidator

DEFAULT_TOKEN_COST = 10


class TokenCosts:
    """``x-token-cost`` of every operation, read once from the bundled OpenAPI documents.

    Args:
        documents: api name ("v1"/"v2") -> validator over that document.
    """

    def __init__(self, documents: dict[str, OpenAPIRequestValidator]):
        self._costs: dict[tuple[str, str, str], int] = {}
        for api, validator in documents.items():
            for method, template, operation in validator.iter_operations():
                cost = operation.get("x-token-cost")
                if isinstance(cost, int):
                    self._costs[(api, method, template)] = cost

    def cost(self, api: str, method: str, spec_path: str) -> int:
        """Token cost of ``METHOD spec_path`` in ``api``; DEFAULT_TOKEN_COST if undocumented."""
        return self._costs.get((api, method.upper(), spec_path), DEFAULT_TOKEN_COST)


def rate_headers(decision: RateDecision) -> list[tuple[bytes, bytes]]:
    """The five rate-limit headers every response carries (notes §8)."""
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_seconds).encode()),
        (b"x-daily-ratelimit-token-limit", str(decision.daily_limit).encode()),
        (b"x-daily-ratelimit-token-remaining", str(decision.daily_remaining).encode()),
    ]
