"""How good is the agent? Small realistic tasks with hidden checks, run side by side.

Each task in bench/tasks/ is a folder: `task.md` (the words given to the agent),
`workspace/` (the starting project) and `check.py` (the hidden check; it never enters the
agent's workspace). One run: copy the workspace to a fresh temporary folder, run the system
there, then copy what it left into another folder next to check.py (plus the helpers in
bench/tasks/_lib and the pristine workspace, read-only) and run the check in a throwaway
container of the sandbox image with no network. The check decides; the agent's words
never do.

Systems, on the same model server and tasks:
  rempart          `rempart run --json --policy default.yaml --max-steps N TASK`
  rempart-noaids   the same with REMPART_AIDS=off (issue 12's aids switched off)
  mini-swe-agent   from PyPI in a scratch virtualenv (never a project dependency), its docker
                   environment in the sandbox image with --network none, its default `mini`
                   config (native tool calls)
  mini-swe-agent-text  the same with its text-based config (one ```mswea_bash_command block
                   per reply), the form small models often follow better

    .venv/bin/python bench/bench_tasks.py [--runs 3] [--jobs 2] [--systems rempart,...]
        [--tasks fix_median,...] [--out bench/results/NAME]
    .venv/bin/python bench/bench_tasks.py --self-test   # every check fails on the starting
                                                        # workspace and passes on solution/

A false claim is a run whose final event says verified == "passed" while the hidden check
fails. "Reported solved" counts runs the system reported as solved (Rempart: outcome success,
or status finished on older code; mini-swe-agent: Submitted); "reported solved, check failed"
those of them whose hidden check failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TASKS = HERE / "tasks"
LIB = TASKS / "_lib"
MINI_RUNNER = HERE / "mini_runner.py"
SCRATCH = Path.home() / ".cache" / "rempart-bench"
MINI_VERSION = "2.4.6"
CHECK_TIMEOUT_S = 240
REPLY_TOKENS = 1024  # mini-swe-agent's max_tokens per reply: Rempart's LoopLimits.reply_tokens
INVALID_PREFIXES = ("error: there is no tool", "error: arguments are not valid JSON")
SYSTEMS = ("rempart", "rempart-noaids", "mini-swe-agent", "mini-swe-agent-text")


@dataclass
class Task:
    name: str
    path: Path

    @property
    def kind(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def text(self) -> str:
        return (self.path / "task.md").read_text()


@dataclass
class Run:
    task: str
    kind: str
    system: str
    index: int
    passed: bool = False
    check_output: str = ""
    status: str = "n/a"  # how the system ended (its own words: finished, limit, Submitted...)
    claimed_done: bool = False
    verified: str = "n/a"
    false_claim: bool = False
    wall_s: float = 0.0
    steps: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: int | None = None
    invalid_calls: int | None = None
    repairs: int | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    rempart: str
    policy: str
    max_steps: int
    max_seconds: int
    image: str
    model: str
    api_base: str
    api_key: str
    keep: Path | None


def discover(names: list[str] | None) -> list[Task]:
    tasks = [
        Task(p.name, p)
        for p in sorted(TASKS.iterdir())
        if p.is_dir() and (p / "task.md").is_file() and (p / "check.py").is_file()
    ]
    if names:
        unknown = set(names) - {t.name for t in tasks}
        if unknown:
            sys.exit(f"unknown tasks: {sorted(unknown)}")
        tasks = [t for t in tasks if t.name in names]
    return tasks


def open_to_sandbox(root: Path) -> None:
    """The sandbox image runs as an unprivileged user; let it write the bind-mounted copy."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777 if path.is_dir() else 0o666)


def run_process(
    args: list[str], timeout_s: float, env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[int | None, str, str]:
    """Run a process in its own session; on timeout end that session only (it is ours).

    stdout goes to `log` as it comes (to watch a long run), stderr to `log`.err.
    """
    with tempfile.TemporaryDirectory(prefix="rb-proc-") as tmp:
        out_path = log or Path(tmp) / "stdout"
        err_path = out_path.with_name(out_path.name + ".err")
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            proc = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_file,
                stderr=err_file,
                text=True,
                start_new_session=True,
            )
            code: int | None
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                code = None
                # Ctrl-C first (lets the system clean up its containers), then harder.
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                    os.killpg(proc.pid, sig)
                    try:
                        proc.wait(timeout=30)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        return code, out_path.read_text(errors="replace"), err_path.read_text(errors="replace")


