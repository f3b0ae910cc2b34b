"""Host-side cost of a model turn as the history grows (not a test).

A scripted session of `--calls` `run true` calls; a model turn is the time from one tool
result event to the next tool call event: the request built and sent over HTTP, the scripted
server's reply streamed back and parsed. The model itself costs nothing here, so what grows
with the step number is ours (and the SDK's).

    .venv/bin/python bench/bench_history.py [--calls 100] [--compare OTHER_CHECKOUT] [--rounds 3]

`--compare DIR` runs the same session alternately with this checkout and with DIR (e.g. a
`git worktree` of the commit before a change), each in its own process: a before/after
under the same load.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def measure(calls: int) -> dict[str, float | str]:
    """One session in this process (the agent imported from sys.path[0])."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_agent

    import agent
    from agent.events import ToolCallEvent, ToolResultEvent
    from agent.testing import Reply
    from sandbox.image_build import ensure_image

    image = ensure_image()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policy.yaml").write_text(bench_agent.POLICY)
        # distinct arguments: the loop's repeat guard ends a session of identical calls
        script = [Reply.call("run", command="true", timeout_s=60 + i) for i in range(calls)]
        events, finish = bench_agent.one_session(
            root, image, [*script, Reply.call("finish", summary="ok")], "history"
        )
    if finish.status != "finished":
        raise SystemExit(f"the session ended {finish.status}: {finish.summary}")
    seq = [e for e in events if isinstance(e, ToolCallEvent | ToolResultEvent)]
    turns = [
        (b.ts - a.ts) * 1000
        for a, b in itertools.pairwise(seq)
        if isinstance(a, ToolResultEvent) and isinstance(b, ToolCallEvent)
    ]
    tenth = max(1, len(turns) // 10)
    return {
        "first_turns_p50_ms": statistics.median(turns[:tenth]),
        "last_turns_p50_ms": statistics.median(turns[-tenth:]),
        "all_turns_s": sum(turns) / 1000,
        "messages_at_end": 2 + 2 * calls,
        "agent_from": str(Path(agent.__file__).parent),
    }


def run_in(checkout: Path, calls: int) -> dict[str, Any]:
    """`measure` in a fresh process with `checkout` first on the path."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(checkout)!r}); "
        f"sys.path.insert(0, {str(HERE / 'bench')!r}); import bench_history; "
        f"print(json.dumps(bench_history.measure({calls})))"
    )
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--compare", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    checkouts = [HERE] if args.compare is None else [args.compare.resolve(), HERE]
    results: dict[Path, list[dict[str, Any]]] = {c: [] for c in checkouts}
    for _ in range(args.rounds):
        for checkout in checkouts:  # alternated: each sees the same load
            results[checkout].append(run_in(checkout, args.calls))
    print(f"model turns, scripted model, {args.calls} calls, {args.rounds} sessions each")
    for checkout, rows in results.items():
        first = statistics.median(r["first_turns_p50_ms"] for r in rows)
        last = statistics.median(r["last_turns_p50_ms"] for r in rows)
        total = statistics.median(r["all_turns_s"] for r in rows)
        assert rows[0]["agent_from"] == str(checkout / "agent"), rows[0]["agent_from"]
        print(
            f"{checkout}: first tenth p50 {first:.1f} ms, last tenth p50 {last:.1f} ms "
            f"(at {rows[0]['messages_at_end']:.0f} messages), all turns {total:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
