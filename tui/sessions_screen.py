"""Sessions list: every stored session, newest first; resume or delete."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from policies.termsafe import safe_line
from tui.messages import ResumeSession

if TYPE_CHECKING:
    from agent.store import SessionRow
    from tui.app import RempartApp


def when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.question))
            yield Static(Text("y: yes · n/esc: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SessionsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,r", "resume", "Resume"),
        Binding("d,delete", "delete", "Delete"),
        Binding("v", "diff", "Diff / undo"),
        Binding("escape,q", "app.pop_screen", "Back"),
    ]

    app: RempartApp

    def __init__(self) -> None:
        super().__init__(id="sessions")
        self.rows: list[SessionRow] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Sessions", style="bold"), classes="screen-title")
        table: DataTable[str | Text] = DataTable(
            id="sessions-table", cursor_type="row", zebra_stripes=True
        )
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "status", "created", "task", "workspace")
        table.focus()
        self.reload()

    def reload(self) -> None:
        with self.app.open_store() as store:
            self.rows = store.list(200)
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            task = row.task.splitlines()[0][:60] if row.task else ""
            table.add_row(
                row.id,
                row.status,
                when(row.created),
                Text(safe_line(task)),
                Text(safe_line(row.workspace)),
                key=row.id,
            )

    def _selected(self) -> SessionRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_resume()

    def action_resume(self) -> None:
        row = self._selected()
        if row is None:
            return
        self.app.pop_screen()
        self.app.session_screen.post_message(ResumeSession(row.id))

    def action_diff(self) -> None:
        from tui.diff_screen import DiffScreen

        row = self._selected()
        if row is not None:
            self.app.push_screen(DiffScreen(row.id))

    @work
    async def action_delete(self) -> None:
        row = self._selected()
        if row is None:
            return
        if not await self.app.push_screen_wait(
            ConfirmScreen(f"Delete session {row.id} ({row.status})?")
        ):
            return
        with self.app.open_store() as store:
            store.delete(row.id)
        self.notify(f"Deleted session {row.id}")
        self.reload()
