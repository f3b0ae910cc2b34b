"""Policy view: the layers in force (in order, merged: strictest wins) and `explain` for any
action typed in (JSON, or shorthand: `exec CMD`, `read PATH`, `write PATH`, `net HOST:PORT`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from policies.errors import RempartError
from policies.termsafe import safe, safe_line
from tui.escape import shown

if TYPE_CHECKING:
    from policies import PolicySet
    from tui.app import RempartApp


def short_path(path: str) -> str:
    """A path as a person reads it: relative to the current folder when inside it, else ~/..."""
    full = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        if full.is_relative_to(base) and full != base:
            return prefix + str(full.relative_to(base))
    return path


SHORTHAND = {
    "exec": "exec",
    "run": "exec",
    "read": "fs.read",
    "write": "fs.write",
    "net": "net.connect",
}


def action_from(text: str) -> dict[str, Any]:
    """A policy action from what was typed: a JSON object or `VERB ARGUMENT`."""
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a JSON action is an object")
        return data
    verb, _, rest = text.partition(" ")
    kind = SHORTHAND.get(verb)
    if kind is None or not rest.strip():
        raise ValueError("type JSON, or exec CMD · read PATH · write PATH · net HOST:PORT")
    rest = rest.strip()
    if kind == "exec":
        return {"kind": kind, "command": rest}
    if kind == "net.connect":
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "443")
        return {"kind": kind, "host": host, "port": int(port)}
    return {"kind": kind, "path": rest}


class PolicyScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+l", "focus_explain", "Explain"),
    ]

    app: RempartApp

    def __init__(self) -> None:
        super().__init__(id="policy")
        self.policy: PolicySet | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Policy in force · strictest wins: allow < ask < deny", style="bold"),
            classes="screen-title",
        )
        yield Input(
            placeholder="explain: exec git push · read .env · net pypi.org:443 · {json}",
            id="explain-input",
        )
        with VerticalScroll(id="policy-body"):
            yield Static("", id="explain-output")
            yield Static("loading the policy…", id="policy-layers")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#explain-output").display = False
        self.query_one(Input).focus()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        try:
            policy, files = self.app.load_policy()
        except RempartError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._loaded, policy, files)

    def _failed(self, exc: RempartError) -> None:
        self.query_one("#policy-layers", Static).update(
            shown(f"{exc.message}\nhint: {exc.hint}", style="red")
        )
        self.notify(safe(exc.message), title="Policy does not load", severity="error", markup=False)

    def _loaded(self, policy: PolicySet, files: list[tuple[str, str, str]]) -> None:
        from rich.syntax import Syntax

        self.policy = policy
        parts: list[RenderableType] = []
        limits = policy.limits
        merged = Text.assemble(
            ("merged limits ", "dim"),
            f"cpus {limits.cpus} · memory {limits.memory} · pids {limits.pids} · "
            f"timeout {limits.timeout_s:g} s · output {limits.output_bytes} bytes",
            ("\nnetwork ", "dim"),
            ("allowlist: " + ", ".join(policy.network_allow)) if policy.network_allow else "none",
        )
        parts.append(merged)
        for number, (name, path, text) in enumerate(files, start=1):
            parts.append(
                Text.assemble(
                    f"\n{number}. ",
                    (safe_line(name), "bold"),
                    " layer · ",
                    (safe_line(short_path(path)), "underline"),
                )
            )
            parts.append(
                Syntax(
                    safe(text.rstrip()),
                    "yaml",
                    theme="ansi_dark",
                    background_color="default",
                    line_numbers=True,
                )
            )
        self.query_one("#policy-layers", Static).update(Group(*parts))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        out = self.query_one("#explain-output", Static)
        out.display = True
        if self.policy is None:
            out.update(Text("the policy has not loaded", style="red"))
            return
        from policies import parse_action

        try:
            action = parse_action(action_from(event.value))
        except (ValueError, RempartError) as exc:
            message = exc.message if isinstance(exc, RempartError) else str(exc)
            out.update(shown(message, style="red"))
            return
        decision = self.policy.evaluate(action)
        style = {"allow": "bold green", "ask": "bold yellow", "deny": "bold red"}[decision.decision]
        head = Text.assemble(("=> ", "bold"), (decision.decision.upper(), style), "\n")
        explained = self.policy.explain(action).replace(f"{Path.cwd()}/", "")
        out.update(Group(head, shown(explained)))
        self.query_one("#policy-body", VerticalScroll).scroll_home(animate=False)

    def action_focus_explain(self) -> None:
        self.query_one(Input).focus()
