"""The test suite's own tools: loud spec edits and the tier each test gets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from flit_pipelines_tests.spec_edit import edit_spec_file, replace_once
from flit_pipelines_tests.tiers import TierClassifier


def test_replace_once_replaces_the_single_occurrence():
    assert replace_once("a: 1\nb: 2\n", "b: 2", "b: 3") == "a: 1\nb: 3\n"


@pytest.mark.parametrize(("text", "found"), [("a: 1\n", 0), ("b: 2\nb: 2\n", 2)])
def test_replace_once_fails_loudly_when_the_text_is_absent_or_repeated(text, found):
    with pytest.raises(AssertionError, match=f"expected exactly one 'b: 2', found {found}"):
        replace_once(text, "b: 2", "b: 3")


def test_edit_spec_file_writes_the_edited_copy(tmp_path):
    source, copy = tmp_path / "spec.yaml", tmp_path / "copy.yaml"
    source.write_text("sample_size: 200\n")
    assert edit_spec_file(copy, "sample_size: 200", "sample_size: 100", source=source) == copy
    assert (copy.read_text(), source.read_text()) == ("sample_size: 100\n", "sample_size: 200\n")
    with pytest.raises(AssertionError):
        edit_spec_file(copy, "sample_size: 200", "sample_size: 50")


def _starts_a_sandbox(path):  # never called: its source is what the classifier reads
    with running_sandbox(path, "token") as url:  # noqa: F821
        return url


def _runs_a_wave():
    return run_wave("m", "full")  # noqa: F821


def _a_sandbox_test(tmp_path):
    assert _starts_a_sandbox(tmp_path)


def _a_migration_test(env):
    assert _runs_a_wave()


def _a_pure_test():
    assert replace_once("x", "x", "y") == "y"


def _item(func, fixtures=()):
    defs = {f.__name__: [SimpleNamespace(func=f)] for f in fixtures}
    return SimpleNamespace(obj=func, _fixtureinfo=SimpleNamespace(name2fixturedefs=defs))


@pytest.mark.unit  # an explicit tier is kept (its source would read as e2e: it refers to the helpers above)
def test_tiers_follow_what_a_test_reaches_through_helpers_and_fixtures(request):
    classify = TierClassifier().tier
    assert classify(_item(_a_pure_test)) == "unit"
    assert classify(_item(_a_sandbox_test)) == "integration"  # through a helper of this package
    assert classify(_item(_a_pure_test, fixtures=[_a_migration_test])) == "e2e"  # through a fixture
    marked = {i.name: i for i in request.session.items}
    assert marked["test_replace_once_replaces_the_single_occurrence"].get_closest_marker("unit") is not None
    assert [m.name for m in request.node.iter_markers() if m.name in ("unit", "integration", "e2e")] == ["unit"]
