"""Red team of `sandbox_backend = "kubernetes"`: nothing of a session falls back to the
Docker backend (its sandbox, a warm pool's sandbox, its MCP servers' sandboxes). Against
the stand-in API server and kubelet of tests/sandbox/k8s (the pod is a local container)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from agent.events import Event, NoticeEvent
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from agent.warm import Warm
from policies.errors import RempartError
from sandbox.engine import LABEL_WORKSPACE
from sandbox.k8s import connect
from sandbox.pool import LABEL_POOL
from tests.agent.conftest import POLICY
from tests.sandbox.k8s.fakecluster import Kubelet, RecordedApi, start_pods_from_manifests

pytestmark = pytest.mark.docker
NAMESPACE = "agents"
# the local image under a registry name, so that a fallback to Docker would really run
REGISTRY_IMAGE = "registry.local/rempart-redteam2-sandbox:1"
MCP_POLICY = POLICY.replace(
    "limits:",
    "mcp:\n  servers: {git: {decision: allow}}\n"
    '  tools:\n    - {match: "git.*", decision: allow}\nlimits:',
)


@pytest.fixture(scope="module")
def registry_image(image: str) -> Iterator[str]:
    engine = docker.from_env(timeout=60)
    repository, tag = REGISTRY_IMAGE.rsplit(":", 1)
    engine.images.get(image).tag(repository, tag)
    try:
        yield REGISTRY_IMAGE
    finally:
        engine.images.remove(REGISTRY_IMAGE)  # the tag only: the image keeps its own name
        engine.close()


@pytest.fixture
def kubelet() -> Iterator[Kubelet]:
    server = Kubelet()
    yield server
    server.close()


def created_since(engine: docker.DockerClient, workspace: Path, since: float) -> set[str]:
    """Containers created for this workspace since `since` (the engine's own event log;
    other sessions share the engine), removed since or not."""
    label = f"{LABEL_WORKSPACE}={workspace.resolve()}"
    filters = {"type": "container", "event": "create", "label": label}
    until = int(time.time()) + 1
    stream = engine.events(since=int(since), until=until, filters=filters, decode=True)
    return {str(event["id"]) for event in stream}


def k8s_session(
    workspace: Path,
    policy_text: str,
    make_settings: Callable[..., Settings],
    kubelet: Kubelet,
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    replies: list[Reply],
    warm: Warm | None = None,
) -> tuple[list[Event], list[str], set[str]]:
    """Run a whole session on the stand-in cluster; the events, the pods started, and the
    Docker containers that appeared on the local engine during it (pods excluded)."""
    api = RecordedApi(NAMESPACE)
    monkeypatch.setattr(connect, "api_client", lambda _kubeconfig=None: api.client(kubelet.host))
    engine = docker.from_env(timeout=60)
    started = start_pods_from_manifests(kubelet, api, engine, image)
    policy_file = workspace.parent / "k8s-policy.yaml"
    policy_file.write_text(policy_text)
    events: list[Event] = []
    since = time.time()
    try:
        with ScriptedModelServer(replies) as server:
            settings = make_settings(
                model_base_url=server.base_url,
                sandbox_backend="kubernetes",
                sandbox_image=REGISTRY_IMAGE,
                k8s_namespace=NAMESPACE,
            )
            config = Path(settings.config_dir)
            config.mkdir(parents=True, exist_ok=True)
            git = {"command": "mcp-server-git", "args": ["--repository", "/workspace"]}
            (config / "mcp.json").write_text(json.dumps({"mcpServers": {"git": git}}))

            options = SessionOptions(
                task="look", workspace=workspace, policy_files=[policy_file], warm=warm
            )
            with Session(settings, options, [events.append]) as session:
                session.run()
        seen = created_since(engine, workspace, since - 1)
    finally:
        for container in started:
            engine.containers.get(container).remove(force=True)
        engine.close()
    return events, started, seen - set(started)


def test_an_mcp_server_of_a_kubernetes_session_never_starts_on_the_docker_engine(
    workspace: Path,
    make_settings: Callable[..., Settings],
    kubelet: Kubelet,
    image: str,
    registry_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replies = [
        Reply.call("mcp__git__git_status", repo_path="/workspace"),
        Reply.call("finish", summary="looked"),
    ]
    events, pods, docker_made = k8s_session(
        workspace, MCP_POLICY, make_settings, kubelet, image, monkeypatch, replies
    )
    assert len(pods) == 1
    assert docker_made == set(), "a Docker container was started for a Kubernetes session"
    notices = [e.text for e in events if isinstance(e, NoticeEvent)]
    assert not any("MCP server git started" in n for n in notices)
    assert any("MCP server git not started" in n and "kubernetes" in n for n in notices)


def test_a_warm_pool_never_serves_a_kubernetes_session(
    workspace: Path,
    make_settings: Callable[..., Settings],
    kubelet: Kubelet,
    image: str,
    registry_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held: a host that keeps a Warm (Docker pools) still gives a Kubernetes session a pod,
    and no pool is started for it."""
    replies = [
        Reply.call("write_file", path="n.txt", content="x\n"),
        Reply.call("finish", summary="ok"),
    ]
    with Warm(pool_size=1) as warm:
        events, pods, docker_made = k8s_session(
            workspace, POLICY, make_settings, kubelet, image, monkeypatch, replies, warm
        )
        assert warm.pools._pools == {}
    assert len(pods) == 1
    assert docker_made == set()
    assert (workspace / "n.txt").read_text() == "x\n"
    assert not any(LABEL_POOL in str(e) for e in events)


def test_a_kubernetes_session_whose_api_server_is_unreachable_fails_and_never_uses_docker(
    workspace: Path,
    make_settings: Callable[..., Settings],
    registry_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held: no API server is an error that says so; the local engine (which has the image
    under the registry's name here) is never asked for a container instead."""
    api = RecordedApi(NAMESPACE)
    api.unreachable = True
    monkeypatch.setattr(connect, "api_client", lambda _kubeconfig=None: api.client())
    policy_file = workspace.parent / "k8s-policy.yaml"
    policy_file.write_text(POLICY)
    engine = docker.from_env(timeout=60)
    since = time.time()
    replies = [Reply.call("write_file", path="n.txt", content="x\n")]
    try:
        with ScriptedModelServer(replies) as server:
            settings = make_settings(
                model_base_url=server.base_url,
                sandbox_backend="kubernetes",
                sandbox_image=registry_image,
                k8s_namespace=NAMESPACE,
            )
            with Warm(pool_size=1) as warm, pytest.raises(RempartError) as caught:
                options = SessionOptions(
                    task="t", workspace=workspace, policy_files=[policy_file], warm=warm
                )
                with Session(settings, options, []) as session:
                    session.run()
        made = created_since(engine, workspace, since - 1)
    finally:
        engine.close()
    assert made == set()
    assert not (workspace / "n.txt").exists()
    assert caught.value.message
