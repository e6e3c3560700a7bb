"""Reading a ``multipart/form-data`` request body (media upload, files into custom fields).

The vendor's upload limits (25 MB media, 50 MB custom-field files) are checked by the callers on
each file; ``read_form`` only refuses a request whose declared ``Content-Length`` is already above
``max_request_bytes`` (draining the body first, so the client can read the error instead of a
reset connection).
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from flit_sandboxes.highlevel.errors import ApiError, bad_request
from flit_sandboxes.highlevel.routing import Call

MULTIPART_OVERHEAD = 64 * 1024


async def read_form(call: Call, *, max_request_bytes: int, too_large: ApiError, max_files: int,
                    max_fields: int = 20) -> FormData:
    """The parsed form (the caller closes it).

    Raises:
        ApiError ``too_large``: declared Content-Length above ``max_request_bytes`` + overhead.
        ApiError 400: not multipart/form-data, or unparsable (also more than ``max_files`` files
            or ``max_fields`` fields; status UNCONFIRMED).
    """
    request = call.request
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_request_bytes + MULTIPART_OVERHEAD:
        async for _chunk in request.stream():
            pass
        raise too_large
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_request("request must be multipart/form-data")
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except (HTTPException, MultiPartException):
        raise bad_request("request body could not be parsed as multipart/form-data") from None