def remove_labelled_containers(label: str) -> None:
    """Remove the containers this bench started for one run (found by their unique label)."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120, check=False)


def hidden_check(task: Task, result_ws: Path, image: str) -> tuple[bool, str]:
    """Run check.py on a copy of the result, in a throwaway no-network container."""
    with tempfile.TemporaryDirectory(prefix="rb-check-") as tmp:
        root = Path(tmp)
        shutil.copytree(result_ws, root / "ws", symlinks=True)
        shutil.copytree(task.path / "workspace", root / "orig")
        shutil.copy(task.path / "check.py", root / "check.py")
        for helper in LIB.glob("*.py"):
            shutil.copy(helper, root / helper.name)
        open_to_sandbox(root)
        label = f"rempart-bench-check={uuid.uuid4().hex}"
        args = ["docker", "run", "--rm", "--network", "none", "--label", label]
        args += ["-v", f"{root}:/check", "-w", "/check", "-e", "PYTHONDONTWRITEBYTECODE=1"]
        args += [image, "python3", "/check/check.py", "/check/ws", "/check/orig"]
        try:
            code, out, err = run_process(args, CHECK_TIMEOUT_S)
        finally:
            remove_labelled_containers(label)
        output = (out + err).strip()[-1500:]
        if code is None:
            return False, f"check ran past {CHECK_TIMEOUT_S}s. {output}"
        return code == 0, output


def read_rempart(run: Run, events: list[dict[str, Any]]) -> None:
    finish = next((e for e in reversed(events) if e.get("type") == "finish"), None)
    usage = [e for e in events if e.get("type") == "usage"]
    calls = [e for e in events if e.get("type") == "tool_call"]
    results = [e for e in events if e.get("type") == "tool_result"]
    if usage:
        run.prompt_tokens = usage[-1].get("total_prompt_tokens")
        run.completion_tokens = usage[-1].get("total_completion_tokens")
    run.tool_calls = len(calls)
    run.invalid_calls = sum(
        1
        for e in results
        if e.get("is_error")
        and (
            str(e.get("content", "")).startswith(INVALID_PREFIXES)
            or "Send the arguments as one JSON object." in str(e.get("content", ""))
        )
    )
    errors = [e for e in events if e.get("type") == "error"]
    if errors:
        run.error = str(errors[-1].get("message", ""))[:300]
    if finish is None:
        run.status = "no finish event"
        return
    run.status = str(finish.get("status", "n/a"))
    run.verified = str(finish.get("verified", "n/a"))
    run.steps = finish.get("steps")
    run.repairs = finish.get("repairs")
    run.extra |= {
        key: finish.get(key) for key in ("outcome", "check", "files_changed", "denials", "claim")
    } | {"summary": str(finish.get("summary", ""))[:500]}
    run.claimed_done = rempart_reported_success(run)


def rempart_reported_success(run: Run) -> bool:
    """What Rempart's last line told the user: outcome `success` (older code: finished)."""
    outcome = run.extra.get("outcome")
    if outcome is not None:
        return bool(outcome == "success")
    return run.status == "finished"


BUILD_LOCK = threading.Lock()


def run_rempart(task: Task, ws: Path, run: Run, opts: Options, aids: bool) -> None:
    """One `rempart run`; if its sandbox image changed under us (the checkout moved on),
    build it and start again: that is the bench's problem, not the agent's."""
    fresh = ws.with_name("fresh")
    shutil.copytree(ws, fresh)
    start = time.monotonic()
    _run_rempart(task, ws, run, opts, aids)
    if "is not built" in run.error and run.steps is None:
        with BUILD_LOCK:
            subprocess.run([opts.rempart, "sandbox", "build"], capture_output=True, timeout=1800)
        shutil.rmtree(ws)
        shutil.copytree(fresh, ws)
        fields = {"task", "kind", "system", "index"}
        for key, value in asdict(Run(run.task, run.kind, run.system, run.index)).items():
            if key not in fields:
                setattr(run, key, value)
        run.extra["not_timed_s"] = round(time.monotonic() - start, 1)
        _run_rempart(task, ws, run, opts, aids)
    shutil.rmtree(fresh)


