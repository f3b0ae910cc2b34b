"""`K8sSandbox` against a stand-in API server: REST answers replayed from recordings
(hand-recorded from the API reference, see data/README.md), `pods/exec` served by a
websocket kubelet stand-in that runs the real executor in a real container (docker tests).
No Kubernetes cluster is involved anywhere."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import docker
import kubernetes_validate
import pytest

from policies import PolicySet
from sandbox.container import create_container, new_session_id, workspace_tmpfs_bytes
from sandbox.errors import SandboxError, SandboxGone, SandboxRequestError
from sandbox.k8s.backend import K8sSandbox
from sandbox.k8s.manifests import K8sOptions, pod_name, proxy_name, setup_manifests
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from sandbox.spec import SandboxSpec
from tests.sandbox.k8s.fakecluster import Kubelet, RecordedApi, start_pods_from_manifests

NAMESPACE = "agents"
OPTIONS = K8sOptions(namespace=NAMESPACE, runtime_class="gvisor")


def policy(network_allow: tuple[str, ...] = ()) -> PolicySet:
    text = (
        "version: 1\nname: k8s-backend\ndefault: ask\n"
        'files:\n  read: {allow: ["**"], deny: [".env"]}\n'
        '  write: {allow: ["**"], deny: [".git/**", ".env"]}\n'
        f"network:\n  allow: {json.dumps(list(network_allow))}\n"
        "limits: {cpus: 1, memory: 256m, pids: 64, timeout_s: 20, output_bytes: 100000}\n"
    )
    return PolicySet.from_texts([("org", "k8s-backend.yaml", text)])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "README.md").write_text("hello from the host\n")
    (ws / ".env").write_text("API_KEY=topsecret\n")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    return ws


def sandbox_for(
    api: RecordedApi, workspace: Path, network: tuple[str, ...] = (), host: str = ""
) -> K8sSandbox:
    pol = policy(network)
    spec = spec_from_policy(pol, workspace, "registry.local/rempart:1")
    client = api.client(host) if host else api.client()
    return K8sSandbox(
        spec,
        client,
        OPTIONS,
        readable=readable(pol),
        judge=policy_judge(pol),
        ready_timeout_s=5.0,
    )


def deleted_by_session(api: RecordedApi, session: str) -> set[str]:
    return {
        path.rsplit("/", 1)[-1]
        for method, path, query, _ in api.calls
        if method == "DELETE" and query.get("labelSelector") == [f"rempart.session={session}"]
    }


def test_a_pod_that_cannot_pull_its_image_fails_with_the_reason_and_leaves_nothing(
    workspace: Path,
) -> None:
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace)
    api.reads[pod_name(sb.session)] = deque(["pod-pending.json", "pod-image-pull.json"])
    with pytest.raises(SandboxError, match="ErrImagePull") as caught:
        sb.start()
    assert "push the sandbox image" in (caught.value.hint or "")
    assert deleted_by_session(api, sb.session) == {"pods", "networkpolicies"}


def test_what_the_backend_sends_validates_and_routes_the_sandbox_through_its_proxy(
    workspace: Path,
) -> None:
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace, network=("pypi.org",))
    api.reads[pod_name(sb.session)] = deque(["pod-image-pull.json"])
    with pytest.raises(SandboxError):
        sb.start()
    sent = api.bodies("POST")
    assert [(b["kind"], b["metadata"]["name"]) for b in sent] == [
        ("NetworkPolicy", pod_name(sb.session)),
        ("NetworkPolicy", proxy_name(sb.session)),
        ("Pod", proxy_name(sb.session)),
        ("Pod", pod_name(sb.session)),
    ]
    for body in sent:
        kubernetes_validate.validate(body, "1.33.0", strict=True)
        assert body["metadata"]["namespace"] == NAMESPACE
    proxy_ip = api.ips[proxy_name(sb.session)]
    env = {e["name"]: e["value"] for e in sent[-1]["spec"]["containers"][0]["env"]}
    assert env["HTTPS_PROXY"] == f"http://{proxy_ip}:3128"
    assert sent[-1]["spec"]["runtimeClassName"] == "gvisor"


def test_the_proxy_pods_log_becomes_the_sessions_egress_events(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace, network=("pypi.org",))
    api.reads[pod_name(sb.session)] = deque(["pod-image-pull.json"])
    with pytest.raises(SandboxError):
        sb.start()
    events = sb.egress_events()  # kept from the proxy's log before its pod was deleted
    assert [(e.decision, e.host) for e in events] == [
        ("allow", "pypi.org"),
        ("deny", "evil.example"),
        ("closed", "pypi.org"),
    ]
    assert {e.sandbox for e in events} == {sb.session}


def test_a_start_first_deletes_what_finished_sessions_left(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    api.pod_list = "podlist-leftovers.json"
    api.policy_list = "networkpolicylist-leftovers.json"
    sb = sandbox_for(api, workspace)
    api.reads[pod_name(sb.session)] = deque(["pod-image-pull.json"])
    with pytest.raises(SandboxError):
        sb.start()
    first_create = next(i for i, c in enumerate(api.calls) if c[0] == "POST")
    pruned = {c[2]["labelSelector"][0] for c in api.calls[:first_create] if c[0] == "DELETE"}
    assert pruned == {
        f"rempart.session={s}" for s in ("aaaaaaaaaaaa", "cccccccccccc", "eeeeeeeeeeee")
    }


def verbs_used(api: RecordedApi) -> set[tuple[str, str]]:
    """(resource, RBAC verb) of every REST call the backend made."""
    used = set()
    for method, path, _query, _body in api.calls:
        parts = path.strip("/").split("/")
        at = max(i for i, p in enumerate(parts) if p in ("pods", "networkpolicies"))
        resource = "/".join(parts[at : at + 3 : 2]) if len(parts) > at + 2 else parts[at]
        whole = len(parts) == at + 1
        verb = {"POST": "create", "DELETE": "deletecollection" if whole else "delete"}.get(
            method, "list" if whole else "get"
        )
        used.add((resource, verb))
    return used


def test_the_setup_role_allows_every_call_the_backend_makes(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    api.pod_list = "podlist-leftovers.json"
    api.policy_list = "networkpolicylist-leftovers.json"
    sb = sandbox_for(api, workspace, network=("pypi.org",))
    api.reads[pod_name(sb.session)] = deque(["pod-image-pull.json"])
    with pytest.raises(SandboxError):
        sb.start()
    [role] = [m for m in setup_manifests(OPTIONS) if m["kind"] == "Role"]
    granted = {(res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]}
    used = verbs_used(api) | {("pods/exec", "create"), ("pods/exec", "get")}  # the websocket
    assert {("pods/log", "get"), ("pods", "list"), ("networkpolicies", "list")} <= used
    assert used <= granted, used - granted


def test_a_forbidden_create_names_the_missing_permission_and_cleans_up(
    workspace: Path,
) -> None:
    api = RecordedApi(NAMESPACE)
    api.refuse[("POST", "pods")] = (403, "status-forbidden.json")
    sb = sandbox_for(api, workspace)
    with pytest.raises(SandboxError, match="cannot create resource") as caught:
        sb.start()
    assert "pods/exec" in (caught.value.hint or "")
    assert deleted_by_session(api, sb.session) == {"pods", "networkpolicies"}


def test_a_cluster_without_the_gvisor_runtime_class_refuses_and_nothing_falls_back(
    workspace: Path,
) -> None:
    api = RecordedApi(NAMESPACE)
    api.refuse[("POST", "pods")] = (403, "status-runtimeclass-missing.json")
    sb = sandbox_for(api, workspace)
    with pytest.raises(SandboxError, match='RuntimeClass "gvisor" not found') as caught:
        sb.start()
    assert "runsc" in (caught.value.hint or "")
    pods = [b for b in api.bodies("POST") if b["kind"] == "Pod"]
    assert [p["spec"]["runtimeClassName"] for p in pods] == ["gvisor"]  # one try, no runc retry


def test_an_unreachable_api_server_is_a_clear_error_not_a_traceback(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    api.unreachable = True
    sb = sandbox_for(api, workspace)
    with pytest.raises(SandboxError, match="API server did not answer") as caught:
        sb.start()
    assert "kubeconfig" in (caught.value.hint or "")


def test_a_quota_refusal_is_reported_with_the_api_servers_message(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    api.refuse[("POST", "pods")] = (403, "status-quota.json")
    sb = sandbox_for(api, workspace)
    with pytest.raises(SandboxError, match="exceeded quota") as caught:
        sb.start()
    assert "ResourceQuota" in (caught.value.hint or "")


def test_a_pod_that_never_runs_times_out_with_its_last_waiting_reason(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace)
    sb.ready_timeout_s = 1.0
    api.reads[pod_name(sb.session)] = deque(["pod-pending.json"])
    with pytest.raises(SandboxError, match="ContainerCreating"):
        sb.start()


def test_a_pod_whose_keeper_ended_is_not_running(workspace: Path) -> None:
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace)
    api.reads[pod_name(sb.session)] = deque(["pod-keeper-exited.json"])
    assert not sb.is_running()
    api.reads[pod_name(sb.session)] = deque(["pod-running.json"])
    assert sb.is_running()


# --- through the exec stream, into a real container -----------------------------------


@pytest.fixture
def kubelet() -> Iterator[Kubelet]:
    server = Kubelet()
    yield server
    server.close()


def _container_for(spec: SandboxSpec, image: str) -> tuple[docker.DockerClient, str]:
    """What the kubelet would run for the pod: the Docker backend's hardened container."""
    client = docker.from_env(timeout=60)
    local = spec.model_copy(update={"image": image})
    size = workspace_tmpfs_bytes(local, 1 << 20)
    container = create_container(client, local, new_session_id(), None, {}, workspace_bytes=size)
    return client, container.id or ""


