"""Where one sandbox command's round trip goes, each step alternated in the same run.

    .venv/bin/python bench/bench_exec.py [--runs 300] [--image TAG ...]

Steps, per image (several `--image`: one sandbox each, alternated, so that an old image and
a new one are compared under the same load): host fork/exec of /bin/true (the baseline),
executor `ping`, the bare `run` op, the `run` op followed by a separate `changes` round
trip (the sync as it was before it was folded into the run reply), and `Sandbox.run`
(run + sync + validation), through bash, and writing a small file (a change
to judge and apply). Goal (issue 17): `Sandbox.run(["/bin/true"])` p50 < 1 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox, SandboxSpec
from sandbox.image_build import ensure_image

RUN_OP = {"op": "run", "argv": ["/bin/true"], "cwd": ".", "env": {}, "timeout_s": 60.0}


def pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def box_steps(tag: str, sb: Sandbox) -> list[tuple[str, Callable[[], object]]]:
    ex = sb.executor

    def run_op() -> None:
        ex.request(RUN_OP, 60.0)

    def run_then_changes() -> None:
        ex.request(RUN_OP, 60.0)
        ex.request({"op": "changes"}, 60.0)

    return [
        (f"[{tag}] executor ping", sb.ping),
        (f"[{tag}] run op alone", run_op),
        (f"[{tag}] run op + changes op", run_then_changes),
        (f"[{tag}] Sandbox.run(['/bin/true'])", lambda: sb.run(["/bin/true"])),
        (f"[{tag}] Sandbox.run('true')", lambda: sb.run("true")),
        (f"[{tag}] Sandbox.run, writes a file", lambda: sb.run("echo $RANDOM > out.txt")),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--image", action="append", default=None, help="default: this tree's")
    args = parser.parse_args()
    images = args.image or [ensure_image()]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        boxes = []
        for i, image in enumerate(images):  # a workspace each: no conflicts between them
            ws = Path(tmp) / f"ws{i}"
            ws.mkdir()
            os.chown(ws, 1000, 1000)
            boxes.append(stack.enter_context(Sandbox(SandboxSpec(workspace=ws, image=image))))
        steps: list[tuple[str, Callable[[], object]]] = [
            ("host fork/exec /bin/true", lambda: subprocess.run(["/bin/true"], check=True))
        ]
        for image, sb in zip(images, boxes, strict=True):
            steps += box_steps(image.rsplit(":", 1)[-1][:12], sb)
        times: dict[str, list[float]] = {name: [] for name, _ in steps}
        for _ in range(20):  # warm-up
            for _name, fn in steps:
                fn()
        for _ in range(args.runs):
            for name, fn in steps:
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1000.0)
    end = os.getloadavg()
    print(f"load average {load[0]:.2f} at the start, {end[0]:.2f} at the end; n={args.runs}")
    for name, xs in times.items():
        print(f"{name:44s} p50 {statistics.median(xs):6.3f} ms  p90 {pct(xs, 0.9):6.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
