"""Stratified sample selection on hand-built frames and on the clinic fixture export (no Dagster)."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from flit_pipelines.sources import CsvExportSource
from flit_pipelines.spec.model import MigrationSpec, WaveConfig
from flit_pipelines.waves.sample import (
    Stratum,
    parent_links,
    rank,
    sample_scope,
    scan_source,
    select_sample,
    strata_of,
)
from flit_pipelines_tests.conftest import FIXTURE_EXPORT

ROOTS = [f"P{i:05d}" for i in range(5000)]
ALICE, BOB, CARA, DAN = (f"a0000000-0000-4000-8000-00000000000{i}" for i in range(1, 5))


def counts(ids: list[str], n: int = 1) -> pd.Series:
    return pd.Series(n, index=pd.Index(ids, dtype="string"))


# three rare strata (3, 7 and 2 eligible roots of 5000) and one common one
RARE = {"plans": counts(["P00010", "P04000", "P02500"]),
        "ins2": pd.concat([counts([f"P0{i}00" for i in range(10, 17)], 2), counts(["P00011", "P00012"], 1)]),
        "files": counts(["P04999", "P00001"]),
        "visits": counts(ROOTS[::2])}
STRATA = [Stratum("plans", "careplans"), Stratum("ins2", "insurances", min_rows=2),
          Stratum("files", "documents", at_least=1), Stratum("visits", "encounters", at_least=5)]


def test_every_stratum_is_covered_and_the_size_is_respected():
    sel = select_sample(ROOTS, RARE, STRATA, 200)
    f = sel.frame
    assert len(f) == 200 and f["root_id"].is_unique and set(f["role"]) == {"stratum", "fill"}
    picked = set(f["root_id"])
    assert {"P00010", "P04000", "P02500"} <= picked  # all 3 plans (fewer than at_least 5)
    assert len({f"P0{i}00" for i in range(10, 17)} & picked) == 5  # at_least 5 of the 7 with >= 2 rows
    assert not {"P00011", "P00012"} & set(f.loc[f["picked_for"] == "ins2", "root_id"])  # 1 row < min_rows 2
    assert len({"P04999", "P00001"} & set(f.loc[f["picked_for"] == "files", "root_id"])) == 1
    s = sel.strata
    assert (s["plans"]["eligible"], s["plans"]["covered"]) == (3, 3)
    assert (s["ins2"]["eligible"], s["ins2"]["covered"]) == (7, 5)
    assert s["files"]["covered"] >= 1 and s["visits"]["covered"] >= 5
    assert sel.metadata()["sample_selected"] == 200 and sel.metadata()["sample_parents"] == 0
    # strata picks come first, then the fill; every stratum pick says what it was picked for
    first_fill = f.index[f["role"] == "fill"][0]
    assert (f.loc[: first_fill - 1, "role"] == "stratum").all() and (f.loc[first_fill:, "role"] == "fill").all()
    plans_row = f[f["root_id"] == "P04000"].iloc[0]
    assert "plans" in plans_row["strata"].split("; ")


def test_the_selection_is_deterministic_and_independent_of_input_order():
    a = select_sample(ROOTS, RARE, STRATA, 150).frame
    shuffled = pd.Series(ROOTS).sample(frac=1, random_state=3).tolist()
    b = select_sample(shuffled, RARE, STRATA, 150).frame
    pd.testing.assert_frame_equal(a, b)
    # the hash order does not follow ID order (a sample is not the first N rows)
    assert rank(pd.Series(ROOTS[:200], dtype="string")).tolist() != ROOTS[:200]
    assert set(a["root_id"]) != set(ROOTS[:150])


def test_a_small_source_gives_every_root_and_strata_never_exceed_the_size():
    few = ROOTS[:30]
    sel = select_sample(few, {"visits": counts(few)}, [Stratum("visits", "encounters", at_least=50)], 200)
    assert sel.size == 30 and sorted(sel.frame["root_id"]) == few  # min(size, root rows)
    many = [Stratum(f"s{i}", "x", at_least=5) for i in range(40)]
    sel = select_sample(ROOTS, {f"s{i}": counts(ROOTS[i::40]) for i in range(40)}, many, 100)
    assert len(sel.frame) == 100 and (sel.frame["role"] == "stratum").all()
    # round robin: every stratum got a turn before any got its second pick
    assert all(sel.strata[f"s{i}"]["covered"] >= 2 for i in range(40))


def test_parents_are_added_beyond_the_size_with_their_own_parents():
    sel = select_sample(ROOTS, RARE, STRATA, 100)
    chosen = set(sel.frame["root_id"])
    child = next(r for r in sel.frame["root_id"])
    outside = [r for r in ROOTS if r not in chosen]
    guarantor, grand = outside[0], outside[1]
    edges = pd.DataFrame({"child": [child, guarantor, "P99999", child],
                          "parent": [guarantor, grand, outside[2], "not-a-root"]})
    sel2 = select_sample(ROOTS, RARE, STRATA, 100, edges)
    f = sel2.frame
    parents = f[f["role"] == "parent"]
    assert len(f) == 102 and sel2.metadata()["sample_parents"] == 2 and sel2.metadata()["sample_selected"] == 100
    assert parents[["root_id", "parent_of"]].values.tolist() == [[guarantor, child], [grand, guarantor]]
    assert outside[2] not in set(f["root_id"])  # P99999 was not sampled: its parent is not needed


def test_sample_size_is_validated_to_100_500():
    assert WaveConfig(root="patients").sample_size == 200
    for ok in (100, 500):
        assert WaveConfig(root="patients", sample_size=ok).sample_size == ok
    for bad in (99, 501, 0):
        with pytest.raises(ValidationError):
            WaveConfig(root="patients", sample_size=bad)


def _clinic(spec, **waves) -> MigrationSpec:
    raw = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    raw["waves"].update(waves)
    return MigrationSpec.model_validate(raw)


def test_strata_and_parent_links_of_a_spec(spec):
    labels = [s.label for s in strata_of(spec)]
    assert labels[:6] == ["visits", "treatment_plans", "billing", "clinical_notes", "relationship_notes", "documents"]
    assert {"secondary insurance", "several insurances"} <= set(labels)
    assert "persons" not in labels and "providers" not in labels  # root without where; users
    replaced = _clinic(spec, sample_strata=[{"name": "visits", "object": "encounters", "at_least": 9}])
    visits = [s for s in strata_of(replaced) if s.label == "visits"]
    assert len(visits) == 1 and visits[0].at_least == 9
    links = parent_links(spec)
    assert [(ln.object, ln.column) for ln in links] == [("relationships", "RELATED_PATIENT")]
    with pytest.raises(ValidationError, match="wave_key"):
        _clinic(spec, sample_strata=[{"object": "payers"}])  # reference data: no wave_key
    with pytest.raises(ValidationError, match="columns not declared"):
        _clinic(spec, sample_parents=[{"object": "relationships", "column": "NOPE"}])


def test_scan_of_the_fixture_export_counts_strata_and_finds_the_guarantor(spec):
    strata = strata_of(spec)
    scan = scan_source(spec, CsvExportSource(FIXTURE_EXPORT), strata, parent_links(spec))
    assert sorted(scan.root_ids) == [ALICE, BOB, CARA, DAN]
    assert scan.counts["secondary insurance"].to_dict() == {ALICE: 1}
    assert scan.counts["several insurances"].to_dict() == {DAN: 2, ALICE: 1, BOB: 1, CARA: 1}
    assert scan.counts["treatment_plans"].to_dict() == {DAN: 1, ALICE: 1}
    assert scan.approximate == set()
    # Alice is Cara's guarantor (IS_GUARANTOR); the spouse/child rows are not guarantor links
    assert scan.edges.values.tolist() == [[CARA, ALICE]]
    # a sample of one that must hold Cara: Alice comes along as her parent, beyond the size
    only_cara = [Stratum("cara", "relationships")]
    sel = select_sample(scan.root_ids, {"cara": counts([CARA])}, only_cara, 1, scan.edges)
    assert sel.frame[["root_id", "role", "parent_of"]].values.tolist() == [[CARA, "stratum", ""],
                                                                          [ALICE, "parent", CARA]]
    # a parent must be a root of the source
    sel = select_sample([CARA, BOB], {"cara": counts([CARA])}, only_cara, 1, scan.edges)
    assert sel.frame["root_id"].tolist() == [CARA]


def test_sample_scope_keeps_typed_ids_and_writes_the_selection(spec, tmp_path):
    scope = sample_scope(spec, "patients", lambda: CsvExportSource(FIXTURE_EXPORT),
                         root_extract=None, reports_dir=tmp_path)
    assert sorted(scope.keep_ids) == [ALICE, BOB, CARA, DAN] and scope.limit is None
    assert scope.metadata["sample_selected"] == 4 and scope.metadata["sample_strata"]["documents"]["eligible"] == 2
    written = pd.read_csv(tmp_path / "sample_selection.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == ["root_id", "role", "picked_for", "strata", "parent_of"]
    assert sorted(written["root_id"]) == [ALICE, BOB, CARA, DAN]
    # a child object keeps the root extract's IDs; reference data is not filtered
    pd.DataFrame({"Id": [ALICE, CARA]}).to_parquet(tmp_path / "root.parquet")
    child = sample_scope(spec, "encounters", lambda: None, root_extract=tmp_path / "root.parquet",
                         reports_dir=tmp_path)
    assert sorted(child.keep_ids) == [ALICE, CARA]
    assert sample_scope(spec, "payers", lambda: None, root_extract=None, reports_dir=tmp_path).keep_ids is None


def test_int_keys_are_typed_like_the_extract():
    from flit_pipelines.spec import load_spec
    from flit_pipelines.spec.load import SPEC_DIR
    from flit_pipelines.waves.sample import typed_ids

    dentrix = load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")
    ids = typed_ids(pd.Series(["7", "12"], dtype="string"), dentrix.objects["appointments"], "patient_id")
    assert str(ids.dtype) == "Int64"
    assert pd.Series([12, 13], dtype="Int64").isin(ids).tolist() == [True, False]