@pytest.mark.docker
@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
def test_a_session_runs_commands_and_syncs_allowed_writes_over_the_exec_stream(
    workspace: Path, kubelet: Kubelet, image: str, protocol: str
) -> None:
    """Under v4 (API servers before 1.30) stdin cannot be closed alone: it still works."""
    kubelet.protocol = protocol
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace, host=kubelet.host)
    client, container = _container_for(sb.spec, image)
    kubelet.containers[pod_name(sb.session)] = container
    try:
        with sb:
            result = sb.run("cat README.md; id -u; cat .env; echo oops >&2; exit 3")
            assert result.exit_code == 3
            assert result.stdout.splitlines()[:2] == ["hello from the host", "1000"]
            assert "topsecret" not in result.stdout + result.stderr
            assert "oops" in result.stderr
            sb.write_file("notes.txt", b"written in the pod\n")
            assert (workspace / "notes.txt").read_text() == "written in the pod\n"
            with pytest.raises(SandboxRequestError):
                sb.write_file(".git/config", b"[core]\n\thooksPath = /tmp\n")
            refused = sb.run("echo 'API_KEY=stolen' > .env; echo x > made.txt")
            assert refused.exit_code == 0
            assert sb.read_file("made.txt") == b"x\n"
        assert (workspace / ".git" / "config").read_text() == "[core]\n"
        assert (workspace / ".env").read_text() == "API_KEY=topsecret\n"
        assert (workspace / "made.txt").read_text() == "x\n"
        argvs = [argv for _pod, argv in kubelet.execs]
        assert argvs[0][:2] == ["sh", "-c"]  # the workspace copy, then the executor
        assert argvs[1] == ["python3", "-u", "/opt/rempart/executor.py"]
        assert deleted_by_session(api, sb.session) == {"pods", "networkpolicies"}
    finally:
        client.containers.get(container).remove(force=True)
        client.close()


