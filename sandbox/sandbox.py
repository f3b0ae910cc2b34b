"""`Sandbox`: one hardened container + its executor (+ egress proxy when hosts are allowed)."""

from __future__ import annotations

import base64
import errno
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from pydantic import BaseModel

from sandbox.changes import Applier, Change, ChangeReport, Judge, Outcome, Verdict, settle
from sandbox.checkpoints import ChangeSet, host_state, sandbox_state
from sandbox.container import (
    CONTAINER_WORKSPACE,
    SANDBOX_UID,
    create_container,
    new_session_id,
    pooled_tmpfs_bytes,
    prune,
    remove_session,
    sandbox_user,
    workspace_tmpfs_bytes,
)
from sandbox.egress import Egress, EgressEvent
from sandbox.engine import ENGINE_ERRORS, FORWARDER_LISTEN, KEEPER_EXIT_DETACHED
from sandbox.engines import Engines, EngineState, socket_answers
from sandbox.errors import (
    DockerUnavailable,
    ExecutorError,
    SandboxError,
    SandboxRequestError,
    WorkspaceError,
)
from sandbox.executor_client import EventSink, ExecutorClient
from sandbox.spec import SandboxSpec, pool_key
from sandbox.transfer import TarPush, push_tar
from sandbox.view import View, build_view, remove_stale_temporaries, spool_tar

REPLY_MARGIN_S = 15.0
FILE_OP_TIMEOUT_S = 60.0
REVERT_BATCH = 256
PREFETCH_BATCH = 6 * 1024 * 1024
PROXY_READY_TIMEOUT_S = 20.0
# Python and pytest leave no caches in the workspace (they would show as the session's
# changes on the host); a policy's env passthrough can still set them
QUIET_CACHES = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_ADDOPTS": "-p no:cacheprovider"}
log = logging.getLogger(__name__)


class RunResult(BaseModel):
    """What a command did. `exit_code` is 128+N when killed by signal N."""

    exit_code: int
    signal: int | None = None
    stdout: str
    stderr: str
    duration_ms: float
    timed_out: bool
    truncated: bool
    oom_killed: bool = False
    output_limit: bool = False
    changes: ChangeReport = ChangeReport()


class FileEntry(BaseModel):
    path: str
    exists: bool
    type: str = ""
    size: int = 0
    mode: int = 0
    readable: bool = False
    writable: bool = False


def _allow_all(_change: Change) -> Verdict:
    return Verdict(allowed=True, reason="no policy given")


