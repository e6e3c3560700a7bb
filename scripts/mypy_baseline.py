"""Rewrite the mypy baseline in pyproject.toml: the error codes each module still fails on.

    ./scripts/dev python scripts/mypy_baseline.py

Runs mypy (settings of ``[tool.mypy]``) once without the baseline, then replaces the block between
``# >>> mypy baseline`` and ``# <<< mypy baseline`` with one ``[[tool.mypy.overrides]]`` per set of
error codes, listing the modules that fail with exactly those codes. Run it after fixing a module so
the module leaves the list; never to hide a new error (review the diff: the list should only shrink).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "# >>> mypy baseline", "# <<< mypy baseline"
ERROR = re.compile(r"^([\w/]+)\.py:\d+: error: .*\[([a-z-]+)\]$", re.M)


def module_of(path: str) -> str:
    """``sandboxes/flit_sandboxes/x/y.py`` -> ``flit_sandboxes.x.y`` (packages: without ``__init__``)."""
    path = path.removeprefix("sandboxes/")
    return path.replace("/", ".").removesuffix(".__init__")


def run_mypy(config: str) -> str:
    """mypy's output for a pyproject text (written beside the real one, removed afterwards)."""
    tmp = ROOT / ".mypy_baseline.toml"
    tmp.write_text(config)
    try:
        return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp)], cwd=ROOT,
                              capture_output=True, text=True, check=False).stdout
    finally:
        tmp.unlink()


def block(codes: dict[str, set[str]]) -> str:
    """The baseline text for module -> error codes."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for mod, cs in sorted(codes.items()):
        groups[tuple(sorted(cs))].append(mod)
    lines = [START,
             "# Pre-existing errors, silenced per module and per error code only, so new modules and other kinds",
             "# of error are checked. Fix a module, then run scripts/mypy_baseline.py: the list only shrinks.",
             f"# {len(codes)} modules."]
    for cs, mods in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines += ["[[tool.mypy.overrides]]", "module = [", *(f'  "{m}",' for m in mods), "]",
                  "disable_error_code = [" + ", ".join(f'"{c}"' for c in cs) + "]"]
    return "\n".join([*lines, END]) + "\n"


def main() -> int:
    """Rewrite the baseline; returns mypy's exit status with the new baseline (0 when clean)."""
    pyproject = ROOT / "pyproject.toml"
    text = pyproject.read_text()
    if START not in text or END not in text:
        print(f"{pyproject}: no {START!r} ... {END!r} block", file=sys.stderr)
        return 2
    span = re.compile(re.escape(START) + r".*?" + re.escape(END) + r"\n", re.S)
    codes: dict[str, set[str]] = defaultdict(set)
    for path, code in ERROR.findall(run_mypy(span.sub("", text))):
        codes[module_of(path)].add(code)
    text = span.sub(lambda _: block(codes), text)
    # a `type: ignore` for a code the baseline now silences is reported unused: that module also gets
    # unused-ignore (second pass)
    for path, code in ERROR.findall(run_mypy(text)):
        if code == "unused-ignore":
            codes[module_of(path)].add(code)
    pyproject.write_text(span.sub(lambda _: block(codes), text))
    print(f"mypy baseline: {len(codes)} modules, {sum(map(len, codes.values()))} module/code pairs")
    return subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
