"""One `rempart run` session over two real model servers, one of them killed mid-session.

    .venv/bin/python bench/replicas_real.py --server http://127.0.0.1:8011/v1=PID \
        --server http://127.0.0.1:8012/v1=PID [--out FILE.md]

Not a test (it needs two real vLLM processes, about 9.5 GB of memory each on the CPU
build). The session runs with `REMPART_MODEL_URLS` naming both servers; when the session's
own replica (`session_start.base_url`) is working on its second answer (`--delay` seconds
after the first tool result, while the next request is in flight), its whole process group
gets SIGKILL. The report says which replica the session started on, what the person
was told, which replica answered afterwards (its prefix-cache counters before and after),
how long each model turn took, and how the session ended. The killed server is not
restarted here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.serving.engine import prefix_cache

ROOT = Path(__file__).resolve().parents[1]
TASK = (
    "Create hello.py that prints hello, then run it with python3 to check it works, "
    "then create bye.py that prints bye and run it too."
)
KEY = os.environ.get("REMPART_MODEL_API_KEY", "rempart-local")


def servers(pairs: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for pair in pairs:
        url, _, pid = pair.rpartition("=")
        found[url] = int(pid)
    if len(found) < 2:
        raise SystemExit("name two servers: --server URL=PID --server URL=PID")
    return found


def run_session(
    pids: dict[str, int], rempart: str, max_steps: int, delay_s: float
) -> dict[str, Any]:
    workspace = Path(tempfile.mkdtemp(prefix="rempart-replicas."))
    shutil.copytree(ROOT / "examples" / "sample-workspace", workspace, dirs_exist_ok=True)
    env = {**os.environ, "REMPART_MODEL_URLS": ",".join(pids)}
    cmd = [rempart, "run", "--json", "--workspace", str(workspace)]
    cmd += ["--max-steps", str(max_steps), TASK]
    before = {url: prefix_cache(url, KEY) for url in pids}
    began = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    bound = killed = ""
    killed_at = 0.0
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        event["t"] = round(time.monotonic() - began, 2)
        events.append(event)
        kind = event.get("type")
        if kind == "session_start":
            bound = event["base_url"]
        elif kind == "tool_result" and not killed and bound:
            # the next model request is in flight: prompt processing takes seconds here
            time.sleep(delay_s)
            os.killpg(os.getpgid(pids[bound]), signal.SIGKILL)
            killed, killed_at = bound, round(time.monotonic() - began, 2)
    code = proc.wait()
    after = {url: prefix_cache(url, KEY) for url in pids}
    return {
        "exit_code": code,
        "workspace": str(workspace),
        "bound": bound,
        "killed": killed,
        "killed_at": killed_at,
        "events": events,
        "cache_before": before,
        "cache_after": after,
        "wall_s": round(time.monotonic() - began, 1),
    }


def report(result: dict[str, Any]) -> str:
    events = result["events"]
    notices = [e["text"] for e in events if e.get("type") == "notice" and "replica" in e["text"]]
    usage = [e for e in events if e.get("type") == "usage"]
    finish: dict[str, Any] = next((e for e in events if e.get("type") == "finish"), {})
    lines = [
        f"# Two real model servers, one killed mid-session ({time.strftime('%Y-%m-%d %H:%M')} UTC)",
        "",
        f"Command: `{' '.join(sys.argv)}`  ",
        f"Machine: {platform.node() or 'vm'}, {os.cpu_count()} CPUs; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        f"- session started on: `{result['bound']}`",
        f"- killed (SIGKILL to its process group) during turn 2, at "
        f"{result['killed_at']} s: `{result['killed'] or 'nothing (the session ended first)'}`",
        f"- what the person was told: {notices or 'nothing'}",
        f"- session end: exit code {result['exit_code']}, finish event "
        f"`{json.dumps({k: finish.get(k) for k in ('status', 'outcome', 'verified')})}`, "
        f"wall {result['wall_s']} s, workspace {result['workspace']}: "
        f"{sorted(p.name for p in Path(result['workspace']).iterdir())}",
        "",
        "| turn | ended at s | seconds | prompt tokens | completion tokens |",
        "|---|---|---|---|---|",
    ]
    for n, event in enumerate(usage, 1):
        lines.append(
            f"| {n} | {event['t']} | {event['seconds']:.1f} | {event['prompt_tokens']} "
            f"| {event['completion_tokens']} |"
        )
    lines += ["", "Prefix cache counters (vLLM `/metrics`), before -> after:", ""]
    for url in result["cache_before"]:
        lines.append(f"- `{url}`: {result['cache_before'][url]} -> {result['cache_after'][url]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", action="append", default=[], help="URL=PID of a server")
    parser.add_argument("--rempart", default=str(ROOT / ".venv" / "bin" / "rempart"))
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--delay", type=float, default=1.5, help="s after the first result")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--events", type=Path, help="also write every event as JSON lines")
    args = parser.parse_args()
    result = run_session(servers(args.server), args.rempart, args.max_steps, args.delay)
    text = report(result)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.events:
        args.events.write_text("".join(json.dumps(e) + "\n" for e in result["events"]))


if __name__ == "__main__":
    main()
