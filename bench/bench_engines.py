"""What spreading sandboxes over engines and models over replicas costs (not a test).

    .venv/bin/python bench/bench_engines.py [--starts 10] [--turns 20]

Sandbox starts (start, one command, close) on the local engine alone, against starts
placed over two engines (the local one and a private second dockerd, as in the tests),
interleaved in the same run; the placement survey alone is timed too. Model turns on one
replica, against turns of a session whose preferred replica is down (each turn after the
first stays on the replica it failed over to; the first pays the failover). Reported as
medians and ratios to the baseline of the same run. Needs root (the second dockerd).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.messages import Message
from agent.model_client import OpenAIModelClient
from agent.replicas import ReplicatedModelClient, rendezvous
from agent.testing import Reply, ScriptedModelServer
from sandbox import Sandbox, SandboxSpec
from sandbox.engines import Engines
from sandbox.image_build import ensure_image
from tests.agent.private_engine import PrivateEngine


def timed_start(spec: SandboxSpec, engines: Engines | None) -> float:
    began = time.perf_counter()
    with Sandbox(spec, engines=engines) as sb:
        sb.run("true")
    return time.perf_counter() - began


def sandboxes(starts: int) -> None:
    image = ensure_image()
    with tempfile.TemporaryDirectory() as tmp, PrivateEngine() as second:
        os.chown(tmp, 1000, 1000)
        second.load(image)
        spec = SandboxSpec(workspace=Path(tmp), image=image)
        engines = Engines(["unix:///var/run/docker.sock", second.host])
        alone: list[float] = []
        placed: list[float] = []
        survey: list[float] = []
        for _ in range(starts):
            alone.append(timed_start(spec, None))
            placed.append(timed_start(spec, engines))
            began = time.perf_counter()
            engines.place(image).client.close()
            survey.append(time.perf_counter() - began)
    a, p, s = (statistics.median(x) for x in (alone, placed, survey))
    print(f"sandbox start+run+close, one engine:        median {a * 1000:7.1f} ms")
    print(f"sandbox start+run+close, placed over two:   median {p * 1000:7.1f} ms  ({p / a:.2f}x)")
    print(f"placement survey of two engines alone:      median {s * 1000:7.1f} ms")


def replicas(turns: int) -> None:
    ask = [Message(role="user", content="hello")]
    replies = [Reply(text="ok") for _ in range(turns)]
    with ScriptedModelServer(list(replies)) as one, ScriptedModelServer(list(replies)) as other:
        single = OpenAIModelClient(one.base_url, "scripted-model", "k", 30.0, 0)
        base: list[float] = []
        for _ in range(turns):
            began = time.perf_counter()
            single.complete(ask, [], "none")
            base.append(time.perf_counter() - began)
        single.close()
        down = "http://127.0.0.1:9/v1"
        urls = [down, other.base_url]
        key = next(f"s{i}" for i in range(1000) if rendezvous(f"s{i}", urls)[0] == down)
        client = ReplicatedModelClient(urls, "scripted-model", "k", 30.0, 0)
        client.key = key  # as bound, but with the dead replica still its first choice
        client.base_url = down
        moved: list[float] = []
        for _ in range(turns):
            began = time.perf_counter()
            client.complete(ask, [], "none")
            moved.append(time.perf_counter() - began)
        client.close()
    b = statistics.median(base)
    print(f"model turn, one replica:                    median {b * 1000:7.1f} ms")
    print(
        f"model turn, first after its replica died:          {moved[0] * 1000:7.1f} ms  "
        f"({moved[0] / b:.1f}x)"
    )
    rest = statistics.median(moved[1:])
    line = f"model turns after the failover:             median {rest * 1000:7.1f} ms"
    print(f"{line}  ({rest / b:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    replicas(args.turns)
    sandboxes(args.starts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
