"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``, so this module is
importable as ``_shared``)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from bisect import bisect_left
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_state(*paths: str, key: str = "project_code_modified") -> dict:
    """Commit of the code measured, and under ``key`` whether ``paths`` differ from it (uncommitted)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "HEAD") or None, key: bool(git("status", "--porcelain", "--", *paths))}


def rate_stream(ts: list[float], *, window_seconds: float, allowed_rps: float, window_label: str) -> dict:
    """Achieved rate of one stream of response times (seconds, sorted): count, span, requests/s, share of
    ``allowed_rps``, and the busiest ``window_seconds`` window (by arrival, client side) under
    ``window_label``."""
    if len(ts) < 2:
        return {"count": len(ts)}
    span = ts[-1] - ts[0]
    busiest = max(bisect_left(ts, t + window_seconds) - i for i, t in enumerate(ts))
    rate = (len(ts) - 1) / span if span > 0 else None
    return {"count": len(ts), "first_to_last_seconds": round(span, 3),
            "requests_per_second": round(rate, 3) if rate else None,
            "share_of_allowed": round(rate / allowed_rps, 4) if rate else None,
            window_label: busiest}


def write_results(out: Path, doc: dict, *, loadavg_start: tuple, started: float) -> None:
    """Add the run's load averages, peak RSS (KiB) and wall seconds (since ``started``, a
    ``time.perf_counter()`` value) to ``doc``, write it as JSON to ``out`` and print where."""
    doc.update({"loadavg_start": loadavg_start, "loadavg_end": os.getloadavg(),
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "benchmark_wall_seconds": round(time.perf_counter() - started, 3)})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"load average start {tuple(round(x, 2) for x in loadavg_start)}, end "
          f"{tuple(round(x, 2) for x in doc['loadavg_end'])} ({os.cpu_count()} cores)\nwrote {out}")
