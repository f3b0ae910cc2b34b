"""A session, built from settings and options: policy, model, sandbox, store, audit, loop.

    with Session(settings, options, listeners=[print_event]) as session:
        finish = session.run()

The front ends (headless CLI, TUI) only build `SessionOptions` and listen to events.
A policy that does not load, or a model server that does not answer, stops it before start.
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from agent import textcalls
from agent.approval import Approver, DenyApprover
from agent.approved import ApprovedStore
from agent.audit import open_audit
from agent.baseline import asks_same_output, opening, worth_running
from agent.discovery import discover_layers, load_policy_set, trusted_files
from agent.errors import McpError, ProfileError, StoreError
from agent.events import (
    AssistantDelta,
    ErrorEvent,
    Event,
    FinishEvent,
    NoticeEvent,
    SessionStarted,
)
from agent.evidence import Evidence
from agent.finishing import Finisher
from agent.loop import AgentLoop, Interrupted, LoopLimits, TimeUp
from agent.mcp_boxes import server_sandbox
from agent.mcp_config import load_all as load_mcp_config
from agent.mcp_hub import McpHub
from agent.mcp_pins import Pins, Vetted
from agent.messages import Message, ToolCallRequest
from agent.model_client import OpenAIModelClient
from agent.pointers import where_named
from agent.probe import Capabilities, pick_model, probe
from agent.projectcheck import ProjectCheck, find_check
from agent.projectmap import project_context
from agent.replicas import ReplicatedModelClient
from agent.runner import CallRunner, SandboxHandle
from agent.sandboxes import new_sandbox, sandbox_image
from agent.serving.profiles import deploy_dir, profile_for
from agent.settings import Settings
from agent.store import open_store
from agent.tools import TOOLS, tools_for
from agent.tools.base import Tool, ToolArgumentError, ToolContext, ToolLike, workspace_path
from agent.tools.lint import left_broken
from agent.tools.mcp_tool import McpTool
from agent.tools.write_file import current_text
from agent.warm import Probed, Warm
from agent.workspace_lock import WorkspaceLock
from policies import McpStart
from policies.errors import RempartError
from policies.exitcodes import Exit
from sandbox import Sandbox, SandboxError
from sandbox.changes import Change, NotRecorded, Outcome, Verdict
from sandbox.checkpoints import ChangeSet, Checkpoints
from sandbox.engines import cli_args
from sandbox.errors import SandboxRequestError
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy

Listener = Callable[[Event], None]
MAX_LOOKED_AT = 400  # files `finish` looks through for the task's named terms
LOOK_LIMIT = 256 * 1024
START_CHECK = ToolCallRequest(id="start-check", name="check", arguments="{}")


@dataclass
class SessionOptions:
    task: str
    workspace: Path
    policy_files: list[Path] = field(default_factory=list)
    approver: Approver = field(default_factory=DenyApprover)
    model_url: str | None = None  # the endpoint (base URL); default: settings.model_base_url
    model: str | None = None  # the model's name on that server; default: settings, else its first
    resume_id: str | None = None
    follow_up: str | None = None  # with resume_id: the person's next message to the model
    limits: LoopLimits = field(default_factory=LoopLimits)
    ignore_project_policy: bool = False
    # a long-lived host's warm pools and probe cache (agent.warm); None: start cold
    warm: Warm | None = None


def _sampling(settings: Settings, model: str) -> dict[str, float]:
    """The serving profile's sampling parameters for this model ({} when none matches)."""
    try:
        return dict(profile_for(deploy_dir(settings), model).sampling)
    except ProfileError:
        return {}


def _close_quietly(sandbox: Sandbox) -> None:
    """A pooled sandbox that could not be adopted: the session starts cold instead."""
    with contextlib.suppress(SandboxError):  # its keeper stops it; a later start prunes it
        sandbox.close()


def system_prompt(offered: Collection[str] = TOOLS) -> str:
    """The system prompt; lines about a built-in tool the session does not offer go."""
    text = importlib.resources.files("agent").joinpath("prompts/system.md").read_text()
    absent = [name for name in TOOLS if name not in offered]
    kept = [line for line in text.splitlines() if not any(name in line for name in absent)]
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")


