"""One tool call through the two walls: policy decision (and approval), then the sandbox.

Emits a `DecisionEvent` per action and a `ToolResultEvent` per call, and writes both to the
audit log. What the model can fix (bad arguments, a denial, a path the sandbox refuses)
comes back as an `is_error` output; a dead container is replaced and the call reported failed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from agent.approval import ApprovalRequest, Approver, always_rule
from agent.approved import ApprovedStore
from agent.audit import AuditTrail, output_digest
from agent.events import (
    CheckEvent,
    CheckRecord,
    DecisionEvent,
    ErrorEvent,
    Event,
    ToolResultEvent,
)
from agent.messages import ToolCallRequest
from agent.preview import preview
from agent.projectcheck import ProjectCheck
from agent.tools.base import SandboxLike, ToolArgumentError, ToolContext, ToolLike, ToolOutput
from agent.tools.output import clean
from policies import Action, Decision, DecisionKind, Exec, FsWrite, McpCall, PolicySet
from policies.errors import RempartError
from sandbox.changes import Change, Outcome, Verdict
from sandbox.errors import (
    DockerUnavailable,
    ExecutorError,
    SandboxError,
    SandboxGone,
    SandboxRequestError,
)

OUTPUT_TAIL = 2_000


class ClosableSandbox(SandboxLike, Protocol):
    def close(self) -> None: ...

    def egress_events(self) -> list[Any]: ...

    @property
    def container_id(self) -> str: ...

    @property
    def user(self) -> str: ...


ENGINE_WAIT_S = 60.0


class SandboxHandle:
    """The session's current sandbox; replaced with a fresh one when the old one dies.

    A sandbox whose engine failed (a restart of dockerd) is `broken`: the next call
    replaces it first, waiting up to `engine_wait_s` for the engine to answer again.
    """

    def __init__(
        self, start: Callable[[], ClosableSandbox], engine_wait_s: float = ENGINE_WAIT_S
    ) -> None:
        self._start = start
        self.engine_wait_s = engine_wait_s
        self.current = start()
        self.restarts = 0
        self.broken = False
        self.leftovers: list[ClosableSandbox] = []  # could not be removed (engine down)

    def replace(self) -> None:
        """Close the current sandbox (kept for later when that fails) and start a new one;
        raises SandboxError when the engine does not come back in time."""
        old, self.broken = self.current, True
        for sandbox in [*self.leftovers, old]:
            try:
                sandbox.close()
            except SandboxError:
                if sandbox not in self.leftovers:
                    self.leftovers.append(sandbox)
            else:
                if sandbox in self.leftovers:
                    self.leftovers.remove(sandbox)
        deadline = time.monotonic() + self.engine_wait_s
        while True:
            try:
                self.current = self._start()
                break
            except (DockerUnavailable, ExecutorError):
                if time.monotonic() > deadline:
                    raise
                threading.Event().wait(1.0)
        self.restarts += 1
        self.broken = False

    def close(self) -> None:
        for sandbox in [*self.leftovers, self.current]:
            sandbox.close()


class CallRunner:
    def __init__(
        self,
        session_id: str,
        policy: PolicySet,
        approver: Approver,
        sandbox: SandboxHandle,
        audit: AuditTrail,
        emit: Callable[[Event], Event],
        context: Callable[[], ToolContext],
        approved: ApprovedStore,
    ) -> None:
        self.session_id, self.policy, self.approver = session_id, policy, approver
        self.sandbox, self.audit, self.emit, self.context = sandbox, audit, emit, context
        self.approved = approved
        self.session_allowed: set[str] = set()
        self.bad_arguments = 0
        self._egress_seen = 0
        self._egress_restarts = 0
        self._call: tuple[str, ToolCallRequest] | None = None
        self._authorised: set[str] = set()
        self._asked: set[str] = set()
        self._preview: Callable[[], str | None] = lambda: None

    def execute(
        self, tool: ToolLike, call: ToolCallRequest, arguments: dict[str, Any]
    ) -> ToolOutput:
        try:
            args = tool.parse(arguments)
            actions = tool.actions_for(args)
        except ToolArgumentError as exc:
            self.bad_arguments += 1
            return self._result(tool.name, call, ToolOutput(content=f"error: {exc}", is_error=True))
        self._call, self._authorised, self._asked = (tool.name, call), set(), set()
        note = getattr(tool, "approval_note", None)  # an MCP tool: its description and flags
        self._preview = note if callable(note) else lambda: preview(tool.name, args, self.context())
        for action in actions:
            refusal = self.authorise(tool.name, call, action)
            if refusal is not None:
                return self._result(tool.name, call, ToolOutput(content=refusal, is_error=True))
            self._authorised.add(_key(action.model_dump()))
        try:
            if self.sandbox.broken:
                self.sandbox.replace()
            ctx = self.context()
            ctx.authorise = lambda action: self._authorise_more(tool.name, call, action)
            output = tool.call(ctx, args)
        except (ToolArgumentError, SandboxRequestError) as exc:
            output = ToolOutput(content=f"error: {exc}", is_error=True)
        except SandboxGone as exc:
            output = self._replaced(f"the sandbox stopped ({exc})")
        except (ExecutorError, DockerUnavailable) as exc:
            output = self._replaced(f"the sandbox failed ({exc.message})")
        except SandboxError as exc:
            output = ToolOutput(content=f"error: the sandbox failed: {exc.message}", is_error=True)
        return self._result(tool.name, call, output)

    def _authorise_more(self, tool_name: str, call: ToolCallRequest, action: Action) -> str | None:
        """An action a tool found it needs while running, decided like the ones it declared
        (events, audit, approval) and remembered for the change check of this call."""
        refusal = self.authorise(tool_name, call, action)
        if refusal is None:
            self._authorised.add(_key(action.model_dump()))
        return refusal

    def _replaced(self, what: str) -> ToolOutput:
        """A sandbox that died under a call: replaced now (the engine may be restarting),
        the old proxy's last connections recorded first."""
        try:
            self.replace_sandbox()
        except SandboxError as exc:
            return ToolOutput(
                content=f"error: {what}; no new sandbox could be started ({exc.message}): "
                "workspace files are intact; the next call tries again",
                is_error=True,
            )
        return ToolOutput(
            content=f"error: {what}; a new one is ready, workspace files are intact: check "
            "the effect of the call and retry if needed",
            is_error=True,
        )

    def run_check(self, call: ToolCallRequest, check: ProjectCheck, attempt: int) -> CheckRecord:
        """The project's check, judged as a command like any other, run in the sandbox,
        recorded as an event and in the audit log."""
        self._call, self._authorised, self._asked = ("check", call), set(), set()
        refusal = self.authorise("check", call, Exec(command=check.command))
        record = CheckRecord(
            command=check.command, source=check.source, exit_code=None, kind=check.kind
        )
        if refusal is not None:
            record.note = refusal.splitlines()[0]
        else:
            ctx = self.context()
            try:
                result = ctx.sandbox.run(
                    check.command, cwd=".", timeout_s=ctx.timeout_s, output_cap=ctx.output_cap
                )
            except SandboxGone as exc:
                record.note = self._replaced(
                    f"the sandbox stopped during the check ({exc})"
                ).content
            except (ExecutorError, DockerUnavailable) as exc:
                record.note = self._replaced(f"the sandbox failed ({exc.message})").content
            except SandboxError as exc:
                record.note = f"the sandbox failed: {exc.message}"
            else:
                output = clean((result.stdout + "\n" + result.stderr).strip())
                record.exit_code = result.exit_code
                record.output_tail = output[-OUTPUT_TAIL:]
                record.note = "timed out" if result.timed_out else ""
                if check.expect_output is not None:
                    record.output_differs = (
                        record.output_tail.strip() != check.expect_output.strip()
                    )
        self.emit(CheckEvent(check=record, passed=record.passed, attempt=attempt))
        digest, size = output_digest(record.output_tail)
        self.audit.append(
            self.session_id,
            "result",
            call_id=call.id,
            tool="check",
            is_error=record.exit_code != 0,
            output_sha256=digest,
            output_bytes=size,
            note=f"check `{check.command}` ({check.source}): exit {record.exit_code}"[:500],
        )
        return record

    def judge_change(self, change: Change) -> Verdict:
        """A path the sandbox changed (a command's or a tool's write), before it reaches the
        host: judged as `fs.write` like a file tool's write, and asked about the same way.
        Plain allows are not recorded one by one (a build may change thousands of files)."""
        action = FsWrite(path=change.path)
        decision = self.policy.evaluate(action)
        key = _key(action.model_dump())
        if decision.decision == "allow" or key in self._authorised:
            return Verdict(allowed=True, rule=decision.rule)
        if decision.decision == "deny":  # recorded with the outcome (record_refused_change)
            return Verdict(allowed=False, reason=decision.reason, rule=decision.rule)
        tool, call = self._current()
        refusal = self.authorise(tool, call, action)
        self._asked.add(change.path)
        if refusal is None:
            return Verdict(allowed=True, rule=decision.rule)
        return Verdict(allowed=False, reason=refusal.splitlines()[0], rule=decision.rule)

    def record_refused_change(self, outcome: Outcome) -> None:
        """A change that did not reach the host: a decision event and an audit record (an
        answered ask was recorded when it was asked)."""
        if outcome.path in self._asked:
            return
        _tool, call = self._current()
        shared: dict[str, Any] = {
            "call_id": call.id,
            "action": {"kind": "fs.write", "path": outcome.path, "change": outcome.change},
            "decision": "deny",
            "rule": outcome.rule,
            "layer": None,
            "source": None,
            "approver": "change-layer",
        }
        # the record first: the store never holds an event the log lacks (`audit verify`)
        self.audit.append(self.session_id, "decision", **shared, note=outcome.reason[:500])
        self.emit(DecisionEvent(**shared, reason=outcome.reason))

    def step_label(self) -> str:
        """What a checkpoint step is named after: the call that made the change."""
        tool, call = self._current()
        return f"{tool} {call.arguments[:150]}"

    def _current(self) -> tuple[str, ToolCallRequest]:
        return self._call or ("sync", ToolCallRequest(id="sync", name="sync", arguments="{}"))

    def authorise(self, tool_name: str, call: ToolCallRequest, action: Action) -> str | None:
        """None when the action may run; else the refusal text for the model."""
        decision = self.policy.evaluate(action)
        action_data = action.model_dump()
        key = _key(action_data)
        verdict: DecisionKind = decision.decision
        approver, note = "policy", ""
        if verdict == "ask" and key in self.session_allowed:
            verdict, approver = "allow", "session-approval"
        elif verdict == "ask":
            rule = always_rule(decision, action)
            answer = self.approver.ask(
                ApprovalRequest(
                    session_id=self.session_id,
                    call_id=call.id,
                    tool=tool_name,
                    action=action_data,
                    decision=decision,
                    always_rule=rule,
                    always_file=str(self.approved.path),
                    preview=self._preview() if isinstance(action, FsWrite | McpCall) else None,
                )
            )
            approver, note = answer.approver, answer.message
            verdict = "deny" if answer.choice == "deny" else "allow"
            if answer.choice in ("session", "always"):
                self.session_allowed.add(key)
            if answer.choice == "always" and rule is not None:
                try:
                    self.approved.add(action, self.session_id)
                except RempartError as exc:  # the file is left as it was; say so, go on
                    self.emit(
                        ErrorEvent(message=f"allow always not saved: {exc.message}", hint=exc.hint)
                    )
        self._record_decision(call, action_data, decision, verdict, approver)
        if verdict == "allow":
            return None
        return _refusal(decision, approver, note)

    def _record_decision(
        self,
        call: ToolCallRequest,
        action: dict[str, Any],
        decision: Decision,
        verdict: DecisionKind,
        approver: str,
    ) -> None:
        shared: dict[str, Any] = {
            "call_id": call.id,
            "action": action,
            "decision": verdict,
            "rule": decision.rule,
            "layer": decision.layer,
            "source": decision.source,
            "approver": approver,
        }
        # no record, no action: an AuditWriteError here stops the call before it runs
        self.audit.append(self.session_id, "decision", **shared, note=decision.reason[:500] or None)
        self.emit(DecisionEvent(**shared, reason=decision.reason))

    def error(self, tool_name: str, call: ToolCallRequest, text: str) -> ToolOutput:
        """A call that never reached a tool (bad JSON, unknown tool): recorded like any other."""
        return self._result(tool_name, call, ToolOutput(content=text, is_error=True))

    def replace_sandbox(self) -> None:
        """A fresh sandbox for a dead one, the old proxy's last connections recorded first."""
        self.record_egress()
        self.sandbox.replace()

    def record_egress(self) -> None:
        """Every connection attempt (and every end of an allowed one, with its bytes) the
        egress proxy logged since the last call, in order. Called after every call, before a
        sandbox is replaced and when the session closes."""
        if self.sandbox.restarts != self._egress_restarts:  # a new sandbox, a new proxy log
            self._egress_seen, self._egress_restarts = 0, self.sandbox.restarts
        events = self.sandbox.current.egress_events()
        for event in events[self._egress_seen :]:
            action: dict[str, Any] = {"kind": "net.connect", "host": event.host, "port": event.port}
            extra = {
                "method": event.method,
                "addr": event.addr,
                "conn": event.conn,
                "sandbox": event.sandbox,
                "rule": event.rule,
                "sni": event.sni,
                "bytes_up": event.bytes_up,
                "bytes_down": event.bytes_down,
                "proxy_ts": event.ts,
            }
            action.update({k: v for k, v in extra.items() if v is not None and v != ""})
            self.audit.append(
                self.session_id,
                "egress",
                action=action,
                decision=event.decision,
                approver="egress-proxy",
                note=event.reason or None,
            )
        self._egress_seen = len(events)

    def _result(self, tool_name: str, call: ToolCallRequest, output: ToolOutput) -> ToolOutput:
        self.record_egress()
        digest, size = output_digest(output.content)
        self.audit.append(
            self.session_id,
            "result",
            call_id=call.id,
            tool=tool_name,
            is_error=output.is_error,
            output_sha256=digest,
            output_bytes=size,
            note=("repairs: " + "; ".join(output.repairs))[:500] if output.repairs else None,
        )
        self.emit(
            ToolResultEvent(
                call_id=call.id,
                tool=tool_name,
                is_error=output.is_error,
                content=output.content,
                exit_code=output.exit_code,
                duration_ms=output.duration_ms,
                diff=output.diff,
                truncated=output.truncated,
                repairs=output.repairs,
            )
        )
        return output


def _key(action: dict[str, Any]) -> str:
    return json.dumps(action, sort_keys=True)


def _refusal(decision: Decision, approver: str, note: str) -> str:
    where = ", ".join(p for p in (decision.rule, decision.source) if p)
    text = f"denied by policy: {decision.reason}" + (f" ({where})" if where else "")
    if decision.decision == "ask":
        text = f"not approved ({approver}): {note or decision.reason}"
    return text + "\nDo not retry this action; find another way or call finish and explain."
