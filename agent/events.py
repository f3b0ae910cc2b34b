"""Session events: what a session says as it runs, in order.

The loop emits them; the SQLite store persists them as they happen; the headless CLI prints
them (`--json`: one per line); the TUI renders them. One pydantic model per kind, discriminated
on `type`, so every consumer gets typed data, never loose dicts.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from policies import DecisionKind


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str = ""
    seq: int = 0
    ts: float = Field(default_factory=time.time)


class SessionStarted(_Event):
    type: Literal["session_start"] = "session_start"
    task: str
    workspace: str
    model: str
    base_url: str
    tool_call_mode: str
    policy_layers: list[str]
    network: str
    resumed: bool = False


class AssistantText(_Event):
    type: Literal["assistant_text"] = "assistant_text"
    text: str


class AssistantDelta(_Event):
    """A streamed piece of assistant text (not persisted; AssistantText follows)."""

    type: Literal["assistant_delta"] = "assistant_delta"
    text: str


class ToolCallEvent(_Event):
    type: Literal["tool_call"] = "tool_call"
    call_id: str
    tool: str
    arguments: dict[str, Any]
    repaired: bool = False


class DecisionEvent(_Event):
    type: Literal["decision"] = "decision"
    call_id: str
    action: dict[str, Any]
    decision: DecisionKind
    rule: str | None = None
    layer: str | None = None
    source: str | None = None
    reason: str = ""
    approver: str = "policy"


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    tool: str
    is_error: bool
    content: str
    exit_code: int | None = None
    duration_ms: float | None = None
    diff: str | None = None
    truncated: bool = False
    repairs: list[str] = []  # what the tool fixed in the model's input (gutters, whitespace)


class UsageEvent(_Event):
    type: Literal["usage"] = "usage"
    prompt_tokens: int
    completion_tokens: int
    total_prompt_tokens: int
    total_completion_tokens: int
    seconds: float
    tokens_per_s: float
    joules_per_1k_tokens: float | None = None
    energy_method: str = ""


class NoticeEvent(_Event):
    """Something the person should see that is not an error (a repair, a loop warning)."""

    type: Literal["notice"] = "notice"
    text: str


class FileChange(BaseModel):
    path: str
    change: str  # created | modified | deleted


class CommandRecord(BaseModel):
    command: str
    exit_code: int | None


class CheckRecord(BaseModel):
    """The project's check as it ran in the sandbox, through the policy."""

    command: str
    source: str  # where the command came from (the task, .rempart/project.yaml, ...)
    exit_code: int | None  # None: it did not run (the policy refused it)
    output_tail: str = ""
    note: str = ""
    kind: Literal["test", "run"] = "test"  # run: the program ran; its result is not tested
    output_differs: bool = False  # it printed something else than before the change

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.output_differs

    def state(self) -> str:
        """How it went, in a few words, for the transcript."""
        if self.exit_code is None:
            return f"did not run: {self.note}"
        if self.output_differs:
            return "FAILED: it printed something else than before the change"
        if self.exit_code == 0 and self.kind == "run":
            return "ran without error (runs the program, does not test its result)"
        return "passed" if self.exit_code == 0 else "FAILED"


class CheckEvent(_Event):
    """The project's check ran (before the first turn, at `finish`, or at the end)."""

    type: Literal["check"] = "check"
    check: CheckRecord
    passed: bool
    attempt: int = 1

    def label(self) -> str:
        """`#N` for the Nth check at `finish`; attempt 0 is the run before any change."""
        return "before any change" if self.attempt == 0 else f"#{self.attempt}"


Verified = Literal["passed", "failed", "none"]
Outcome = Literal[
    "success", "failed", "limit", "stopped", "check_failed", "blocked", "model_unreachable", "error"
]


class FinishEvent(_Event):
    """The end of a session. `summary` is Rempart's, built from evidence; what the model
    said when it called finish is `claim`, and is never taken as the outcome."""

    type: Literal["finish"] = "finish"
    status: Literal["finished", "failed", "limit", "stopped"]
    summary: str
    steps: int = 0
    repairs: int = 0
    failures: int = 0
    outcome: Outcome | None = None
    claim: str | None = None
    verified: Verified = "none"
    check: CheckRecord | None = None
    files_changed: list[FileChange] = []
    diff: str = ""
    commands: list[CommandRecord] = []
    denials: int = 0
    unmet: list[str] = []  # the task's named things the workspace lacks at the end
    broken: list[str] = []  # code the session's changes left failing (lint), at the end


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    hint: str = ""


Event = Annotated[
    SessionStarted
    | AssistantText
    | AssistantDelta
    | ToolCallEvent
    | DecisionEvent
    | ToolResultEvent
    | UsageEvent
    | NoticeEvent
    | FinishEvent
    | CheckEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
