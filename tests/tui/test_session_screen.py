"""The session screen: cards, decisions, results, diffs, input, status bar, interrupt, scale."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.segment import Segment
from textual.geometry import Region
from textual.widget import Widget

from agent.events import (
    AssistantText,
    DecisionEvent,
    ErrorEvent,
    Event,
    NoticeEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from tui.testing import Fail, Hold, many_events, sample_events
from tui.widgets.cards import TextCard, ToolCard
from tui.widgets.render import tool_body
from tui.widgets.task_input import TaskInput
from tui.widgets.transcript import MAX_MOUNTED, Fold

from .conftest import RecordingApp, finished, until_idle, wait_for


def plain(card: ToolCard | TextCard) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(tool_body(card.item) if isinstance(card, ToolCard) else card.item.text)
    return console.export_text()


async def test_a_session_shows_one_card_per_tool_call_with_its_decision_and_result(
    make_app,
) -> None:
    app = make_app([*sample_events(), finished()], task="make greet() say hello")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        cards = list(app.screen.query(ToolCard))
        assert [c.item.call.tool for c in cards] == ["edit_file", "run", "run"]
        edit, test, curl = (plain(c) for c in cards)
        assert (
            "ALLOW" in edit
            and "allow-tests · team.yaml:12" in edit
            and '+    return f"hello, {name}"' in edit
        )
        assert "exit 0" in test and "1.2 s" in test and "… 24 more lines" in test
        assert "DENIED" in curl and "why: network tools are blocked" in curl


async def test_a_denied_call_is_visually_distinct(make_app) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        classes = [c.has_class("-deny") for c in app.screen.query(ToolCard)]
        assert classes == [False, False, True]
        denied = app.screen.query(ToolCard).last()
        assert denied.border_title == "run · DENIED"


async def test_output_is_collapsed_to_head_and_tail_and_expands_on_enter(make_app) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        card = app.screen.query(ToolCard)[1]
        assert "test_10 PASSED" not in plain(card)
        card.focus()
        await pilot.press("enter")
        assert card.item.expanded and "test_10 PASSED" in plain(card)
        await pilot.press("enter")
        assert "test_10 PASSED" not in plain(card)


async def test_streamed_text_is_one_markdown_card_that_grows(make_app) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        texts = [c for c in app.screen.query(TextCard) if c.item.kind == "assistant"]
        assert len(texts) == 1
        assert (
            texts[0].item.text == "I will **edit** `hello.py`, then run the tests."
            and not texts[0].item.streaming
        )


async def test_the_status_bar_shows_model_endpoint_layers_network_tokens_steps_and_time(
    make_app,
) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        bar = app.session_screen.status
        assert (bar.model, bar.endpoint, bar.network) == (
            "qwen2.5-coder-1.5b",
            "127.0.0.1:8011",
            "none",
        )
        assert bar.policy_layers == ["user", "cli:team.yaml"]
        assert (bar.tokens_in, bar.tokens_out, bar.tokens_per_s, bar.steps) == (812, 40, 20.0, 1)
        assert bar.state == "finished"
        text = bar.plain
        assert (
            "812 in / 40 out" in text
            and "20.0 tok/s" in text
            and "steps 1" in text
            and "0:00" in text
        )


async def test_enter_starts_the_task_typed_in_the_input(make_app) -> None:
    app = make_app([*sample_events(), finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"fix it", "enter")
        await until_idle(pilot)
        assert app.factory.sessions[0].options.task == "fix it"
        assert app.screen.query_one(TaskInput).text == ""


async def test_the_task_input_is_multi_line_and_keeps_a_history(make_app) -> None:
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.screen.query_one(TaskInput)
        await pilot.press(*"one", "ctrl+j", *"two", "enter")
        await until_idle(pilot)
        assert app.factory.sessions[0].options.task == "one\ntwo"
        await pilot.press(*"three", "enter")
        await wait_for(
            pilot, lambda: len(app.factory.sessions) == 2 and not app.session_screen.running
        )
        await pilot.press("up")
        assert box.text == "three"
        await pilot.press("up")
        assert box.text == "one\ntwo"
        await pilot.press("up")  # on the last line of two: the cursor moves up, not the history
        assert box.text == "one\ntwo" and box.cursor_location[0] == 0
        await pilot.press("down")
        await pilot.press("down")
        assert box.text == "three"
        await pilot.press("down")
        assert box.text == ""


async def test_escape_stops_the_step_cleanly_and_a_second_press_exits(make_app) -> None:
    app = make_app([*sample_events(), Hold()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(app.screen.query(ToolCard)) == 3)
        await pilot.press("escape")
        await until_idle(pilot)
        assert app.factory.sessions[0].stopped.is_set()
        assert app.session_screen.status.state == "stopped"
        assert app.return_code is None
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code == 0


async def test_ctrl_c_interrupts_like_escape(make_app) -> None:
    app = make_app([Hold()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.session_screen.session is not None)
        await pilot.press("ctrl+c")
        await until_idle(pilot)
        assert app.factory.sessions[0].stopped.is_set()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0


async def test_with_no_session_running_the_first_escape_only_warns(make_app) -> None:
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        assert app.return_code is None and "Press esc or ctrl+c again to exit" in app.notes
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code == 0


async def test_a_session_that_cannot_start_is_a_notification_with_the_hint(make_app) -> None:
    app = make_app(
        [Fail("policy.yaml:3:1: unknown key 'exce'", hint="fix the policy file")], task="t"
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        assert app.notes == ["policy.yaml:3:1: unknown key 'exce'\nhint: fix the policy file"]
        assert app.session_screen.status.state == "not started"


async def test_an_error_event_is_shown_in_the_transcript(make_app) -> None:
    app = make_app([ErrorEvent(message="model server gone", hint="start it"), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        errors = [c for c in app.screen.query(TextCard) if c.item.kind == "error"]
        assert errors and errors[0].item.hint == "start it"


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_the_layout_fits_the_terminal(make_app, size: tuple[int, int]) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=size) as pilot:
        await until_idle(pilot)
        screen = app.screen
        for widget_id in ("#transcript", "#task", "#status"):
            region = screen.query_one(widget_id).region
            assert region.width == size[0] and region.bottom <= size[1], widget_id
        assert screen.query_one("#transcript").region.height >= size[1] - 10


async def test_no_color_is_respected_and_decisions_do_not_rely_on_colour(
    make_app: Callable[..., RecordingApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        assert app.no_color
        denied = app.screen.query(ToolCard).last()
        assert denied.border_title == "run · DENIED" and "✘ DENIED" in plain(denied)
        assert "✔ ALLOW" in plain(app.screen.query(ToolCard).first())


async def test_two_thousand_events_mount_a_bounded_window_of_cards(make_app) -> None:
    app = make_app([*many_events(2000), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        transcript = app.session_screen.transcript
        assert len(transcript.items) > 600
        assert transcript.mounted_cards <= MAX_MOUNTED
        top = app.screen.query_one("#fold-top", Fold)
        assert top.display and str(transcript.lo) in str(top.render())
        before = transcript.lo
        top.focus()
        await pilot.press("enter")
        assert transcript.lo == before - 40


async def test_a_resumed_history_of_two_thousand_events_is_folded_not_mounted(make_app) -> None:
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = app.session_screen.transcript
        transcript.load(many_events(2000))
        await pilot.pause()
        assert len(app.screen.query(ToolCard)) <= 40
        transcript.jump_to(5)
        await pilot.pause()
        assert transcript.lo <= 5 < transcript.hi
        assert app.screen.query_one("#fold-bottom", Fold).display


# What a workspace file or the model could try on the person's terminal, plus Rich markup.
ATTACK = (
    "title\x1b]0;pwned\x07 clear\x1b[2J csi\x9b2J bidi \u202etxt.exe\u202c"
    " del\x7f\r  policy: ALLOW [bold red]FAKE[/bold red] [@click=app.quit]x[/]"
)
RAW = ("\x1b", "\x07", "\r", "\x7f", "\x9b", "\u202e", "\u202c")


def attack_events() -> list[Event]:
    call = ToolCallEvent(call_id="c1", tool="run", arguments={"command": "cat NOTES.md"}, ts=0.0)
    return [
        AssistantText(text=f"Reading it: {ATTACK}", ts=0.0),
        call,
        DecisionEvent(call_id="c1", action={"kind": "exec", "command": "cat NOTES.md"},
                      decision="allow", rule="allow-cat", source="team.yaml:3", ts=0.0),
        ToolResultEvent(call_id="c1", tool="run", is_error=False, exit_code=0, content=ATTACK,
                        diff=f"+{ATTACK}\n", ts=0.0),
        ToolCallEvent(call_id="c2", tool="run", arguments={"command": "curl x"}, ts=0.0),
        DecisionEvent(call_id="c2", action={"kind": "exec", "command": "curl x"},
                      decision="deny", rule="no-net", source="project:3", reason=ATTACK, ts=0.0),
        NoticeEvent(text=ATTACK, ts=0.0),
    ]  # fmt: skip


def rendered(widget: Widget) -> list[Segment]:
    """The segments the widget sends to the terminal (text and style), as Textual draws it."""
    width, height = widget.size
    return [seg for strip in widget.render_lines(Region(0, 0, width, height)) for seg in strip]


async def test_untrusted_text_in_cards_is_shown_escaped_and_never_as_markup(make_app) -> None:
    app = make_app([*attack_events(), finished(f"done {ATTACK}")], task="t")
    async with app.run_test(size=(200, 60)) as pilot:
        await until_idle(pilot)
        cards = [*app.screen.query(TextCard), *app.screen.query(ToolCard)]
        assert len(cards) == 6  # task, assistant, notice, finish; two tool cards
        for card in cards:
            segments = rendered(card)
            text = "".join(seg.text for seg in segments)
            assert [c for c in RAW if c in text] == [], type(card).__name__
            # markup stays text: the brackets show, and nothing turned clickable
            assert "FAKE" not in text or "[bold red]FAKE[/bold red]" in text
            assert not [seg for seg in segments if seg.style and "@click" in seg.style.meta]
        output = "".join(seg.text for seg in rendered(app.screen.query(ToolCard).first()))
        assert "title\\x1b]0;pwned\\x07 clear\\x1b[2J csi\\x9b2J bidi \\u202etxt.exe" in output
        assert "del\\x7f\\r  policy: ALLOW" in output
        escapes = [
            seg for seg in rendered(app.screen.query(ToolCard).first()) if seg.text == "\\x1b"
        ]
        assert escapes and all(seg.style and seg.style.reverse for seg in escapes)  # highlighted


async def test_before_the_first_session_the_status_bar_shows_the_model_and_policy_in_force(
    settings, workspace, tmp_path
) -> None:
    from agent.session_args import SessionArgs
    from agent.testing import ScriptedModelServer
    from tui.testing import ReplayFactory

    from .conftest import TEAM_POLICY

    team = tmp_path / "team.yaml"
    team.write_text(TEAM_POLICY)
    with ScriptedModelServer([], model="served-model-7b") as server:
        args = SessionArgs(workspace=workspace, policy_files=(team,), endpoint=server.base_url)
        app = RecordingApp(settings, args, session_factory=ReplayFactory([]), clock=lambda: 0.0)
        async with app.run_test(size=(100, 24)) as pilot:
            bar = app.session_screen.status
            await wait_for(pilot, lambda: bar.model == "served-model-7b")
            assert bar.state == "idle" and bar.policy_layers == ["cli:team.yaml"]
            assert "model served-model-7b @ 127.0.0.1:" in bar.plain
            assert "policy cli:team.yaml" in bar.plain


async def test_a_configured_model_name_is_shown_at_once(settings, workspace, tmp_path) -> None:
    from agent.session_args import SessionArgs
    from tui.testing import ReplayFactory

    extra = tmp_path / "extra.yaml"
    extra.write_text("version: 1\nname: x\ndefault: ask\n")
    named = settings.model_copy(update={"model_name": "qwen-pinned"})
    args = SessionArgs(workspace=workspace, policy_files=(extra,))
    app = RecordingApp(named, args, session_factory=ReplayFactory([]), clock=lambda: 0.0)
    async with app.run_test(size=(100, 24)):
        bar = app.session_screen.status
        assert bar.model == "qwen-pinned" and "model qwen-pinned @ 127.0.0.1:9" in bar.plain
        assert bar.policy_layers == ["cli:extra.yaml"]
