"""What gVisor costs: cold start and exec round trip, runc and gvisor in the same run (not a test).

    .venv/bin/python bench/bench_gvisor.py [--runs 200] [--cold-runs 7]

Cold start: `Sandbox.start()` until the executor answers (container, workspace copy, executor).
Round trip: `/bin/true` through the executor, and a Python start (`python3 -c pass`), which
is dominated by syscalls (where gVisor's kernel costs most). Runs alternate between the two
runtimes so that a loaded machine slows both alike; read the ratios, not the milliseconds.
Needs runsc registered with the engine (scripts/gvisor.sh).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox, SandboxSpec
from sandbox.container import ENGINE_RUNTIMES, engine_runtimes
from sandbox.engine import docker_client
from sandbox.image_build import ensure_image

RUNTIMES = ("runc", "gvisor")


def ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run_argv(box: Sandbox, argv: list[str]) -> Callable[[], object]:
    return lambda: box.run(argv)


def cold_ready(spec: SandboxSpec) -> float:
    box = Sandbox(spec)
    try:
        return ms(box.start)
    finally:
        box.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--python-runs", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()
    if ENGINE_RUNTIMES["gvisor"] not in engine_runtimes(docker_client()):
        print("runsc is not registered with the engine: run scripts/gvisor.sh", file=sys.stderr)
        return 1
    image = ensure_image()
    results: dict[str, dict[str, list[float]]] = {
        r: {"cold": [], "true": [], "python": []} for r in RUNTIMES
    }
    with tempfile.TemporaryDirectory() as tmp:
        os.chown(tmp, 1000, 1000)
        specs = {r: SandboxSpec(workspace=Path(tmp), image=image, runtime=r) for r in RUNTIMES}
        for _ in range(args.cold_runs):  # alternate: load hits both runtimes alike
            for r in RUNTIMES:
                results[r]["cold"].append(cold_ready(specs[r]))
        with Sandbox(specs["runc"]) as runc, Sandbox(specs["gvisor"]) as gvisor:
            boxes = {"runc": runc, "gvisor": gvisor}
            for box in boxes.values():
                for _ in range(20):  # warm-up
                    box.run(["/bin/true"])
            for _ in range(args.runs):
                for r, box in boxes.items():
                    results[r]["true"].append(ms(run_argv(box, ["/bin/true"])))
            for _ in range(args.python_runs):
                for r, box in boxes.items():
                    results[r]["python"].append(ms(run_argv(box, ["python3", "-c", "pass"])))
    labels = {
        "cold": "cold start to ready",
        "true": "exec /bin/true",
        "python": "exec python3 -c pass",
    }
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cpus)")
    for key, label in labels.items():
        base, gv = results["runc"][key], results["gvisor"][key]
        print(
            f"{label:22} runc p50 {statistics.median(base):8.1f} ms p95 {pct(base, 0.95):8.1f}"
            f" | gvisor p50 {statistics.median(gv):8.1f} ms p95 {pct(gv, 0.95):8.1f}"
            f" | gvisor/runc p50 {statistics.median(gv) / statistics.median(base):5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
