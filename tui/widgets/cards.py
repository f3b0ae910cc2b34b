"""One widget per transcript item in view: a tool call card, or a text card (Markdown)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from tui.widgets.items import Item, TextItem, ToolItem
from tui.widgets.render import text_body, tool_body, tool_title


class ToolCard(Static, can_focus=True):
    """A tool call: action, decision badge (rule, file:line), result, output, diff."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "expand", "Expand/collapse", show=False)
    ]

    class Toggled(Message):
        def __init__(self, card: ToolCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, item: ToolItem, index: int) -> None:
        super().__init__(classes="card tool")
        self.item = item
        self.index = index
        self.sync()

    def sync(self) -> None:
        item = self.item
        self.border_title = tool_title(item)
        self.set_class(item.denied, "-deny")
        self.set_class(
            item.result is not None and item.result.is_error and not item.denied, "-error"
        )
        self.set_class(any(d.approver != "policy" for d in item.decisions), "-asked")
        self.update(tool_body(item))

    def action_expand(self) -> None:
        self.item.expanded = not self.item.expanded
        self.sync()
        self.post_message(self.Toggled(self))

    def on_click(self) -> None:
        self.focus()
        self.action_expand()


class TextCard(Static):
    """Assistant text (Markdown, streamed), the task, notices, errors, the finish line."""

    def __init__(self, item: TextItem, index: int) -> None:
        super().__init__(classes=f"card text -{item.kind}")
        self.item = item
        self.index = index
        self.sync()

    def sync(self) -> None:
        self.update(text_body(self.item))


def card_for(item: Item, index: int) -> ToolCard | TextCard:
    return ToolCard(item, index) if isinstance(item, ToolItem) else TextCard(item, index)
