"""MCP configuration people already have (`mcpServers`), project trust, and the pin file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agent.discovery import trusted_files
from agent.errors import McpError
from agent.mcp_config import load_all, load_file
from agent.mcp_hub import McpToolInfo
from agent.mcp_pins import Pins
from agent.mcp_untrusted import bounded, capped, scan
from agent.settings import Settings
from rempart.cli import main


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_the_mcp_servers_json_shape_loads_and_names_the_image_s_reference_servers(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "mcp.json",
        {
            "mcpServers": {
                "git": {"command": "uvx", "args": ["mcp-server-git", "--repository", "."]},
                "time": {"command": "python", "args": ["-m", "mcp_server_time"], "type": "stdio"},
                "own": {"command": "node", "args": ["server.js"], "env": {"A": "1"}},
                "remote": {"url": "https://mcp.example.com/mcp"},
                "off": {"command": "x", "disabled": True},
            }
        },
    )
    servers = load_file(path)
    assert servers["git"].command == ["/opt/mcp/bin/mcp-server-git", "--repository", "."]
    assert servers["time"].command == ["/opt/mcp/bin/mcp-server-time"]
    assert servers["own"].command == ["node", "server.js"] and servers["own"].env == {"A": "1"}
    assert servers["remote"].url == "https://mcp.example.com/mcp"
    assert "off" not in servers and servers["git"].source == str(path)


@pytest.mark.parametrize(
    "data",
    [
        {"mcpServers": {"x": {"command": "a", "url": "https://h/"}}},
        {"mcpServers": {"x": {}}},
        {"mcpServers": {"x": {"url": "file:///etc/passwd"}}},
        {"mcpServers": []},
    ],
)
def test_a_malformed_mcp_json_is_a_clear_error_naming_the_file(
    tmp_path: Path, data: object
) -> None:
    path = write(tmp_path / "mcp.json", data)
    with pytest.raises(McpError) as caught:
        load_file(path)
    assert str(path) in caught.value.message and caught.value.hint


def test_the_user_s_server_replaces_the_org_s_and_an_untrusted_project_file_is_skipped(
    tmp_path: Path,
) -> None:
    org, user, ws = tmp_path / "org", tmp_path / "config", tmp_path / "ws"
    write(org / "mcp.json", {"mcpServers": {"a": {"command": "org"}, "b": {"command": "org"}}})
    (user / "mcp.yaml").parent.mkdir(parents=True)
    (user / "mcp.yaml").write_text("servers:\n  b: {command: [user]}\n")
    project = write(ws / ".mcp.json", {"mcpServers": {"a": {"command": "project"}}})
    config = load_all(org, user, ws, {})
    assert config.servers["a"].command == ["org"] and config.servers["b"].command == ["user"]
    assert "is not trusted" in config.skipped[0]
    digest = hashlib.sha256(project.read_bytes()).hexdigest()
    config = load_all(org, user, ws, {str(project.resolve()): digest})
    assert config.servers["a"].command == ["project"] and not config.skipped


def test_policy_trust_trusts_the_project_s_mcp_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMPART_CONFIG_DIR", str(tmp_path / "config"))
    ws = tmp_path / "ws"
    project = write(ws / ".mcp.json", {"mcpServers": {"a": {"command": "x"}}})
    assert main(["policy", "trust", "--workspace", str(ws)]) == 0
    assert "trusted" in capsys.readouterr().out
    assert str(project.resolve()) in trusted_files(Settings())
    write(ws / ".mcp.json", {"mcpServers": {"a": {"command": "x", "url": "https://h/"}}})
    assert main(["policy", "trust", "--workspace", str(ws)]) != 0  # does not load: not trusted


def info(description: str, annotations: dict[str, object] | None = None) -> McpToolInfo:
    return McpToolInfo(
        server="s", name="t", description=description, input_schema={}, annotations=annotations
    )


def test_a_pinned_tool_whose_annotations_change_is_disabled_with_a_diff(tmp_path: Path) -> None:
    pins = Pins(tmp_path)
    first = pins.vet([info("Reads.", {"readOnlyHint": True})], {}, [])
    assert [i.name for i in first.usable] == ["t"]
    again = Pins(tmp_path).vet([info("Reads.", {"readOnlyHint": False})], {}, [])
    assert not again.usable
    assert '"readOnlyHint": true' in again.changed["s.t"]


def test_a_damaged_pin_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "mcp-pins.json").write_text("{not json")
    with pytest.raises(McpError, match=r"mcp-pins\.json"):
        Pins(tmp_path)


def test_clean_descriptions_raise_no_flags_and_results_lose_hidden_characters() -> None:
    assert scan("Return the current time in a given IANA timezone.", ["read_file"]) == []
    assert scan("Read a file\u200b.", []) == ["hidden text: 1 invisible characters"]
    text, cut = capped("ok\x07\u202e\U000e0041done", limit=100)
    assert (text, cut) == ("okdone", False)
    nested: object = 1
    for _ in range(20):
        nested = [nested]
    assert "nested deeper than" in json.dumps(bounded(nested))


def test_mcp_list_shows_each_server_s_start_decision_network_and_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMPART_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("REMPART_ORG_POLICY_DIR", str(tmp_path / "org"))
    write(
        tmp_path / "config" / "mcp.json",
        {
            "mcpServers": {
                "fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},
                "x": {"command": "y"},
            }
        },
    )
    ws = tmp_path / "ws"
    write(ws / ".mcp.json", {"mcpServers": {"planted": {"command": "sh"}}})
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nmcp:\n  servers:\n"
        '    fetch: {decision: allow, network: ["docs.python.org:443"], workspace: none}\n'
    )
    code = main(["mcp", "list", "--json", "--workspace", str(ws), "--policy", str(policy)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = {row["server"]: row for row in data["servers"]}
    assert rows["fetch"]["start"] == "allow" and rows["fetch"]["workspace"] == "none"
    assert rows["fetch"]["network"] == ["docs.python.org:443"]
    assert rows["x"]["start"] == "deny" and "planted" not in rows
    assert "is not trusted" in data["skipped"][0]
