"""OpenAPI validation of sandbox requests against the bundled Pipedrive documents.

The documents' servers are ``https://api.pipedrive.com/v1`` and ``https://api.pipedrive.com/api/v2``,
so a sandbox path ``/api/v2/persons/{id}`` is the v2 operation ``/persons/{id}`` and
``/api/v1/notes`` (or the ``/v1/notes`` alias) is the v1 operation ``/notes``. The sandbox routes
are declared with the documents' own path templates, which makes that mapping a prefix strip.

Both documents are parsed once per process and shared by every app instance.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flit_sandboxes.openapi_validation import (
    OpenAPIRequestValidator,
    RequestProblem,
    load_openapi_document,
)
from flit_sandboxes.pipedrive.errors import ApiError

SPEC_DIR = Path(__file__).resolve().parent.parent / "vendor_specs" / "pipedrive"
SPEC_FILES = {"v1": SPEC_DIR / "openapi-v1.yaml", "v2": SPEC_DIR / "openapi-v2.yaml"}
MAX_PROBLEMS_IN_MESSAGE = 5


@functools.lru_cache(maxsize=1)
def bundled_validators() -> dict[str, OpenAPIRequestValidator]:
    """``{"v1": validator, "v2": validator}`` over the bundled documents (cached per process)."""
    return {api: OpenAPIRequestValidator(load_openapi_document(str(path))) for api, path in SPEC_FILES.items()}


def problems_error(problems: list[RequestProblem]) -> ApiError:
    """A 400 ``ApiError`` summarising ``problems`` (messages never include submitted values).

    The v2 wording of type errors is UNCONFIRMED (the only real v2 400 text we have is the
    activity ``person_id`` one, notes §3); the envelope follows the dev-community shape.
    """
    shown = [problem.message for problem in problems[:MAX_PROBLEMS_IN_MESSAGE]]
    more = len(problems) - len(shown)
    suffix = f"; and {more} more" if more > 0 else ""
    return ApiError(400, "Validation failed: " + "; ".join(shown) + suffix)
