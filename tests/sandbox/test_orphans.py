"""Nothing outlives its owner: a killed `rempart sandbox exec` leaves no process running,
the proxy ends with its sandbox, containers have a bounded lifetime, and every start prunes
what dead owners left (and only that)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from sandbox import Sandbox, SandboxGone, SandboxSpec
from sandbox.container import list_resources, prune
from sandbox.engine import LABEL_KIND, LABEL_SESSION, docker_client
from sandbox.owner import (
    LABEL_OWNER_BOOT,
    LABEL_OWNER_PID,
    LABEL_OWNER_PIDNS,
    LABEL_OWNER_START,
    owner_labels,
)
from tests.containers import alive, host_pids, owned_by, poll, top

pytestmark = pytest.mark.docker

EGRESS_POLICY = """\
version: 1
name: orphan-tests
default: ask
files:
  read: {allow: ["**"]}
  write: {allow: ["**"]}
network:
  allow: ["pypi.org"]
limits: {cpus: 1, memory: 256m, pids: 64, timeout_s: 600, output_bytes: 10000}
"""


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    c = docker_client()
    yield c
    c.close()


def test_kill_9_of_sandbox_exec_mid_command_leaves_no_process_of_it_alive_10_s_later(
    tmp_path: Path, image: str, client: docker.DockerClient
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    policy = tmp_path / "p.yaml"
    policy.write_text(EGRESS_POLICY)
    cmd = [sys.executable, "-m", "rempart", "sandbox", "exec", "--workspace", str(ws)]
    cmd += ["--policy", str(policy), "--", "sleep 300 & sleep 301"]
    env = {**os.environ, "REMPART_SANDBOX_IMAGE": image}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def command_running() -> bool:
            return any(
                "sleep 301" in row
                for c in owned_by(client, proc.pid)
                if c.labels.get(LABEL_KIND) == "sandbox"
                for row in top(c)
            )

        assert poll(command_running, 90)
        containers = owned_by(client, proc.pid)
        assert {c.labels[LABEL_KIND] for c in containers} == {"sandbox", "egress-proxy"}
        pids = [pid for c in containers for pid in host_pids(c)]
        assert len(pids) >= 6  # init, keeper, executor, both sleeps; the proxy's init + proxy
    finally:
        proc.kill()
        proc.wait()
    killed = time.monotonic()
    assert poll(lambda: not any(alive(pid) for pid in pids), 10.0, 0.05)
    gone_after = time.monotonic() - killed
    print(f"every process of the killed session ended {gone_after:.2f} s after kill -9")
    for container in containers:
        try:
            container.reload()
        except docker.errors.NotFound:
            continue  # already pruned: another Rempart process on this engine started
        assert container.status != "running"
    # the next start removes what the dead owner left: containers and the socket volume
    session = containers[0].labels[LABEL_SESSION]
    with Sandbox(SandboxSpec(workspace=ws, image=image)):
        left = [r for r in list_resources(client) if r.owner_pid == proc.pid]
    assert left == []
    assert client.volumes.list(filters={"label": f"{LABEL_SESSION}={session}"}) == []


def dead_owner() -> dict[str, str]:
    """The labels of a process that really ran on this host and has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        labels = owner_labels()
        stat = Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        labels.update({LABEL_OWNER_PID: str(child.pid), LABEL_OWNER_START: stat[19].decode()})
    finally:
        child.kill()
        child.wait()
    return labels


