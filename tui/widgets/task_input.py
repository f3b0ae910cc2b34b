"""The task input: multi-line (TextArea), enter submits, history on up/down at the edges."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")


class TaskInput(TextArea):
    """Enter sends the task; ctrl+j (or shift/alt+enter) starts a new line.

    Up on the first line and down on the last line walk the history (as do alt+up/alt+down
    anywhere).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("alt+up", "history(-1)", "Previous task", show=False),
        Binding("alt+down", "history(1)", "Next task", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, compact=True)
        self.past_tasks: list[str] = []
        self._position = 0
        self._draft = ""
        self.border_title = "task · enter: start · ctrl+j: new line · ↑↓: history"

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.past_tasks or self.past_tasks[-1] != text:
            self.past_tasks.append(text)
        self._position = len(self.past_tasks)
        self._draft = ""
        self.clear()
        self.post_message(self.Submitted(text))

    def action_history(self, step: int) -> None:
        if not self.past_tasks:
            return
        if self._position == len(self.past_tasks):
            self._draft = self.text
        position = max(0, min(len(self.past_tasks), self._position + step))
        if position == self._position:
            return
        self._position = position
        text = self._draft if position == len(self.past_tasks) else self.past_tasks[position]
        self.load_text(text)
        self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0:
            self.action_history(-1)
        else:
            super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == self.document.line_count - 1:
            self.action_history(1)
        else:
            super().action_cursor_down(select)
