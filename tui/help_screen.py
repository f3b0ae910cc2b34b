"""Help: every key binding, read from the bindings themselves (so it cannot drift)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

# keys handled in code rather than by a Binding
EXTRA = {
    "Task input": [
        ("enter", "Start the task"),
        ("ctrl+j / shift+enter", "New line"),
        ("up (first line) / down (last line)", "Task history"),
    ],
    "Everywhere": [("ctrl+p", "Command palette"), ("ctrl+q", "Quit")],
}


def _rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    rows = []
    for binding in bindings:
        if isinstance(binding, Binding):
            key, description = binding.key, binding.description or binding.action
        else:
            key, description = binding[0], binding[2] if len(binding) > 2 else binding[1]
        keys = " / ".join(k.strip() for k in key.split(","))
        rows.append((keys, description))
    return rows


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    from tui.app import RempartApp
    from tui.approval import ApprovalScreen
    from tui.audit_screen import AuditScreen
    from tui.diff_screen import DiffScreen
    from tui.policy_screen import PolicyScreen
    from tui.session_screen import SessionScreen
    from tui.sessions_screen import SessionsScreen
    from tui.widgets.cards import ToolCard
    from tui.widgets.task_input import TaskInput
    from tui.widgets.transcript import Fold

    return [
        ("Everywhere", [*_rows(RempartApp.BINDINGS), *EXTRA["Everywhere"]]),
        ("Session", _rows(SessionScreen.BINDINGS)),
        ("Task input", [*EXTRA["Task input"], *_rows(TaskInput.BINDINGS)]),
        ("Tool call card", _rows(ToolCard.BINDINGS)),
        ("Folded items", _rows(Fold.BINDINGS)),
        (
            "Approval prompt",
            [*_rows(ApprovalScreen.BINDINGS), ("enter (in message)", "Deny with that message")],
        ),
        ("Sessions", _rows(SessionsScreen.BINDINGS)),
        ("Audit", _rows(AuditScreen.BINDINGS)),
        ("Diff", _rows(DiffScreen.BINDINGS)),
        ("Policy", [*_rows(PolicyScreen.BINDINGS), ("enter (in explain)", "Explain the action")]),
    ]


class HelpScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("does")
        for title, rows in sections():
            table.add_row(Text(title, style="bold underline"), "")
            for keys, does in rows:
                table.add_row(f"  {keys}", does)
        yield Static(Text("Keys", style="bold"), classes="screen-title")
        with VerticalScroll(id="help-body"):
            yield Static(table, id="help-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
