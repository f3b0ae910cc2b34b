"""The one-line summary at the end of a headless run: tokens, time and energy.

A listener like the printers: it adds up the `UsageEvent`s of the model calls it sees. The
energy figure is the sum of each call's measured (or estimated) joules, with the method
named, as in `agent.energy`: an estimate is never shown as a measurement.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.events import Event, UsageEvent


class Totals:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model_seconds = 0.0
        self.joules = 0.0
        self.methods: set[str] = set()

    def __call__(self, event: Event) -> None:
        if not isinstance(event, UsageEvent):
            return
        self.calls += 1
        self.prompt_tokens += event.prompt_tokens
        self.completion_tokens += event.completion_tokens
        self.model_seconds += event.seconds
        if event.joules_per_1k_tokens is not None:
            tokens = event.prompt_tokens + event.completion_tokens
            self.joules += event.joules_per_1k_tokens * tokens / 1000.0
            self.methods.add(event.energy_method)

    def line(self) -> str:
        wall = self.clock() - self.started
        tokens = self.prompt_tokens + self.completion_tokens
        energy = "energy n/a"
        if self.methods:
            how = ", ".join(sorted(self.methods))
            energy = f"{self.joules / 3600.0:.3f} Wh ({how})"
        return (
            f"totals: {tokens:,} tokens ({self.prompt_tokens:,} prompt + "
            f"{self.completion_tokens:,} completion) in {self.calls} model calls, "
            f"{wall:.1f} s ({self.model_seconds:.1f} s in the model), {energy}"
        )