@pytest.mark.docker
def test_the_sandbox_pod_as_its_manifest_says_runs_a_session(
    workspace: Path, kubelet: Kubelet, image: str
) -> None:
    """Not the Docker backend's container: one made from the pod manifest the backend sent
    (keeper as PID 1, emptyDirs as the kubelet leaves them, the pod's user and groups)."""
    api = RecordedApi(NAMESPACE)
    pol = policy()
    spec = spec_from_policy(pol, workspace, image)
    sb = K8sSandbox(
        spec, api.client(kubelet.host), OPTIONS, readable=readable(pol), judge=policy_judge(pol)
    )
    client = docker.from_env(timeout=60)
    started = start_pods_from_manifests(kubelet, api, client, image)
    try:
        with sb:
            result = sb.run("cat README.md; id -u; ps -o pid=,comm= -p 1; touch /x || echo ro")
            assert result.exit_code == 0, result.stderr
            lines = result.stdout.splitlines()
            assert lines[:2] == ["hello from the host", "1000"]
            assert "keeper" in lines[2] or "python3" in lines[2]  # no docker-init: the keeper
            assert lines[3] == "ro"
            sb.write_file("from-pod.txt", b"ok\n")
            assert (workspace / "from-pod.txt").read_text() == "ok\n"
            with pytest.raises(SandboxRequestError):
                sb.write_file(".env", b"API_KEY=stolen\n")
        assert (workspace / ".env").read_text() == "API_KEY=topsecret\n"
        assert len(started) == 1
    finally:
        for container in started:
            client.containers.get(container).remove(force=True)
        client.close()


@pytest.mark.docker
def test_a_pod_gone_mid_session_is_reported_as_gone_not_hung(
    workspace: Path, kubelet: Kubelet, image: str
) -> None:
    """Variant: the container dies under the exec stream (node lost, pod evicted)."""
    api = RecordedApi(NAMESPACE)
    sb = sandbox_for(api, workspace, host=kubelet.host)
    client, container = _container_for(sb.spec, image)
    kubelet.containers[pod_name(sb.session)] = container
    try:
        with sb:
            assert sb.ping() > 0
            client.containers.get(container).kill()
            api.reads[pod_name(sb.session)] = deque(["pod-killed.json"])
            with pytest.raises(SandboxGone):
                sb.run("echo still here")
    finally:
        client.containers.get(container).remove(force=True)
        client.close()
