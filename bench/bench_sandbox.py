"""Sandbox speed, ratios measured in the same run (not a test).

    .venv/bin/python bench/bench_sandbox.py [--runs 300]

Goals (issue 4): executor round-trip of /bin/true >= 20x faster than `docker exec CONTAINER
true`, p50 < 3 ms; cold start to ready within 1.5x of `docker run --rm IMAGE true`; warm
pool acquisition < 50 ms.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox, SandboxSpec
from sandbox.image_build import ensure_image
from sandbox.pool import SandboxPool


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cli-runs", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()
    image = ensure_image()
    with tempfile.TemporaryDirectory() as tmp:
        os.chown(tmp, 1000, 1000)
        spec = SandboxSpec(workspace=Path(tmp), image=image)

        def docker(*argv: str) -> None:
            subprocess.run(["docker", *argv], check=True, capture_output=True, timeout=60)

        with Sandbox(spec) as sb:
            timed(lambda: sb.run(["/bin/true"]), 20)  # warm-up
            ex = timed(lambda: sb.run(["/bin/true"]), args.runs)
            ping = timed(sb.ping, args.runs)
            cid = sb.container_id
            cli = timed(lambda: docker("exec", cid, "true"), args.cli_runs)
        print(
            f"executor /bin/true : p50 {p50(ex):7.2f} ms  p90 {sorted(ex)[len(ex) * 9 // 10]:.2f}"
        )
        print(f"executor ping      : p50 {p50(ping):7.2f} ms")
        print(f"docker exec true   : p50 {p50(cli):7.2f} ms")
        print(f"  -> ratio {p50(cli) / p50(ex):.1f}x (goal >= 20x, p50 < 3 ms)")

        def cold() -> None:
            with Sandbox(spec) as box:
                box.ping()

        def cold_ready() -> float:
            box = Sandbox(spec)
            t0 = time.perf_counter()
            box.start()
            ready = (time.perf_counter() - t0) * 1000.0
            box.close()
            return ready

        ready = [cold_ready() for _ in range(args.cold_runs)]
        full = timed(cold, args.cold_runs)
        run_rm = timed(
            lambda: docker("run", "--rm", "--network", "none", image, "true"), args.cold_runs
        )
        print(f"cold start to ready: p50 {p50(ready):7.1f} ms (with teardown {p50(full):.1f} ms)")
        print(f"docker run --rm true: p50 {p50(run_rm):7.1f} ms")
        print(f"  -> ratio {p50(ready) / p50(run_rm):.2f}x (goal <= 1.5x)")

        with SandboxPool(spec, size=2) as pool:
            acquire = []
            for _ in range(5):
                pool.wait_ready(timeout=60)
                t0 = time.perf_counter()
                box = pool.acquire()
                acquire.append((time.perf_counter() - t0) * 1000.0)
                box.close()
        print(
            f"warm pool acquire  : p50 {p50(acquire):7.2f} ms  max {max(acquire):.2f}",
            "(goal < 50 ms)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