def test_prune_removes_only_what_a_provably_dead_owner_left(
    client: docker.DockerClient, image: str
) -> None:
    tag = f"orphan-{os.getpid()}"
    mine = owner_labels()
    cases = {
        "dead": dead_owner(),
        # a reused pid: ours, but with another start time: its owner is gone
        "reused": {**mine, LABEL_OWNER_START: "1"},
        "alive": mine,
        # another pid namespace: nothing can be proved from here, even for a dead pid
        "elsewhere": {**dead_owner(), LABEL_OWNER_PIDNS: "pid:[1]"},
        # another boot: the owner cannot have survived a reboot
        "rebooted": {**mine, LABEL_OWNER_BOOT: "00000000-0000-0000-0000-000000000000"},
    }
    made: list[str] = []
    try:
        for name, owner in cases.items():
            labels = {LABEL_KIND: "sandbox", LABEL_SESSION: f"{tag}-{name}", **owner}
            client.containers.create(image, ["true"], name=f"{tag}-{name}", labels=labels)
            client.volumes.create(f"{tag}-{name}", labels={**labels, LABEL_KIND: "egress-socket"})
            client.networks.create(f"{tag}-{name}", labels={**labels, LABEL_KIND: "check"})
            made.append(f"{tag}-{name}")
        would = {r.name for r in prune(client, dry_run=True)}
        assert {n for n in would if n.startswith(tag)} == {
            f"{tag}-{case}" for case in ("dead", "reused", "rebooted")
        }
        assert len([n for n in made if client.volumes.list(filters={"name": n})]) == 5
        removed = [r for r in prune(client) if r.name.startswith(tag)]
        assert sorted((r.type, r.name) for r in removed) == sorted(
            (kind, f"{tag}-{case}")
            for kind in ("container", "volume", "network")
            for case in ("dead", "reused", "rebooted")
        )
        names = {c.name for c in client.containers.list(all=True)}
        assert {f"{tag}-alive", f"{tag}-elsewhere"} <= names
    finally:
        for name in made:
            for container in client.containers.list(all=True, filters={"name": name}):
                container.remove(force=True)
            for volume in client.volumes.list(filters={"name": name}):
                volume.remove(force=True)
            for network in client.networks.list(names=[name]):
                network.remove()


def test_the_prune_command_lists_with_dry_run_and_removes_without(
    client: docker.DockerClient,
) -> None:
    name = f"orphan-cli-{os.getpid()}"
    labels = {LABEL_KIND: "egress-socket", LABEL_SESSION: name, **dead_owner()}
    cli = [sys.executable, "-m", "rempart", "sandbox", "prune"]
    try:
        for _ in range(5):  # another Rempart process's start may prune it first: fine, again
            client.volumes.create(name, labels=labels)
            dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, check=True)
            if client.volumes.list(filters={"name": name}):
                break
        assert f"would remove volume {name}" in dry.stdout
        assert client.volumes.list(filters={"name": name})
        done = subprocess.run(cli, capture_output=True, text=True, check=True)
        assert f"removed volume {name}" in done.stdout
        assert not client.volumes.list(filters={"name": name})
    finally:
        for volume in client.volumes.list(filters={"name": name}):
            volume.remove(force=True)


def test_a_container_stops_at_the_end_of_its_lifetime(tmp_path: Path, image: str) -> None:
    spec = SandboxSpec(workspace=tmp_path, image=image, lifetime_s=3)
    with Sandbox(spec) as sb:
        assert sb.run("echo up").stdout == "up\n"
        assert poll(lambda: not sb.is_running(), 20)
        with pytest.raises(SandboxGone):
            sb.run("true")


def test_the_egress_proxy_ends_when_its_sandbox_is_killed(
    tmp_path: Path, image: str, make_spec: Callable[..., SandboxSpec]
) -> None:
    spec = make_spec(tmp_path, image, network_allow=("pypi.org",))
    with Sandbox(spec) as sb:
        assert sb.egress is not None and sb.egress.proxy is not None
        proxy = sb.egress.proxy
        sb.client.containers.get(sb.container_id).kill()

        def proxy_stopped() -> bool:
            proxy.reload()
            return proxy.status != "running"

        assert poll(proxy_stopped, 10)
        assert b"the sandbox's lease closed" in proxy.logs(stdout=True, stderr=False)


def test_a_sandbox_whose_executor_died_stops_by_itself(tmp_path: Path, image: str) -> None:
    spec = SandboxSpec(workspace=tmp_path, image=image)
    with Sandbox(spec) as sb:
        container = sb.client.containers.get(sb.container_id)
        sb.executor.close()  # what the engine does when the owner dies: stdin closes

        def stopped() -> bool:
            container.reload()
            return container.status != "running"

        assert poll(stopped, 10)
        assert b"owner detached" in container.logs()
