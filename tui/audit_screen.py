"""Audit view: this session's audit records (decisions and results), filtered, with a jump
to the card each decision belongs to."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from policies.termsafe import safe_line
from tui.messages import JumpToCard

if TYPE_CHECKING:
    from agent.audit import AuditRecord
    from tui.app import RempartApp


def _decided(decision: str) -> Callable[[AuditRecord], bool]:
    return lambda r: r.kind == "decision" and r.decision == decision


FILTERS: dict[str, Callable[[AuditRecord], bool]] = {
    "all": lambda r: True,
    "allow": _decided("allow"),
    "asked": lambda r: r.kind == "decision" and r.approver not in (None, "policy"),
    "deny": _decided("deny"),
}
DECISION_STYLE = {"allow": "green", "deny": "bold red"}


def summary(record: AuditRecord) -> str:
    if record.kind == "result":
        size = f"{record.output_bytes} bytes" if record.output_bytes is not None else ""
        return f"{record.tool} {'error' if record.is_error else 'ok'} {size}".strip()
    if record.action is None:
        return record.note or ""
    action = record.action
    detail = action.get("command") or action.get("path") or json.dumps(action, ensure_ascii=False)
    return f"{action.get('kind')}: {detail}"


class AuditScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("0", "filter('all')", "All"),
        Binding("1", "filter('allow')", "Allowed"),
        Binding("2", "filter('asked')", "Asked"),
        Binding("3", "filter('deny')", "Denied"),
        Binding("enter", "jump", "Jump to card", show=False),
        Binding("escape,q", "app.pop_screen", "Back"),
    ]

    app: RempartApp

    def __init__(self, session_id: str) -> None:
        super().__init__(id="audit")
        self.session_id = session_id
        self.records: list[AuditRecord] = []
        self.shown: list[AuditRecord] = []
        self.mode = "all"

    def compose(self) -> ComposeResult:
        yield Static("", id="audit-title", classes="screen-title")
        table: DataTable[str | Text] = DataTable(
            id="audit-table", cursor_type="row", zebra_stripes=True
        )
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "kind", "decision", "what", "rule · source", "by", "time")
        table.focus()
        self._title()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        log = self.app.audit_log()
        records = [r for r in log.records() if r.session == self.session_id]
        self.app.call_from_thread(self._loaded, records)

    def _loaded(self, records: list[AuditRecord]) -> None:
        self.records = records
        self._fill()

    def _title(self) -> None:
        who = self.session_id or "no session yet"
        text = Text.assemble(
            ("Audit log · ", "bold"), who, ("  filter: ", "dim"), (self.mode, "bold")
        )
        self.query_one("#audit-title", Static).update(text)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.shown = [r for r in self.records if FILTERS[self.mode](r)]
        for r in self.shown:
            decision = Text(r.decision or "", style=DECISION_STYLE.get(r.decision or "", ""))
            where = " · ".join(p for p in (r.rule, r.source) if p)
            stamp = dt.datetime.fromtimestamp(r.ts).strftime("%H:%M:%S")
            what = summary(r)
            what = what if len(what) <= 40 else what[:39] + "…"
            table.add_row(
                str(r.seq),
                r.kind,
                decision,
                Text(safe_line(what)),
                Text(safe_line(where)),
                Text(safe_line(r.approver or "")),
                stamp,
            )

    def action_filter(self, mode: str) -> None:
        self.mode = mode
        self._title()
        self._fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_jump()

    def action_jump(self) -> None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row >= len(self.shown):
            return
        record = self.shown[table.cursor_row]
        if record.kind not in ("decision", "result"):
            self.notify("Session records have no card", severity="warning")
            return
        same = [r for r in self.records if r.kind == record.kind]
        ordinal = next(i for i, r in enumerate(same) if r.seq == record.seq)
        self.app.pop_screen()
        self.app.session_screen.post_message(JumpToCard(self.session_id, ordinal, record.kind))
