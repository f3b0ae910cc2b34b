"""Helpers for the hidden checks (stdlib only; copied next to check.py, never into the workspace).

A check is run as `python3 check.py WS ORIG`: WS is a copy of the workspace as the agent left
it, ORIG the task's pristine workspace. It exits 0 when the task is solved, 1 otherwise, and
prints why. Expected values are computed here, never read from the agent's code; the agent's
code is only ever run in a subprocess and asked for outputs on inputs it has not seen.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

TIMEOUT_S = 60


def fail(reason: str) -> NoReturn:
    print(f"FAIL: {reason}")
    sys.exit(1)


def passed(note: str = "") -> NoReturn:
    print(f"PASS {note}".rstrip())
    sys.exit(0)


def paths() -> tuple[Path, Path]:
    if len(sys.argv) != 3:
        fail("usage: check.py WS ORIG")
    return Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()


def rng() -> random.Random:
    """Fresh inputs each run, so an agent cannot hard-code answers to a fixed set."""
    return random.Random(int.from_bytes(os.urandom(8), "big"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tracked(root: Path, pattern: str) -> dict[Path, str]:
    """Files under root matching pattern, without interpreter caches (running tests makes them)."""
    return {
        p.relative_to(root): sha256(p)
        for p in root.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def require_unchanged(ws: Path, orig: Path, pattern: str) -> None:
    """Every file of ORIG matching `pattern` exists in WS byte for byte; none was added."""
    before = _tracked(orig, pattern)
    after = _tracked(ws, pattern)
    if not before:
        fail(f"check is broken: no original files match {pattern}")
    for name, digest in before.items():
        if name not in after:
            fail(f"test file {name} was deleted")
        if after[name] != digest:
            fail(f"test file {name} was modified")
    added = sorted(str(n) for n in set(after) - set(before))
    if added:
        fail(f"test files were added: {added}")


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    full_env.update(env or {})
    try:
        return subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(args)} ran past {TIMEOUT_S}s")


def run_pytest(ws: Path, target: str = "tests") -> None:
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target], ws)
    if proc.returncode != 0:
        fail(f"pytest {target} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-800:]}")


_CALLER = """
import json, sys
sys.path.insert(0, ".")
module = __import__(sys.argv[1], fromlist=["*"])
out = []
for name, args in json.loads(sys.stdin.read()):
    try:
        out.append(["ok", getattr(module, name)(*args)])
    except Exception as exc:
        out.append(["raise", type(exc).__name__])
print("@@RESULT@@" + json.dumps(out))
"""


def call_each(ws: Path, module: str, calls: list[tuple[str, list[Any]]]) -> list[list[Any]]:
    """Run module.name(*args) for each call in a fresh interpreter inside WS.

    Each result is ["ok", value] or ["raise", "ExceptionName"] (values via JSON).
    """
    proc = run([sys.executable, "-c", _CALLER, module], ws, stdin=json.dumps(calls))
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not marker:
        fail(f"importing {module} failed: {(proc.stdout + proc.stderr)[-800:]}")
    results: list[list[Any]] = json.loads(marker[-1][len("@@RESULT@@") :])
    return results


def compare(label: str, got: Any, want: Any) -> None:
    if got != want:
        fail(f"{label}: expected {want!r}, got {got!r}")
