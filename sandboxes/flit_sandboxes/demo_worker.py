"""``python -m flit_sandboxes.demo_worker <migration> [--port P]``: one migration of the demo, run by
``flit demo`` as a worker process (``demo_parallel``); its step progress goes to stdout as lines for
the parent. The parent prepares the data directory and sets the environment (``demo.prepare_shared``)."""

from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    """Run one migration; exit 0 when every step and check passed, 1 otherwise."""
    p = argparse.ArgumentParser(prog="flit_sandboxes.demo_worker")
    p.add_argument("migration")
    p.add_argument("--port", type=int, default=0, help="the Pipedrive sandbox's port (clinic_to_pipedrive)")
    args = p.parse_args(argv)
    # the parent stops a worker with SIGTERM: unwind, so the worker's sandboxes are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from flit_pipelines.progress import listen
    from flit_sandboxes.demo import run_one
    from flit_sandboxes.demo_parallel import MachineLines, report_result

    with listen(MachineLines()):
        ok = run_one(args.migration, port=args.port)
    report_result(ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
