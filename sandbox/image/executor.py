"""Rempart's in-container executor: JSON lines on stdin, JSON lines on stdout.

Runs inside the sandbox as the unprivileged `agent` user, started once per sandbox with
`docker exec -i`, and serves requests until stdin closes. Standard library only.

Requests: {"id", "op": "run"|"read"|"write"|"list"|"stat"|"ping"|"proxy_ready", ...}
Replies:  {"id", "event": "exit"|"result"|"error"|"stdout"|"stderr", ...}
Every path is resolved (symlinks included) and must stay under /workspace. When stdin
closes (the owner closed the stream or died), every command still running is killed.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # on the host (mypy); in the container the files sit in /opt/rempart
    from sandbox.image import changeset, fileops, forwarder, pump
else:
    import changeset
    import fileops
    import forwarder
    import pump

RequestError = fileops.RequestError
number = fileops.number
resolve = fileops.resolve

VERSION = 3  # 3: `run` and `write` with `sync` carry the change set in their reply
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_OUTPUT_CAP = 1_000_000
# Output this much larger than the cap is a flood (`yes`, a runaway loop): the command is
# killed at once instead of running on to its timeout.
FLOOD_FACTOR = 64
FLOOD_MIN = 64 * 1024 * 1024
KILL_GRACE_S = 1.0
# the contents of the changed files that go with a folded change set, in all (the host
# reads the rest with `read_many` and `read`)
FOLD_FILES_CAP = 1024 * 1024
DRAIN_S = 2.0  # after the sweep: how long the last output may take to arrive
RUN_MARKER = "REMPART_RUN_ID"
OWNER_MARK = "/tmp/.rempart-owner"  # keeper.py: an owner attached once

Json = dict[str, Any]


class Writer:
    """Serialises replies from several threads onto stdout, one JSON object per line, each
    tagged `\t<HMAC-SHA256(key, "<n>:" + json)>` for the n-th line: the host refuses a line
    a command forges into this stream (see sandbox/executor_client.py)."""

    def __init__(self, stream: IO[bytes], key: bytes) -> None:
        self._stream = stream
        self._key = key
        self._seq = 0
        self._lock = threading.Lock()

    def send(self, obj: Json) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode()
        with self._lock:
            tag = hmac.new(self._key, b"%d:" % self._seq + body, "sha256").hexdigest()
            self._seq += 1
            line = body + b"\t" + tag.encode() + b"\n"
            # `python3 -u`: stdout is unbuffered, and a write may be short (gVisor hands
            # over 64 KiB at a time): write until the whole line is out
            view = memoryview(line)
            while view:
                written = self._stream.write(view)
                view = view[written or 0 :]
            self._stream.flush()


class CappedBuffer:
    """Keeps the first and last `cap // 2` bytes; counts what it drops in between."""

    def __init__(self, cap: int) -> None:
        self._head_cap = cap - cap // 2
        self._tail_cap = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        if len(self.tail) > 2 * self._tail_cap + 65536:
            self._trim()

    def _trim(self) -> None:
        extra = len(self.tail) - self._tail_cap
        if extra > 0:
            self.dropped += extra
            del self.tail[:extra]

    def text(self) -> str:
        self._trim()
        data = bytes(self.head)
        if self.dropped:
            data += f"\n[... {self.dropped} bytes truncated ...]\n".encode()
        return (data + bytes(self.tail)).decode("utf-8", errors="replace")


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return


def _sweep(run_id: str) -> int:
    """SIGKILL every process still carrying this run's marker (setsid'd daemons too)."""
    marker = f"{RUN_MARKER}={run_id}".encode()
    killed = 0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().split(b"\x00")
        except OSError:
            continue
        if marker in environ:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except OSError:
                continue
    return killed


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process in the container."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            out[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    return out


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _orphans(parents: dict[int, int]) -> set[int]:
    """Without a subreaper (gVisor): processes of this user re-parented to PID 1, with
    their trees. PID 1 and the keeper run as `nobody`; exec'd processes have parent 0."""
    uid = os.getuid()
    found: set[int] = set()
    for pid, ppid in parents.items():
        if ppid != 1:
            continue
        try:
            owner = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        if owner == uid:
            found |= {pid} | _descendants(pid, parents)
    return found


