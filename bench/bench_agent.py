"""Agent-side overhead per tool call, and 16 concurrent sessions on this machine.

Per call: time from a tool call event to its result event in a real Session (policy
decision, sandbox round trip, audit appends with fsync, SQLite writes), model time excluded
(the scripted model answers over real HTTP but outside that window). Baseline, paired with
each call: the same operation on the session's own sandbox without the agent, right after
the call's result event (outside its window, under the same load): `Sandbox.run("true")`
through bash, as the run tool does, or `Sandbox.read_file`; agent-side overhead per call =
call - its bare operation (p50 of the differences).

    .venv/bin/python bench/bench_agent.py [--calls 60] [--sessions 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.events import Event, FinishEvent, ToolCallEvent, ToolResultEvent
from agent.loop import LoopLimits
from agent.runner import ClosableSandbox
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
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
    root: Path,
    image: str,
    replies: list[Reply],
    tag: str,
    bare: dict[str, list[float]] | None = None,
) -> tuple[list[Event], FinishEvent]:
    """A scripted session; with `bare`, after each run/read_file result the same operation
    straight on the session's sandbox (tool -> its times in ms, one per call)."""
    workspace = root / f"ws-{tag}"
    workspace.mkdir()
    (workspace / "a.txt").write_text("x\n")
    events: list[Event] = []
    box: list[ClosableSandbox] = []

    def listen(event: Event) -> None:
        events.append(event)
        if bare is None or not box or not isinstance(event, ToolResultEvent):
            return
        sandbox = box[0]
        ops: dict[str, Callable[[], object]] = {
            "run": lambda: sandbox.run("true"),
            "read_file": lambda: sandbox.read_file("a.txt"),
        }
        if event.tool in ops:
            start = time.perf_counter()
            ops[event.tool]()
            bare.setdefault(event.tool, []).append((time.perf_counter() - start) * 1000)

    with ScriptedModelServer(replies) as server:
        settings, options = session_parts(
            root, image, server.base_url, workspace, "bench", len(replies) + 2
        )
        with Session(settings, options, [listen]) as session:
            # the session's own sandbox (a bench reads the handle; nothing is patched)
            if session._sandbox is not None:
                box.append(session._sandbox.current)
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
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policy.yaml").write_text(POLICY)
        # distinct arguments each time: the loop ends a session that repeats one call
        # (same name and arguments) 6 times in 12 (agent/loop.py STUCK_LIMIT)
        replies = [Reply.call("run", command="true", timeout_s=60 + i) for i in range(args.calls)]
        replies += [
            Reply.call("read_file", path="a.txt", end_line=400 + i) for i in range(args.calls)
        ]
        bare: dict[str, list[float]] = {}
        events, finish = one_session(
            root, image, [*replies, Reply.call("finish", summary="ok")], "main", bare
        )
        assert finish.status == "finished", finish
        for tool in ("run", "read_file"):
            values, base = overheads(events, tool), bare[tool]
            extra = [c - b for c, b in zip(values, base, strict=True)]
            p50 = statistics.median(values)
            print(
                f"{tool:9}: agent call p50 {p50:.2f} ms, p99 {percentile(values, 0.99):.2f} ms; "
                f"bare sandbox p50 {statistics.median(base):.2f} ms (after each call); "
                f"agent-side overhead p50 {statistics.median(extra):.2f} ms, "
                f"p90 {percentile(extra, 0.9):.2f} ms "
                f"({p50 / statistics.median(base):.2f}x baseline), n={len(values)}"
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
