"""merge_snapshot: the delta wave's snapshot of one object."""

from __future__ import annotations

import pandas as pd

from flit_pipelines.delta.snapshot import merge_snapshot
from flit_pipelines.spec.model import SourceObject

OBJ = SourceObject(table="admin.v_x", primary_key="id", modified_at="ts",
                   columns={"id": {"type": "int"}, "v": {}, "ts": {"type": "datetime"}})


def frame(rows):
    return pd.DataFrame(rows, columns=["id", "v", "ts"])


def test_changed_rows_replace_theirs_in_key_order_and_deletions_come_from_the_key_scan():
    base = frame([(1, "a", 1), (2, "b", 1), (3, "c", 1), (4, "d", 1)])
    changed = frame([(2, "b2", 5), (5, "e", 5)])
    merged, deleted = merge_snapshot(base, changed, OBJ, read_whole=False,
                                     present_keys=pd.Index(["1", "2", "4", "5"], dtype="string"))
    assert merged[["id", "v"]].values.tolist() == [[1, "a"], [2, "b2"], [4, "d"], [5, "e"]]
    assert deleted.tolist() == ["3"]


def test_whole_reads_report_missing_keys_unless_quarantined_now():
    base = frame([(1, "a", None), (2, "b", None), (3, "c", None)])
    now = frame([(1, "a", None)])
    merged, deleted = merge_snapshot(base, now, OBJ, read_whole=True, quarantined_ids=["2"])
    assert merged["id"].tolist() == [1] and deleted.tolist() == ["3"]  # 2 is still in the source, invalid


def test_without_a_key_scan_nothing_is_reported_deleted():
    base = frame([(1, "a", 1), (2, "b", 1)])
    merged, deleted = merge_snapshot(base, frame([]), OBJ, read_whole=False)
    assert merged["id"].tolist() == [1, 2] and deleted.empty
