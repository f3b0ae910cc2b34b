"""The session screen: transcript, task input, status bar; runs sessions in a thread worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from policies.errors import RempartError
from policies.termsafe import safe
from tui.approval import ApprovalScreen, TuiApprover
from tui.messages import (
    ApprovalPending,
    JumpToCard,
    ResumeSession,
    SessionEnded,
    SessionEvent,
    SessionFailed,
)
from tui.status_bar import StatusBar
from tui.widgets.task_input import TaskInput
from tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from agent.events import Event
    from tui.app import RempartApp
    from tui.factory import SessionLike


BUG_HINT = "this is a bug in Rempart, not in your task; please report it with the session id"


class SessionScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "interrupt", "Stop / exit", priority=True),
        Binding("ctrl+o", "open_approval", "Answer approval", show=False),
        Binding("ctrl+e", "latest", "Latest", show=False),
        Binding("ctrl+t", "focus_input", "Task input", show=False),
        Binding("ctrl+n", "new_session", "New session", show=False),
    ]

    app: RempartApp

    def __init__(self) -> None:
        super().__init__(id="session")
        self.session: SessionLike | None = None
        self.session_id = ""
        self.running = False
        self.stopping = False
        self._armed = False
        self.approver = TuiApprover(self)

    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript")
        yield Static("", id="pending-banner")
        yield TaskInput(id="task")
        yield StatusBar(self.app.clock, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pending-banner").display = False
        self.query_one(TaskInput).focus()
        self._preset_status()
        if self.app.first_task:
            self.start(self.app.first_task)

    def _preset_status(self) -> None:
        """The model and the policy in force, shown before any session starts."""
        settings, args = self.app.settings, self.app.args
        endpoint = args.endpoint or settings.model_base_url
        try:
            layers = [name for name, _path in self.app.policy_layers()]
        except RempartError:
            layers = ["(policy does not load: F4)"]
        model = args.model or settings.model_name
        self.status.preset(model or "(first served)", endpoint, layers)
        if not model:
            self._probe_model(endpoint)

    @work(thread=True, exclusive=True, group="probe")
    def _probe_model(self, endpoint: str) -> None:
        """The model the server serves first (what a session would pick): a short probe."""
        from agent.model_client import OpenAIModelClient

        client = OpenAIModelClient(endpoint, "", self.app.settings.model_api_key, 5.0, 0)
        try:
            models = client.list_models()
        except RempartError:
            return
        finally:
            client.close()
        if models and models[0].get("id"):
            name, layers = str(models[0]["id"]), self.status.policy_layers
            self.app.call_from_thread(self.status.preset, name, endpoint, layers)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    # starting -----------------------------------------------------------------------
    def on_task_input_submitted(self, message: TaskInput.Submitted) -> None:
        # after a session on this screen, the next message continues it (ctrl+n: a new one)
        if self.session_id and not self.running:
            self.start(message.text, resume_id=self.session_id, follow_up=True)
        else:
            self.start(message.text)

    def action_new_session(self) -> None:
        if self.running:
            self.notify("A session is running: stop it (esc) first", severity="warning")
            return
        self.session_id = ""
        self.transcript.reset()
        self.notify("New session: the next task starts from scratch")

    def start(
        self,
        task: str,
        resume_id: str | None = None,
        history: list[Event] | None = None,
        follow_up: bool = False,
    ) -> bool:
        if self.running:
            self.notify("A session is running: wait for it, or stop it (esc)", severity="warning")
            return False
        if history:
            self.transcript.load(history)
        if not resume_id or follow_up:
            self.transcript.add_task(task)
        self.running, self.stopping, self._armed = True, False, False
        self.session = None
        self.status.begin()
        self._run(task, resume_id, task if follow_up else None)
        return True

    def on_resume_session(self, message: ResumeSession) -> None:
        if self.running:
            self.notify(
                "A session is running: stop it (esc) before resuming another", severity="warning"
            )
            return
        self._load_history(message.session_id)

    @work(thread=True, exclusive=True, group="history")
    def _load_history(self, session_id: str) -> None:
        with self.app.open_store() as store:
            events = store.events(session_id)
        self.app.call_from_thread(self._resume, session_id, events)

    def _resume(self, session_id: str, events: list[Event]) -> None:
        self.transcript.reset()
        self.start("", resume_id=session_id, history=events)

    @work(thread=True, exclusive=True, group="session")
    def _run(self, task: str, resume_id: str | None, follow_up: str | None = None) -> None:
        # builds SessionOptions: imports agent.session (openai, docker), off the UI thread
        options = self.app.args.options(task, self.approver, resume_id, follow_up)
        finish = None
        try:
            with self.app.session_factory(options, [self._listen]) as session:
                self.session = session
                if self.stopping:
                    session.stop()
                finish = session.run()
        except RempartError as exc:
            self.post_message(SessionFailed(exc.message, exc.hint))
        except Exception as exc:  # a bug below us: say so once, keep the TUI (and its transcript)
            self.post_message(
                SessionFailed(f"internal error: {type(exc).__name__}: {exc}", BUG_HINT)
            )
            self.app.log.error(repr(exc))
        finally:
            self.approver.deny_all("the session ended")
            self.post_message(SessionEnded(finish))

    def _listen(self, event: Event) -> None:
        """Called on the worker thread for every session event."""
        self.post_message(SessionEvent(event))

    # events from the worker ---------------------------------------------------------
    def on_session_event(self, message: SessionEvent) -> None:
        event = message.event
        if event.type == "session_start":
            self.session_id = event.session_id
        self.transcript.add_event(event)
        self.status.apply(event)

    def on_session_failed(self, message: SessionFailed) -> None:
        text = message.message + (f"\nhint: {message.hint}" if message.hint else "")
        self.notify(
            safe(text), title="Session not started", severity="error", timeout=15, markup=False
        )

    def on_session_ended(self, message: SessionEnded) -> None:
        self.running = False
        self.session = None
        if message.finish is None:
            self.status.end("not started")
        elif self.status.state not in ("finished", "failed", "limit", "stopped"):
            self.status.end(message.finish.status)
        self._close_approval()
        self._show_banner()

    def on_approval_pending(self, message: ApprovalPending) -> None:
        self._show_banner()
        if not isinstance(self.app.screen, ApprovalScreen) and self.app.screen is self:
            self.action_open_approval()

    # approvals ----------------------------------------------------------------------
    def action_open_approval(self) -> None:
        pending = self.approver.pending
        if not pending or isinstance(self.app.screen, ApprovalScreen):
            return
        item = pending[0]

        def answered(answer: Any) -> None:
            if answer is not None:
                self.approver.answer(item, answer)
            self._show_banner()
            if answer is not None and self.approver.pending:
                self.call_after_refresh(self.action_open_approval)

        self.app.push_screen(ApprovalScreen(item.request, len(pending)), answered)

    def _show_banner(self) -> None:
        banner = self.query_one("#pending-banner", Static)
        count = len(self.approver.pending)
        banner.display = count > 0 and not isinstance(self.app.screen, ApprovalScreen)
        banner.update(f"⏸ {count} action(s) wait for your approval · ctrl+o: answer")

    def _close_approval(self) -> None:
        if isinstance(self.app.screen, ApprovalScreen):
            self.app.pop_screen()

    # interrupt ----------------------------------------------------------------------
    def action_interrupt(self) -> None:
        """First press: stop the current step cleanly; second press: exit."""
        if self.running and not self.stopping:
            self.stopping = True
            self.status.state = "stopping"
            if self.session is not None:
                self.session.stop()
            self.approver.deny_all("the user stopped the session")
            self._close_approval()
            self.notify("Stopping after the current step · press esc or ctrl+c again to exit")
            return
        if self._armed or self.stopping:
            self.app.exit()
            return
        self._armed = True
        self.notify("Press esc or ctrl+c again to exit")

    def shutdown(self) -> None:
        """The app is leaving: stop the session and release its waiting worker."""
        self.stopping = True
        if self.session is not None:
            self.session.stop()
        self.approver.deny_all("the TUI closed")

    def on_unmount(self) -> None:
        self.shutdown()

    def action_latest(self) -> None:
        self.transcript.show_latest()

    def action_focus_input(self) -> None:
        self.query_one(TaskInput).focus()

    def on_jump_to_card(self, message: JumpToCard) -> None:
        index = self.transcript.items.find(message.session_id, message.ordinal, message.kind)
        if index is None:
            self.notify("That record has no card in this transcript", severity="warning")
            return
        self.transcript.jump_to(index)
