"""A stand-in demo worker (``python -m flit_pipelines_tests.fake_demo_worker <name>``) for the tests of
``flit_sandboxes.demo_parallel``: one status, one progress and one result line, output of its own, and
an exit code by name ("dies": 3 and no result; "fails": a failed result)."""

from __future__ import annotations

import json
import os
import sys

from flit_pipelines.progress import ProgressSnapshot
from flit_sandboxes.demo_parallel import MARK

SNAP = ProgressSnapshot("load persons", "records", 40, 40, 2.0, 20.0, None, 10.0, 3, 4, finished=True)


def main() -> int:
    name = sys.argv[1]
    print(MARK + "S sandbox up")
    print("summary table of " + name)
    print(MARK + "P " + json.dumps(SNAP.__dict__))
    print("environment says " + os.environ.get("FAKE_WORKER_SAYS", "nothing"), file=sys.stderr)
    if name != "dies":
        print(MARK + "R " + json.dumps({"ok": name != "fails"}))
    print("last line of " + name)
    return 3 if name == "dies" else 0


if __name__ == "__main__":
    sys.exit(main())
