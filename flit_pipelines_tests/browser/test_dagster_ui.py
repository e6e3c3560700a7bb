"""The Dagster UI driven in a real browser (Debian's Chromium through Playwright).

A webserver and daemon run on a copy of the project's instance configuration with the clinic migration
(approved spec copy, the bundled Synthea sample, a Pipedrive sandbox over HTTP). The test opens the
asset graph, launches the sample wave from the launchpad, waits for the run's success in the run page,
reads the report asset's metadata in the asset page, and screenshots the HTML migration report with
its charts. Screenshots are written to the test's tmp dir and listed in its output (``-rP``) and in the
JUnit properties.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from flit_pipelines.assets.factory import waves_partitions
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file, load_spec
from flit_pipelines_tests.browser.dagster_ui import chromium_executable, dagster_ui, instance_home
from flit_pipelines_tests.conftest import TOKEN
from flit_sandboxes.demo import free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

M = "clinic_to_pipedrive"
WAVE = "sample"
# generous: the machines running CI are shared; a sample wave takes about a minute
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 300_000
# the columns the report asset puts in its "targets" metadata (flit_pipelines.assets.factory)
TARGET_COLUMNS = ("source_rows", "quarantined", "created", "updated", "unchanged", "failed", "destination_count")


class UI(NamedTuple):
    """A running Dagster UI: base URL, the migration's data directory, DAGSTER_HOME, Chromium's path."""

    url: str
    data: Path
    home: Path
    chromium: str


@pytest.fixture
def ui(tmp_path, sandbox):
    """The webserver and daemon with the environment the clinic migration reads (fails first when
    Chromium is missing)."""
    chromium = chromium_executable()
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPEC_DIR / f"{M}.yaml", specs / f"{M}.yaml")
    approve_spec_file(specs / f"{M}.yaml", "test reviewer", "2026-11-21T00:00:00+00:00")
    home = instance_home(tmp_path / "dagster_home")
    # the waves exist before the UI opens (the daemon's partition sensor would add them on its first tick)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(waves_partitions(load_spec(specs / f"{M}.yaml")).name, ["sample", "full"])
    data = tmp_path / "data"
    # the UI's processes use Dagster's connection per statement (flit_pipelines/instance/sqlite_event_log.py)
    env = {k: v for k, v in os.environ.items() if k not in ("FLIT_LEDGER_URL", "FLIT_EVENT_LOG_KEEP_CONNECTIONS")}
    env.update({"DAGSTER_HOME": str(home), "FLIT_SPEC_DIR": str(specs), "FLIT_DATA_DIR": str(data),
                "CLINIC_EXPORT_DIR": "package:sample_data/synthea_csv_sample",
                "PIPEDRIVE_API_BASE": sandbox, "PIPEDRIVE_API_TOKEN": TOKEN})
    started = time.monotonic()
    with dagster_ui(env, free_port(), tmp_path / "logs") as url:
        print(f"webserver answered after {time.monotonic() - started:.1f} s")
        yield UI(url, data, home, chromium)


def test_sample_wave_launched_in_the_ui_succeeds_and_its_report_shows_charts(ui, tmp_path, record_property):
    url, data, home = ui.url, ui.data, ui.home
    reports = data / "reports" / M / WAVE
    shots: dict[str, Path] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=ui.chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)

            # the asset graph of the migration's group: the approval gate, extracts, loads and the report
            # (the graph draws only the nodes in view: its side panel lists them all; picking one focuses it)
            page.goto(f"{url}/locations/flit_pipelines/asset-groups/{M}")
            page.get_by_role("button", name="panel_show_left").click()
            for node in ("field_map", "source_profile", "destination_schema", "report"):
                expect(page.get_by_text(node, exact=True).first).to_be_visible()
            page.get_by_text("report", exact=True).first.click()
            expect(page.get_by_text(f"{M} / report", exact=True)).to_be_visible()
            expect(page.get_by_text("Migration report: per target counts").first).to_be_visible()
            shots["asset_graph"] = _shot(page, tmp_path / "asset_graph.png")

            # the launchpad of the migration job: partition "sample", no config to write
            page.goto(f"{url}/locations/flit_pipelines/jobs/{M}_migration/playground")
            expect(page.get_by_role("button", name="Launch Run")).to_be_visible()
            _pick_partition(page, WAVE)
            page.get_by_role("button", name="Launch Run").click()
            launched = time.monotonic()
            page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
            run_id = re.search(r"/runs/([0-9a-f-]{36})", page.url).group(1)

            # the run page: its status tag turns from Queued/Started to an end state
            status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
            expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
            print(f"run {run_id}: {status.inner_text()} {time.monotonic() - launched:.1f} s after launch")
            shots["run"] = _shot(page, tmp_path / "run.png")
            ended = status.inner_text()
            assert ended == "Success", f"run {run_id} ended {ended}; server logs: {tmp_path / 'logs'}"
            expect(page.get_by_text(f"partition: {WAVE}")).to_be_visible()
            with dg.DagsterInstance.from_config(str(home)) as instance:
                run = instance.get_run_by_id(run_id)
                assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == WAVE

            # the report asset's metadata, as the UI shows it, against the files the asset wrote
            report = json.loads((reports / "migration_report.json").read_text())
            assert report["all_checks_passed"] is True
            page.goto(f"{url}/assets/{M}/report?partition={WAVE}")
            html = reports / "migration_report.html"
            for key, path in (("report", reports / "migration_report.json"), ("audit_log", reports / "audit_log.csv"),
                              ("html_report", html)):
                expect(_metadata_row(page, key)).to_contain_text(str(path))
            shots["report_metadata"] = _shot(page, tmp_path / "report_metadata.png")
            _metadata_row(page, "targets").get_by_text("[Show JSON]").click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_contain_text('"persons"')
            text = dialog.inner_text()
            shown = json.loads(text[text.index("{"):text.rindex("}") + 1])
            shots["report_targets"] = _shot(page, tmp_path / "report_targets.png")
            assert shown == {t: {k: r[k] for k in TARGET_COLUMNS} for t, r in report["targets"].items()}
            persons = shown["persons"]
            assert persons["created"] == persons["destination_count"] == persons["source_rows"] > 0
            assert persons["failed"] == 0
            # the bundled sample's encounters have no STATUS column: an empty optional code is not bad input
            assert shown["visits"]["quarantined"] == 0 and shown["visits"]["created"] > 0, shown["visits"]

            # the HTML report for practice staff: self-contained (no request leaves the file), with its charts.
            # A page of its own: the Dagster UI page may still fetch an icon of its own after this point, and
            # a route on that page counted it as the report's request (seen once in CI)
            report_page = browser.new_page(viewport={"width": 1400, "height": 900})
            requested: list[str] = []
            report_page.route(re.compile(r"^(?!file:).*"),
                              lambda route: (requested.append(route.request.url), route.abort()))
            report_page.goto(html.as_uri())
            for chart in ("Records per object", "Run timeline"):
                figure = report_page.get_by_role("img", name=re.compile(f"^{chart}"))
                expect(figure).to_be_visible()
                box = figure.locator("svg").bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100, (chart, box)
            expect(report_page.get_by_role("heading", name="Records per object")).to_be_visible()
            shots["migration_report"] = _shot(report_page, tmp_path / "migration_report.png", full_page=True)
            assert requested == []
        except BaseException:
            if "page" in locals():  # what the browser showed when the step failed
                shots["at_failure"] = _shot(page, tmp_path / "at_failure.png", full_page=True)
                print(f"screenshot at failure: {shots['at_failure']}; server logs: {tmp_path / 'logs'}")
            raise
        finally:
            browser.close()
    for name, path in shots.items():
        record_property(f"screenshot_{name}", str(path))
        print(f"screenshot {name}: {path}")


def _pick_partition(page: Page, wave: str, attempts: int = 6) -> None:
    """Choose ``wave`` in the launchpad's partition box. Its menu opens on a click once the partition
    keys have loaded; a click while the page still renders leaves it shut (seen in CI on a loaded
    machine), so later attempts also type the key, which opens the menu filtered to it."""
    box = page.get_by_placeholder("Partition")
    option = page.get_by_role("menuitem", name=wave, exact=True)
    for attempt in range(attempts):
        box.click()
        if attempt:
            box.fill("")
            box.press_sequentially(wave, delay=50)
        try:
            option.click(timeout=10_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        if box.input_value() == wave:
            return
    expect(box).to_have_value(wave)  # fails with what the box holds


def _metadata_row(page: Page, key: str):
    """The row of the asset page's metadata table whose key cell is ``key``."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))


def _shot(page: Page, path: Path, *, full_page: bool = False) -> Path:
    """``page`` as PNG at ``path``; returns the path."""
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_a_missing_chromium_fails_naming_the_set_up(monkeypatch, tmp_path):
    from flit_pipelines_tests.browser import dagster_ui

    monkeypatch.setattr(dagster_ui, "CHROMIUM", tmp_path / "chromium")
    with pytest.raises(pytest.fail.Exception, match=r"Chromium is missing at .*: run \./scripts/dev"):
        dagster_ui.chromium_executable()
