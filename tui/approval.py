"""`ask` decisions: the TUI approver (worker side) and the approval modal (UI side).

The session's worker thread calls `TuiApprover.ask`, which posts `ApprovalPending` to the
session screen and waits on a `threading.Event`; the UI thread shows `ApprovalScreen` and
answers. The UI never waits: "later" (esc) hides the prompt and leaves the session waiting.
Stopping the session or leaving the app answers every pending request with a denial.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from agent.approval import ApprovalAnswer, ApprovalRequest, Choice
from policies.termsafe import safe, safe_line
from tui.escape import shown, unusual, visible
from tui.messages import ApprovalPending


@dataclass
class PendingApproval:
    request: ApprovalRequest
    done: threading.Event = field(default_factory=threading.Event)
    answer: ApprovalAnswer | None = None


class TuiApprover:
    """An `agent.approval.Approver` that asks the person at the TUI."""

    def __init__(self, target: Any) -> None:
        self.target = target  # the widget that gets `ApprovalPending`
        self._lock = threading.Lock()
        self._pending: list[PendingApproval] = []

    @property
    def pending(self) -> list[PendingApproval]:
        with self._lock:
            return list(self._pending)

    def ask(self, request: ApprovalRequest) -> ApprovalAnswer:
        item = PendingApproval(request)
        with self._lock:
            self._pending.append(item)
        if not self.target.post_message(ApprovalPending()):
            self.answer(item, _denied("the TUI closed before the action was approved"))
        item.done.wait()
        assert item.answer is not None
        return item.answer

    def answer(self, item: PendingApproval, answer: ApprovalAnswer) -> None:
        with self._lock:
            if item in self._pending:
                self._pending.remove(item)
        item.answer = answer
        item.done.set()

    def deny_all(self, why: str) -> None:
        for item in self.pending:
            self.answer(item, _denied(why))


def _denied(why: str) -> ApprovalAnswer:
    return ApprovalAnswer(choice="deny", message=why, approver="user")


def action_lines(action: dict[str, Any]) -> Text:
    """The exact action, every character visible: the command, path, host or MCP call."""
    kind = str(action.get("kind", "?"))
    if kind == "exec":
        body = Text("$ ", style="bold") + visible(str(action.get("command", "")))
        if action.get("cwd", ".") != ".":
            body += Text("  (in ") + visible(str(action["cwd"])) + Text(")")
    elif kind in ("fs.read", "fs.write"):
        verb = "read" if kind == "fs.read" else "write"
        body = Text(f"{verb} ", style="bold") + visible(str(action.get("path", "")))
    elif kind == "mcp.call":
        body = Text("mcp ", style="bold") + visible(f"{action.get('server')}")
        body += Text(" tool ", style="bold") + visible(f"{action.get('tool')}")
        body += Text("\narguments:", style="dim")
        arguments = json.dumps(action.get("arguments", {}), ensure_ascii=False, indent=2)
        for line in arguments.splitlines():
            body += Text("\n  ") + visible(line)
    elif kind == "net.connect":
        body = Text("connect ", style="bold") + visible(
            f"{action.get('host')}:{action.get('port')}"
        )
    else:
        rest = {k: v for k, v in action.items() if k != "kind"}
        body = Text(f"{kind} ", style="bold") + visible(json.dumps(rest, ensure_ascii=False))
    return body


def diff_view(diff: str) -> Syntax:
    """A diff, every character visible (escaped as everywhere else), highlighted."""
    return Syntax(safe(diff), "diff", theme="ansi_dark", background_color="default", word_wrap=True)


BUTTON_CHOICES: dict[str, Choice] = {"once": "once", "session": "session", "always": "always"}


class ApprovalScreen(ModalScreen[ApprovalAnswer | None]):
    """The prompt: the exact action, the rule and its reason, and the four answers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "answer('once')", "Allow once"),
        Binding("s", "answer('session')", "Allow for session"),
        Binding("a", "answer('always')", "Allow always"),
        Binding("d", "deny", "Deny…"),
        Binding("escape", "later", "Later"),
    ]

    def __init__(self, request: ApprovalRequest, waiting: int = 1) -> None:
        super().__init__()
        self.request = request
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        req, decision = self.request, self.request.decision
        with Vertical(id="approval"):
            title = f"Approve this {req.tool} call?"
            if self.waiting > 1:
                title += f" ({self.waiting} waiting)"
            yield Static(Text(title, style="bold"), id="approval-title")
            with VerticalScroll(id="approval-body"):
                yield Static(action_lines(req.action), id="approval-action")
                if req.preview:
                    yield Static(Text("what it will change:", style="dim"))
                    yield Static(diff_view(req.preview), id="approval-preview")
                strange = unusual(" ".join(str(v) for v in req.action.values()))
                if strange:
                    warn = Text("⚠ unusual characters: " + ", ".join(strange), style="bold red")
                    yield Static(warn, id="approval-unusual")
                where = (
                    " · ".join(p for p in (decision.rule, decision.source) if p)
                    or "no rule: the default"
                )
                rule = Text.assemble(("rule ", "dim"), (safe_line(where), "bold"))
                if decision.layer:
                    rule.append(f" [{safe_line(decision.layer)} layer]", style="dim")
                yield Static(rule, id="approval-rule")
                yield Static(
                    Text.assemble(("why ", "dim"), shown(decision.reason or "—")),
                    id="approval-reason",
                )
                if decision.segments:
                    count = len(decision.segments)
                    yield Static(
                        Text(f"the policy read it as {count} command(s):", style="dim"),
                        id="approval-segments",
                    )
                for seg in decision.segments:
                    line = Text(f"  {seg.decision:<5} ", style="bold") + visible(seg.command)
                    line.append(f"  {safe_line(seg.rule or 'default')}", style="dim")
                    yield Static(line, classes="approval-segment")
                if req.always_rule is not None:
                    yield Static(
                        Text.assemble(
                            ("allow always writes to ", "dim"),
                            (safe_line(req.always_file), "bold"),
                            ":",
                        ),
                        id="approval-always-file",
                    )
                    yield Static(shown(req.always_rule.rstrip()), id="approval-always-rule")
                else:
                    yield Static(
                        Text("allow always: not offered (a rule asked explicitly)", style="dim"),
                        id="approval-always-file",
                    )
            yield Input(
                placeholder="message to the model (enter: deny, esc: back)", id="deny-message"
            )
            with Horizontal(id="approval-buttons"):
                yield Button(Text("[o] once"), id="once", variant="success", compact=True)
                yield Button(Text("[s] session"), id="session", variant="primary", compact=True)
                yield Button(
                    Text("[a] always"),
                    id="always",
                    variant="warning",
                    compact=True,
                    disabled=req.always_rule is None,
                )
                yield Button(Text("[d] deny"), id="deny", variant="error", compact=True)
                yield Button(Text("[esc] later"), id="later", compact=True)

    def on_mount(self) -> None:
        self.query_one("#deny-message", Input).display = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "deny":
            self.action_deny()
        elif event.button.id == "later":
            self.action_later()
        else:
            self.action_answer(BUTTON_CHOICES[str(event.button.id)])

    def action_answer(self, choice: Choice) -> None:
        if choice == "always" and self.request.always_rule is None:
            self.notify("allow always is not offered for this action", severity="warning")
            return
        self.dismiss(ApprovalAnswer(choice=choice, approver="user"))

    def action_deny(self) -> None:
        box = self.query_one("#deny-message", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(ApprovalAnswer(choice="deny", message=event.value.strip(), approver="user"))

    def action_later(self) -> None:
        box = self.query_one("#deny-message", Input)
        if box.display:
            box.display = False
            self.set_focus(None)
            return
        self.dismiss(None)
