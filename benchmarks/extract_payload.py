"""Benchmark: extract (CSV -> typed -> Pandera -> quarantine -> Parquet) and payload for the clinic spec.

Run from the repository root:

    .venv/bin/python benchmarks/extract_payload.py                 # 100,000 patients (~2 M rows)
    .venv/bin/python benchmarks/extract_payload.py --patients 25000 --no-scaling --out /tmp/x.json

What it does (no Dagster run, no repo data/ directory; everything lives under /tmp):

1. ``generate``: a deterministic synthetic export (``build_clinic_export``) in
   ``/tmp/flit_bench/export-<params>/``; reused when a finished export with the same parameters exists
   (``rows.json`` is written last and marks a complete build).
2. ``extract``: for every source object of ``mapping_specs/clinic_to_pipedrive.yaml``, exactly what the
   extract asset does: ``CsvExportSource(chunk_bytes=spec.source.chunk_bytes)`` -> ``run_extract`` (typing, Pandera,
   quarantine) -> ``pyarrow.parquet.ParquetWriter`` chunk by chunk (``write_table``: Arrow tables), then the
   quarantine rows into a SQLite ledger. ``reference``: the issue-12 reference, bare pyarrow CSV -> Parquet
   of the same files and columns typed by Arrow (no validation), in its own process.
3. ``payload``: for every target, as the payload asset does: read its ``needed_objects`` back from
   Parquet, ``build_payload``, write the payload Parquet (what the IO manager does with the output).

Each phase runs in its own fresh Python process so ``ru_maxrss`` (peak RSS, KiB on Linux) is that
phase's own peak and not the generator's or the other phase's. Within a phase, the peak after each
object/target is recorded too, so the object that raises the peak is visible.

By default a second, quarter-size export (``--scaling-patients``, 25,000 patients) is measured the same
way, to show which phase's peak RSS grows with the input (streamed phases stay flat).

Results: ``benchmarks/results/extract_payload.json`` and a table on stdout. Timings are
measurements, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from _shared import git_state as _git_state

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "mapping_specs" / "clinic_to_pipedrive.yaml"
BENCH_ROOT = Path(os.environ.get("FLIT_BENCH_DIR", "/tmp/flit_bench"))
RESULTS = REPO / "benchmarks" / "results" / "extract_payload.json"

# Tuned so 100,000 patients give ~2.05 M rows over all files (defaults 8 / 1.0 / 3.0 give ~7.4 M).
DEFAULTS = {
    "patients": 100_000,
    "seed": 7,
    "encounters_per_patient": 3.0,
    "claims_per_encounter": 0.4,
    "notes_per_patient": 2.0,
    "with_extras": True,
    "chunk_patients": 20_000,
}
def _spec_chunk_bytes() -> int:
    """The block size the extract asset uses: the spec's ``source.chunk_bytes``."""
    import yaml

    return int(yaml.safe_load(SPEC_PATH.read_text())["source"].get("chunk_bytes", 4 << 20))


CHUNK_BYTES = _spec_chunk_bytes()

# The benchmark must not pick up the repo's data dir or a developer's environment.
os.environ["FLIT_DATA_DIR"] = str(BENCH_ROOT / "unused-data-dir")
os.environ.pop("FLIT_LEDGER_URL", None)


git_state = partial(_git_state, "flit_pipelines", "mapping_specs")

def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def export_dir_for(params: dict) -> Path:
    tag = "p{patients}-s{seed}-e{encounters_per_patient}-c{claims_per_encounter}-n{notes_per_patient}" \
          "-x{x}-k{chunk_patients}".format(x=int(params["with_extras"]), **params)
    return BENCH_ROOT / f"export-{tag}"


# ------------------------------------------------------------------------------------------------
# phases (each runs in its own process: `--phase NAME --phase-args JSON --phase-out FILE`)
# ------------------------------------------------------------------------------------------------

