"""A real load's progress: the Dagster step log of every load holds progress lines (records done /
total, rate, ETA from the rate limit, 429s, retries), and ``flit run`` off a terminal prints plain
lines only (each load's last line), never a redraw. Numbers and step names only."""

from __future__ import annotations

import re

import dagster as dg

from flit_pipelines.cli import main

M = "clinic_to_pipedrive"
LINE = re.compile(r"^load (\w+): (\d+)/(\d+) records \((\d+) %\)(, [\d.]+/s)?, "
                  r"(ETA (\d+ s|\d+ min \d\d s|\?)( \(limit [\d.]+ req/s\))?|done in [\w ]+), 429s \d+, retries \d+$")


def test_load_steps_log_progress_and_the_cli_prints_plain_lines(migration_env, capsys):
    assert main(["run", M, "--wave", "sample", "--log-level", "WARNING"]) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out  # not a terminal: no live redraws
    printed = [ln for ln in out.splitlines() if ln.startswith("load ")]
    assert printed and all(LINE.match(ln) for ln in printed)

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.all_logs(run.run_id)
        progress = [r for r in records if r.user_message.startswith("load ") and " records (" in r.user_message]
        rows = {r.asset_materialization.asset_key.path[-1]: r.asset_materialization.metadata["dagster/row_count"].value
                for r in records if r.is_dagster_event and r.dagster_event.is_step_materialization
                and r.asset_materialization.asset_key.path[1] == "payload"}
    by_target: dict[str, list[re.Match]] = {}
    for r in progress:
        m = LINE.match(r.user_message)
        assert m, r.user_message  # nothing but numbers and the target's name
        assert r.step_key == f"{M}__load__{m.group(1)}"  # in the load step's own log
        by_target.setdefault(m.group(1), []).append(m)
    assert set(by_target) >= {"persons", "visits", "billing"}
    persons = by_target["persons"]
    total = rows["persons"]
    assert total > 0 and all(int(m.group(3)) == total for m in persons)  # the payload's rows
    first, last = persons[0], persons[-1]
    assert first.group(2) == "0" and first.group(8)  # announced with its ETA at the rate limit
    assert last.group(6).startswith("done in") and int(last.group(2)) == total
    assert f"load persons: {total}/{total} records (100 %)" in out  # the CLI's plain line of the same load
