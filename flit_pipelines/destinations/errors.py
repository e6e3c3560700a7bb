"""What every destination's API exception shares: a value-free text and pickling by state.

A vendor exception subclasses :class:`ApiError`, sets its attributes, implements ``_text()`` (the
``str(exc)``: status, method, path template and the vendor's short message, never a record value,
token or body) and calls ``super().__init__(self._text())``. Pickling copies ``__dict__`` and
rebuilds the text, so subclasses with extra keyword-only constructor arguments survive being
shipped across processes (Dagster does this).
"""

from __future__ import annotations

import abc

__all__ = ["MAX_ERROR_CHARS", "ApiError", "where"]

MAX_ERROR_CHARS = 300  # vendor error texts are short; anything longer is a stray HTML page


def where(method: str, path: str) -> str:
    """``"<METHOD> <path template>"``, or just the one that is set (``""`` if neither)."""
    return f"{method} {path}".strip()


class ApiError(Exception, metaclass=abc.ABCMeta):
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
