"""The real PyPI reference servers (git, fetch, time), each in its own sandbox container."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import docker
import pytest

from agent.errors import McpError
from agent.mcp_boxes import server_sandbox
from agent.mcp_config import McpServerConfig
from agent.mcp_hub import McpHub
from agent.mcp_probe import probe_server
from agent.tools.mcp_tool import mcp_call_action
from policies import PolicySet
from sandbox.policy_bridge import spec_from_policy

pytestmark = pytest.mark.docker
HTTP_SERVER = Path(__file__).with_name("data") / "mcp_http_server.py"

BASE = """\
version: 1
default: deny
files:
  read: {allow: ["**"], deny: [".env"]}
  write: {allow: ["**"]}
network: {allow: ["pypi.org:443"]}
"""
GIT = McpServerConfig(command=["mcp-server-git", "--repository", "/workspace"])
TIME = McpServerConfig(command=["uvx", "mcp-server-time", "--local-timezone", "UTC"])
FETCH = McpServerConfig(command=["mcp-server-fetch", "--ignore-robots-txt"])


def policy(tmp_path: Path, servers: str) -> PolicySet:
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + "mcp:\n  servers:\n" + servers)
    return PolicySet.load([("user", path)])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    ws = tmp_path / "repo"
    ws.mkdir()
    (ws / "notes.txt").write_text("first\n")
    (ws / ".env").write_text("TOKEN=super-secret-value\n")
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "notes.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the first commit"], check=True)
    (ws / "notes.txt").write_text("first\nsecond\n")
    return ws


def _inspect(container_id: str) -> dict[str, object]:
    client = docker.from_env()
    try:
        attrs: dict[str, object] = client.api.inspect_container(container_id)
        return attrs
    finally:
        client.close()


def test_the_git_server_reads_the_workspace_repository_in_its_own_container(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, "    git: {decision: allow}\n")
    with probe_server(pol, "git", GIT, repo, image) as probe:
        names = {tool.name for tool in probe.tools}
        assert {"git_log", "git_status", "git_diff_unstaged"} <= names
        log = probe.hub.call("git", "git_log", {"repo_path": "/workspace"}, 60)
        assert not log.is_error and "the first commit" in log.text
        diff = probe.hub.call("git", "git_diff_unstaged", {"repo_path": "/workspace"}, 60)
        assert "+second" in diff.text
        state = _inspect(probe.box.container_id)
        host = state["HostConfig"]
        assert isinstance(host, dict)
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        # the read-denied file is absent in the server's view too
        shown = probe.box.run(["cat", "/workspace/.env"])
        assert "super-secret-value" not in shown.stdout


def test_a_read_only_server_cannot_change_the_host_workspace(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, "    git: {decision: allow, workspace: ro}\n")
    with probe_server(pol, "git", GIT, repo, image) as probe:
        added = probe.hub.call("git", "git_add", {"repo_path": "/workspace", "files": ["."]}, 60)
        committed = probe.hub.call(
            "git", "git_commit", {"repo_path": "/workspace", "message": "planted"}, 60
        )
        assert not added.is_error and not committed.is_error  # inside its own copy
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert "planted" not in log.stdout  # nothing reached the host


def test_a_server_with_no_workspace_sees_an_empty_folder(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, "    git: {decision: allow, workspace: none}\n")
    anywhere = McpServerConfig(command=["mcp-server-git"])
    with probe_server(pol, "git", anywhere, repo, image) as probe:
        listing = probe.box.run(["ls", "-A", "/workspace"])
        assert listing.stdout.strip() == ""
        log = probe.hub.call("git", "git_log", {"repo_path": "/workspace"}, 60)
        assert log.is_error or "the first commit" not in log.text


def test_the_time_server_answers_with_no_network_at_all(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, "    time: {decision: allow}\n")
    with probe_server(pol, "time", TIME, repo, image) as probe:
        assert probe.box.egress is None and probe.box.spec.network_rules == ""
        now = probe.hub.call("time", "get_current_time", {"timezone": "Europe/Paris"}, 60)
        assert not now.is_error and "Europe/Paris" in now.text
        state = _inspect(probe.box.container_id)
        config = state["Config"]
        assert isinstance(config, dict)
        assert not any(v.startswith("HTTPS_PROXY=") for v in config["Env"])


def test_the_fetch_server_without_a_network_rule_reaches_nothing(
    tmp_path: Path, repo: Path, image: str
) -> None:
    # the policy's own network allow (pypi.org) is the agent's, not the server's
    pol = policy(tmp_path, "    fetch: {decision: allow}\n")
    with probe_server(pol, "fetch", FETCH, repo, image) as probe:
        assert probe.box.egress is None
        page = probe.hub.call("fetch", "fetch", {"url": "https://pypi.org/simple/"}, 90)
        assert page.is_error
        assert "Simple index" not in page.text


def test_the_fetch_server_reaches_only_its_allowed_host_through_the_egress_proxy(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, '    fetch: {decision: allow, network: ["pypi.org:443"]}\n')
    with probe_server(pol, "fetch", FETCH, repo, image) as probe:
        assert probe.box.egress is not None
        assert probe.box.spec.network_allow == ("pypi.org:443",)
        other = probe.hub.call("fetch", "fetch", {"url": "https://example.com/"}, 90)
        assert other.is_error
        small = {"url": "https://pypi.org/simple/mcp-server-time/", "raw": True}
        allowed = probe.hub.call("fetch", "fetch", small, 90)
        assert probe.box.egress is not None
        events = probe.box.egress.events()
    refused = [e for e in events if e.host == "example.com"]
    assert refused and all(e.decision == "deny" for e in refused)
    passed = [e for e in events if e.host == "pypi.org"]
    assert passed and passed[0].decision == "allow"
    assert passed[0].rule == "mcp.servers.fetch.network[0]"
    try:
        socket.getaddrinfo("pypi.org", 443)
    except OSError:
        return  # offline host: the proxy's decision is the claim; no page to compare
    assert not allowed.is_error, allowed.text
    assert "mcp_server_time" in allowed.text


def test_a_server_the_policy_does_not_allow_is_not_started(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, "    time: {decision: ask}\n")
    refused = pytest.raises(McpError, match="does not let MCP server 'time' start")
    with refused, probe_server(pol, "time", TIME, repo, image):
        pass


WAIT_PORT = (
    "import socket, sys, time\n"
    "end = time.monotonic() + 30\n"
    "while time.monotonic() < end:\n"
    "    try:\n"
    "        socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close(); print('UP')\n"
    "        break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
)


def test_a_streamable_http_server_is_reached_through_the_bridge_in_its_sandbox(
    tmp_path: Path, repo: Path, image: str
) -> None:
    (repo / "tools").mkdir()
    shutil.copy(HTTP_SERVER, repo / "tools" / "mcp_http_server.py")
    pol = policy(tmp_path, "    remote: {decision: allow}\n")
    box = server_sandbox(pol, "remote", spec_from_policy(pol, repo, image))
    box.start()
    with McpHub() as hub:
        client = docker.from_env()
        try:
            argv = ["/opt/mcp/bin/python", "/workspace/tools/mcp_http_server.py", "8765"]
            client.containers.get(box.container_id).exec_run(argv, user=box.user, detach=True)
        finally:
            client.close()
        assert box.run(["python3", "-c", WAIT_PORT, "8765"]).stdout.strip() == "UP"
        remote = McpServerConfig(url="http://127.0.0.1:8765/mcp")
        tools = hub.start("remote", remote, box)
        assert [t.name for t in tools] == ["shout"]
        answer = hub.call("remote", "shout", {"text": "quiet"}, 60)
        assert not answer.is_error and "QUIET" in answer.text


def test_a_streamable_http_server_on_a_host_the_policy_does_not_list_is_refused_by_the_proxy(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(tmp_path, '    remote: {decision: allow, network: ["pypi.org:443"]}\n')
    box = server_sandbox(pol, "remote", spec_from_policy(pol, repo, image))
    box.start()
    with McpHub() as hub, pytest.raises(McpError, match="remote"):
        hub.start("remote", McpServerConfig(url="https://mcp.example.com/mcp"), box)
    events = hub.egress["remote"]
    assert any(e.host == "mcp.example.com" and e.decision == "deny" for e in events)
    assert not any(e.decision == "allow" for e in events)


def test_the_git_server_s_annotations_reach_the_policy_as_the_server_sent_them(
    tmp_path: Path, repo: Path, image: str
) -> None:
    pol = policy(
        tmp_path,
        "    git: {decision: allow}\n  tools:\n"
        '    - {match: "git.*", decision: allow, when: {read_only: true}}\n'
        '    - {match: "git.*", decision: deny, when: {destructive: true}}\n',
    )
    with probe_server(pol, "git", GIT, repo, image) as probe:
        tools = {tool.name: tool for tool in probe.tools}
    assert tools["git_log"].annotations is not None
    assert tools["git_log"].annotations["readOnlyHint"] is True
    log = pol.evaluate(mcp_call_action(tools["git_log"], {"repo_path": "/workspace"}))
    reset = pol.evaluate(mcp_call_action(tools["git_reset"], {"repo_path": "/workspace"}))
    assert log.decision == "allow" and reset.decision == "deny"


def test_a_secret_in_git_history_is_not_shown_by_the_git_server(
    tmp_path: Path, repo: Path, image: str
) -> None:
    """The argument rules judge only what a call names: `git_show HEAD~1` names no path. The
    server's own read view is the second wall: a store with a read-denied path in its
    history is hidden, so no revision reaches the secret."""
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "add", "-f", ".env"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "oops"], check=True)
    subprocess.run([*git, "rm", "-q", "--cached", ".env"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "remove the secret"], check=True)
    pol = policy(tmp_path, "    git: {decision: allow}\n")
    # pinned to /workspace, the server finds no repository and does not start
    with pytest.raises(McpError), probe_server(pol, "git", GIT, repo, image):
        pass
    unpinned = McpServerConfig(command=["mcp-server-git"])
    with probe_server(pol, "git", unpinned, repo, image) as probe:
        for tool, args in [
            ("git_show", {"repo_path": "/workspace", "revision": "HEAD~1"}),
            ("git_log", {"repo_path": "/workspace"}),
            ("git_diff", {"repo_path": "/workspace", "target": "HEAD~2"}),
        ]:
            result = probe.hub.call("git", tool, args, 60)
            assert "super-secret-value" not in result.text
            assert "oops" not in result.text  # the store itself is hidden
