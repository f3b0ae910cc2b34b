"""MCP view: the configured servers and what the policy lets each do (start, network,
workspace), the project files left out (untrusted), and the pinned tools with their flags.

It starts no server: `rempart mcp tools SERVER` does, and shows changed tools' diffs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from policies.errors import RempartError
from policies.termsafe import safe_line
from tui.escape import shown

if TYPE_CHECKING:
    from agent.mcp_config import McpConfig
    from agent.mcp_pins import Pins
    from policies import PolicySet
    from tui.app import RempartApp


class McpScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back")]

    app: RempartApp

    def __init__(self) -> None:
        super().__init__(id="mcp")
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(
            Text("MCP servers · each in its own sandbox container", style="bold"),
            classes="screen-title",
        )
        with VerticalScroll(id="mcp-body"):
            yield Static("loading…", id="mcp-content")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from agent.discovery import trusted_files
        from agent.mcp_config import load_all
        from agent.mcp_pins import Pins

        settings = self.app.settings
        try:
            policy, _files = self.app.load_policy()
            config = load_all(
                settings.org_policy_dir,
                settings.config_dir,
                self.app.args.workspace.resolve(),
                trusted_files(settings),
            )
            pins = Pins(settings.config_dir)
        except RempartError as exc:
            self.app.call_from_thread(self._show, shown(f"{exc.message}\nhint: {exc.hint}", "red"))
            return
        self.app.call_from_thread(self._show, render(policy, config, pins))

    def _show(self, content: RenderableType) -> None:
        self.query_one("#mcp-content", Static).update(content)
        self.loaded = True


def render(policy: PolicySet, config: McpConfig, pins: Pins) -> RenderableType:
    from policies import McpStart

    servers = Table(title="servers", title_justify="left", expand=True)
    for column in ("server", "start", "network", "workspace", "runs"):
        servers.add_column(column)
    style = {"allow": "green", "ask": "yellow", "deny": "red"}
    for name, server in sorted(config.servers.items()):
        start = policy.evaluate(McpStart(server=name)).decision
        table = policy.mcp_network_table(name)
        hosts = [
            r["pattern"]
            for layer in (table["layers"] if table else [])
            for r in layer["rules"]
            if r["decision"] == "allow"
        ]
        servers.add_row(
            safe_line(name),
            Text(start, style=style[start]),
            safe_line(", ".join(hosts)) or "none",
            policy.mcp_workspace(name),
            safe_line(server.url or " ".join(server.command)),
        )
    parts: list[RenderableType] = [servers if config.servers else Text("no servers configured")]
    for note in config.skipped:
        parts.append(Text.assemble(("skipped ", "yellow"), safe_line(note)))
    tools = Table(title="pinned tools", title_justify="left", expand=True)
    for column in ("tool", "sha256", "pinned", "flags"):
        tools.add_column(column)
    for key, pin in sorted(pins.pins.items()):
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(pin.approved_at))
        flags = Text(safe_line("; ".join(pin.flags)), style="bold red") if pin.flags else ""
        tools.add_row(safe_line(key), pin.sha256[:12], when, flags)
    parts.append(tools if pins.pins else Text("no tools pinned yet"))
    parts.append(
        Text(
            "rempart mcp tools SERVER: live tools, changed ones with a diff · "
            "rempart mcp pin SERVER: approve",
            style="dim",
        )
    )
    return Group(*parts)
