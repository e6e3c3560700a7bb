"""The value-free boundary (``flit_pipelines.errors.value_free_errors``) around Dagster bodies.

What Dagster stores of an exception is ``serializable_error_info_from_exc_info``: the message, the
stack and the whole ``__cause__``/``__context__`` chain. These tests serialise what the guard raises
the same way and look for the source values the original exceptions carried.
"""

from __future__ import annotations

import inspect
import sys
import typing

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from dagster._utils.error import serializable_error_info_from_exc_info

from flit_pipelines.errors import FlitError, ScrubbedError, SourceFormatError, value_free_errors
from flit_pipelines_tests.badinput.corpus import FAMILY, GIVEN, SSN

ROW = f"a0000000-0000-4000-8000-000000000099,1990-02-03,,{SSN},S99912345,X99912345X,Ms.,{GIVEN},{FAMILY}"


def _serialised(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException:  # noqa: BLE001 - serialise whatever was raised
        info = serializable_error_info_from_exc_info(sys.exc_info())
    return info.to_string()


def _leaky() -> None:
    try:
        raise KeyError(f"lookup of {GIVEN}")
    except KeyError as inner:
        raise ValueError(f"CSV parse error: Expected 27 columns, got 9: {ROW}") from inner


def test_a_foreign_exception_becomes_a_value_free_error_without_its_chain():
    @value_free_errors("m/extract/patients")
    def body(context, flit):
        _leaky()

    with pytest.raises(ScrubbedError) as info:
        body(None, None)
    exc = info.value
    assert exc.__cause__ is None and exc.__context__ is None and exc.__suppress_context__
    assert exc.original_class == "builtins.ValueError" and exc.step == "m/extract/patients"
    assert "test_guard.py" in exc.raised_at and "_leaky" in exc.raised_at
    text = _serialised(exc)
    assert "m/extract/patients: builtins.ValueError raised at" in text
    for value in (SSN, GIVEN, FAMILY, "S99912345"):
        assert value not in text


def test_the_real_pyarrow_parse_error_is_scrubbed_with_a_hint():
    data = f"Id,BIRTHDATE,SSN\n{ROW}\n".encode()

    @value_free_errors("m/extract/patients")
    def body():
        pacsv.read_csv(pa.BufferReader(data))

    with pytest.raises(ScrubbedError) as info:
        body()
    text = _serialised(info.value)
    assert "pyarrow.lib.ArrowInvalid" in text and "check the file named in the step" in text
    assert SSN not in text and GIVEN not in text


def test_generator_bodies_stay_generators_and_are_guarded():
    @value_free_errors("m/load/persons")
    def body(context: dg.AssetExecutionContext, flit: int):
        yield 1
        _leaky()

    assert inspect.isgeneratorfunction(body)
    assert list(inspect.signature(body).parameters) == ["context", "flit"]
    assert typing.get_type_hints(body)["flit"] is int  # Dagster finds resources by these
    gen = body(None, 1)
    assert next(gen) == 1
    with pytest.raises(ScrubbedError) as info:
        next(gen)
    assert GIVEN not in _serialised(info.value)


def test_own_errors_pass_unchanged_with_their_chain_cut():
    @value_free_errors("m/extract/patients")
    def body():
        try:
            _leaky()
        except ValueError as exc:
            raise SourceFormatError("patients.csv, line 3: unreadable") from exc

    with pytest.raises(SourceFormatError, match=r"^patients\.csv, line 3: unreadable$") as info:
        body()
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert isinstance(info.value, FlitError)
    text = _serialised(info.value)
    assert SSN not in text and GIVEN not in text


def test_dagster_failures_pass_and_interrupts_are_untouched():
    @value_free_errors("m/rollback")
    def failing():
        try:
            _leaky()
        except ValueError:
            raise dg.Failure("scope wave needs wave") from None

    with pytest.raises(dg.Failure, match="scope wave needs wave") as info:
        failing()
    assert GIVEN not in _serialised(info.value)

    @value_free_errors("m/rollback")
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()


def test_a_scrubbed_http_failure_names_the_connection_check(monkeypatch):
    import requests

    monkeypatch.setenv("FLIT_COMMAND", "./scripts/dev flit")

    @value_free_errors("clinic_to_pipedrive/load/persons")
    def body():
        raise requests.ConnectionError(f"HTTPSConnectionPool(host='x', port=443): /v1/persons?q={SSN}")

    with pytest.raises(ScrubbedError) as info:
        body()
    text = _serialised(info.value)
    assert "(`./scripts/dev flit check clinic_to_pipedrive` tests every connection of the migration)" in text
    assert SSN not in text
