"""The error types every client (sources and destinations) builds its own on.

* :class:`ApiError`: base of the vendor exceptions. A subclass sets its attributes, implements
  ``_text()`` (``str(exc)``: status, method, path template and the vendor's *scrubbed* message,
  never a record value, token or body; see ``redaction``) and calls ``super().__init__(self._text())``.
  Pickling copies ``__dict__`` and rebuilds the text, so subclasses with extra keyword-only
  constructor arguments survive being shipped across processes (Dagster does this).
* Markers a vendor exception also inherits, read by the retry policy (``retry``):
  :class:`RateLimitedError` (HTTP 429: the request was not executed) and :class:`TransientError`
  (5xx, 408, 409, or no answer at all: the request may or may not have been executed; ``sent`` is
  False only when the connection was never established).
* :class:`StatusError`: a call that failed for good, named by endpoint and status only (the readers).
* :class:`PatienceExhausted`: the wave waited its whole rate-limit patience; stop it cleanly.
"""

from __future__ import annotations

import abc

from flit_pipelines.errors import FlitError

__all__ = ["MAX_ERROR_CHARS", "ApiError", "PatienceExhausted", "RateLimitedError", "StatusError", "TransientError",
           "where"]

MAX_ERROR_CHARS = 300  # vendor error texts are short; anything longer is a stray page or an echo


def where(method: str, path: str) -> str:
    """``"<METHOD> <path template>"``, or just the one that is set (``""`` if neither)."""
    return f"{method} {path}".strip()


class ApiError(FlitError, metaclass=abc.ABCMeta):
    """Base of the vendor API exceptions. Subclasses implement ``_text()`` (the message)."""

    @abc.abstractmethod
    def _text(self) -> str:
        """The exception's message: status, method and path template, vendor code; never a value."""

    def __reduce__(self):  # keep picklable (Dagster may ship exceptions across processes)
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[ApiError], state: dict) -> ApiError:
    exc = cls.__new__(cls)
    exc.__dict__.update(state)
    Exception.__init__(exc, exc._text())
    return exc


class RateLimitedError(Exception):
    """Marker: the server answered 429. The request was not executed, so it is always repeated
    (after the limiter's pause); a 429 never fails a record."""


class TransientError(Exception):
    """Marker: 5xx, 408/409 or no answer (connection dropped, timeout). The outcome is unknown
    unless ``sent`` is False (the connection was never established): idempotent requests are
    repeated; a create is looked up before it is sent again (``retry.send_once``)."""

    sent: bool = True


class StatusError(ApiError):
    """A call failed for good (after retries). ``endpoint`` is the path (or a label such as
    ``token endpoint``), ``status`` the HTTP status (None for transport failures). The message
    names only these two: ``"<what> <endpoint>: HTTP <status>"`` / ``"...: no response"``."""

    def __init__(self, endpoint: str, status: int | None, what: str = "GET"):
        self.endpoint = endpoint
        self.status = status
        self.what = what
        super().__init__(self._text())

    def _text(self) -> str:
        return f"{self.what} {self.endpoint}: " + (f"HTTP {self.status}" if self.status is not None else "no response")


class PatienceExhausted(FlitError, RuntimeError):
    """The vendor's rate limit held this wave longer than its patience (``rate_limit.Patience``).

    Nothing failed and nothing is lost: the wave stops cleanly and a re-run continues from the
    ledger. The message says how long was waited, which setting bounds it and what to do; it
    names no value. Attributes: ``spent`` and ``budget`` (seconds), ``setting`` (its spec name).
    """

    def __init__(self, spent: float, budget: float, setting: str, who: str):
        self.spent, self.budget, self.setting, self.who = spent, budget, setting, who
        super().__init__(
            f"{who} kept answering 429 (rate limited): this wave already waited {spent:.0f} s of its "
            f"{budget:.0f} s rate-limit patience ({setting}). Stopped cleanly: nothing failed, progress is in "
            "the ledger. Re-run the wave once the vendor's limit has recovered (another integration may be "
            f"using the account's budget), or raise {setting}.")

    def __reduce__(self):
        return (type(self), (self.spent, self.budget, self.setting, self.who))
