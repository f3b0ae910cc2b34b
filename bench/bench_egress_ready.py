"""Sandbox starts with an allowed network under CPU load: refused first connections, and
what waiting for the proxy path costs (not a test).

    .venv/bin/python bench/bench_egress_ready.py [--starts 200] [--baseline 30]

Goal (issue 15): 200 starts with zero refused first connections. Every start runs one
command whose very first action is a request through HTTPS_PROXY. Start times are compared
with starts without network (no proxy, nothing to wait for), measured in the same run under
the same load; the proxy wait itself is what `Sandbox.proxy_wait_ms` reports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import PolicySet
from sandbox import Sandbox, SandboxSpec
from sandbox.image_build import ensure_image
from sandbox.policy_bridge import spec_from_policy
from tests.sandbox.cpu_load import ANSWERED, FIRST_CONNECTION, cpu_load

POLICY = "version: 1\nname: bench\nnetwork:\n  allow: [pypi.org:443]\n"


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=30, help="starts without network")
    parser.add_argument("--no-load", action="store_true", help="skip the busy loops")
    args = parser.parse_args()
    image = ensure_image()
    with tempfile.TemporaryDirectory() as tmp:
        os.chown(tmp, 1000, 1000)
        plain = SandboxSpec(workspace=Path(tmp), image=image)
        policy = PolicySet.from_texts([("org", "bench.yaml", POLICY)])
        net = spec_from_policy(policy, Path(tmp), image=image)
        answers: Counter[str] = Counter()
        start_net: list[float] = []
        start_plain: list[float] = []
        waits: list[float] = []
        load: contextlib.AbstractContextManager[object] = (
            contextlib.nullcontext() if args.no_load else cpu_load()
        )
        with load:
            for i in range(max(args.starts, args.baseline)):
                if i < args.baseline:
                    box = Sandbox(plain)
                    t0 = time.perf_counter()
                    box.start()
                    start_plain.append((time.perf_counter() - t0) * 1000.0)
                    box.close()
                if i < args.starts:
                    box = Sandbox(net)
                    t0 = time.perf_counter()
                    box.start()
                    start_net.append((time.perf_counter() - t0) * 1000.0)
                    waits.append(box.proxy_wait_ms)
                    try:
                        answers[box.run(["python3", "-c", FIRST_CONNECTION]).stdout.strip()] += 1
                    finally:
                        box.close()
                if (i + 1) % 20 == 0:
                    print(f"  {i + 1} starts", file=sys.stderr, flush=True)
    refused = sum(n for a, n in answers.items() if a != ANSWERED)
    print("load:", "none" if args.no_load else f"{os.cpu_count()} busy loops")
    print(
        f"first connections: {args.starts}, answered by the proxy: {answers[ANSWERED]}, "
        f"not answered: {refused} {dict((a, n) for a, n in answers.items() if a != ANSWERED)}"
    )
    p50n, p50p = statistics.median(start_net), statistics.median(start_plain)
    print(f"start with network  p50 {p50n:.0f} ms  p90 {pct(start_net, 90):.0f} ms")
    print(f"start without       p50 {p50p:.0f} ms  p90 {pct(start_plain, 90):.0f} ms")
    print(f"ratio (p50)         {p50n / p50p:.2f}x")
    print(
        f"proxy-path wait     p50 {statistics.median(waits):.1f} ms  "
        f"p90 {pct(waits, 90):.1f} ms  max {max(waits):.1f} ms"
    )
    return 0 if refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