def _run_rempart(task: Task, ws: Path, run: Run, opts: Options, aids: bool) -> None:
    env = dict(os.environ)
    # Sessions, audit log and approvals of each run in its own folder: runs in parallel
    # (or one the bench had to stop) never share or break another run's audit chain.
    env["REMPART_DATA_DIR"] = str(ws.with_name("rempart-data"))
    env["REMPART_STATE_DIR"] = str(ws.with_name("rempart-state"))
    env["REMPART_AUDIT_ANCHOR_FILE"] = str(ws.with_name("rempart-data") / "audit.head")
    env.pop("REMPART_AIDS", None)
    if not aids:
        env["REMPART_AIDS"] = "off"
    args = [opts.rempart, "run", "--json", "--workspace", str(ws), "--policy", opts.policy]
    args += ["--max-steps", str(opts.max_steps), "--max-seconds", str(opts.max_seconds)]
    args.append(task.text)
    log = opts.keep / f"{run.system}-{run.task}-{run.index}.jsonl" if opts.keep else None
    code, out, err = run_process(args, opts.max_seconds + 120, env=env, log=log)
    events = []
    for line in out.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    read_rempart(run, events)
    run.extra["exit_code"] = code
    if code is None:
        run.error = "killed after the bench's timeout"
    elif not events:
        run.error = (err.strip() or out.strip())[-300:]


def mini_python() -> Path:
    """mini-swe-agent in a scratch virtualenv under ~/.cache (installed once, pinned)."""
    venv = SCRATCH / f"mini-swe-agent-{MINI_VERSION}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"mini-swe-agent=={MINI_VERSION}"],
            check=True,
        )
        marker.write_text(MINI_VERSION)
    return python


def read_mini(run: Run, trajectory: dict[str, Any]) -> None:
    info = trajectory.get("info", {})
    messages = trajectory.get("messages", [])
    run.status = str(info.get("exit_status") or "n/a")
    run.claimed_done = run.status == "Submitted"
    run.verified = "none"  # mini-swe-agent has no check of its own
    run.steps = info.get("model_stats", {}).get("api_calls")
    prompt = completion = actions = invalid = no_call = 0
    for message in messages:
        extra = message.get("extra") or {}
        usage = (extra.get("response") or {}).get("usage") if isinstance(extra, dict) else None
        if isinstance(usage, dict):
            prompt += usage.get("prompt_tokens") or 0
            completion += usage.get("completion_tokens") or 0
        if message.get("role") == "assistant":
            actions += len(extra.get("actions") or [])
        if extra.get("interrupt_type") == "FormatError":
            if "No tool calls found" in str(message.get("content", "")):
                no_call += 1
            else:
                invalid += 1
    run.prompt_tokens, run.completion_tokens = prompt, completion
    run.tool_calls, run.invalid_calls, run.repairs = actions + invalid, invalid, None
    run.extra["turns_without_a_tool_call"] = no_call


def run_mini(task: Task, ws: Path, run: Run, opts: Options, tmp: Path, actions: str) -> None:
    label = f"rempart-bench-run={uuid.uuid4().hex}"
    trajectory = tmp / "trajectory.json"
    config_dir = SCRATCH / "mini-config"
    env = dict(os.environ) | {
        "MSWEA_GLOBAL_CONFIG_DIR": str(config_dir),
        "MSWEA_SILENT_STARTUP": "1",
        "MSWEA_COST_TRACKING": "ignore_errors",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    args = [str(mini_python()), str(MINI_RUNNER), "--workspace", str(ws)]
    args += ["--task-file", str(task.path / "task.md"), "--trajectory", str(trajectory)]
    args += ["--image", opts.image, "--label", label, "--max-steps", str(opts.max_steps)]
    args += ["--max-seconds", str(opts.max_seconds), "--model", f"openai/{opts.model}"]
    args += ["--api-base", opts.api_base, "--api-key", opts.api_key]
    args += ["--reply-tokens", str(REPLY_TOKENS), "--actions", actions]
    try:
        log = opts.keep / f"{run.system}-{run.task}-{run.index}.log" if opts.keep else None
        code, out, err = run_process(args, opts.max_seconds + 120, env=env, log=log)
    finally:
        remove_labelled_containers(label)
    run.extra["exit_code"] = code
    if trajectory.is_file():
        read_mini(run, json.loads(trajectory.read_text()))
        if opts.keep:
            shutil.copy(trajectory, opts.keep / f"{run.system}-{run.task}-{run.index}.json")
    else:
        run.error = (err.strip() or out.strip())[-300:]
    if code is None:
        run.error = "killed after the bench's timeout"


def one_run(task: Task, system: str, index: int, opts: Options) -> Run:
    run = Run(task=task.name, kind=task.kind, system=system, index=index)
    with tempfile.TemporaryDirectory(prefix="rb-run-") as tmp:
        ws = Path(tmp) / "workspace"
        shutil.copytree(task.path / "workspace", ws)
        open_to_sandbox(ws)
        start = time.monotonic()
        try:
            if system.startswith("mini-swe-agent"):
                actions = "text" if system.endswith("-text") else "tool"
                run_mini(task, ws, run, opts, Path(tmp), actions)
            else:
                run_rempart(task, ws, run, opts, aids=system == "rempart")
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            run.error = f"{type(exc).__name__}: {exc}"[:300]
        run.wall_s = round(time.monotonic() - start - run.extra.get("not_timed_s", 0), 1)
        run.passed, run.check_output = hidden_check(task, ws, opts.image)
    run.false_claim = run.verified == "passed" and not run.passed
    return run


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return (max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator))


