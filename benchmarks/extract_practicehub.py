"""Benchmark: extraction of a PracticeHub practice against the vendor's 1 request/s limit.

Run from the repository root:

    .venv/bin/python benchmarks/extract_practicehub.py                  # 100 patients
    .venv/bin/python benchmarks/extract_practicehub.py --patients 40 --out /tmp/x.json

What it does: seeds a PracticeHub sandbox (demo practice, ``--patients``), serves it at the vendor's
1 request/s per account (429 beyond), and extracts every object of
``mapping_specs/practicehub_to_salesforce.yaml`` the way the extract assets do: ``run_extract`` over
``PracticeHubSource`` at the spec's ``requests_per_second`` (0.9), then the attachment downloads
(``stage_downloads``). It reports the requests sent, the wall time, and the wall time as a share of the
theoretical minimum (requests x 1 s, i.e. the account limit used to the full), plus the inventory's
estimate made before extracting. Results: ``benchmarks/results/extract_practicehub.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from flit_sandboxes.practicehub import build_practicehub, running_sandbox
    from flit_pipelines.sources.attachments import stage_downloads
    from flit_pipelines.sources.extract import run_extract
    from flit_pipelines.sources.practicehub_api import PracticeHubSource
    from flit_pipelines.spec.load import SPEC_DIR, load_spec

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "extract_practicehub.json"))
    args = ap.parse_args()
    spec = load_spec(SPEC_DIR / "practicehub_to_salesforce.yaml")
    cfg = spec.source
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "practicehub.db"
        rows = build_practicehub(state, patients=args.patients, seed=7)
        with running_sandbox(state, api_key="bench-key", rate_per_second=1.0) as url:
            src = PracticeHubSource(f"{url}/api", "bench-key", cfg.app_details, page_size=cfg.page_size,
                                    requests_per_second=cfg.requests_per_second, state_dir=Path(tmp) / "cursors")
            inventory = src.inventory(spec.objects, rate=1.0)
            started = time.monotonic()
            per_object = {}
            for name, obj in spec.objects.items():
                t0 = time.monotonic()
                parts: list[pd.DataFrame] = []
                stats = run_extract(src, obj, name, write=parts.append, quarantine=lambda q: None)
                fetched = 0
                if obj.download is not None and parts:
                    fetched = stage_downloads(src, obj, pd.concat(parts), Path(tmp) / "files").fetched
                per_object[name] = {"rows": stats.rows_kept, "downloads": fetched,
                                    "seconds": round(time.monotonic() - t0, 1)}
            wall = time.monotonic() - started
            requests = sum(int(v) for k, v in src.stats.items() if k in ("pages", "headers", "downloads"))
            sent = int(src.stats.get("requests", requests))
            src.close()
    result = {
        "patients": args.patients, "source_rows_seeded": rows, "reader_rate_per_second": cfg.requests_per_second,
        "account_limit_per_second": 1.0, "requests": sent, "reader_stats": dict(src.stats),
        "wall_seconds": round(wall, 1), "theoretical_minimum_seconds": float(sent),
        "minimum_as_share_of_wall": round(sent / wall, 3) if wall else None,
        "inventory_estimate_seconds_at_1_per_s": round(sum(r["estimated_seconds"] for r in inventory), 1),
        "per_object": per_object, "machine": {"python": platform.python_version(), "cpus": 2},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_object", "source_rows_seeded")}, indent=2))


if __name__ == "__main__":
    main()
