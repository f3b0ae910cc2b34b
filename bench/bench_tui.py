"""TUI benchmark (not a test): startup to first paint, and a 2,000-event session.

    .venv/bin/python bench/bench_tui.py [--events 2000]

Startup runs in a fresh interpreter (imports included), measured from the parent's spawn to
the app's first ready frame (headless). The transcript numbers drive the real app with a
replayed session: events streamed live through the worker, a bulk load (resume), and the
latency of a key press with the whole history in place.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_startup(spawned: float) -> None:
    from agent.session_args import SessionArgs
    from agent.settings import Settings
    from tui.app import RempartApp
    from tui.testing import ReplayFactory

    folder = Path(tempfile.mkdtemp())
    app = RempartApp(
        Settings(data_dir=folder / "d", config_dir=folder / "c"),
        SessionArgs(workspace=folder),
        session_factory=ReplayFactory([]),
    )

    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        print(f"{time.time() - spawned:.3f}")
        app.exit()

    app.run(headless=True, size=(80, 24), auto_pilot=ready)


def startup(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        spawned = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--child-startup", repr(spawned)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


async def transcript(count: int) -> dict[str, float]:
    from agent.events import FinishEvent
    from agent.session_args import SessionArgs
    from agent.settings import Settings
    from tui.app import RempartApp
    from tui.testing import ReplayFactory, many_events
    from tui.widgets.cards import ToolCard

    events = list(many_events(count))
    folder = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=folder / "d", config_dir=folder / "c")
    factory = ReplayFactory([*events, FinishEvent(status="finished", summary="done")])
    app = RempartApp(settings, SessionArgs(workspace=folder), session_factory=factory)
    numbers: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        import agent.session  # noqa: F401  (imported by the worker; not part of rendering)

        screen = app.session_screen
        start = time.perf_counter()
        screen.start("bench")
        while screen.running or screen.status.state == "starting":
            await pilot.pause(0.005)
        await pilot.pause()
        numbers["live: 2,000 events streamed and rendered (s)"] = time.perf_counter() - start
        numbers["live: cards mounted"] = screen.transcript.mounted_cards
        card = app.screen.query(ToolCard).last()
        card.focus()
        start = time.perf_counter()
        await pilot.press("enter")
        numbers["key press latency with full history (ms)"] = (time.perf_counter() - start) * 1000
        screen.transcript.reset()
        await pilot.pause()
        start = time.perf_counter()
        screen.transcript.load(events)
        await pilot.pause()
        numbers["bulk load (resume) of 2,000 events (s)"] = time.perf_counter() - start
        start = time.perf_counter()
        screen.transcript.jump_to(3)
        await pilot.pause()
        numbers["jump to the first card (ms)"] = (time.perf_counter() - start) * 1000
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child-startup", type=float)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child_startup is not None:
        child_startup(args.child_startup)
        return
    times = startup(args.runs)
    median = sorted(times)[len(times) // 2]
    print(
        f"startup to first paint (headless, fresh interpreter): median {median:.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} runs"
    )
    for name, value in asyncio.run(transcript(args.events)).items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
