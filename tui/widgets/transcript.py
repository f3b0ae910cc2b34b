"""The transcript: every event folded into items; only a window of them has widgets.

A 2,000-event session is 2,000 small data objects and at most `MAX_MOUNTED` cards: older
(or later) items fold into a one-line summary that shows more on demand, and jumping to a
folded card (from the audit view) moves the window there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent.events import Event
from tui.widgets.cards import TextCard, ToolCard, card_for
from tui.widgets.items import Items

WINDOW = 40
PAGE = 40
MAX_MOUNTED = 120
WELCOME = (
    "Type a task below and press enter. Every command, edit and denial shows here as it\n"
    "happens; actions the policy marks `ask` wait for you. f1: keys · f4: the policy in force."
)


class Fold(Static, can_focus=True):
    """ "N earlier items": press enter (or click) to show more."""

    BINDINGS: ClassVar[list[BindingType]] = [("enter,space", "open", "Show more")]

    def __init__(self, where: str) -> None:
        super().__init__("", id=f"fold-{where}", classes="fold")
        self.where = where
        self.display = False

    def show_count(self, count: int) -> None:
        self.display = count > 0
        if self.where == "top":
            self.update(f"▲ {count} earlier items folded · enter: show {min(count, PAGE)} more")
        else:
            self.update(f"▼ {count} later items folded · enter: show more · end: latest")

    def action_open(self) -> None:
        transcript = self.parent
        if isinstance(transcript, Transcript):
            transcript.show_more(self.where)

    def on_click(self) -> None:
        self.action_open()


class Transcript(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items = Items()
        self.lo = 0
        self.hi = 0
        self.cards: dict[int, ToolCard | TextCard] = {}

    def compose(self) -> ComposeResult:
        yield Static(WELCOME, id="welcome")
        yield Fold("top")
        yield Fold("bottom")

    def on_mount(self) -> None:
        self.anchor()
        self._update_folds()

    # adding -------------------------------------------------------------------------
    def add_event(self, event: Event) -> None:
        touched = self.items.add(event)
        if touched is not None:
            self._touched(*touched)

    def add_task(self, task: str) -> None:
        self._touched(*self.items.add_task(task))

    def _touched(self, index: int, new: bool) -> None:
        if not new:
            card = self.cards.get(index)
            if card is not None:
                card.sync()
            return
        if self.hi == index:
            self.hi += 1
            self._mount_range(index, index + 1, before="#fold-bottom")
            if self.hi - self.lo > MAX_MOUNTED:
                self._unmount_range(self.lo, self.hi - WINDOW)
                self.lo = self.hi - WINDOW
        self._update_folds()

    def load(self, events: Iterable[Event]) -> None:
        """Many events at once (a resumed session): fold them all, mount only the last window."""
        for event in events:
            self.items.add(event)
        self._set_window(max(0, len(self.items) - WINDOW), len(self.items))

    def reset(self) -> None:
        self._unmount_range(self.lo, self.hi)
        self.items = Items()
        self.lo = self.hi = 0
        self._update_folds()

    # the window ---------------------------------------------------------------------
    def _mount_range(self, lo: int, hi: int, before: str) -> None:
        cards = [card_for(self.items.items[i], i) for i in range(lo, hi)]
        for card in cards:
            self.cards[card.index] = card
        if cards:
            self.mount_all(cards, before=before)

    def _unmount_range(self, lo: int, hi: int) -> None:
        gone = [self.cards.pop(i) for i in range(lo, hi) if i in self.cards]
        if gone:
            self.remove_children(gone)

    def _set_window(self, lo: int, hi: int) -> None:
        with self.app.batch_update():
            self._unmount_range(self.lo, self.hi)
            self.lo, self.hi = lo, hi
            self._mount_range(lo, hi, before="#fold-bottom")
            self._update_folds()

    def _update_folds(self) -> None:
        self.query_one("#welcome").display = not self.items.items
        self.query_one("#fold-top", Fold).show_count(self.lo)
        self.query_one("#fold-bottom", Fold).show_count(len(self.items) - self.hi)

    def show_more(self, where: str) -> None:
        if where == "top":
            lo = max(0, self.lo - PAGE)
            first = self.cards.get(self.lo)
            self._mount_range(lo, self.lo, before=first if first is not None else "#fold-bottom")  # type: ignore[arg-type]
            self.lo = lo
        else:
            hi = min(len(self.items), self.hi + PAGE)
            self._mount_range(self.hi, hi, before="#fold-bottom")
            self.hi = hi
        self._update_folds()

    def show_latest(self) -> None:
        if self.hi < len(self.items):
            self._set_window(max(0, len(self.items) - WINDOW), len(self.items))
        self.anchor()
        self.scroll_end(animate=False)

    def jump_to(self, index: int) -> None:
        """Bring item `index` into view (mounting it if folded) and focus it."""
        if not self.lo <= index < self.hi:
            lo = max(0, index - WINDOW // 2)
            self._set_window(lo, min(len(self.items), lo + WINDOW))
        card = self.cards[index]
        self.anchor(False)
        self.call_after_refresh(self._focus_card, card)

    def _focus_card(self, card: ToolCard | TextCard) -> None:
        if card.can_focus:
            card.focus(scroll_visible=False)
        self.scroll_to_widget(card, animate=False, top=True)

    @property
    def mounted_cards(self) -> int:
        return len(self.cards)
