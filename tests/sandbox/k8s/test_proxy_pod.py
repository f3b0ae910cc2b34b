"""The proxy pod's container, as its manifest says (command, env, user, read-only root,
no capabilities), run for real in the sandbox image on the local Docker engine: it listens
on TCP without the Docker backend's lease, answers the sandbox's readiness probe, and
enforces the policy's table and its own address wall. (A Docker container, not a pod.)"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from policies import PolicySet
from sandbox.k8s.manifests import PROXY_PORT, K8sOptions, proxy_pod
from sandbox.policy_bridge import spec_from_policy

pytestmark = pytest.mark.docker


@pytest.fixture
def proxy(tmp_path: Path, image: str) -> Iterator[tuple[Container, str]]:
    text = (
        "version: 1\nname: px\n"
        'files: {read: {allow: ["**"]}, write: {allow: ["**"]}}\n'
        'network: {allow: ["pypi.org"], deny: ["evil.example"]}\n'
    )
    spec = spec_from_policy(PolicySet.from_texts([("org", "px.yaml", text)]), tmp_path, image)
    pod = proxy_pod(spec, "0123456789ab", K8sOptions())
    [box] = pod["spec"]["containers"]
    ctx = box["securityContext"]
    client = docker.from_env(timeout=60)
    container = client.containers.run(
        image,
        entrypoint=box["command"],
        command=[],
        detach=True,
        environment={e["name"]: e["value"] for e in box["env"]},
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=ctx["readOnlyRootFilesystem"],
        cap_drop=ctx["capabilities"]["drop"],
        security_opt=["no-new-privileges"],
        mem_limit="128m",
        labels={"rempart.test": "k8s-proxy-pod"},
    )
    try:
        deadline = time.monotonic() + 30
        pause = threading.Event()
        while b'"listening"' not in container.logs(stdout=True, stderr=False):
            assert time.monotonic() < deadline, container.logs().decode()
            pause.wait(0.05)
        container.reload()
        yield container, str(container.attrs["NetworkSettings"]["IPAddress"])
    finally:
        container.remove(force=True)
        client.close()


def decisions(container: Container, count: int, timeout_s: float = 10.0) -> list[dict[str, str]]:
    """The proxy's decision lines, once `count` are there (it logs after it answers)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while True:
        raw = container.logs(stdout=True, stderr=False).decode()
        found = [json.loads(line) for line in raw.splitlines() if '"decision"' in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        pause.wait(0.05)


def ask(address: str, payload: bytes) -> bytes:
    with socket.create_connection((address, PROXY_PORT), timeout=10) as conn:
        conn.sendall(payload)
        return conn.recv(256)


def test_the_proxy_pod_answers_the_sandboxs_probe_without_a_lease(
    proxy: tuple[Container, str],
) -> None:
    _container, address = proxy
    assert ask(address, b"REMPART-PROBE\r\n\r\n").startswith(b"REMPART-READY leases=1")


def test_the_proxy_pod_refuses_a_denied_host_and_a_private_address(
    proxy: tuple[Container, str],
) -> None:
    container, address = proxy
    denied = ask(address, b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example\r\n\r\n")
    assert denied.startswith(b"HTTP/1.1 403")
    # invented variant: a literal cluster-internal address (the API server's usual range)
    inside = ask(address, b"CONNECT 10.96.0.1:443 HTTP/1.1\r\nHost: 10.96.0.1\r\n\r\n")
    assert inside.startswith(b"HTTP/1.1 403")
    logged = decisions(container, 2)
    assert [(e["decision"], e["host"]) for e in logged] == [
        ("deny", "evil.example"),
        ("deny", "10.96.0.1"),
    ]