def phase_generate(args: dict) -> dict:
    from flit_sandboxes.clinic_export import build_clinic_export

    params, out = args["params"], Path(args["export_dir"])
    if out.exists():
        shutil.rmtree(out)  # half-written earlier build (no rows.json)
    t0 = time.perf_counter()
    rows = build_clinic_export(out, **params)
    seconds = time.perf_counter() - t0
    doc = {"params": params, "rows": rows, "seconds": round(seconds, 3), "peak_rss_kib": peak_rss_kib()}
    (out / "rows.json").write_text(json.dumps(doc, indent=2))
    return doc


def phase_extract(args: dict) -> dict:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flit_pipelines.ledger import Ledger
    from flit_pipelines.sources.csv_export import CsvExportSource
    from flit_pipelines.sources.extract import arrow_schema, empty_frame, run_extract
    from flit_pipelines.spec import load_spec

    spec = load_spec(SPEC_PATH)
    work = Path(args["work_dir"])
    (work / "extract").mkdir(parents=True, exist_ok=True)
    ledger = Ledger(f"sqlite:///{(work / 'ledger.db').resolve()}")
    source = CsvExportSource(args["export_dir"], chunk_bytes=CHUNK_BYTES)
    baseline = {"peak_rss_kib_after_imports": peak_rss_kib(), "rss_kib_after_imports": current_rss_kib()}
    objects = {}
    t_phase = time.perf_counter()
    c_phase = time.process_time()
    for name, obj in spec.objects.items():
        t0, c0 = time.perf_counter(), time.process_time()
        schema = arrow_schema(obj)
        final = work / "extract" / f"{name}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        writer = pq.ParquetWriter(str(tmp), schema)
        quarantined: list[pd.DataFrame] = []
        chunks = 0
        arrow_held = 0  # bytes in Arrow's pool when a chunk arrives: the CSV reader's read-ahead

        def write_table(table: pa.Table) -> None:
            nonlocal chunks, arrow_held
            chunks += 1
            arrow_held = max(arrow_held, pa.total_allocated_bytes())
            writer.write_table(table)

        try:
            stats = run_extract(source, obj, name, write_table=write_table, quarantine=quarantined.append)
            if stats.rows_kept == 0:
                writer.write_table(pa.Table.from_pandas(empty_frame(obj), schema=schema, preserve_index=False))
        finally:
            writer.close()
        tmp.rename(final)
        q = pd.concat(quarantined) if quarantined else pd.DataFrame(columns=["source_id", "row_number", "reason"])
        t_ledger = time.perf_counter()
        ledger.replace_quarantine(migration=spec.migration, wave="full", stage="extract", obj=name,
                                  run_id="benchmark", rows=q)
        done = time.perf_counter()
        objects[name] = {
            "file_present": stats.file_present,
            "rows_read": stats.rows_read,
            "rows_kept": stats.rows_kept,
            "quarantined": stats.quarantined,
            "quarantine_reasons": q["reason"].value_counts().to_dict() if len(q) else {},
            "chunks": chunks,
            "seconds": round(done - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
            "quarantine_ledger_seconds": round(done - t_ledger, 3),
            "csv_bytes": source.path_of(obj).stat().st_size if stats.file_present else 0,
            "parquet_bytes": final.stat().st_size,
            "arrow_pool_max_bytes_at_chunk": arrow_held,
            "peak_rss_kib_so_far": peak_rss_kib(),
            "rss_kib_after": current_rss_kib(),
        }
        print(f"  extract {name:<20} {stats.rows_read:>10,} rows {done - t0:8.2f} s", flush=True)
    seconds = time.perf_counter() - t_phase
    return {"seconds": round(seconds, 3), "cpu_seconds": round(time.process_time() - c_phase, 3),
            "loadavg_end": os.getloadavg(), "objects": objects, "peak_rss_kib": peak_rss_kib(), **baseline}


def phase_payload(args: dict) -> dict:
    import pandas as pd

    from flit_pipelines.spec import load_spec
    from flit_pipelines.transform.payload import build_payload, needed_objects

    spec = load_spec(SPEC_PATH)
    work = Path(args["work_dir"])
    (work / "payload").mkdir(parents=True, exist_ok=True)
    profile_targets = set(args.get("profile_targets") or [])
    baseline = {"peak_rss_kib_after_imports": peak_rss_kib(), "rss_kib_after_imports": current_rss_kib()}
    targets = {}
    t_phase, c_phase = time.perf_counter(), time.process_time()
    for target in spec.targets:
        objs = needed_objects(spec, target)
        t0, c0 = time.perf_counter(), time.process_time()
        # the payload asset's inputs: each extract loaded by the IO manager (pd.read_parquet)
        frames = {o: pd.read_parquet(work / "extract" / f"{o}.parquet") for o in objs}
        t_read = time.perf_counter()
        input_rows = {o: len(f) for o, f in frames.items()}
        input_mem = sum(int(f.memory_usage(deep=True).sum()) for f in frames.values()) if args.get("deep_mem") else None
        t1 = time.perf_counter()
        df = build_payload(spec, target, frames)
        t_build = time.perf_counter()
        out = work / "payload" / f"{target}.parquet"
        with open(out, "wb") as fh:  # ParquetIOManager.dump_to_path
            df.to_parquet(fh, index=False)
        done = time.perf_counter()
        targets[target] = {
            "needed_objects": objs,
            "input_rows": input_rows,
            "input_frames_deep_bytes": input_mem,
            "payload_rows": len(df),
            "payload_columns": len(df.columns),
            "read_seconds": round(t_read - t0, 3),
            "build_seconds": round(t_build - t1, 3),
            "write_seconds": round(done - t_build, 3),
            "seconds": round((t_read - t0) + (done - t1), 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
            "peak_rss_kib_so_far": peak_rss_kib(),
            "rss_kib_after": current_rss_kib(),
        }
        del frames, df
        print(f"  payload {target:<20} {targets[target]['payload_rows']:>10,} rows "
              f"{targets[target]['seconds']:8.2f} s", flush=True)
    seconds = time.perf_counter() - t_phase
    doc = {"seconds": round(seconds, 3), "cpu_seconds": round(time.process_time() - c_phase, 3),
           "loadavg_end": os.getloadavg(), "targets": targets, "peak_rss_kib": peak_rss_kib(), **baseline}
    # Profiles: a separate, untimed pass after the measurements (cProfile slows pandas-heavy code).
    for target in spec.targets:
        if target not in profile_targets:
            continue
        import cProfile
        import io
        import pstats

        frames = {o: pd.read_parquet(work / "extract" / f"{o}.parquet") for o in needed_objects(spec, target)}
        prof = cProfile.Profile()
        prof.enable()
        build_payload(spec, target, frames)
        prof.disable()
        for order, n in (("cumulative", 25), ("tottime", 15)):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(order).print_stats(n)
            text = buf.getvalue().replace(str(REPO) + "/", "").replace(sys.prefix + "/", "")
            (work / f"profile_payload_{target}_{order}.txt").write_text(text)
        del frames
    return doc


def phase_reference(args: dict) -> dict:
    """The reference of issue 12 for the CSV extract: bare pyarrow CSV -> Parquet of the same files and
    columns, typed by Arrow's own parser (string, int64, float64, date32 for dates, timestamp[ns, UTC]
    for datetimes), streamed in the spec's block size; no validation, quarantine or header matching."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from flit_pipelines.sources.csv_export import CsvExportSource
    from flit_pipelines.spec import load_spec

    arrow_types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "money": pa.float64(),
                   "date": pa.date32(), "datetime": pa.timestamp("ns", tz="UTC"), "bool": pa.bool_()}
    spec = load_spec(SPEC_PATH)
    work = Path(args["work_dir"]) / "reference"
    work.mkdir(parents=True, exist_ok=True)
    source = CsvExportSource(args["export_dir"], chunk_bytes=CHUNK_BYTES)
    objects = {}
    t_phase, c_phase = time.perf_counter(), time.process_time()
    for name, obj in spec.objects.items():
        path = source.path_of(obj)
        if not path.exists():
            continue
        t0 = time.perf_counter()
        header = path.open(encoding="utf-8").readline().rstrip("\r\n").split(",")
        cols = {c.source or n: arrow_types[c.type] for n, c in obj.columns.items() if (c.source or n) in header}
        for multiline in (False, True):  # quoted line breaks (notes) need the slower chunker: only then
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=CHUNK_BYTES),
                                    parse_options=pacsv.ParseOptions(newlines_in_values=multiline),
                                    convert_options=pacsv.ConvertOptions(include_columns=list(cols), column_types=cols))
            rows = 0
            try:
                with pq.ParquetWriter(str(work / f"{name}.parquet"), reader.schema) as writer:
                    for batch in reader:
                        rows += batch.num_rows
                        writer.write_batch(batch)
                break
            except pa.ArrowInvalid:
                if multiline:
                    raise
        objects[name] = {"rows": rows, "seconds": round(time.perf_counter() - t0, 3), "newlines_in_values": multiline}
    return {"seconds": round(time.perf_counter() - t_phase, 3), "cpu_seconds": round(time.process_time() - c_phase, 3),
            "loadavg_end": os.getloadavg(), "objects": objects, "peak_rss_kib": peak_rss_kib()}


PHASES = {"generate": phase_generate, "extract": phase_extract, "payload": phase_payload, "reference": phase_reference}


def run_phase(name: str, args: dict) -> dict:
    """Run one phase in a fresh interpreter; return its JSON result (with process wall time)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", dir=BENCH_ROOT, delete=False) as fh:
        out = fh.name
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--phase", name, "--phase-args", json.dumps(args),
                        "--phase-out", out], check=True, cwd=REPO)
        wall = time.perf_counter() - t0
        doc = json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)
    doc["process_wall_seconds"] = round(wall, 3)
    return doc


