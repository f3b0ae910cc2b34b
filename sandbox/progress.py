"""Progress of long operations (model fetch, vLLM install, image build, bundle): one helper.

    progress = reporter_for(sys.stderr)
    progress("a step, as one line")
    with progress.track("download", total=1_117_320_768) as bar:
        bar.advance(len(chunk))

On a terminal it is a rich.progress bar with bytes (or steps), rate, ETA and elapsed time;
anywhere else (CI logs, a pipe) plain lines: the start, about every tenth of the way, and
the end, each with the same figures. An operation whose size is not known up front (`total`
None) shows what was done and the rate, never an invented ETA. Lives in `sandbox/`, the
lowest package with long operations of its own; the agent and the bundle use it too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

BYTES = "B"


class Tracker(Protocol):
    def advance(self, amount: float = 1) -> None: ...


class Reporter(Protocol):
    """A line for each step (`reporter("...")`), a bar for each measured part (`track`)."""

    def __call__(self, message: str) -> None: ...

    def track(
        self, description: str, total: float | None = None, unit: str = BYTES
    ) -> AbstractContextManager[Tracker]: ...


def amount(value: float, unit: str) -> str:
    return decimal(int(value)) if unit == BYTES else f"{value:,.0f} {unit}"


def speed(value: float, unit: str) -> str:
    return f"{decimal(int(value))}/s" if unit == BYTES else f"{value:,.1f} {unit}/s"


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class PlainTracker:
    """Lines for a log: the start, every `step` of the way (or of the items), the end."""

    def __init__(
        self,
        out: TextIO,
        description: str,
        total: float | None,
        unit: str,
        clock: Callable[[], float],
        step: float = 0.1,
    ) -> None:
        self.out, self.description, self.total, self.unit = out, description, total, unit
        self.clock, self.started, self.done = clock, clock(), 0.0
        self.steps = round(1 / step)  # lines per bar (10: one every tenth of the way)
        self._next = 1
        self._print(f"{description}: started" + (f", {amount(total, unit)}" if total else ""))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        per_s = speed(rate, self.unit)
        if not self.total:
            return f"{self.description}: {amount(self.done, self.unit)}, {per_s}"
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = f", ETA {_duration(left)}" if left is not None else ""
        done = decimal(int(self.done)) if self.unit == BYTES else f"{self.done:,.0f}"
        return (
            f"{self.description}: {done} of {amount(self.total, self.unit)} "
            f"({self.done / self.total:.0%}), {per_s}{eta}"
        )

    def advance(self, amount_: float = 1) -> None:
        self.done += amount_
        if self.total:
            reached = int(self.done * self.steps // self.total)
            if reached >= self._next and self.done < self.total:
                self._print(self.line())
                self._next = reached + 1
        elif self.done >= self._next:  # no total: a line at 1, 10, 100, ... units
            self._print(self.line())
            while self._next <= self.done:
                self._next *= 10

    def finish(self) -> None:
        elapsed = self.clock() - self.started
        self._print(
            f"{self.description}: done, {amount(self.done, self.unit)} in "
            f"{_duration(elapsed)} ({speed(self.rate(), self.unit)})"
        )


class PlainReporter:
    def __init__(self, out: TextIO = sys.stderr, clock: Callable[[], float] = time.monotonic):
        self.out, self.clock = out, clock

    def __call__(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    @contextmanager
    def track(
        self, description: str, total: float | None = None, unit: str = BYTES
    ) -> Iterator[Tracker]:
        tracker = PlainTracker(self.out, description, total, unit, self.clock)
        yield tracker
        tracker.finish()


class _RichTracker:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task

    def advance(self, amount_: float = 1) -> None:
        self.progress.advance(self.task, amount_)


class RichReporter:
    """A live bar on the terminal; messages print above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Progress | None = None

    def __call__(self, message: str) -> None:
        target = self._live.console if self._live is not None else self.console
        target.print(message, markup=False, highlight=False)

    @contextmanager
    def track(
        self, description: str, total: float | None = None, unit: str = BYTES
    ) -> Iterator[Tracker]:
        columns: list[ProgressColumn | str] = [SpinnerColumn(), TextColumn("{task.description}")]
        if total:
            columns += [BarColumn(), TaskProgressColumn()]
        columns.append(DownloadColumn() if unit == BYTES else MofNCompleteColumn())
        if unit == BYTES:
            columns.append(TransferSpeedColumn())
        columns += [TimeRemainingColumn() if total else TimeElapsedColumn()]
        with Progress(*columns, console=self.console, transient=False) as progress:
            self._live = progress
            task = progress.add_task(description, total=total)
            try:
                yield _RichTracker(progress, task)
            finally:
                self._live = None


def reporter_for(out: TextIO = sys.stderr) -> PlainReporter | RichReporter:
    """Bars for a person at a terminal, plain lines for logs and pipes."""
    if out.isatty():
        return RichReporter(Console(file=out))
    return PlainReporter(out)


def follow(
    cmd: list[str], timeout_s: float, on_line: Callable[[str], None], keep: int = 30
) -> tuple[int | None, list[str]]:
    """Run `cmd`, each line of its output (stdout and stderr) to `on_line` as it comes.

    Returns its exit code (None when it ran past `timeout_s` and was killed) and its last
    `keep` lines, for the caller's error message."""
    deadline = time.monotonic() + timeout_s
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-(keep - 1) :], line.rstrip()]
            on_line(line)
            if time.monotonic() > deadline:
                proc.kill()
                return None, tail
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), tail
