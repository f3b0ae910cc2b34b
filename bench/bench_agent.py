"""Agent-side overhead per tool call, and 16 concurrent sessions on this machine.

Per call: time from a tool call event to its result event in a real Session (policy
decision, sandbox round trip, audit appends with fsync, SQLite writes), model time excluded
(the scripted model answers over real HTTP but outside that window). Baseline, in the same
run: the same sandbox operation without the agent (`Sandbox.run("true")` through bash, as
the run tool does; `Sandbox.read_file`); agent-side overhead = call - baseline.

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
from policies import PolicySet
from sandbox import Sandbox
from sandbox.image_build import ensure_image
from sandbox.policy_bridge import spec_from_policy

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


def session_parts(
    root: Path, image: str, base_url: str, workspace: Path, task: str, max_steps: int
) -> tuple[Settings, SessionOptions]:
    """A bench session's settings (folders under `root`, the scripted model at `base_url`)
    and options (the policy `root/policy.yaml`)."""
    settings = Settings(
        data_dir=root / "data",
        config_dir=root / "cfg",
        org_policy_dir=root / "org",
        sandbox_image=image,
        model_base_url=base_url,
        tool_call_mode="required",
    )
    options = SessionOptions(
        task=task,
        workspace=workspace,
        policy_files=[root / "policy.yaml"],
        limits=LoopLimits(max_steps=max_steps),
    )
    return settings, options


def one_session(
    root: Path, image: str, replies: list[Reply], tag: str
) -> tuple[list[Event], FinishEvent]:
    workspace = root / f"ws-{tag}"
    workspace.mkdir()
    (workspace / "a.txt").write_text("x\n")
    events: list[Event] = []
    with ScriptedModelServer(replies) as server:
        settings, options = session_parts(
            root, image, server.base_url, workspace, "bench", len(replies) + 2
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
        (bare_ws / "a.txt").write_text("x\n")
        bare: dict[str, list[float]] = {"run": [], "read_file": []}
        policy = PolicySet.from_texts([("bench", "policy.yaml", POLICY)])
        with Sandbox(spec_from_policy(policy, bare_ws, image)) as sandbox:  # the same limits
            sandbox.run("true")
            for _ in range(args.calls):
                start = time.perf_counter()
                sandbox.run("true")
                bare["run"].append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                sandbox.read_file("a.txt")
                bare["read_file"].append((time.perf_counter() - start) * 1000)
        # distinct arguments each time: the loop ends a session that repeats one call
        # (same name and arguments) 6 times in 12 (agent/loop.py STUCK_LIMIT)
        replies = [Reply.call("run", command="true", timeout_s=60 + i) for i in range(args.calls)]
        replies += [
            Reply.call("read_file", path="a.txt", end_line=400 + i) for i in range(args.calls)
        ]
        events, finish = one_session(
            root, image, [*replies, Reply.call("finish", summary="ok")], "main"
        )
        assert finish.status == "finished", finish
        for tool in ("run", "read_file"):
            values, base = overheads(events, tool), statistics.median(bare[tool])
            p50 = statistics.median(values)
            print(
                f"{tool:9}: agent call p50 {p50:.2f} ms, p99 {percentile(values, 0.99):.2f} ms; "
                f"bare sandbox p50 {base:.2f} ms; agent-side overhead p50 {p50 - base:.2f} ms "
                f"({p50 / base:.2f}x baseline), n={len(values)}"
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