# ------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------

def ensure_export(params: dict) -> dict:
    export_dir = export_dir_for(params)
    marker = export_dir / "rows.json"
    if marker.exists():
        doc = json.loads(marker.read_text())
        if doc.get("params") == params:
            print(f"reusing export {export_dir}")
            return {**doc, "export_dir": str(export_dir), "reused": True}
    print(f"generating export {export_dir} ...", flush=True)
    doc = run_phase("generate", {"params": params, "export_dir": str(export_dir)})
    return {**doc, "export_dir": str(export_dir), "reused": False}


def measure(params: dict, *, profile_targets: list[str], deep_mem: bool, keep_work: Path | None = None) -> dict:
    gen = ensure_export(params)
    rows = gen["rows"]
    width = max(map(len, rows))
    print(f"export rows per file ({params['patients']:,} patients):")
    for name in sorted(rows):
        print(f"  {name:<{width}} {rows[name]:>10,}")
    print(f"  {'total':<{width}} {sum(rows.values()):>10,}")
    with tempfile.TemporaryDirectory(prefix="run-", dir=BENCH_ROOT) as tmp:
        work = str(keep_work) if keep_work else tmp
        if keep_work and keep_work.exists():
            shutil.rmtree(keep_work)
        common = {"export_dir": gen["export_dir"], "work_dir": work}
        loadavg_start = os.getloadavg()
        extract = run_phase("extract", common)
        reference = run_phase("reference", common)  # issue 12: bare pyarrow CSV -> Parquet, same files
        payload = run_phase("payload", {**common, "profile_targets": profile_targets, "deep_mem": deep_mem})
        profiles = {p.name: p.read_text() for p in sorted(Path(work).glob("profile_*.txt"))}
    source_rows = sum(o["rows_read"] for o in extract["objects"].values())
    total = extract["seconds"] + payload["seconds"]
    return {
        "params": params,
        "export_dir": gen["export_dir"],
        "export_reused": gen["reused"],
        "generate_seconds": gen["seconds"],
        "generate_peak_rss_kib": gen["peak_rss_kib"],
        "export_rows": rows,
        "export_rows_total": sum(rows.values()),
        "source_rows_extracted": source_rows,
        "extract": extract,
        "reference_csv_to_parquet": reference,
        "extract_vs_reference_speed": round(reference["seconds"] / extract["seconds"], 3),
        "local_us_per_row": round((extract["seconds"] + payload["seconds"]) / max(source_rows, 1) * 1e6, 2),
        "local_cpu_us_per_row": round((extract["cpu_seconds"] + payload["cpu_seconds"]) / max(source_rows, 1) * 1e6, 2),
        "payload": payload,
        "loadavg_start": loadavg_start,
        "total_seconds": round(total, 3),
        "total_cpu_seconds": round(extract["cpu_seconds"] + payload["cpu_seconds"], 3),
        "rows_per_second": round(source_rows / total, 1),
        "peak_rss_kib": max(extract["peak_rss_kib"], payload["peak_rss_kib"]),
        "profiles": profiles,
    }