class Session:
    def __init__(
        self, settings: Settings, options: SessionOptions, listeners: list[Listener]
    ) -> None:
        self.settings, self.options, self.listeners = settings, options, listeners
        self.store = open_store(settings)
        self.audit = open_audit(settings)
        self.id = ""
        self.loop: AgentLoop | None = None
        self._sandbox: SandboxHandle | None = None
        self._client: OpenAIModelClient | ReplicatedModelClient | None = None
        self.capabilities: Capabilities | None = None
        self._mcp: McpHub | None = None
        self.evidence = Evidence()
        self.check: ProjectCheck | None = None
        self._context = ""
        self._offered: dict[str, Tool] = {}  # the built-in tools this session offers
        self._lock: WorkspaceLock | None = None
        self.checkpoints: Checkpoints | None = None
        self._runner: CallRunner | None = None
        self._pending: list[Event] = []  # told once the session exists
        self._engine_args: list[str] = []  # the docker CLI's way to the sandbox's engine
        self._refill: Callable[[], None] = lambda: None  # the warm pool's, after start

    # lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Session:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        finally:
            self._refill()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._mcp is not None:
            self._mcp.close()
            try:
                self._record_mcp_egress(self._mcp)
            except RempartError as exc:  # an audit failure: still close the sandbox
                self._tell(ErrorEvent(message=exc.message, hint=exc.hint))
        if self._sandbox is not None:
            try:
                if self._runner is not None:  # the proxy's last lines, before it is removed
                    self._runner.record_egress()
            except RempartError as exc:  # an audit or engine failure: still close the sandbox
                self._tell(ErrorEvent(message=exc.message, hint=exc.hint))
            try:
                self._sandbox.close()
            except SandboxError as exc:  # its keeper stops it; a later start prunes it
                self._tell(ErrorEvent(message=exc.message, hint=exc.hint))
        if self._client is not None:
            self._client.close()
        if self._lock is not None:
            self._lock.release()
        self.store.close()

    def _tell(self, event: Event) -> None:
        """Show an event even when it cannot be stored (the store may be what failed)."""
        try:
            self.emit(event)
        except StoreError:
            shown = event.model_copy(update={"session_id": self.id})
            for listener in self.listeners:
                listener(shown)

    def emit(self, event: Event) -> Event:
        event = event.model_copy(update={"session_id": self.id})
        if not isinstance(event, AssistantDelta):
            event = self.store.add_event(event)
            self.evidence.on_event(event)
        for listener in self.listeners:
            listener(event)
        return event

    def _start(self) -> None:
        settings = self.settings
        resumed = self.store.get(self.options.resume_id) if self.options.resume_id else None
        if resumed is not None:  # a copy: the caller's options stay as they were
            self.options = replace(
                self.options, task=resumed.task, workspace=Path(resumed.workspace)
            )
        opts = self.options
        workspace = opts.workspace.resolve()
        # one session per workspace (kill -9 releases it); taken before anything runs
        self._lock = WorkspaceLock(settings.locks_dir, workspace).acquire(
            f"session {resumed.id}" if resumed else "a new session"
        )
        layers = discover_layers(
            settings, workspace, opts.policy_files, ignore_project=opts.ignore_project_policy
        )
        self.policy = load_policy_set(layers)
        urls = [opts.model_url] if opts.model_url else settings.model_replicas
        model_name = opts.model or settings.model_name
        client: OpenAIModelClient | ReplicatedModelClient
        if len(urls) > 1:
            client = ReplicatedModelClient(
                urls,
                model_name,
                settings.model_api_key,
                settings.model_timeout_s,
                settings.model_retries,
                on_failover=self._failed_over,
            )
        else:
            client = OpenAIModelClient(
                urls[0],
                model_name,
                settings.model_api_key,
                settings.model_timeout_s,
                settings.model_retries,
            )
        self._client = client
        warm = opts.warm
        known = warm.probes.get(urls, model_name, settings.tool_call_mode) if warm else None
        if known is not None:  # probed by a session of this process moments ago
            client.model, self.capabilities = known.model, known.capabilities
            client.sampling = dict(known.sampling)
        else:
            client.model = model_name or pick_model(client)
            client.sampling = _sampling(settings, client.model)
            self.capabilities = probe(client, settings.tool_call_mode)
            if warm is not None:
                probed = Probed(client.model, self.capabilities, dict(client.sampling))
                warm.probes.put(urls, model_name, settings.tool_call_mode, probed)
        image = sandbox_image(settings)
        spec = spec_from_policy(self.policy, workspace, image)
        policy = self.policy
        runner_ref: list[CallRunner] = []

        def judge(change: Change) -> Verdict:
            if not runner_ref:  # nothing runs before the runner exists; stay closed
                return policy_judge(policy)(change)
            return runner_ref[0].judge_change(change)

        def refused(outcome: Outcome) -> None:
            if runner_ref:
                runner_ref[0].record_refused_change(outcome)

        evidence = self.evidence

        def checkpoint(changes: ChangeSet) -> None:
            if self.checkpoints is None:  # nothing is applied before the session exists
                raise NotRecorded("no session to checkpoint this change in")
            label = runner_ref[0].step_label() if runner_ref else "session start"
            self.checkpoints.record(changes, label)

        engines = settings.engines()
        # only the session's first sandbox may come from a pool (pools are Docker sandboxes)
        pool_turn = [warm] if settings.sandbox_backend == "docker" else []

        def start_sandbox() -> Sandbox:
            sandbox: Sandbox | None = None
            host = pool_turn.pop() if pool_turn else None
            if host is not None:
                sandbox = host.pools.take(spec)
                named = {address.url for address in engines.addresses}
                if sandbox is not None and sandbox.engine not in named:
                    # the host's pools are placed on its engines: never on one this
                    # session's settings (`docker_hosts`) do not name
                    _close_quietly(sandbox)
                    sandbox = None
                # its replacement boots once the session is ready, not beside its start
                self._refill = lambda: host.pools.refill(spec)
            if host is not None and sandbox is not None:
                try:
                    sandbox.adopt(
                        spec,
                        readable=readable(policy),
                        judge=judge,
                        on_refused=refused,
                        on_synced=evidence.on_sync,
                        on_change_set=checkpoint,
                    )
                except SandboxError:  # e.g. its view does not fit a pooled sandbox
                    _close_quietly(sandbox)
                    sandbox = None
            if sandbox is None:
                sandbox = new_sandbox(
                    settings,
                    spec,
                    readable=readable(policy),
                    judge=judge,
                    on_refused=refused,
                    on_synced=evidence.on_sync,
                    on_change_set=checkpoint,
                    engines=engines,
                )
                sandbox.start()
            self._engine_args = cli_args(sandbox.engine)
            self._engine_notices(sandbox)
            if sandbox.view is not None:
                evidence.take_baseline(sandbox.view)
            return sandbox

        self._sandbox = SandboxHandle(start_sandbox)
        self._spec, self._judge, self._workspace = spec, judge, workspace
        self._engines = engines
        self.id = (
            resumed.id if resumed else self.store.create(opts.task, str(workspace), client.model)
        )
        self.store.set_status(self.id, "running")
        self._lock.describe(f"session {self.id}")
        self.checkpoints = Checkpoints(settings.checkpoints_dir, workspace, self.id)
        self.audit.append(
            self.id, "session", note=f"{'resume' if resumed else 'start'}: {opts.task[:300]}"
        )
        if isinstance(client, ReplicatedModelClient):  # the session's replica, from now on
            client.bind(self.id)
        for url in urls:  # the host side's destinations (`rempart audit egress`)
            self.audit.append(
                self.id,
                "egress",
                action={"kind": "model.connect", "url": url},
                decision="host",
                approver="model-client",
            )
        self.emit(
            SessionStarted(
                task=opts.task,
                workspace=str(workspace),
                model=client.model,
                base_url=client.base_url,
                tool_call_mode=self.capabilities.mode or "text",
                policy_layers=[f"{layer.name}: {layer.path}" for layer in layers],
                network="allowlist: " + ", ".join(spec.network_allow)
                if spec.network_allow
                else "none",
                resumed=resumed is not None,
            )
        )
        for event in self._pending:
            self.emit(event)
        self._pending.clear()
        limits = replace(opts.limits, context_tokens=self.capabilities.context_tokens)
        policy_limits = self.policy.limits
        handle = self._sandbox
        held: set[str] = set()  # the session's writes refused once (agent.tools.write_file)
        seen: set[str] = set()  # the files the model read in this session (read_file)
        originals: dict[str, str | None] = {}  # each changed file as first found (lint)
        runner = CallRunner(
            self.id,
            self.policy,
            opts.approver,
            self._sandbox,
            self.audit,
            self.emit,
            lambda: ToolContext(
                sandbox=handle.current,
                timeout_s=policy_limits.timeout_s,
                output_cap=min(policy_limits.output_bytes, 30_000),
                aids=settings.aids,
                held=held,
                files_read=seen,
                originals=originals,
            ),
            ApprovedStore(settings.config_dir),
        )
        runner_ref.append(runner)
        self._runner = runner
        self._offered = tools_for(settings.aids, opts.task)
        tools: dict[str, ToolLike] = {**self._offered, **self._start_mcp(runner)}
        self._know_project(workspace)
        finisher = Finisher(
            opts.task,
            self.check,
            runner.run_check,
            self.evidence,
            settings.aids,
            files=self._workspace_texts,
            exists=self._exists,
            broken=lambda: left_broken(originals, self._text_now),
        )
        self.loop = AgentLoop(
            client,
            tools,
            runner,
            self.emit,
            lambda m: self.store.add_message(self.id, m),
            self.capabilities.mode,
            limits,
            finisher=finisher,
        )

    def _failed_over(self, failed: str, now: str, why: str) -> None:
        """A model replica died mid-session: the session goes on on another one."""
        text = f"model replica {failed} failed ({why}); the session continues on {now}"
        if self.id:
            self._tell(NoticeEvent(text=text))
        else:
            self._pending.append(NoticeEvent(text=text))

    def _engine_notices(self, sandbox: Sandbox) -> None:
        """Say which engines were passed over (dead, or without the image), and where the
        sandbox went; before the session exists they wait for its first event."""
        for state in sandbox.skipped:
            text = (
                f"Docker engine {state.url} skipped: {state.problem}; "
                f"the sandbox runs on {sandbox.engine}"
            )
            if self.id:
                self._tell(NoticeEvent(text=text))
            else:
                self._pending.append(NoticeEvent(text=text))

    def _know_project(self, workspace: Path) -> None:
        """The project's check and the map a small model gets at start, from what the
        sandbox can see (read-denied files are not in it)."""
        assert self._sandbox is not None
        sandbox = self._sandbox.current

        def read(path: str) -> str | None:
            if path == ".rempart/project.yaml":  # Rempart's own configuration, on the host
                host = workspace / ".rempart" / "project.yaml"
                return host.read_text(errors="replace") if host.is_file() else None
            try:
                return sandbox.read_file(path, limit=256 * 1024).decode("utf-8", "replace")
            except SandboxRequestError:
                return None

        entries = sandbox.list_files(".", None, True)
        if (workspace / ".rempart" / "project.yaml").is_file():
            entries.append(".rempart/project.yaml")
        self.check = find_check(self.options.task, entries, read)
        if self.settings.aids:
            self._context = project_context(entries, read, self.check)

    def _check_first(self) -> str:
        """With the aids on, the project's check run before the model's first turn; what
        the model is told of it (`agent.baseline`)."""
        check, runner, loop = self.check, self._runner, self.loop
        if not self.settings.aids or check is None or runner is None or loop is None:
            return ""
        if not worth_running(check, self._exists):
            return ""
        record = runner.run_check(START_CHECK, check, 0)
        same = asks_same_output(self.options.task)
        if same and check.kind == "run" and record.exit_code == 0:
            self.check = check.model_copy(update={"expect_output": record.output_tail})
            loop.finisher.check = self.check
        return opening(record, same)

    def _exists(self, path: str) -> bool:
        """Whether the sandbox sees a file at this workspace path (no: also when the path
        is outside the workspace or the sandbox cannot answer)."""
        assert self._sandbox is not None
        try:
            return bool(self._sandbox.current.stat(workspace_path(path)).exists)
        except (SandboxError, ToolArgumentError):
            return False

    def _text_now(self, path: str) -> str | None:
        """A workspace file's whole text as the sandbox sees it now (None: gone, or the
        sandbox cannot answer)."""
        assert self._sandbox is not None
        try:
            return current_text(ToolContext(sandbox=self._sandbox.current), path)
        except SandboxError:
            return None

    def _pointers(self, rename_tool: bool) -> str:
        """With the aids on, where the task's named things are (`agent.pointers`)."""
        if not self.settings.aids:
            return ""
        try:
            return where_named(self.options.task, self._workspace_texts, rename_tool)
        except SandboxError:  # nothing to point at; the session goes on without it
            return ""

    def _workspace_texts(self) -> Iterator[tuple[str, str]]:
        """(path, text) of the files the sandbox can see (MAX_LOOKED_AT files, LOOK_LIMIT
        bytes each): what `finish` looks through for the task's named terms."""
        assert self._sandbox is not None
        sandbox = self._sandbox.current
        for path in sandbox.list_files(".", None, True)[:MAX_LOOKED_AT]:
            try:
                data = sandbox.read_file(path, limit=LOOK_LIMIT)
            except SandboxRequestError:
                continue
            if b"\0" not in data[:4096]:
                yield path, data.decode("utf-8", "replace")

    def _start_mcp(self, runner: CallRunner) -> dict[str, McpTool]:
        """Start the configured MCP servers the policy lets start, each in its own sandbox."""
        settings = self.settings
        config = load_mcp_config(
            settings.org_policy_dir, settings.config_dir, self._workspace, trusted_files(settings)
        )
        for note in config.skipped:
            self.emit(NoticeEvent(text=note))
            self.audit.append(self.id, "mcp", note=note)
        if not config.servers or self._sandbox is None:
            return {}
        if settings.sandbox_backend != "docker":  # never on the Docker engine instead
            for name in config.servers:
                note = (
                    f"MCP server {name} not started: MCP servers run in Docker sandboxes "
                    f"only, and this session's sandbox_backend is {settings.sandbox_backend}"
                )
                self.emit(NoticeEvent(text=note))
                self.audit.append(self.id, "mcp", note=note)
            return {}
        self._mcp = McpHub()
        tools: dict[str, McpTool] = {}
        pins = Pins(settings.config_dir)
        taken = {name: f"built-in tool {name}" for name in TOOLS}
        for name, server in config.servers.items():
            start = ToolCallRequest(id=f"mcp-start-{name}", name="mcp.start", arguments="{}")
            refusal = runner.authorise("mcp.start", start, McpStart(server=name))
            if refusal is not None:
                self.emit(NoticeEvent(text=f"MCP server {name} not started: {refusal}"))
                continue
            box = server_sandbox(self.policy, name, self._spec, self._judge, self._engines)
            writes = self.policy.mcp_workspace(name) == "rw"
            try:
                box.start()
                infos = self._mcp.start(name, server, box, writes=writes)
            except (McpError, SandboxError) as exc:
                box.close()
                self.emit(ErrorEvent(message=exc.message, hint=exc.hint))
                self.audit.append(self.id, "mcp", note=f"server {name} failed: {exc.message}")
                continue
            others = [*TOOLS, *(i.name for i in infos), *(t.info.name for t in tools.values())]
            vetted = pins.vet(infos, taken, others)
            self._report_vetting(name, vetted)
            for info in vetted.usable:
                tool = McpTool(info, self._mcp)
                tools[tool.name] = tool
            listed = ", ".join(info.name for info in vetted.usable) or "no usable tools"
            network = ", ".join(box.spec.network_allow) or "none"
            self.emit(
                NoticeEvent(
                    text=f"MCP server {name} started in the sandbox: {listed} "
                    f"(own container; network: {network}; workspace: "
                    f"{self.policy.mcp_workspace(name)})"
                )
            )
            self.audit.append(
                self.id, "mcp", note=f"server {name} started: {listed}; network: {network}"
            )
        return tools

    def _record_mcp_egress(self, hub: McpHub) -> None:
        """Each MCP server's egress proxy log, as `egress` records naming the server."""
        for server, events in hub.egress.items():
            for event in events:
                action: dict[str, object] = {
                    "kind": "net.connect", "host": event.host, "port": event.port,
                    "mcp_server": server, "rule": event.rule, "sandbox": event.sandbox,
                }  # fmt: skip
                self.audit.append(
                    self.id,
                    "egress",
                    action=action,
                    decision=event.decision,
                    approver="egress-proxy",
                    note=event.reason or None,
                )

    def _report_vetting(self, server: str, vetted: Vetted) -> None:
        """Every tool left out (rug pull, shadowing, hidden instructions) is said and logged."""
        notes = [f"MCP tool {key} disabled: {why}" for key, why in vetted.refused.items()]
        notes += [
            f"MCP tool {key} disabled: its definition changed since it was pinned "
            f"(re-approve with `rempart mcp pin {server}`):\n{change}"
            for key, change in vetted.changed.items()
        ]
        notes += [
            f"MCP tool {key} disabled until a person pins it (`rempart mcp pin {server}`): "
            + ("; ".join(flags) if flags else "not pinned yet")
            for key, flags in vetted.waiting.items()
        ]
        if vetted.pinned_now:
            listed = ", ".join(i.name for i in vetted.pinned_now)
            notes.append(f"MCP server {server}: pinned on first approval: {listed}")
        for note in notes:
            self.emit(NoticeEvent(text=note))
            self.audit.append(self.id, "mcp", note=note[:2000])

    # running -----------------------------------------------------------------------
    def _history(self) -> list[Message]:
        if not self.options.resume_id:
            offered = self._offered
            prompt = system_prompt(offered)
            if self.capabilities is not None and self.capabilities.mode is None:
                prompt += "\n\n" + textcalls.instructions(
                    [tool.schema() for tool in offered.values()]
                )
            task = self.options.task
            if self._context:
                task = f"{self._context}\n\nYour task:\n{task}"
            first = [self._check_first(), self._pointers("rename_symbol" in offered)]
            task = "\n\n".join([task, *[part for part in first if part]])
            messages = [
                Message(role="system", content=prompt),
                Message(role="user", content=task),
            ]
            for message in messages:
                self.store.add_message(self.id, message)
            return messages
        messages = self.store.messages(self.id)
        answered = {m.tool_call_id for m in messages if m.role == "tool"}
        for message in list(messages):
            for call in message.tool_calls:
                if call.id not in answered:
                    lost = Message(
                        role="tool",
                        tool_call_id=call.id,
                        content="error: the session was interrupted during this call; "
                        "check its effect before repeating it",
                    )
                    messages.append(lost)
                    self.store.add_message(self.id, lost)
        text = self.options.follow_up or "The session was resumed. Continue the task."
        note = Message(role="user", content=text)
        messages.append(note)
        self.store.add_message(self.id, note)
        return messages

    def run(self) -> FinishEvent:
        assert self.loop is not None, "use Session as a context manager"
        try:
            finish = self.loop.run(self._history())
        except RempartError as exc:
            # the model server down; a record that cannot be written (nothing was done
            # without it); the store or the sandbox failing: a person's to fix, then resume
            self._tell(ErrorEvent(message=exc.message, hint=exc.hint))
            state = self.loop.state
            # by the code the error carries: a prompt the server still finds too long
            # (ContextOverflow, Exit.ERROR) is not a server that did not answer
            unreachable = exc.exit_code == Exit.MODEL_UNREACHABLE
            finish = self.loop.finisher.final(
                "failed", exc.message, None, unreachable=unreachable, error=not unreachable
            )
            finish = finish.model_copy(
                update={"steps": state.steps, "repairs": state.repairs, "failures": state.failures}
            )
        try:
            self.store.set_status(self.id, finish.status)
            return self.emit(finish)  # type: ignore[return-value]
        except StoreError as exc:
            self._tell(ErrorEvent(message=exc.message, hint=exc.hint))
            self._tell(finish)
            return finish

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop_requested.set()

    def interrupt_model_turn(self, time_up: bool = False) -> None:
        """From a signal handler in the main thread: a model turn that streams nothing
        (a long prompt on a CPU, a hung server) is cut at once; a tool call never is (the
        loop stops before the next step)."""
        if self.loop is not None and self.loop.waiting_on_model:
            raise TimeUp() if time_up else Interrupted()
