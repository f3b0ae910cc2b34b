"""A session's whole change to its workspace (from its checkpoints), and its undo."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from policies.errors import RempartError
from policies.termsafe import safe_line
from tui.approval import diff_view
from tui.sessions_screen import ConfirmScreen

if TYPE_CHECKING:
    from sandbox.checkpoints import Step
    from tui.app import RempartApp


class DiffScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "undo", "Undo the session"),
        Binding("escape,q", "app.pop_screen", "Back"),
    ]

    app: RempartApp

    def __init__(self, session_id: str) -> None:
        super().__init__(id="diff")
        self.session_id = session_id
        self.steps: list[Step] | None = None
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Session {self.session_id}", style="bold"), classes="screen-title")
        with VerticalScroll(id="diff-body"):
            yield Static(Text("reading the checkpoints…", style="dim"), id="diff-summary")
            yield Static("", id="diff-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-body").focus()
        self._load()

    @work(thread=True, exclusive=True, group="diff")
    def _load(self) -> None:
        try:
            steps, text, workspace = self.app.session_change(self.session_id)
        except RempartError as exc:
            self.app.call_from_thread(self._shown, None, exc.message, "")
            return
        self.app.call_from_thread(self._shown, steps, text, workspace)

    def _shown(self, steps: list[Step] | None, text: str, workspace: str) -> None:
        self.steps, self.text = steps, text
        summary = self.query_one("#diff-summary", Static)
        body = self.query_one("#diff-text", Static)
        if steps is None:
            summary.update(Text(text, style="bold red"))
            return
        paths = {p for step in steps for p in step.paths}
        if not steps:
            summary.update(Text(f"no change recorded in {safe_line(workspace)}", style="dim"))
            body.update("")
            return
        summary.update(
            Text.assemble(
                (f"{len(steps)} step(s), {len(paths)} path(s) in ", "dim"),
                (safe_line(workspace), "bold"),
                ("  ·  u: undo all of it", "dim"),
            )
        )
        body.update(diff_view(text))

    @work
    async def action_undo(self) -> None:
        if not self.steps:
            self.notify("Nothing to undo", severity="warning")
            return
        count = len({p for step in self.steps for p in step.paths})
        question = f"Undo session {self.session_id}: put back {count} path(s) as they were?"
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        try:
            report = await asyncio.to_thread(self.app.undo_session, self.session_id)
        except RempartError as exc:
            self.notify(exc.message, title="Not undone", severity="error", timeout=15, markup=False)
            return
        text = f"Restored {len(report.restored)} path(s)"
        if report.left:
            text += f"; left {len(report.left)}: " + ", ".join(sorted(report.left))
        self.notify(text, title="Undone", markup=False)
        self._load()