def print_table(res: dict) -> None:
    ex, pl = res["extract"], res["payload"]
    mib = lambda kib: f"{kib / 1024:,.0f}"  # noqa: E731
    print(f"\n=== {res['params']['patients']:,} patients, {res['source_rows_extracted']:,} source rows ===")
    print(f"{'extract object':<22}{'rows read':>11}{'kept':>11}{'quar.':>7}{'chunks':>7}{'seconds':>9}"
          f"{'rows/s':>10}{'csv MiB':>9}{'arrow MiB':>10}{'peak MiB':>10}")
    for name, o in ex["objects"].items():
        rate = o["rows_read"] / o["seconds"] if o["seconds"] else 0
        print(f"{name:<22}{o['rows_read']:>11,}{o['rows_kept']:>11,}{o['quarantined']:>7,}{o['chunks']:>7}"
              f"{o['seconds']:>9.2f}{rate:>10,.0f}{o['csv_bytes'] / 2**20:>9.0f}"
              f"{o['arrow_pool_max_bytes_at_chunk'] / 2**20:>10.0f}{mib(o['peak_rss_kib_so_far']):>10}")
    print("  (arrow MiB: Arrow pool when a chunk reaches run_extract = the CSV reader's read-ahead)")
    print(f"{'payload target':<22}{'inputs':>11}{'rows':>11}{'read s':>9}{'build s':>9}{'write s':>9}{'peak MiB':>10}")
    for name, t in pl["targets"].items():
        print(f"{name:<22}{sum(t['input_rows'].values()):>11,}{t['payload_rows']:>11,}{t['read_seconds']:>9.2f}"
              f"{t['build_seconds']:>9.2f}{t['write_seconds']:>9.2f}{mib(t['peak_rss_kib_so_far']):>10}"
)
    print(f"{'phase':<22}{'seconds':>11}{'cpu s':>9}{'peak RSS MiB':>14}{'(after imports)':>17}")
    print(f"{'extract':<22}{ex['seconds']:>11.2f}{ex['cpu_seconds']:>9.2f}{mib(ex['peak_rss_kib']):>14}"
          f"{mib(ex['peak_rss_kib_after_imports']):>17}")
    print(f"{'payload':<22}{pl['seconds']:>11.2f}{pl['cpu_seconds']:>9.2f}{mib(pl['peak_rss_kib']):>14}"
          f"{mib(pl['peak_rss_kib_after_imports']):>17}")
    print(f"{'total':<22}{res['total_seconds']:>11.2f}{res['total_cpu_seconds']:>9.2f}{mib(res['peak_rss_kib']):>14}")
    print(f"load average at start {tuple(round(x, 2) for x in res['loadavg_start'])}, end of extract "
          f"{tuple(round(x, 2) for x in ex['loadavg_end'])}, end of payload {tuple(round(x, 2) for x in pl['loadavg_end'])}"
          " (2 cores: above ~1 means other processes competed for the CPU)")
    ref = res["reference_csv_to_parquet"]
    print(f"reference (pyarrow CSV -> Parquet, same columns typed): {ref['seconds']:.2f} s, {ref['cpu_seconds']:.2f} s CPU;"
          f" extract speed = {res['extract_vs_reference_speed']:.2f}x the reference (issue 12 target >= 0.5)")
    print(f"local work per source row (extract + payload): {res['local_us_per_row']:.1f} us wall, "
          f"{res['local_cpu_us_per_row']:.1f} us CPU (issue 12 target <= 10)")
    print(f"rows/s (source rows / total seconds): {res['rows_per_second']:,.0f}"
          f"   [export generation: {res['generate_seconds']:.1f} s{' (reused)' if res['export_reused'] else ''}]")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--patients", type=int, default=DEFAULTS["patients"])
    p.add_argument("--encounters-per-patient", type=float, default=DEFAULTS["encounters_per_patient"])
    p.add_argument("--claims-per-encounter", type=float, default=DEFAULTS["claims_per_encounter"])
    p.add_argument("--notes-per-patient", type=float, default=DEFAULTS["notes_per_patient"])
    p.add_argument("--scaling-patients", type=int, default=25_000,
                   help="also measure this smaller export to see which phase's peak RSS grows with input")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--profile-targets", default="persons,visits",
                   help="comma list of targets whose build_payload is cProfiled in the main run ('' for none)")
    p.add_argument("--keep-work", type=Path, default=None,
                   help="keep the main run's Parquet extracts/payloads in this directory (default: temp, deleted)")
    p.add_argument("--deep-mem", action="store_true", help="also record memory_usage(deep=True) of payload inputs")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--phase-args", help=argparse.SUPPRESS)
    p.add_argument("--phase-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    sys.path.insert(0, str(REPO))
    if a.phase:
        doc = PHASES[a.phase](json.loads(a.phase_args))
        Path(a.phase_out).write_text(json.dumps(doc))
        return 0

    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    params = dict(DEFAULTS, patients=a.patients, encounters_per_patient=a.encounters_per_patient,
                  claims_per_encounter=a.claims_per_encounter, notes_per_patient=a.notes_per_patient)
    git_at_start = git_state()
    t0 = time.perf_counter()
    profile_targets = [t for t in a.profile_targets.split(",") if t]
    main_run = measure(params, profile_targets=profile_targets, deep_mem=a.deep_mem, keep_work=a.keep_work)
    print_table(main_run)
    runs = {"main": main_run}
    if not a.no_scaling and a.scaling_patients and a.scaling_patients != a.patients:
        small = measure(dict(params, patients=a.scaling_patients), profile_targets=[], deep_mem=a.deep_mem)
        print_table(small)
        runs["scaling"] = small
        big, sm = main_run, small
        ratio = big["source_rows_extracted"] / sm["source_rows_extracted"]
        scaling = {
            "source_rows_ratio": round(ratio, 3),
            "extract_peak_rss_ratio": round(big["extract"]["peak_rss_kib"] / sm["extract"]["peak_rss_kib"], 3),
            "payload_peak_rss_ratio": round(big["payload"]["peak_rss_kib"] / sm["payload"]["peak_rss_kib"], 3),
            "extract_peak_above_imports_kib": [sm["extract"]["peak_rss_kib"] - sm["extract"]["peak_rss_kib_after_imports"],
                                               big["extract"]["peak_rss_kib"] - big["extract"]["peak_rss_kib_after_imports"]],
            "payload_peak_above_imports_kib": [sm["payload"]["peak_rss_kib"] - sm["payload"]["peak_rss_kib_after_imports"],
                                               big["payload"]["peak_rss_kib"] - big["payload"]["peak_rss_kib_after_imports"]],
        }
        runs["scaling_summary"] = scaling
        print(f"\nscaling {sm['params']['patients']:,} -> {big['params']['patients']:,} patients "
              f"(source rows x{ratio:.2f}): extract peak RSS x{scaling['extract_peak_rss_ratio']}, "
              f"payload peak RSS x{scaling['payload_peak_rss_ratio']}")
    for name, text in main_run["profiles"].items():
        if name.endswith("_tottime.txt"):  # the cumulative ones are in the JSON
            print(f"\n{name} (cProfile of build_payload, top by internal time):")
            print("\n".join(line for line in text.splitlines()[:24] if line.strip()))
    doc = {
        "benchmark": "extract_payload",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "mem_total_kib": _mem_total_kib()},
        "git": {"at_start": git_at_start, "at_end": git_state()},
        "spec": str(SPEC_PATH.relative_to(REPO)),
        "csv_chunk_bytes": CHUNK_BYTES,
        "benchmark_wall_seconds": round(time.perf_counter() - t0, 3),
        "runs": runs,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {a.out}")
    return 0


def _mem_total_kib() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            return int(fh.readline().split()[1])
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
