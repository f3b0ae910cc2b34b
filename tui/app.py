"""RempartApp: the session screen by default; sessions, audit, policy and help on top.

    RempartApp(settings, SessionArgs(workspace=Path(".")), session_factory=...).run()

The session factory is the seam to the agent (default: the real `Session`); every screen
has a key and a command palette entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from agent.session_args import SessionArgs
from tui.session_screen import SessionScreen

if TYPE_CHECKING:
    from agent.audit import AuditTrail
    from agent.settings import Settings
    from agent.store import SessionStore
    from policies import PolicySet
    from sandbox.checkpoints import Step, UndoReport
    from tui.factory import SessionFactory


class RempartApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Rempart"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "Stop / exit", priority=True),
        Binding("f1", "show('help')", "Help"),
        Binding("f2", "show('sessions')", "Sessions"),
        Binding("f3", "show('audit')", "Audit"),
        Binding("f4", "show('policy')", "Policy"),
        Binding("f5", "show('diff')", "Diff / undo"),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        args: SessionArgs | None = None,
        session_factory: SessionFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        task: str | None = None,
    ) -> None:
        """`args`: the session options from the command line (`agent.session_args`), used
        for every session started here; `task`: a first task to start with."""
        super().__init__()
        if settings is None:
            from agent.settings import Settings

            settings = Settings()
        self.settings = settings
        self.args = args or SessionArgs()
        self.first_task = task
        if session_factory is None:
            from tui.factory import real_session_factory

            session_factory = real_session_factory(settings)
        self.session_factory = session_factory
        self.clock = clock
        self.session_screen = SessionScreen()

    def get_default_screen(self) -> Screen[Any]:
        return self.session_screen

    # screens ------------------------------------------------------------------------
    def action_show(self, name: str) -> None:
        from tui.audit_screen import AuditScreen
        from tui.diff_screen import DiffScreen
        from tui.help_screen import HelpScreen
        from tui.mcp_screen import McpScreen
        from tui.policy_screen import PolicyScreen
        from tui.sessions_screen import SessionsScreen

        kinds: dict[str, Callable[[], Screen[Any]]] = {
            "help": HelpScreen,
            "sessions": SessionsScreen,
            "audit": lambda: AuditScreen(self.session_screen.session_id),
            "policy": PolicyScreen,
            "mcp": McpScreen,
            "diff": lambda: DiffScreen(self.session_screen.session_id),
        }
        if name == "diff" and not self.session_screen.session_id:
            self.notify("No session yet: F2 lists sessions (v shows one's change)")
            return
        screen = kinds[name]()
        if type(self.screen) is type(screen):
            return
        while self.screen is not self.session_screen and len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)

    def action_back_to_session(self) -> None:
        while self.screen is not self.session_screen and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_interrupt(self) -> None:
        self.session_screen.action_interrupt()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Session", "The transcript and task input", self.action_back_to_session)
        yield SystemCommand(
            "Sessions",
            "List, resume and delete sessions (F2)",
            lambda: self.action_show("sessions"),
        )
        yield SystemCommand(
            "Audit",
            "This session's audit records; jump to a card (F3)",
            lambda: self.action_show("audit"),
        )
        yield SystemCommand(
            "Policy",
            "The policy in force; explain an action (F4)",
            lambda: self.action_show("policy"),
        )
        yield SystemCommand(
            "Diff / undo",
            "Everything this session changed; undo it (F5)",
            lambda: self.action_show("diff"),
        )
        yield SystemCommand(
            "MCP",
            "MCP servers, what the policy lets them do, pinned tools and flags",
            lambda: self.action_show("mcp"),
        )
        yield SystemCommand("Help", "Every key binding (F1)", lambda: self.action_show("help"))
        yield SystemCommand(
            "Stop session", "Stop the current step cleanly", self.session_screen.action_interrupt
        )

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.session_screen.shutdown()
        super().exit(*args, **kwargs)

    # data for the screens -----------------------------------------------------------
    @contextmanager
    def open_store(self) -> Iterator[SessionStore]:
        from agent.store import open_store

        store = open_store(self.settings)
        try:
            yield store
        finally:
            store.close()

    def audit_log(self) -> AuditTrail:
        from agent.audit import open_audit

        return open_audit(self.settings)

    def session_change(self, session_id: str) -> tuple[list[Step], str, str]:
        """A session's checkpoint steps, its whole diff, and its workspace."""
        from agent.undo import checkpoints_of

        with self.open_store() as store:
            row = store.get(session_id)
        checkpoints = checkpoints_of(self.settings, row)
        return checkpoints.steps(), checkpoints.diff(), row.workspace

    def undo_session(self, session_id: str) -> UndoReport:
        """Undo every step of a session (refused, naming files, where they changed since)."""
        from agent.undo import undo_session

        with self.open_store() as store:
            row = store.get(session_id)
        return undo_session(self.settings, row)

    def policy_layers(self) -> list[tuple[str, str]]:
        """The policy layers a session here would load: (name, path), in order."""
        from agent.discovery import discover_layers

        args = self.args
        layers = discover_layers(
            self.settings,
            args.workspace.resolve(),
            list(args.policy_files),
            ignore_project=args.ignore_project_policy,
        )
        return [(layer.name, str(layer.path)) for layer in layers]

    def load_policy(self) -> tuple[PolicySet, list[tuple[str, str, str]]]:
        """The policy set in force for the workspace, and each layer's (name, path, text)."""
        from agent.discovery import discover_layers, load_policy_set

        args = self.args
        layers = discover_layers(
            self.settings,
            args.workspace.resolve(),
            args.policy_files,
            ignore_project=args.ignore_project_policy,
        )
        policy = load_policy_set(layers)
        files = [
            (layer.name, str(layer.path), layer.path.read_text(errors="replace"))
            for layer in layers
        ]
        return policy, files
