"""Agent-side overhead per tool call, and 16 concurrent sessions on this machine.

Overhead = time from a tool call event to its result event in a real Session (policy
decision, sandbox round trip, audit appends with fsync, SQLite writes), model time excluded
(the scripted model answers over real HTTP but outside that window). Baseline, in the same
run: the bare sandbox round trip of the same command (`Sandbox.run`) without the agent.

    .venv/bin/python bench/bench_agent.py [--calls 60] [--sessions 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from agent.events import Event, FinishEvent, ToolCallEvent, ToolResultEvent
from agent.loop import LoopLimits
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from sandbox import Sandbox, SandboxSpec
from sandbox.image_build import ensure_image

POLICY = """\
version: 1
name: bench
default: ask
files:
  read: {allow: ["**"], deny: [".env"]}
  write: {allow: ["**"]}
exec:
  - match: ["true"]
    decision: allow
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_session(
    root: Path, image: str, replies: list[Reply], tag: str
) -> tuple[list[Event], FinishEvent]:
    workspace = root / f"ws-{tag}"
    workspace.mkdir()
    (workspace / "a.txt").write_text("x\n")
    policy = root / "policy.yaml"
    events: list[Event] = []
    with ScriptedModelServer(replies) as server:
        settings = Settings(
            data_dir=root / "data",
            config_dir=root / "cfg",
            org_policy_dir=root / "org",
            sandbox_image=image,
            model_base_url=server.base_url,
            tool_call_mode="required",
        )
        options = SessionOptions(
            task="bench",
            workspace=workspace,
            policy_files=[policy],
            limits=LoopLimits(max_steps=len(replies) + 2),
        )
        with Session(settings, options, [events.append]) as session:
            finish = session.run()
    return events, finish


def overheads(events: list[Event], tool: str) -> list[float]:
    starts = {e.call_id: e.ts for e in events if isinstance(e, ToolCallEvent)}
    return [
        (e.ts - starts[e.call_id]) * 1000
        for e in events
        if isinstance(e, ToolResultEvent) and e.tool == tool and e.call_id in starts
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=16)
    args = parser.parse_args()
    image = ensure_image()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policy.yaml").write_text(POLICY)
        bare_ws = root / "bare"
        bare_ws.mkdir()
        with Sandbox(SandboxSpec(workspace=bare_ws, image=image)) as sandbox:
            sandbox.run(["true"])
            bare = []
            for _ in range(args.calls):
                start = time.perf_counter()
                sandbox.run(["true"])
                bare.append((time.perf_counter() - start) * 1000)
        replies = [Reply.call("run", command="true") for _ in range(args.calls)]
        replies += [Reply.call("read_file", path="a.txt") for _ in range(args.calls)]
        events, finish = one_session(
            root, image, [*replies, Reply.call("finish", summary="ok")], "main"
        )
        assert finish.status == "finished", finish
        runs, reads = overheads(events, "run"), overheads(events, "read_file")
        base = statistics.median(bare)
        print(
            f"bare sandbox round trip (baseline): p50 {base:.2f} ms, "
            f"p99 {percentile(bare, 0.99):.2f} ms"
        )
        for name, values in (("run `true`", runs), ("read_file", reads)):
            p50 = statistics.median(values)
            print(
                f"agent call {name:10}: p50 {p50:.2f} ms ({p50 / base:.2f}x baseline), "
                f"p99 {percentile(values, 0.99):.2f} ms, n={len(values)}"
            )
        errors: list[str] = []
        finishes: list[str] = []

        def worker(index: int) -> None:
            try:
                script = [
                    Reply.call("run", command="true"),
                    Reply.call("read_file", path="a.txt"),
                    Reply.call("write_file", path="b.txt", content=str(index)),
                    Reply.call("finish", summary="ok"),
                ]
                _, done = one_session(root, image, script, f"c{index}")
                finishes.append(done.status)
            except Exception as exc:  # a benchmark counts failures instead of stopping at one
                errors.append(f"{type(exc).__name__}: {exc}")

        start = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        elapsed = time.perf_counter() - start
        finished = finishes.count("finished")
        print(
            f"{args.sessions} concurrent sessions: {finished} finished, {len(errors)} errors, "
            f"{elapsed:.1f} s wall ({elapsed / args.sessions:.2f} s per session)"
        )
        for error in errors[:5]:
            print("  error:", error)


if __name__ == "__main__":
    main()
