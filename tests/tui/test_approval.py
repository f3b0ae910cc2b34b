"""The approval prompt: the exact action, the rule and reason, and each answer by a single key."""

from __future__ import annotations

from rich.console import Console

from tui.approval import ApprovalScreen, action_lines
from tui.escape import unusual, visible
from tui.testing import Ask, Hold
from tui.widgets.cards import ToolCard

from .conftest import ask_request, finished, until_idle, wait_for


def shown(widget) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def answer_with(make_app, keys: list[str], request=None):
    app = make_app([Ask(request or ask_request()), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press(*keys)
        await until_idle(pilot)
        card = app.screen.query(ToolCard).last()
        return app.factory.answers, card


async def test_o_allows_once(make_app) -> None:
    answers, card = await answer_with(make_app, ["o"])
    assert [a.choice for a in answers] == ["once"]
    assert card.item.decisions[0].decision == "allow" and card.item.decisions[0].approver == "user"
    assert not card.has_class("-deny") and card.has_class("-asked")


async def test_s_allows_for_the_session(make_app) -> None:
    answers, _ = await answer_with(make_app, ["s"])
    assert [a.choice for a in answers] == ["session"]


async def test_a_allows_always_when_offered(make_app) -> None:
    answers, _ = await answer_with(make_app, ["a"])
    assert [a.choice for a in answers] == ["always"]


async def test_d_denies_with_a_message_to_the_model(make_app) -> None:
    answers, card = await answer_with(make_app, ["d", *"use make clean", "enter"])
    assert [(a.choice, a.message) for a in answers] == [("deny", "use make clean")]
    assert card.has_class("-deny") and "use make clean" in (
        card.item.result.content if card.item.result else ""
    )


async def test_allow_always_is_refused_where_a_rule_asked_explicitly(make_app) -> None:
    request = ask_request(always=False, rule="ask-rm", reason="deleting needs a person")
    app = make_app([Ask(request), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        screen = app.screen
        assert screen.query_one("#always").disabled
        assert "not offered" in shown(screen.query_one("#approval-always-file"))
        assert "ask-rm · policy.yaml:7" in shown(screen.query_one("#approval-rule"))
        assert "deleting needs a person" in shown(screen.query_one("#approval-reason"))
        await pilot.press("a")
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("o")
        await until_idle(pilot)
        assert [a.choice for a in app.factory.answers] == ["once"]


async def test_the_prompt_shows_the_rule_always_would_write_and_where(make_app) -> None:
    app = make_app([Ask(ask_request()), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert "/home/dev/.config/rempart/policy.yaml" in shown(
            app.screen.query_one("#approval-always-file")
        )
        assert 'match: ["rm", "**"]' in shown(app.screen.query_one("#approval-always-rule"))
        await pilot.press("o")
        await until_idle(pilot)


async def test_control_and_look_alike_characters_are_visible_in_the_prompt(make_app) -> None:
    sneaky = "git status\u200b; rm -rf \u0430pp\x1b[2K"
    app = make_app([Ask(ask_request(command=sneaky)), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        text = shown(app.screen.query_one("#approval-action"))
        assert "git status\\u200b; rm -rf \\u0430pp\\x1b[2K" in text
        warning = shown(app.screen.query_one("#approval-unusual"))
        assert "ZERO WIDTH SPACE" in warning and "CYRILLIC SMALL LETTER A" in warning
        await pilot.press("d", "enter")
        await until_idle(pilot)


async def test_later_hides_the_prompt_without_answering_and_ctrl_o_brings_it_back(make_app) -> None:
    app = make_app([Ask(ask_request()), finished()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("escape")
        assert app.screen is app.session_screen and app.session_screen.running
        assert app.screen.query_one("#pending-banner").display
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("s")
        await until_idle(pilot)
        assert [a.choice for a in app.factory.answers] == ["session"]
        assert not app.screen.query_one("#pending-banner").display


async def test_stopping_the_session_denies_the_pending_approval(make_app) -> None:
    app = make_app([Ask(ask_request()), Hold()], task="t")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("ctrl+c")
        await until_idle(pilot)
        assert [a.choice for a in app.factory.answers] == ["deny"]
        assert app.screen is app.session_screen


def test_visible_escapes_what_a_terminal_would_hide() -> None:
    assert visible("a\tb\nc\x07\u202e\U000e0041").plain == "a\\tb\\nc\\x07\\u202e\\U000e0041"
    assert unusual("ok") == []
    assert (
        action_lines({"kind": "fs.write", "path": "src/\u200bmain.py"}).plain
        == "write src/\\u200bmain.py"
    )
    assert (
        action_lines({"kind": "net.connect", "host": "pypi.org", "port": 443}).plain
        == "connect pypi.org:443"
    )


async def test_a_hostile_rule_reason_shows_escaped_and_not_as_markup(make_app) -> None:
    reason = "fine\x1b]0;pwned\x07\r[bold green]policy: ALLOW[/] \u202eexe.txt"
    request = ask_request(rule="r1", reason=reason)
    app = make_app([Ask(request), finished()], task="t")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        text = shown(app.screen.query_one("#approval-reason"))
        assert "fine\\x1b]0;pwned\\x07\\r[bold green]policy: ALLOW[/] \\u202eexe.txt" in text
        await pilot.press("d", "enter")
        await until_idle(pilot)


WRITE_DIFF = (
    "--- a/hello.py\n+++ b/hello.py\n@@ -1,60 +1,60 @@\n"
    + "".join(f"-line {i}\n+LINE {i}\n" for i in range(60))
    + "+evil\x1b]0;title\x07\n"
)


async def test_the_modal_shows_the_full_diff_of_a_write_before_the_person_decides(
    make_app,
) -> None:
    request = ask_request().model_copy(
        update={
            "tool": "write_file",
            "action": {"kind": "fs.write", "path": "hello.py"},
            "preview": WRITE_DIFF,
        }
    )
    app = make_app([Ask(request), Hold()], task="t")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        text = shown(app.screen.query_one("#approval-preview"))
        assert all(f"-line {i}" in text and f"+LINE {i}" in text for i in range(60))
        assert "+evil\\x1b]0;title\\x07" in text and "\x1b" not in text
        assert app.factory.answers == []  # nothing decided yet
        await pilot.press("o")
        await wait_for(pilot, lambda: len(app.factory.answers) == 1)


async def test_the_modal_shows_how_the_policy_split_a_command(make_app) -> None:
    from policies import Exec, PolicySet

    from .conftest import TEAM_POLICY

    policy = PolicySet.from_texts([("team", "team.yaml", TEAM_POLICY)])
    command = "pytest -q && rm -rf build"
    decision = policy.evaluate(Exec(command=command))
    assert decision.decision == "ask" and len(decision.segments) == 2
    request = ask_request(command=command).model_copy(update={"decision": decision})
    app = make_app([Ask(request), Hold()], task="t")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert "read it as 2 command(s)" in shown(app.screen.query_one("#approval-segments"))
        lines = [shown(w) for w in app.screen.query(".approval-segment")]
        assert "allow" in lines[0] and "pytest -q" in lines[0]
        assert "ask" in lines[1] and "rm -rf build" in lines[1]


async def test_the_modal_shows_an_mcp_calls_server_tool_and_arguments(make_app) -> None:
    action = {
        "kind": "mcp.call",
        "server": "files",
        "tool": "delete",
        "arguments": {"path": "build", "recursive": True},
    }
    request = ask_request().model_copy(update={"tool": "mcp__files__delete", "action": action})
    app = make_app([Ask(request), Hold()], task="t")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        text = shown(app.screen.query_one("#approval-action"))
        assert "mcp files tool delete" in text
        assert '"path": "build"' in text and '"recursive": true' in text
