"""Benchmark: the cross-chunk duplicate primary-key check of the extract (issue 9, item 10).

Run from the repository root:

    .venv/bin/python benchmarks/seen_keys.py            # 4 M keys in chunks of 20,000, text and int keys

Per chunk it times what an extract does for one chunk's keys: find the keys seen in earlier chunks,
then remember the chunk's keys. ``set`` is the current ``flit_pipelines.sources.validate.SeenKeys``
(a set of native-typed keys); ``index`` is the code before it (commit f497e9a): the keys kept so far
as a text ``pd.Index``, re-built with ``append`` and hashed again by ``isin`` for every chunk. It
reports microseconds per row over the chunks around 0.5 M and 4 M keys seen; linear time shows as the
same cost at both. Results: ``benchmarks/results/seen_keys.json``. Measurements, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from flit_pipelines.sources.validate import SeenKeys

RESULTS = Path(__file__).resolve().parent / "results" / "seen_keys.json"


def _keys(n: int, kind: str, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    ints = rng.permutation(n * 4)[:n].astype(np.int64)
    if kind == "int":
        return pd.Series(ints, dtype="Int64")
    return pd.Series([f"a0000000-0000-4000-8000-{i:012d}" for i in ints.tolist()], dtype="string")


def _run(keys: pd.Series, chunk: int, impl: str, marks: tuple[int, ...]) -> dict[str, float]:
    seen_set = SeenKeys()
    seen_index = pd.Index([], dtype="string")
    per_row: dict[int, list[float]] = {m: [] for m in marks}
    for start in range(0, len(keys), chunk):
        part = keys.iloc[start:start + chunk].reset_index(drop=True)
        t0 = time.perf_counter()
        if impl == "set":
            seen_set.repeats(part)
            seen_set.add(part)
        else:
            part.isin(seen_index)
            seen_index = seen_index.append(pd.Index(part.astype("string")))
        us = (time.perf_counter() - t0) / len(part) * 1e6
        for m in marks:
            if abs(start - m) < 5 * chunk:
                per_row[m].append(us)
    return {f"{m:,} keys": round(float(np.median(v)), 3) for m, v in per_row.items() if v}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--keys", type=int, default=4_000_000)
    p.add_argument("--chunk", type=int, default=20_000)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    marks = (500_000, args.keys - args.chunk)
    doc = {"keys": args.keys, "chunk": args.chunk, "loadavg_start": os.getloadavg(), "us_per_row": {}}
    for kind in ("text", "int"):
        keys = _keys(args.keys, kind)
        for impl in ("set", "index"):
            doc["us_per_row"][f"{kind}/{impl}"] = res = _run(keys, args.chunk, impl, marks)
            print(f"{kind:5} {impl:6} " + "  ".join(f"{k}: {v} us/row" for k, v in res.items()), flush=True)
    doc["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
