"""`sandbox_backend = "kubernetes"`: a whole `Session` whose sandbox is a pod, against the
stand-in API server and kubelet of tests/sandbox/k8s (no cluster involved: the pod is a
container started on the local engine from the manifest the backend sent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from agent.errors import ConfigError
from agent.events import Event, SessionStarted, ToolResultEvent
from agent.session import Session, SessionOptions
from agent.settings import Settings
from agent.testing import Reply, ScriptedModelServer
from sandbox.errors import SandboxError
from sandbox.k8s import connect
from tests.sandbox.k8s.fakecluster import Kubelet, RecordedApi, start_pods_from_manifests

NAMESPACE = "agents"
REGISTRY_IMAGE = "registry.local/rempart-sandbox:1"
# every file the sandbox can open, then its uid
SNOOP = (
    "import glob, os\n"
    "print([open(f, errors='replace').read() for f in glob.glob('**', recursive=True, "
    "include_hidden=True) if os.path.isfile(f)])\nprint(os.getuid())\n"
)


@pytest.fixture
def kubelet() -> Iterator[Kubelet]:
    server = Kubelet()
    yield server
    server.close()


def options(workspace: Path, policy_file: Path, task: str = "note it") -> SessionOptions:
    return SessionOptions(task=task, workspace=workspace, policy_files=[policy_file])


@pytest.mark.docker
def test_a_session_on_the_kubernetes_backend_runs_in_a_pod_and_keeps_the_policy(
    workspace: Path,
    policy_file: Path,
    make_settings: Callable[..., Settings],
    kubelet: Kubelet,
    image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = RecordedApi(NAMESPACE)
    monkeypatch.setattr(connect, "api_client", lambda _kubeconfig=None: api.client(kubelet.host))
    engine = docker.from_env(timeout=60)
    started = start_pods_from_manifests(kubelet, api, engine, image)
    replies = [
        Reply.call("write_file", path="notes.txt", content="written in a pod\n"),
        Reply.call("write_file", path="snoop.py", content=SNOOP),
        Reply.call("run", command="ls -a && python3 snoop.py"),
        Reply.call("write_file", path=".git/config", content="[core]\n\thooksPath = /tmp\n"),
        Reply.call("finish", summary="wrote notes.txt"),
    ]
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n")
    events: list[Event] = []
    try:
        with ScriptedModelServer(replies) as server:
            settings = make_settings(
                model_base_url=server.base_url,
                sandbox_backend="kubernetes",
                sandbox_image=REGISTRY_IMAGE,
                k8s_namespace=NAMESPACE,
            )
            with Session(settings, options(workspace, policy_file), [events.append]) as s:
                s.run()
    finally:
        for container in started:
            engine.containers.get(container).remove(force=True)
        engine.close()
    assert len(started) == 1  # the sandbox was the pod, not a Docker backend container
    pods = [b for b in api.bodies() if b["kind"] == "Pod"]
    assert pods[0]["metadata"]["namespace"] == NAMESPACE
    assert pods[0]["spec"]["containers"][0]["image"] == REGISTRY_IMAGE
    assert (workspace / "notes.txt").read_text() == "written in a pod\n"
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    shown = "\n".join(e.content for e in results)
    assert not results[2].is_error, results[2].content
    assert "super-secret-value" not in shown and ".env" not in results[2].content
    assert "written in a pod" in results[2].content  # the snoop did read what it could
    assert results[2].content.strip().endswith("1000")
    assert results[3].is_error  # .git/** is write-denied by the policy
    assert (workspace / ".git" / "config").read_text() == "[core]\n"
    assert any(isinstance(e, SessionStarted) for e in events)
    deleted = [q for m, _p, q, _b in api.calls if m == "DELETE" and "labelSelector" in q]
    assert deleted, "the session's pod was not deleted at the end"


def test_the_kubernetes_backend_without_a_registry_image_is_refused_before_anything_starts(
    workspace: Path, policy_file: Path, make_settings: Callable[..., Settings]
) -> None:
    with ScriptedModelServer([Reply(text="never asked")]) as server:
        settings = make_settings(
            model_base_url=server.base_url, sandbox_backend="kubernetes", sandbox_image=""
        )
        with (
            pytest.raises(ConfigError, match="sandbox_image"),
            Session(settings, options(workspace, policy_file), []),
        ):
            pass


def test_a_kubeconfig_that_does_not_exist_is_named_in_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "kubeconfig"
    with pytest.raises(SandboxError, match="nowhere/kubeconfig") as caught:
        connect.api_client(missing)
    assert "REMPART_KUBECONFIG" in (caught.value.hint or "")


def test_kubernetes_settings_are_checked_when_read() -> None:
    with pytest.raises(ValueError, match="k8s_namespace"):
        Settings(k8s_namespace="Not A Namespace")
    assert Settings(k8s_runtime_class="").k8s_options().runtime_class is None
    assert Settings(k8s_runtime_class="kata").k8s_options().runtime_class == "kata"
