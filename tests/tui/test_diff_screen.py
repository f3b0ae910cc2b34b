"""The TUI shows a session's whole change (from its checkpoints) and undoes it."""

from __future__ import annotations

from pathlib import Path

from agent.settings import Settings
from agent.store import Store
from sandbox.checkpoints import Checkpoints, FileState, host_state
from tui.diff_screen import DiffScreen
from tui.sessions_screen import ConfirmScreen

from .conftest import finished, wait_for
from .test_approval import shown


def a_session_that_changed(settings: Settings, workspace: Path) -> str:
    """A stored session whose checkpoints say it rewrote a.txt and created b.txt."""
    (workspace / "a.txt").write_text("original\n")
    store = Store(settings.sessions_db)
    sid = store.create("change things", str(workspace), "m")
    store.close()
    new = {"a.txt": b"changed by the agent\n", "b.txt": b"created\n"}
    changes = {
        path: (host_state(workspace, path), FileState(kind="file", data=data))
        for path, data in new.items()
    }
    Checkpoints(settings.checkpoints_dir, workspace, sid).record(changes, "write_file")
    for path, data in new.items():  # what the change layer then applies
        (workspace / path).write_bytes(data)
    return sid


async def test_the_diff_screen_shows_the_change_and_undoes_it(
    make_app, settings: Settings, workspace: Path
) -> None:
    sid = a_session_that_changed(settings, workspace)
    app = make_app([finished()])
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(DiffScreen(sid))
        screen = app.screen
        await wait_for(pilot, lambda: isinstance(screen, DiffScreen) and screen.steps is not None)
        assert "1 step(s), 2 path(s)" in shown(screen.query_one("#diff-summary"))
        text = shown(screen.query_one("#diff-text"))
        assert "-original" in text and "+changed by the agent" in text and "+created" in text
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        # the undo restores a.txt and removes b.txt, in an order of its own: wait for both
        await wait_for(
            pilot,
            lambda: (
                not (workspace / "b.txt").exists()
                and (workspace / "a.txt").read_text() == "original\n"
            ),
        )
    assert (workspace / "a.txt").read_text() == "original\n"


async def test_undo_in_the_tui_is_refused_naming_a_file_the_user_changed(
    make_app, settings: Settings, workspace: Path
) -> None:
    sid = a_session_that_changed(settings, workspace)
    (workspace / "b.txt").write_text("mine now\n")
    app = make_app([finished()])
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(DiffScreen(sid))
        screen = app.screen
        await wait_for(pilot, lambda: isinstance(screen, DiffScreen) and screen.steps is not None)
        await pilot.press("u", "y")
        await wait_for(pilot, lambda: any("b.txt" in note for note in app.notes))
    assert (workspace / "a.txt").read_text() == "changed by the agent\n"
    assert (workspace / "b.txt").read_text() == "mine now\n"