def _known(values: list[int | None]) -> list[int]:
    return [v for v in values if v is not None]


def _median(values: list[float] | list[int]) -> str:
    return f"{statistics.median(values):.0f}" if values else "n/a"


def summary_rows(runs: list[Run], systems: list[str]) -> list[str]:
    head = (
        "| system | runs | passed | pass rate (95% CI, Wilson) | median wall s per solved run "
        "| median wall s per run | median steps | median tokens (prompt+completion) "
        "| valid tool calls | repairs | reported solved | reported solved, check failed "
        "| false claims "
        "| verified passed/failed/none | errors |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for system in systems:
        mine = [r for r in runs if r.system == system]
        if not mine:
            continue
        n, k = len(mine), sum(r.passed for r in mine)
        low, high = wilson(k, n)
        solved = [r.wall_s for r in mine if r.passed]
        tokens = [
            r.prompt_tokens + r.completion_tokens
            for r in mine
            if r.prompt_tokens is not None and r.completion_tokens is not None
        ]
        calls = sum(_known([r.tool_calls for r in mine]))
        invalid = sum(_known([r.invalid_calls for r in mine]))
        valid = f"{(calls - invalid) / calls:.1%} ({calls - invalid}/{calls})" if calls else "n/a"
        no_call = sum(int(r.extra.get("turns_without_a_tool_call") or 0) for r in mine)
        if no_call:
            valid += f"; {no_call} replies without a call"
        repairs = _known([r.repairs for r in mine])
        verified = [r.verified for r in mine]
        rows.append(
            f"| {system} | {n} | {k} | {k / n:.0%} ({low:.0%}-{high:.0%}) | {_median(solved)} "
            f"| {_median([r.wall_s for r in mine])} | {_median(_known([r.steps for r in mine]))} "
            f"| {_median(tokens)} | {valid} | {sum(repairs) if repairs else 'n/a'} "
            f"| {sum(r.claimed_done for r in mine)} "
            f"| {sum(r.claimed_done and not r.passed for r in mine)} "
            f"| {sum(r.false_claim for r in mine)} "
            f"| {verified.count('passed')}/{verified.count('failed')}/{verified.count('none')} "
            f"| {sum(bool(r.error) for r in mine)} |"
        )
    return rows


def per_task_rows(runs: list[Run], systems: list[str]) -> list[str]:
    present = [s for s in systems if any(r.system == s for r in runs)]
    rows = ["| task | kind | " + " | ".join(present) + " |", "|---|---|" + "---|" * len(present)]
    for task in sorted({r.task for r in runs}):
        cells = []
        for system in present:
            mine = sorted(
                (r for r in runs if r.task == task and r.system == system), key=lambda r: r.index
            )
            cells.append(" ".join("pass" if r.passed else "FAIL" for r in mine) or "-")
        kind = next(r.kind for r in runs if r.task == task)
        rows.append(f"| {task} | {kind} | " + " | ".join(cells) + " |")
    return rows


def report(runs: list[Run], systems: list[str], header: list[str]) -> str:
    lines = [*header, "", "## Summary", "", *summary_rows(runs, systems), ""]
    lines += ["## Per task (one word per run, in run order)", "", *per_task_rows(runs, systems), ""]
    lines += ["## Failed runs: what the hidden check said", ""]
    for r in sorted(runs, key=lambda r: (r.system, r.task, r.index)):
        if not r.passed:
            said = r.check_output.splitlines()[-1] if r.check_output else "(no output)"
            extra = f"; error: {r.error}" if r.error else ""
            lines.append(
                f"- {r.system} {r.task} #{r.index}: ended `{r.status}`"
                f"{' (' + str(r.extra['outcome']) + ')' if r.extra.get('outcome') else ''},"
                f" verified `{r.verified}`;"
                f" check: {said[:300]}{extra}"
            )
    return "\n".join(lines) + "\n"


def self_test(tasks: list[Task], image: str) -> int:
    """Every check fails on the starting workspace, passes on the reference solution, and
    fails on the solution once a test file is edited."""
    bad = 0
    for task in tasks:
        ok_start, said_start = hidden_check(task, task.path / "workspace", image)
        solution = task.path / "solution"
        with tempfile.TemporaryDirectory(prefix="rb-solved-") as tmp:
            solved = Path(tmp) / "ws"
            shutil.copytree(task.path / "workspace", solved)
            if solution.is_dir():
                shutil.copytree(solution, solved, dirs_exist_ok=True)
            if (solved / "tests").is_dir():  # what running the tests leaves behind is fine
                (solved / "tests" / "__pycache__").mkdir(exist_ok=True)
                (solved / "tests" / "__pycache__" / "test_x.cpython-311.pyc").write_bytes(b"")
            ok_solved, said_solved = hidden_check(task, solved, image)
            # A solved task whose tests were edited must fail (the tests stay unchanged).
            tampered_ok = False
            for test in sorted((solved / "tests").glob("test_*.py")):
                test.write_text(test.read_text() + "\n# edited\n")
                tampered_ok, _ = hidden_check(task, solved, image)
                break
        good = not ok_start and ok_solved and not tampered_ok and solution.is_dir()
        bad += not good
        start_said = said_start.splitlines()[-1][:90] if said_start else ""
        print(
            f"{'ok ' if good else 'BAD'} {task.name}: starting workspace "
            f"{'PASSES' if ok_start else 'fails'} ({start_said}); "
            f"solution {'passes' if ok_solved else 'FAILS: ' + said_solved[-300:]}"
            + ("; solution with an edited test PASSES" if tampered_ok else "")
        )
    return 1 if bad else 0


def ensure_image(rempart: str) -> str:
    """The sandbox image the installed rempart uses (built if missing), by its exact tag.

    Not `:latest`: other checkouts on the same engine retag it. The hidden checks need
    python3 and pytest in it.
    """
    proc = subprocess.run(
        [rempart, "sandbox", "build"], capture_output=True, text=True, timeout=1800, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"`rempart sandbox build` failed: {(proc.stdout + proc.stderr)[-800:]}")
    tags = re.findall(r"rempart-sandbox:[0-9a-f]{6,}", proc.stdout + proc.stderr)
    if not tags:
        sys.exit(f"cannot tell which image `rempart sandbox build` made: {proc.stdout[-400:]}")
    probe = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", tags[-1], "python3", "-c", "import pytest"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        sys.exit(f"{tags[-1]} has no pytest for the hidden checks: {probe.stderr[-300:]}")
    return tags[-1]


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = f"{len(names)} x {names[0]}" if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    return cpu + memory


def infrastructure_failure(run: Run) -> bool:
    """The bench could not start the system at all (never the agent's doing)."""
    return run.steps is None and ("is not built" in run.error or "the audit log" in run.error)


def rerender(sources: list[Path], out: Path) -> None:
    """One table from the runs of several bench invocations (same model and settings).

    Runs the bench could not start are left out and counted; every other run is kept,
    renumbered per task and system in the order given.
    """
    runs: list[Run] = []
    dropped = 0
    for source in sources:
        for line in source.read_text().splitlines():
            if not line:
                continue
            run = Run(**json.loads(line))
            if infrastructure_failure(run):
                dropped += 1
                continue
            if run.system.startswith("rempart"):
                run.claimed_done = rempart_reported_success(run)
            run.index = 1 + sum(r.task == run.task and r.system == run.system for r in runs)
            runs.append(run)
    header = ["# Task bench: Rempart vs mini-swe-agent on the same model", ""]
    for source in sources:
        md = source.with_suffix(".md")
        lines = md.read_text().splitlines() if md.exists() else []
        header += [f"From `{source.name}`:", ""]
        header += [line for line in lines[: lines.index("## Summary")] if line.startswith("- ")]
        header.append("")
    header.append(
        f"- left out: {dropped} runs the bench could not start (sandbox image changed under "
        "it, or the shared audit log refused to start a session)"
    )
    systems = [s for s in SYSTEMS if any(r.system == s for r in runs)]
    out.with_suffix(".md").write_text(report(runs, systems, header))
    out.with_suffix(".jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in runs))
    print(out.with_suffix(".md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per task and system")
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    parser.add_argument("--rempart", default=shutil.which("rempart") or ".venv/bin/rempart")
    parser.add_argument("--policy", default=str(HERE.parent / "policies/examples/default.yaml"))
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--max-seconds", type=int, default=600)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--api-base", default="http://127.0.0.1:8011/v1")
    parser.add_argument(
        "--api-key", default=os.environ.get("REMPART_MODEL_API_KEY", "rempart-local")
    )
    parser.add_argument("--out", default="", help="write OUT.md (table) and OUT.jsonl (runs)")
    parser.add_argument("--keep", default="", help="folder for transcripts (events, trajectories)")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument(
        "--merge", default="", help="comma-separated runs .jsonl files: one table in --out"
    )
    args = parser.parse_args()
    if args.merge:
        if not args.out:
            sys.exit("--merge needs --out")
        rerender([Path(p) for p in args.merge.split(",")], Path(args.out))
        return

    tasks = discover([t for t in args.tasks.split(",") if t])
    image = ensure_image(args.rempart)
    if args.self_test:
        sys.exit(self_test(tasks, image))
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        sys.exit(f"unknown systems: {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
    if any(s.startswith("mini-swe-agent") for s in systems):
        mini_python()
    keep = Path(args.keep) if args.keep else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    opts = Options(
        rempart=args.rempart, policy=args.policy, max_steps=args.max_steps,
        max_seconds=args.max_seconds, image=image, model=args.model,
        api_base=args.api_base, api_key=args.api_key, keep=keep,
    )  # fmt: skip
    # Interleave systems and tasks so a partial result still covers every system.
    plan = [(t, s, i) for i in range(1, args.runs + 1) for t in tasks for s in systems]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runs: list[Run] = []
    lock = threading.Lock()
    out = Path(args.out) if args.out else None
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".jsonl").write_text("")
    header = [
        "# Task bench: Rempart vs mini-swe-agent on the same model",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- started: {started}; model: `{args.model}` at {args.api_base}",
        f"- machine: {machine()}; jobs: {args.jobs}; runs per task and system (N): {args.runs}",
        f"- step limit: {args.max_steps} for every system; per-run time limit {args.max_seconds}s",
        f"- rempart: `{args.rempart}` with policy `{args.policy}`; mini-swe-agent "
        f"{MINI_VERSION} (PyPI, scratch virtualenv, docker environment `{image}`, --network none)",
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one_run, t, s, i, opts) for t, s, i in plan]
        for future in concurrent.futures.as_completed(futures):
            run = future.result()
            with lock:
                runs.append(run)
                print(
                    f"[{len(runs)}/{len(plan)}] {run.system:15} {run.task:22} #{run.index} "
                    f"{'PASS' if run.passed else 'fail'} ended={run.status} "
                    f"verified={run.verified} {run.wall_s:.0f}s steps={run.steps}"
                    + (f" error={run.error[:120]}" if run.error else ""),
                    flush=True,
                )
                if out:
                    with out.with_suffix(".jsonl").open("a") as handle:
                        handle.write(json.dumps(asdict(run)) + "\n")
                    partial = [*header, f"- progress: {len(runs)} of {len(plan)} runs done"]
                    out.with_suffix(".md").write_text(report(runs, systems, partial))
    final = [*header, f"- finished: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"]
    text = report(runs, systems, final)
    print(text)
    if out:
        out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
