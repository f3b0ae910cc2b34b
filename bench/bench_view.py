"""Cost of the read view and the judged change layer, measured in the same run (not a test).

    .venv/bin/python bench/bench_view.py [--runs 200] [--files 2000]

Baseline: the same command through the executor without the sync that follows it (what
a command cost before the change layer). Then: the full `Sandbox.run` (command + change
set + judging), change sets of 1, 1,000 and 10,000 files, the same change sets with and
without their checkpoint (`sandbox.checkpoints`), and the start of a sandbox on a
workspace of `--files` files (view build + copy) against an empty one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import PolicySet
from sandbox.checkpoints import Checkpoints
from sandbox.image_build import ensure_image
from sandbox.policy_bridge import confined

POLICY = """version: 1
name: bench
default: allow
files:
  read: {allow: ["**"], deny: [".env", "secrets/**"]}
  write: {allow: ["**"], deny: [".git/**", "**/test_*.py"]}
limits: {memory: 2g, disk: 1g, timeout_s: 120}
"""


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def workspace(root: Path, files: int) -> Path:
    for i in range(files):
        folder = root / f"pkg{i % 50}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{i}.py").write_text(f"X = {i}\n" * 20)
    return root


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    image = ensure_image()
    policy = PolicySet.from_texts([("org", "bench.yaml", POLICY)])
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        workspace(ws, args.files)
        with confined(policy, ws, image) as sb:
            raw = {"op": "run", "argv": ["/bin/true"], "timeout_s": 10, "output_cap": 1000}
            timed(lambda: sb.run(["/bin/true"]), 20)
            base = timed(lambda: sb._request(raw, 30), args.runs)
            full = timed(lambda: sb.run(["/bin/true"]), args.runs)
            print(f"workspace: {args.files} files")
            print(f"command without sync (baseline): p50 {p50(base):7.2f} ms")
            print(f"command + change set, no change: p50 {p50(full):7.2f} ms "
                  f"({p50(full) / p50(base):.2f}x)")  # fmt: skip
            for n in (1, 1000, 10_000):
                script = f"for i in $(seq {n}); do echo $i > out/f$i.txt; done"
                sb.run("mkdir -p out")
                argv = {**raw, "argv": ["bash", "-c", script]}
                gen = timed(lambda a=argv: sb._request(a, 120), 1)
                sb.sync()
                t0 = time.perf_counter()
                sb.run(script.replace("echo $i", "echo x$i"))
                total = (time.perf_counter() - t0) * 1000.0
                print(f"change set of {n:>6} files: {total:9.1f} ms total, "
                      f"command alone {gen[0]:8.1f} ms, sync {total - gen[0]:8.1f} ms "
                      f"({(total - gen[0]) / n:.2f} ms/file)")  # fmt: skip
                sb.run("rm -rf out")
            # checkpoints: the same change sets, recorded first in the shadow repository
            checkpoints = Checkpoints(Path(tmp) / "checkpoints", ws, "bench")
            for n in (1, 100, 1000):
                script = f"mkdir -p out && for i in $(seq {n}); do echo $RANDOM > out/f$i.txt; done"
                plain = timed(lambda s=script: sb.run(s), 7)
                sb.on_change_set = lambda changes: checkpoints.record(changes, "bench")
                sb.run(script)  # the shadow repository is created on the first step
                recorded = timed(lambda s=script: sb.run(s), 7)
                sb.on_change_set = None
                print(f"change set of {n:>6} files: p50 {p50(plain):8.1f} ms, with checkpoint "
                      f"{p50(recorded):8.1f} ms ({p50(recorded) / p50(plain):.2f}x)")  # fmt: skip
            sb.run("rm -rf out")
        empty = Path(tmp) / "empty"
        empty.mkdir()
        for label, folder in (("empty workspace", empty), (f"{args.files} files", ws)):

            def start(folder: Path = folder) -> None:
                with confined(policy, folder, image) as box:
                    box.ping()

            starts = timed(start, 5)
            print(f"start to ready, {label:>16}: p50 {p50(starts):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
