"""The spec expression language (issue 9 item 16): an allow-list checked at ``load_spec``, and the same
results as ``DataFrame.eval`` for every operation the specs use."""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR, SpecError
from flit_pipelines.transform.expressions import ExpressionError, check_expression, evaluate
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.spec_edit import replace_once

CLINIC = SPEC_DIR / "clinic_to_pipedrive.yaml"
ESCAPES = ["EMAIL.str.__class__.__mro__", "EMAIL.str.lower().__class__", "EMAIL.__class__.__init__.__globals__",
           "EMAIL.str.__class__.__mro__[1].__subclasses__()", "__import__('os').system('id')",
           "EMAIL.apply(print)", "(lambda: 1)()", "EMAIL.pipe(eval)", "@x.__class__", "EMAIL.str.cat(EMAIL)"]


def spec_with(tmp_path, old: str, new: str):
    text = CLINIC.read_text()
    path = tmp_path / CLINIC.name
    path.write_text(replace_once(text, old, new))
    return path


@pytest.mark.parametrize("evil", ESCAPES)
def test_an_expression_reaching_python_internals_fails_at_spec_load(tmp_path, evil):
    path = spec_with(tmp_path, '{name: email_lower, expr: "EMAIL.str.lower()"}', f'{{name: email_lower, expr: "{evil}"}}')
    with pytest.raises(SpecError) as err:
        load_spec(path)
    text = str(err.value)
    assert text.startswith("clinic_to_pipedrive.yaml: ") and "target persons: derive email_lower expr" in text
    assert "is not allowed in spec expressions" in text


@pytest.mark.parametrize(("old", "new", "where"), [
    ('where: "SECONDARY_PAYER.notna()"', 'where: "SECONDARY_PAYER.__class__"', "sample_strata/sample_parents[0]"),
    ("value: \"claims_transactions.AMOUNT where TYPE == 'CHARGE'\"",
     "value: \"claims_transactions.AMOUNT where TYPE.__class__ == 'CHARGE'\"", "target billing: source_sums value"),
    ('done: {expr: "visit_status == \'completed\'"}', 'done: {expr: "visit_status.__dict__"}', "field done expr"),
])
def test_every_kind_of_spec_expression_is_checked_at_load(tmp_path, old, new, where):
    with pytest.raises(SpecError, match=r"\.__(class|dict)__ is not allowed") as err:
        load_spec(spec_with(tmp_path, old, new))
    assert where in str(err.value)


def test_every_expression_of_the_shipped_specs_is_allowed():
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        load_spec(path)  # raises SpecError otherwise


FRAME = pd.DataFrame({"a": [1.0, 2.0, None, 4.0], "b": ["x", "Y", None, "x"], "n": [0, 3, 1, 0],
                      "flag": [True, False, True, False], "s": ["A", "B", "C", "D"]})
SAME_AS_PANDAS = ["a > 1 & b == 'x'", "(a > 1) & (b == 'x')", "a.fillna(0) + n * 2 - 1", "b.str.lower()",
                  "~b.isin(['x', 'Y'])", "b.notna() | a.isna()", "flag == True", "n != 0", "1 < a <= 4",
                  "a.where(n > 0, 9)", "s.where(n == 0, 'Active').where(n < 3, 'New')", "a.fillna(n)",
                  "b.fillna('none')", "b.isna()", "n.isin(@wanted)", "a > @limit", "(n > 0) | (a <= 1)"]


@pytest.mark.parametrize("expr", SAME_AS_PANDAS)
def test_results_equal_dataframe_eval(expr):
    settings = {"wanted": [0, 1], "limit": 1.5}
    mine = evaluate(FRAME, expr, settings)
    theirs = FRAME.eval(expr, engine="python", local_dict=settings)
    pd.testing.assert_series_equal(mine, theirs, check_names=False)


def test_constant_and_runtime_errors_name_the_expression_never_a_value():
    assert evaluate(FRAME, "'Recall'") == "Recall"
    with pytest.raises(ExpressionError, match=r"^expression 'nope > 1': column 'nope' does not exist$"):
        evaluate(FRAME, "nope > 1")
    with pytest.raises(ExpressionError, match=r"setting @limit is not defined"):
        evaluate(FRAME, "a > @limit")
    secret = pd.DataFrame({"b": ["Jane Secret-Doe", "x"]})
    with pytest.raises(ExpressionError) as err:
        evaluate(secret, "b.str.lower() - 1")
    assert "Jane" not in str(err.value) and str(err.value).endswith("cannot be evaluated (TypeError)")
    for bad in ESCAPES + ["a[0]", "`a b`", "a if b else n", "[x for x in a]", "a.fillna(**{})", "a.str"]:
        with pytest.raises(ExpressionError):
            check_expression(bad)


def test_every_call_site_refuses_an_unchecked_expression(spec, fixture_frames):
    # a spec built in code (no YAML) is validated too: the model refuses it before any call site
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["targets"]["documents"]["where"] = "TITLE.str.__class__"
    with pytest.raises(ValueError, match=r"target documents: where: .*\.str\.__class__ is not allowed"):
        type(spec).model_validate(raw)
    # and the evaluator the five call sites share re-checks at run time
    payload = build_payload(spec, "documents", fixture_frames)
    assert len(payload) == 2
    with pytest.raises(ExpressionError):
        evaluate(fixture_frames["documents"], "TITLE.str.__class__")
