"""Value-free errors and the guard every Dagster asset/op body runs in (issue 9).

Exceptions raised by parsers (pyarrow's ``CSV parse error: Expected 27 columns, got 17: <the row>``),
Pandera, SQL drivers and HTTP clients can carry source text: patient names, SSNs, request bodies.
Dagster stores an exception's message, stack and its whole ``__cause__``/``__context__`` chain in the
event log (``dagster._utils.error.serializable_error_info_from_exc_info`` ->
``SerializableErrorInfo.from_traceback``) and prints it on stderr. So the boundary is built once:

* ``FlitError``: the base of this project's own errors, whose messages are written to name objects,
  files, line numbers, columns and rules, never values. They pass the guard unchanged, with their
  cause/context chain cut (a value-free error may have been raised from one that is not);
* ``value_free_errors(step)``: a decorator for asset/op/sensor bodies and IO manager methods. Any other
  exception becomes a ``ScrubbedError`` naming the exception class, the step, where in the code it was
  raised and what to do; it is raised outside the ``except`` block with ``from None``, so no chained
  exception (and no text of the original) reaches Dagster's serialiser, the console or a hook.

Stacks keep their code lines (the source of this project and its libraries, not data). Dagster's own
control-flow exceptions (``Failure``, ``RetryRequested``, interrupts) pass with their chain cut.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flit_pipelines.runtime import command_prefix

F = TypeVar("F", bound=Callable[..., Any])

# what an operator can do, by the module the exception class comes from (first match wins)
_HINTS: tuple[tuple[str, str], ...] = (
    ("pyarrow", "the input file or Parquet data could not be read as expected; check the file named in the "
                "step (format, encoding, truncation) and the extract metadata"),
    ("pandera", "a schema check could not run; check the spec's column types and rules for this object"),
    ("sqlalchemy", "a database call failed; check the connection, the view named in the step and its permissions"),
    ("pyodbc", "an ODBC call failed; check the DSN, the driver and the view named in the step"),
    ("psycopg", "a PostgreSQL call failed; check the connection and the ledger/instance database"),
    ("requests", "an HTTP call failed; check the base URL, credentials and the destination's status "
                 "(`{check}` tests every connection of the migration)"),
    ("urllib3", "an HTTP connection failed; check the base URL and the network (`{check}` tests every "
                "connection of the migration)"),
    ("pydantic", "a document did not have the expected shape; check the spec or the API response shape"),
    ("builtins.UnicodeDecodeError", "text could not be decoded; check the source file's encoding"),
    ("builtins.UnicodeEncodeError", "text could not be encoded; check the destination field's character set"),
    ("builtins.MemoryError", "the step ran out of memory; lower the source chunk size or give the run more memory"),
    ("builtins.OSError", "a file or network operation failed; check paths, permissions and free space"),
)
_DEFAULT_HINT = ("an unexpected error in flit_pipelines or its input; re-run the step, and if it fails again "
                 "report the run ID and this message to the maintainers (the original text is withheld because "
                 "it may hold patient values)")


class FlitError(Exception):
    """Base of this project's own errors. Their messages are value-free by construction: they name the
    migration, object, file, line, column, rule or environment variable, never a source or credential
    value. The guard (``value_free_errors``) lets them through unchanged."""


class SourceFormatError(FlitError):
    """A source file as a whole is unusable (empty, binary, no header row, a record over the size limit,
    most rows malformed). The message names the file and the line and says what to check."""


class ScrubbedError(FlitError):
    """What the guard raises in place of an exception whose text may carry source values.

    Attributes:
        original_class: fully qualified class name of the withheld exception (e.g. ``pyarrow.lib.ArrowInvalid``).
        step: the asset/op/sensor the guard wraps (e.g. ``clinic_to_pipedrive/extract/patients``).
        raised_at: ``file:line in function`` of the innermost frame (code location, not data).
    """

    def __init__(self, original_class: str, step: str, raised_at: str, hint: str):
        self.original_class, self.step, self.raised_at, self.hint = original_class, step, raised_at, hint
        super().__init__(f"{step}: {original_class} raised at {raised_at}; its message is withheld because it may "
                         f"hold source values. What to do: {hint}.")


def _class_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def _raised_at(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    if not frames:
        return "an unknown location"
    ours = [f for f in frames if "flit_pipelines" in f.filename] or frames
    inner, last = ours[-1], frames[-1]
    where = f"{Path(inner.filename).name}:{inner.lineno} in {inner.name}"
    if last is not inner:
        where += f" (innermost {Path(last.filename).name}:{last.lineno})"
    return where


def _hint(exc: BaseException, step: str = "") -> str:
    names = [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__]
    for prefix, hint in _HINTS:
        if any(n.startswith(prefix) for n in names):
            return hint.replace("{check}", _check_command(step))
    return _DEFAULT_HINT


def _check_command(step: str) -> str:
    """``flit check <migration>`` (as the user runs flit) for a step named ``<migration>/...``."""
    return f"{command_prefix()} check {step.split('/')[0] or '<migration>'}"


def scrub(exc: BaseException, step: str) -> BaseException:
    """The exception to raise in place of ``exc`` at the Dagster boundary.

    ``FlitError`` and Dagster's own errors come back as the same object with ``__cause__`` removed and
    ``__context__`` suppressed (their message is ours); anything else becomes a ``ScrubbedError``.
    Never raises.
    """
    if isinstance(exc, FlitError) or _is_dagster(exc):
        exc.__cause__ = None
        exc.__suppress_context__ = True
        return exc
    return ScrubbedError(_class_name(exc), step, _raised_at(exc), _hint(exc, step))


def _is_dagster(exc: BaseException) -> bool:
    # Failure, RetryRequested, DagsterExecutionInterruptedError...: messages written by this project
    # or by Dagster, and control flow Dagster must see as such
    return type(exc).__module__.startswith(("dagster.", "dagster_"))


def value_free_errors(step: str) -> Callable[[F], F]:
    """Decorator: run an asset/op/sensor body (plain or generator function) or an IO manager method so
    that no exception text from outside this project reaches Dagster.

    ``step`` names the body in messages, e.g. ``"clinic_to_pipedrive/extract/patients"``. The wrapper
    keeps the wrapped signature and annotations (``functools.wraps``), so Dagster still finds the
    context, resources and inputs; a generator function stays a generator function.
    ``BaseException`` that is not an ``Exception`` (KeyboardInterrupt, SystemExit, GeneratorExit)
    passes untouched.
    """

    def decorate(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any):
                err: BaseException | None = None
                try:
                    yield from fn(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the boundary: every exception is judged here
                    err = scrub(exc, step)
                if err is not None:  # raised outside the except block: no implicit __context__
                    raise err from None

            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any):
            err: BaseException | None = None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the boundary: every exception is judged here
                err = scrub(exc, step)
            raise err from None

        return wrapper  # type: ignore[return-value]

    return decorate
