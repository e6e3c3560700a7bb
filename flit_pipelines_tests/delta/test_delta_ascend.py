"""Delta pickup end to end for henry_schein_one_to_highlevel: the Ascend API's
``filter=lastModified>=`` brings only the changed patients; HighLevel sees exactly those."""

from __future__ import annotations

import shutil
import sqlite3

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.delta.runner import tick
from flit_sandboxes.ascend import running_sandbox as running_ascend
from flit_pipelines_tests.delta.test_delta_dentrix import _diff, _ops
from flit_pipelines_tests.integration.test_dental_highlevel_e2e import (  # noqa: F401 (fixtures)
    _env,
    highlevel,
    practice,
)

M = "henry_schein_one_to_highlevel"


def test_changed_patients_reach_highlevel_through_ascend(tmp_path, monkeypatch, practice, highlevel):  # noqa: F811
    db = tmp_path / "practice.db"
    shutil.copy(practice, db)
    with running_ascend(db, client_id="cid", client_secret="secret", organization_id="org") as ascend:
        _env(tmp_path, monkeypatch, M, highlevel, ASCEND_API_BASE=f"{ascend}/ascend-gateway/api",
             ASCEND_TOKEN_URL=f"{ascend}/oauth/client_credential/accesstoken", ASCEND_CLIENT_ID="cid",
             ASCEND_CLIENT_SECRET="secret", ASCEND_ORGANIZATION_ID="org")
        assert run_wave(M, "full", quiet=True) is True
        assert tick(M).skip_reason.startswith("no source changes")
        before = _ops(highlevel)
        with sqlite3.connect(db) as con:
            ids = [r[0] for r in con.execute("SELECT patient_id FROM v_patient ORDER BY patient_id LIMIT 3")]
            con.executemany("UPDATE v_patient SET preferred_name = 'Changed', modified_time_stamp = "
                            "'2026-11-21 09:00:00' WHERE patient_id = ?", [(i,) for i in ids])
        result = tick(M)
        assert result.success is True and result.changed_objects == ["patients"]
        assert _diff(before, _ops(highlevel)) == {"PUT /contacts/{contactId}": 3}
        audit = FlitResource().ledger().audit_frame(M, run_id=result.run_id)
        writes = audit[audit["operation"].isin(["update", "create", "delete"])]
        assert sorted(zip(writes["target"], writes["source_id"], strict=True)) == [("patients", str(i)) for i in ids]
        assert report(M, result.partition)["all_checks_passed"] is True
        assert tick(M).skip_reason.startswith("no source changes")