class Sandbox:
    """A per-session sandbox. Use as a context manager: `with Sandbox(spec) as sb: ...`.

    The container sees a copy of what `readable` lets it read (the view, rebuilt at every
    start); after every command and file write, what it changed is judged by `judge` and
    only what is allowed reaches the host workspace (`sandbox.changes`). Without them
    (tests, the pool) everything is shown and every change is applied.
    """

    def __init__(
        self,
        spec: SandboxSpec,
        client: docker.DockerClient | None = None,
        readable: Callable[[str], bool] | None = None,
        judge: Judge | None = None,
        on_refused: Callable[[Outcome], None] | None = None,
        on_synced: Callable[[ChangeReport], None] | None = None,
        on_change_set: Callable[[ChangeSet], None] | None = None,
        engines: Engines | None = None,
    ) -> None:
        self.spec = spec
        self._own_client = client is None
        self._client = client
        # without a client: placed on the least loaded healthy engine (sandbox.engines)
        self.engines = engines
        self.engine = ""  # the engine it was placed on ('' when the client was given)
        self.skipped: list[EngineState] = []  # engines passed over at placement, and why
        self.session = new_session_id()
        self.container: Container | None = None
        self.egress: Egress | None = None
        self._executor: ExecutorClient | None = None
        self.readable = readable or (lambda _path: True)
        self.judge: Judge = judge or _allow_all
        self.on_refused = on_refused
        self.on_synced = on_synced
        # gets every change set before it is applied (checkpoints); raising
        # sandbox.changes.NotRecorded keeps it from the host
        self.on_change_set = on_change_set
        self.view: View | None = None
        self.replaced = 0  # times a dead executor's sandbox was replaced by a fresh one
        self.proxy_wait_ms = 0.0  # how long the last start waited for its proxy path
        self._egress_past: list[EgressEvent] = []  # proxies of replaced containers
        self.pooled = False  # booted empty by a warm pool (then adopted by one session)
        self._tar: TarPush | None = None  # a pooled sandbox's `tar -x`, opened at boot

    # lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            placement = (self.engines or Engines.from_env()).place(self.spec.image)
            self._client, self.engine, self.skipped = (
                placement.client,
                placement.url,
                placement.skipped,
            )
        return self._client

    def start(self) -> None:
        """Create the container (and egress) and wait until the executor is ready and, with
        network, until the proxy path answers from inside. What earlier owners left behind
        (their process died) is removed first."""
        try:
            self._start()
        except ENGINE_ERRORS as exc:  # the engine failed under us (stopped, restarting)
            raise DockerUnavailable(
                f"the Docker engine failed while starting the sandbox: {exc}",
                hint="check that dockerd runs; the session can be resumed",
            ) from exc

    def _start(self) -> None:
        """A cold start: boot an empty sandbox sized for this view, then load the view."""
        self._prune_orphans()
        self.pooled = False
        view = self._new_view()
        self._boot(workspace_tmpfs_bytes(self.spec, view.pages()))
        self._load(view)

    def boot(self) -> None:
        """Start an *empty* sandbox for the warm pool (container, egress, executor ready,
        proxy path ready; nothing of any workspace in it). `adopt` loads a session into it."""
        try:
            self._prune_orphans()
            self.pooled = True
            self._boot(pooled_tmpfs_bytes(self.spec))
            try:  # the exec start is paid now, not when a session loads its workspace
                self._tar = TarPush(self.client, self.container_id, self.user, CONTAINER_WORKSPACE)
            except BaseException:
                self.close()
                raise
        except ENGINE_ERRORS as exc:
            raise DockerUnavailable(
                f"the Docker engine failed while starting a pooled sandbox: {exc}",
                hint="check that dockerd runs",
            ) from exc

    def adopt(
        self,
        spec: SandboxSpec,
        readable: Callable[[str], bool] | None = None,
        judge: Judge | None = None,
        on_refused: Callable[[Outcome], None] | None = None,
        on_synced: Callable[[ChangeReport], None] | None = None,
        on_change_set: Callable[[ChangeSet], None] | None = None,
    ) -> None:
        """Take over a booted, empty pooled sandbox for a session: from now on it is that
        session's (its spec, workspace, read view and judge), exactly as `start` would have
        made it. Raises SandboxError when `spec` hardens differently or the view does not
        fit; the caller then closes this one and starts cold."""
        if self.view is not None or self._executor is None:
            raise SandboxError("only a booted, empty pooled sandbox can be adopted")
        if pool_key(spec) != pool_key(self.spec):
            raise SandboxError("the pooled sandbox was booted for another hardening spec")
        self.spec = spec
        self.readable = readable or (lambda _path: True)
        self.judge = judge or _allow_all
        self.on_refused, self.on_synced = on_refused, on_synced
        self.on_change_set = on_change_set
        try:
            view = self._new_view()
            if view.pages() + spec.limits.disk_bytes() > pooled_tmpfs_bytes(spec):
                raise WorkspaceError("the workspace does not fit a pooled sandbox")
            self._load(view)
        except ENGINE_ERRORS as exc:
            raise DockerUnavailable(
                f"the Docker engine failed while loading the sandbox: {exc}",
                hint="check that dockerd runs; the session can be resumed",
            ) from exc

    def _new_view(self) -> View:
        """The session's read view of its workspace (what `readable` lets it see)."""
        view = build_view(self.spec.workspace, self.readable)
        remove_stale_temporaries(view)
        self._check_fits(view)
        if self.view is not None:  # a replaced sandbox: the session's growth still counts
            view.grown = self.view.grown
        # the host-side cap on growth: a pooled sandbox's tmpfs is bigger than a cold one's
        view.disk_limit = self.spec.limits.disk_bytes()
        return view

    def _boot(self, workspace_bytes: int) -> None:
        """Container (+ egress proxy with network rules), executor ready, proxy path ready."""
        env = {**QUIET_CACHES, **self.spec.env}
        volume: str | None = None
        try:
            if self.spec.network_rules:
                self.egress = Egress(self.client, self.spec, self.session)
                env.update(self.egress.start())
                assert self.egress.volume is not None
                volume = self.egress.volume.name
            self.container = create_container(
                self.client, self.spec, self.session, volume, env, workspace_bytes=workspace_bytes
            )
            self._executor = ExecutorClient(self.client, self.container.id or "", self.user)
            self._executor.start()
            if self.egress is not None:
                self._wait_proxy_path(PROXY_READY_TIMEOUT_S)
        except BaseException:
            log.warning("sandbox %s did not start", self.session, exc_info=True)
            self.close()
            raise

    def _load(self, view: View) -> None:
        """Push the view into the booted sandbox and take the executor's baseline."""
        assert self.container is not None
        try:
            opened, self._tar = self._tar, None
            with spool_tar(view, SANDBOX_UID, SANDBOX_UID) as tar:
                if opened is not None:
                    opened.send(tar)
                else:
                    push_tar(self.client, self.container_id, self.user, tar, CONTAINER_WORKSPACE)
            self._request({"op": "snapshot"}, FILE_OP_TIMEOUT_S)
            self.view = view
        except BaseException:
            log.warning("sandbox %s did not load its workspace", self.session, exc_info=True)
            self.close()
            raise
        log.info(
            "sandbox %s started: container %s, %d paths shown, %d hidden, network %s",
            self.session,
            (self.container.id or "")[:12],
            len(view.items),
            len(view.hidden),
            "allowlist" if self.spec.network_rules else "none",
        )

    def _wait_proxy_path(self, timeout_s: float) -> None:
        """The first command's first connection must not be refused: probe, from inside the
        sandbox, forwarder -> proxy socket -> proxy (which answers the probe itself, with
        the forwarder's lease held), until it works or `timeout_s` passes."""
        payload = {"op": "proxy_ready", "listen": FORWARDER_LISTEN, "timeout_s": timeout_s}
        reply = self._request(payload, timeout_s + REPLY_MARGIN_S)
        self.proxy_wait_ms = float(reply.get("waited_ms", 0.0))
        if not reply.get("ready"):
            proxy_log = self.egress.log_tail() if self.egress is not None else ""
            raise SandboxError(
                f"the sandbox's egress proxy path did not answer within {timeout_s:g}s "
                f"({reply.get('attempts', 0)} probes; last: {reply.get('problem', '?')}); "
                f"the proxy's last log lines: {proxy_log or '(none)'}",
                hint="the host may be overloaded (retry), or the sandbox image is broken "
                "(`rempart sandbox build`, `rempart doctor`)",
            )

    def _prune_orphans(self) -> None:
        """Containers, volumes and networks whose owner is provably dead (see sandbox.owner)."""
        try:
            prune(self.client)
        except APIError as exc:
            raise SandboxError(
                f"cannot remove orphaned sandboxes: {exc.explanation}",
                hint="see `rempart sandbox ls`; `rempart sandbox prune` retries",
            ) from exc

    def _check_fits(self, view: View) -> None:
        """The copy lives in memory (tmpfs pages count against the memory limit)."""
        memory = self.spec.limits.memory_bytes()
        if view.pages() > memory // 2:
            raise WorkspaceError(
                f"the readable part of the workspace ({view.pages() // 2**20} MiB) does not "
                f"fit in half of the sandbox's memory ({memory // 2**20} MiB)",
                hint="raise `limits.memory`, or deny reading big folders (build output, data)",
            )

    @property
    def user(self) -> str:
        return sandbox_user(self.spec)

    def restart(self) -> None:
        """Throw the container away and start a fresh one (same spec, new session id)."""
        self.close(keep_client=True)
        self.session = new_session_id()
        self.start()

    def close(self, keep_client: bool = False) -> None:
        """Stop the executor and remove everything this session created."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self.egress is not None:  # its log goes with its container: keep it
            self._egress_past.extend(self.egress.events())
        if self._client is not None:
            log.info("sandbox %s closed", self.session)
            if self.engine and not socket_answers(self.engine):
                raise SandboxError(
                    f"cannot remove sandbox {self.session}: its engine {self.engine} is down",
                    hint="its containers stopped with the engine; the next start there (or "
                    "`rempart sandbox prune`) removes them",
                )
            try:
                remove_session(self._client, self.session)
            except ENGINE_ERRORS as exc:
                why = exc.explanation if isinstance(exc, APIError) else str(exc)
                raise SandboxError(
                    f"cannot remove sandbox {self.session}: {why}",
                    hint="its keeper stops it; the next start (or `rempart sandbox prune`) "
                    "removes it once this process has ended",
                ) from exc
            self.container = None
            self.egress = None
            if self._own_client and not keep_client:
                self._client.close()
                self._client = None

    # requests ------------------------------------------------------------------------
    def _request(
        self, payload: dict[str, Any], timeout: float, sink: EventSink | None = None
    ) -> dict[str, Any]:
        if self._executor is None:
            raise SandboxError("the sandbox is not started", hint="use `with Sandbox(spec) as sb`")
        if not self._executor.alive and self.view is not None:
            # A new executor would have no baseline: what the old one's sandbox changed can
            # no longer be judged, so the sandbox starts over from the host (a fresh view).
            if not self._keeper_stopped():
                self._executor.raise_if_gone()  # a killed container is the owner's to replace
            self.restart()
            self.replaced += 1
        assert self._executor is not None
        reply = self._executor.request(payload, timeout, sink)
        if reply.get("event") == "error":
            raise SandboxRequestError(str(reply.get("code")), str(reply.get("error")))
        return reply

    def _keeper_stopped(self) -> bool:
        """Did the container end because its executor was gone (not killed from outside)?"""
        if self.container is None:
            return False
        try:
            state = self.client.api.inspect_container(self.container_id)["State"]
        except ENGINE_ERRORS:  # gone, or the engine is down: not known to be the keeper
            return False
        return not state.get("Running") and state.get("ExitCode") == KEEPER_EXIT_DETACHED

    def run(
        self,
        cmd: str | list[str],
        cwd: str = ".",
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout_s: float | None = None,
        output_cap: int | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> RunResult:
        """Run a shell string (bash -c) or an argv list; never raises for a failing command.

        `on_output(stream, text)` receives stdout/stderr chunks as they come (streaming).
        """
        limits = self.spec.limits
        timeout = min(timeout_s or limits.timeout_s, limits.timeout_s)
        cap = min(output_cap or limits.output_bytes, limits.output_bytes)
        payload: dict[str, Any] = {
            "op": "run",
            "cwd": cwd,
            "env": env or {},
            "timeout_s": timeout,
            "output_cap": cap,
            "sync": True,  # the change set comes back with the exit (one round trip)
        }
        payload["shell" if isinstance(cmd, str) else "argv"] = cmd
        if stdin is not None:
            payload["stdin"] = stdin
        sink = None
        if on_output is not None:
            payload["stream"] = True
            callback = on_output

            def sink(event: dict[str, Any]) -> None:
                callback(str(event.get("event")), str(event.get("data", "")))

        reply = self._request(payload, timeout + REPLY_MARGIN_S, sink)
        if reply.get("event") != "exit":
            raise ExecutorError(f"unexpected executor reply: {str(reply)[:200]}")
        folded = reply.pop("sync", None)
        result = RunResult.model_validate(reply, strict=False)
        report = self._synced(folded)
        if report.refused:
            result.stderr += "\n" + report.summary() + "\n"
        return result.model_copy(update={"changes": report})

    def sync(self) -> ChangeReport:
        """Judge what the sandbox changed since the last sync; apply the allowed changes to
        the host workspace, put the refused ones back. Returns what happened to each."""
        return self._synced(None)

    def _synced(self, folded: object) -> ChangeReport:
        """`sync()` with the change set an executor folded into a `run` or `write` reply
        (`sync: true`), judged and applied exactly as a `changes` reply; an executor that
        folded none (an image older than executor version 3, or a change set it could not
        compute) is asked `changes` in a second round trip."""
        if self.view is None:
            raise SandboxError("the sandbox is not started")
        if isinstance(folded, dict):
            reply: dict[str, Any] = folded
        else:
            reply = self._request({"op": "changes"}, FILE_OP_TIMEOUT_S)
        changes = [Change.model_validate(c) for c in reply.get("changes", [])]
        if not changes:
            return ChangeReport()
        folded_files = reply.get("files")  # small files' contents, folded with the changes
        fetched = {
            str(path): base64.b64decode(str(b64))
            for path, b64 in (folded_files if isinstance(folded_files, dict) else {}).items()
        }
        fetched |= self._prefetch(
            [
                c
                for c in changes
                if c.kind == "file" and c.change != "deleted" and c.path not in fetched
            ]
        )

        def content(path: str) -> bytes:
            data = fetched.pop(path, None)
            if data is not None:
                return data
            try:
                return self._read_whole(path)
            except SandboxRequestError as exc:  # e.g. mode 000: refused like a failed write
                raise OSError(errno.EACCES, f"cannot be read in the sandbox: {exc}") from exc

        applier = Applier(self.view, content)
        view, on_change_set = self.view, self.on_change_set
        record = None
        if on_change_set is not None:

            def readable(path: str) -> bool:
                return all(self.readable(name) for name in view.names(path))

            def record(passing: list[Change]) -> None:
                on_change_set(
                    {
                        c.path: (
                            host_state(view.root, c.path, readable(c.path)),
                            sandbox_state(c, applier.content, readable(c.path)),
                        )
                        for c in passing
                    }
                )

        try:
            report, reverts = settle(changes, self.view, self.judge, applier, record)
        except Exception as exc:
            # the executor's baseline has moved on: only a fresh sandbox, built from the
            # host, shows the next command what the host really has
            self.restart()
            self.replaced += 1
            raise SandboxError(
                f"the sandbox's changes could not be settled ({exc}); it was rebuilt from "
                "the host workspace",
                hint="retry the command",
            ) from exc
        undone = True
        for start in range(0, len(reverts), REVERT_BATCH):
            batch = reverts[start : start + REVERT_BATCH]
            reply = self._request({"op": "revert", "ops": batch}, FILE_OP_TIMEOUT_S)
            undone = undone and not reply.get("failed")
        if not undone:
            # a refused change the sandbox could not undo in place (a folder made read-only,
            # say) must not stay visible to the next command: start over from the host
            self.restart()
            self.replaced += 1
        if self.on_refused is not None:
            for outcome in report.refused:
                self.on_refused(outcome)
        if self.on_synced is not None:
            self.on_synced(report)
        return report

    def _prefetch(self, files: list[Change]) -> dict[str, bytes]:
        """Small changed files' contents in batches of about 8 MiB (one round trip each)."""
        out: dict[str, bytes] = {}
        batch: list[str] = []
        size = 0
        small = [c for c in files if c.size <= PREFETCH_BATCH]
        for i, change in enumerate(small):
            batch.append(change.path)
            size += change.size
            if size >= PREFETCH_BATCH or len(batch) >= 4096 or i == len(small) - 1:
                reply = self._request({"op": "read_many", "paths": batch}, FILE_OP_TIMEOUT_S)
                for path, b64 in dict(reply.get("files", {})).items():
                    out[str(path)] = base64.b64decode(str(b64))
                batch, size = [], 0
        return out

    def _read_whole(self, path: str) -> bytes:
        chunks: list[bytes] = []
        offset = 0
        while True:
            payload = {"op": "read", "path": path, "offset": offset}
            reply = self._request(payload, FILE_OP_TIMEOUT_S)
            data = base64.b64decode(str(reply["data_b64"]))
            chunks.append(data)
            offset += len(data)
            if reply.get("eof", True) or not data:
                return b"".join(chunks)

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        payload: dict[str, Any] = {"op": "read", "path": path, "offset": offset}
        if limit is not None:
            payload["limit"] = limit
        reply = self._request(payload, FILE_OP_TIMEOUT_S)
        return base64.b64decode(str(reply["data_b64"]))

    def write_file(self, path: str, data: bytes) -> ChangeReport:
        """Write in the sandbox, then sync: raises SandboxRequestError when the write did
        not reach the host (refused, or a conflict with a change made on the host)."""
        content = base64.b64encode(data).decode()
        payload = {"op": "write", "path": path, "content_b64": content, "sync": True}
        reply = self._request(payload, FILE_OP_TIMEOUT_S)
        report = self._synced(reply.get("sync"))
        if report.refused:
            raise SandboxRequestError("write_refused", report.summary())
        return report

    def list_files(
        self, path: str = ".", pattern: str | None = None, recursive: bool = True
    ) -> list[str]:
        payload = {"op": "list", "path": path, "pattern": pattern, "recursive": recursive}
        reply = self._request(payload, FILE_OP_TIMEOUT_S)
        return [str(e) for e in reply["entries"]]

    def stat(self, path: str) -> FileEntry:
        return FileEntry.model_validate(self._request({"op": "stat", "path": path}, 30.0))

    def ping(self, timeout: float = 10.0) -> int:
        """Round-trip to the executor; returns its pid."""
        return int(self._request({"op": "ping"}, timeout)["pid"])

    def egress_events(self) -> list[EgressEvent]:
        """Every connection attempt the egress proxies of this sandbox logged, in order, the
        proxies of containers replaced by `restart()` included (empty without network)."""
        current = self.egress.events() if self.egress is not None else []
        return [*self._egress_past, *current]

    @property
    def container_id(self) -> str:
        if self.container is None:
            raise SandboxError("the sandbox is not started")
        return self.container.id or ""

    @property
    def executor(self) -> ExecutorClient:
        if self._executor is None:
            raise SandboxError("the sandbox is not started")
        return self._executor

    def is_running(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except NotFound:
            return False
        return self.container.status == "running"