def _kill_strays(keep: set[int], subreaper: bool = True) -> int:
    """SIGKILL (and reap) every descendant of this executor outside the trees in `keep`.

    The executor is a child subreaper: whatever a command leaves behind (`setsid`, double
    forks, `env -i`) is re-parented here, not to PID 1, so it cannot leave this tree.
    Where the kernel allows no subreaper but PID 1 (gVisor), they are re-parented to PID 1
    and found there (`_orphans`).
    """
    me = os.getpid()
    parents = _parents()
    spared: set[int] = set()
    for pid in keep:
        spared |= {pid} | _descendants(pid, parents)
    mine = _descendants(me, parents)
    if not subreaper:
        mine |= _orphans(parents) - {me}
    strays = mine - spared
    for pid in strays:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for pid in strays:
        if parents.get(pid) == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
    return len(strays)


def _become_subreaper() -> bool:
    """Strays are re-parented to the executor, never to PID 1; and the executor is not
    dumpable, so a command (same uid) cannot open /proc/<executor>/fd/* (the reply pipe:
    a forged `exit` or change report) nor ptrace it. It stays signalable: SIGSTOP or
    SIGKILL from a command ends in a timeout or a replaced sandbox, never in a forgery."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        if err != errno.EINVAL:  # gVisor: EINVAL, only PID 1 may be a subreaper there
            raise OSError(err, "prctl(PR_SET_CHILD_SUBREAPER) failed")
        subreaper = False
    else:
        subreaper = True
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    return subreaper


# Where the container's cgroup counts its OOM kills: cgroup v2 (`memory.events`, the
# container's own cgroup namespace) and cgroup v1 (`memory.oom_control`).
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def _oom_kills(files: tuple[str, ...] = OOM_COUNTERS) -> int:
    """How many processes the kernel has OOM-killed in this container (-1: unknown)."""
    for path in files:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return -1


class Workers:
    """The threads that run commands, kept for the next command: starting a thread waits
    until it runs, a measurable part of a short command's round trip. A new one starts only
    when every kept one is busy (commands run concurrently, as before)."""

    def __init__(self, target: Callable[[Json], None]) -> None:
        self._target = target
        self._jobs: queue.SimpleQueue[Json] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, req: Json) -> None:
        """Run `target(req)` on a kept thread or a new one (RuntimeError: none can start)."""
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._serve, daemon=True).start()
        self._jobs.put(req)

    def _serve(self) -> None:
        while True:
            self._target(self._jobs.get())
            with self._lock:
                self._idle += 1


class Executor:
    def __init__(self, writer: Writer, subreaper: bool = True) -> None:
        self.writer = writer
        self.subreaper = subreaper  # False: strays are found under PID 1 (gVisor)
        self.layer = changeset.ChangeLayer()
        self._active: set[int] = set()
        self._active_lock = threading.Lock()
        # the change layer is used by the request loop and by the threads running commands
        self._layer_lock = threading.Lock()
        self._workers = Workers(self._run_safely)

    def handle(self, raw: bytes) -> None:
        rid: object = None
        try:
            req = json.loads(raw)
            if not isinstance(req, dict):
                raise RequestError("bad_request", "request must be a JSON object")
            rid = req.get("id")
            op = req.get("op")
            if op == "run":
                self._workers.submit(req)
                return
            if op == "ping":
                result: Json = {"pong": True, "pid": os.getpid(), "version": VERSION}
            elif op == "read":
                result = fileops.read(req)
            elif op == "write":
                result = fileops.write(req)
                self._fold_changes(req, result)
            elif op == "list":
                result = fileops.list_dir(req)
            elif op == "stat":
                result = fileops.stat(req)
            elif op in ("snapshot", "changes", "revert", "read_many"):
                with self._layer_lock:
                    result = self._layer_op(op, req)
            elif op == "proxy_ready":  # the egress path, probed from where commands run
                listen = str(req.get("listen", "127.0.0.1:3128"))
                result = forwarder.wait_ready(listen, number(req, "timeout_s", 20.0))
            else:
                raise RequestError("bad_request", f"unknown op: {op!r}")
            self.writer.send({"id": rid, "event": "result", **result})
        except RequestError as exc:
            self.writer.send({"id": rid, "event": "error", "code": exc.code, "error": str(exc)})
        except (ValueError, TypeError) as exc:
            self.writer.send(
                {"id": rid, "event": "error", "code": "bad_request", "error": str(exc)}
            )
        except OSError as exc:
            self.writer.send({"id": rid, "event": "error", "code": "os_error", "error": str(exc)})
        except RuntimeError as exc:  # e.g. "can't start new thread" under a fork bomb
            self.writer.send({"id": rid, "event": "error", "code": "resource", "error": str(exc)})

    def shutdown(self) -> None:
        """The owner is gone (stdin closed): kill every command and whatever it started."""
        with self._active_lock:
            groups = list(self._active)
            self._active.clear()
        for pgid in groups:
            _kill_group(pgid, signal.SIGKILL)
        for _ in range(20):
            if _kill_strays(set(), self.subreaper) == 0:
                break

    def _layer_op(self, op: str, req: Json) -> Json:
        if op == "snapshot":
            return self.layer.snapshot(req)
        if op == "changes":
            return self.layer.changes(req)
        if op == "revert":
            return self.layer.revert(req)
        return self.layer.read_many(req)

    def _fold_changes(self, req: Json, result: Json) -> None:
        """`sync` asked: what changed since the last sync (computed after the command and
        the sweep of whatever it left running) goes in this reply, as `changes` would
        report it, with the contents of the small changed files (up to `FOLD_FILES_CAP` in
        all, as `read_many` gives them), so the host needs no second round trip. When it
        cannot be computed the reply goes without it: the host then asks `changes`, which
        reports the error."""
        if not req.get("sync"):
            return
        with contextlib.suppress(OSError, ValueError), self._layer_lock:
            sync = self.layer.changes(req)
            small = [
                c["path"]
                for c in sync["changes"]
                if c.get("kind") == "file"
                and c["change"] != "deleted"
                and c.get("size", 0) <= FOLD_FILES_CAP
            ]
            if small:
                files = self.layer.read_many({"paths": small, "cap": FOLD_FILES_CAP})
                sync["files"] = files["files"]
            result["sync"] = sync

    def _run_safely(self, req: Json) -> None:
        rid = req.get("id")
        try:
            result = self.run(req)
            self._fold_changes(req, result)
            self.writer.send(result)
        except RequestError as exc:
            self.writer.send({"id": rid, "event": "error", "code": exc.code, "error": str(exc)})
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            self.writer.send({"id": rid, "event": "error", "code": "internal", "error": str(exc)})

    def run(self, req: Json) -> Json:
        rid = req.get("id")
        argv = req.get("argv")
        shell = req.get("shell")
        if isinstance(shell, str):
            args = ["/bin/bash", "-c", shell]
        elif isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            args = list(argv)
        else:
            raise RequestError("bad_request", "run needs argv (non-empty list) or shell")
        cwd = resolve(req.get("cwd") or ".")
        timeout = number(req, "timeout_s", DEFAULT_TIMEOUT_S)
        cap = int(number(req, "output_cap", DEFAULT_OUTPUT_CAP))
        env = dict(os.environ)
        extra = req.get("env") or {}
        if not isinstance(extra, dict):
            raise RequestError("bad_request", "env must be an object")
        env.update({str(k): str(v) for k, v in extra.items()})
        run_id = f"{os.getpid()}-{rid}"
        env[RUN_MARKER] = run_id
        stdin_data = req.get("stdin")
        stream = bool(req.get("stream"))
        bufs = {"stdout": CappedBuffer(cap), "stderr": CappedBuffer(cap)}
        flood = {"limit": max(FLOOD_FACTOR * cap, FLOOD_MIN), "hit": False}
        oom_before = _oom_kills()
        started = time.monotonic()
        with self._active_lock:  # a command being started is never a stray
            try:
                proc = subprocess.Popen(
                    args,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.PIPE if isinstance(stdin_data, str) else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    close_fds=True,
                )
            except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
                code = 127 if isinstance(exc, FileNotFoundError) else 126
                return self._exit(rid, code, None, started, False, bufs, f"{args[0]}: {exc}\n")
            except (BlockingIOError, OSError) as exc:
                return self._exit(rid, 126, None, started, False, bufs, f"cannot start: {exc}\n")
            self._active.add(proc.pid)
        exit_fd = pump.pidfd(proc.pid)
        if proc.stdin is not None:
            threading.Thread(
                target=self._feed, args=(proc.stdin, str(stdin_data).encode()), daemon=True
            ).start()
        pipes = pump.Pump(self.writer.send, rid, proc, bufs, stream, flood)
        timed_out = False
        try:
            pipes.until_exit(exit_fd, started + timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                pipes.until_exit(exit_fd, time.monotonic() + KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
        # Nothing the command started may outlive it: its process group, its marker, then
        # every other process below this executor that no other running command owns.
        with self._active_lock:
            self._active.discard(proc.pid)
        for _ in range(20):
            _kill_group(proc.pid, signal.SIGKILL)
            with self._active_lock:
                killed = _sweep(run_id) + _kill_strays(set(self._active), self.subreaper)
            if killed == 0:
                break
        pipes.drain(time.monotonic() + DRAIN_S)
        rc = proc.returncode
        sig = -rc if rc < 0 else None
        note = ""
        oom = sig == signal.SIGKILL and not timed_out and _oom_kills() > oom_before >= 0
        if oom:
            note = "\n[killed: out of memory (sandbox memory limit)]\n"
        elif flood["hit"]:
            note = f"\n[killed: more than {flood['limit']} bytes of output]\n"
        result = self._exit(rid, 128 + sig if sig else rc, sig, started, timed_out, bufs, note)
        result["oom_killed"] = oom
        result["output_limit"] = bool(flood["hit"])
        return result

    @staticmethod
    def _exit(
        rid: object,
        code: int,
        sig: int | None,
        started: float,
        timed_out: bool,
        bufs: dict[str, CappedBuffer],
        stderr_note: str,
    ) -> Json:
        stdout, stderr = bufs["stdout"].text(), bufs["stderr"].text()  # text() trims first
        return {
            "id": rid,
            "event": "exit",
            "exit_code": code,
            "signal": sig,
            "duration_ms": round((time.monotonic() - started) * 1000.0, 3),
            "timed_out": timed_out,
            "truncated": any(b.dropped for b in bufs.values()),
            "stdout": stdout,
            "stderr": stderr + stderr_note,
        }

    @staticmethod
    def _feed(pipe: IO[bytes], data: bytes) -> None:
        # the command may exit without reading all of its stdin: a broken pipe is fine
        with contextlib.suppress(OSError):
            pipe.write(data)
        with contextlib.suppress(OSError):
            pipe.close()


def _read_key() -> bytes:
    """The host's first line: the reply key (before any command can read this stream)."""
    try:
        key = bytes.fromhex(json.loads(sys.stdin.buffer.readline())["key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"executor: no reply key on the first line ({exc})") from exc
    if len(key) < 16:
        raise SystemExit("executor: the reply key is too short")
    return key


def main() -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    key = _read_key()
    preload = os.environ.get("LD_PRELOAD", "")
    if preload and not os.path.exists(preload):  # the base image had no C compiler
        del os.environ["LD_PRELOAD"]
    subreaper = _become_subreaper()
    with contextlib.suppress(OSError), open(OWNER_MARK, "w") as mark:
        mark.write(f"{os.getpid()}\n")  # the keeper's sign that an owner attached
    executor = Executor(Writer(sys.stdout.buffer, key), subreaper)
    executor.writer.send({"id": None, "event": "ready", "pid": os.getpid(), "version": VERSION})
    for raw in sys.stdin.buffer:
        if raw.strip():
            executor.handle(raw)
    # stdin closed: the host closed the stream, or the process that owned it died. Nothing
    # this executor started may outlive it (the container's keeper then stops the container).
    executor.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
