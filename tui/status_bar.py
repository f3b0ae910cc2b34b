"""The status bar: model and endpoint, policy layers, sandbox network, tokens, speed,
steps, elapsed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from agent.events import Event, FinishEvent, SessionStarted, UsageEvent
from policies.termsafe import safe_line


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StatusBar(Static):
    """Two lines at the bottom of the session screen, updated from session events."""

    state: reactive[str] = reactive("idle")

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.model = ""
        self.endpoint = ""
        self.mode = ""
        self.policy_layers: list[str] = []
        self.network = ""
        self.tokens_in = 0
        self.tokens_out = 0
        self.tokens_per_s = 0.0
        self.steps = 0
        self.started: float | None = None
        self.ended: float | None = None
        self.plain = ""

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._show()

    def _tick(self) -> None:
        if self.started is not None and self.ended is None:
            self._show()

    def watch_state(self) -> None:
        self._show()

    def preset(self, model: str, endpoint: str, layers: list[str]) -> None:
        """What is in force before the first session: the configured model and endpoint,
        the policy layers (a session's start replaces them with what it really got)."""
        if self.state != "idle":
            return
        self.model, self.endpoint, self.policy_layers = model, _endpoint(endpoint), layers
        self._show()

    def begin(self) -> None:
        self.tokens_in = self.tokens_out = self.steps = 0
        self.tokens_per_s = 0.0
        self.started, self.ended = self.clock(), None
        self.state = "starting"
        self._show()

    def end(self, state: str) -> None:
        self.ended = self.clock()
        self.state = state
        self._show()

    def apply(self, event: Event) -> None:
        match event:
            case SessionStarted():
                self.model, self.endpoint = event.model, _endpoint(event.base_url)
                self.mode = event.tool_call_mode
                self.policy_layers = [layer.split(": ")[0] for layer in event.policy_layers]
                self.network = event.network
                self.state = "running"
            case UsageEvent():
                self.tokens_in = event.total_prompt_tokens
                self.tokens_out = event.total_completion_tokens
                self.tokens_per_s = event.tokens_per_s
                self.steps += 1
            case FinishEvent():
                self.ended = self.clock()
                self.state = event.status
            case _:
                return
        self._show()

    def _show(self) -> None:
        first = Text(no_wrap=True, overflow="ellipsis")
        first.append(f" {self.state} ", style="bold reverse")
        first.append(" model ", style="dim")
        first.append(safe_line(self.model or "—"), style="bold")
        if self.endpoint:
            first.append(f" @ {safe_line(self.endpoint)}")
        first.append("  net ", style="dim")
        first.append(safe_line(self.network or "—"), style="bold")
        first.append("  policy ", style="dim")
        first.append(safe_line(", ".join(self.policy_layers) or "—"))
        second = Text(no_wrap=True, overflow="ellipsis")
        second.append(" tokens ", style="dim")
        second.append(f"{self.tokens_in:,} in / {self.tokens_out:,} out")
        second.append("  speed ", style="dim")
        second.append(f"{self.tokens_per_s:.1f} tok/s")
        second.append("  steps ", style="dim")
        second.append(str(self.steps))
        second.append("  time ", style="dim")
        if self.started is None:
            second.append("—")
        else:
            second.append(_clock((self.ended or self.clock()) - self.started))
        self.plain = f"{first.plain}\n{second.plain}"
        self.update(Group(first, second))
