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
from sandbox.engine import LABEL_CREATED, LABEL_KIND, LABEL_SESSION, docker_client
from sandbox.owner import (
    LABEL_OWNER_BOOT,
    LABEL_OWNER_PID,
    LABEL_OWNER_PIDNS,
    LABEL_OWNER_START,
    owner_gone,
    owner_labels,
)
from tests.containers import alive, dead_owner, describe, host_pids, owned_by, poll, top

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
    ended = poll(lambda: not any(alive(pid) for pid in pids), 10.0, 0.05)
    assert ended, {pid: describe(pid) for pid in pids if alive(pid)}
    gone_after = time.monotonic() - killed
    print(f"every process of the killed session ended {gone_after:.2f} s after kill -9")
    for container in containers:
        try:
            container.reload()
        except docker.errors.NotFound:
            continue  # removed already (every start on this engine prunes)
        assert container.status != "running"
    # the next start removes what the dead owner left: containers and the socket volume
    session = containers[0].labels[LABEL_SESSION]
    with Sandbox(SandboxSpec(workspace=ws, image=image)):
        left = [r for r in list_resources(client) if r.owner_pid == proc.pid]
    assert left == []
    assert client.volumes.list(filters={"label": f"{LABEL_SESSION}={session}"}) == []


def test_an_owner_is_gone_only_when_that_can_be_proved() -> None:
    mine = owner_labels()
    assert owner_gone(dead_owner())
    assert owner_gone({**mine, LABEL_OWNER_START: "1"})  # our pid, reused: another start time
    assert owner_gone({**mine, LABEL_OWNER_BOOT: "00000000-0000-0000-0000-000000000000"})
    assert not owner_gone(mine)
    # another pid namespace: nothing can be proved from here, even for a dead pid
    assert not owner_gone({**dead_owner(), LABEL_OWNER_PIDNS: "pid:[1]"})
    # labels of an older Rempart (a pid only): a dead pid on this host is enough
    assert owner_gone({LABEL_OWNER_PID: dead_owner()[LABEL_OWNER_PID]})
    assert not owner_gone({}) and not owner_gone({LABEL_OWNER_PID: "not a pid"})


CASES = {
    "dead": True,
    "reused": True,
    "rebooted": True,
    "alive": False,
    "elsewhere": False,
}


def case_labels(case: str) -> dict[str, str]:
    mine = owner_labels()
    return {
        "dead": dead_owner(),
        "reused": {**mine, LABEL_OWNER_START: "1"},
        "rebooted": {**mine, LABEL_OWNER_BOOT: "00000000-0000-0000-0000-000000000000"},
        "alive": mine,
        "elsewhere": {**dead_owner(), LABEL_OWNER_PIDNS: "pid:[1]"},
    }[case]


def tagged(client: docker.DockerClient, tag: str) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in list_resources(client) if r.name.startswith(tag)}


def test_prune_removes_containers_volumes_and_networks_of_dead_owners_only(
    client: docker.DockerClient, image: str
) -> None:
    tag = f"orphan-{os.getpid()}"
    try:
        for case in CASES:
            name = f"{tag}-{case}"
            labels = {LABEL_KIND: "sandbox", LABEL_SESSION: name, **case_labels(case)}
            client.containers.create(image, ["true"], name=name, labels=labels)
            client.volumes.create(name, labels={**labels, LABEL_KIND: "egress-socket"})
            client.networks.create(name, labels={**labels, LABEL_KIND: "check"})
        # every start on this engine prunes too (other sessions may run): an orphan may be
        # gone already; what is listed is judged as its case says
        for r in list_resources(client):
            if r.name.startswith(tag):
                assert r.orphan == CASES[r.name.rsplit("-", 1)[1]], r
        prune(client)
        kept = {(kind, f"{tag}-{case}") for kind in ("container", "volume", "network")
                for case in ("alive", "elsewhere")}  # fmt: skip
        assert tagged(client, tag) == kept
    finally:
        for container in client.containers.list(all=True, filters={"name": tag}):
            container.remove(force=True)
        for volume in client.volumes.list(filters={"name": tag}):
            volume.remove(force=True)
        for network in client.networks.list(names=[f"{tag}-{case}" for case in CASES]):
            network.remove()


def test_the_prune_command_lists_with_dry_run_and_removes_without(
    client: docker.DockerClient,
) -> None:
    # owned by this (live) process but made in 2000: only an explicit age makes it an
    # orphan, so no other session's start removes it meanwhile
    name = f"orphan-cli-{os.getpid()}"
    labels = {LABEL_KIND: "egress-socket", LABEL_SESSION: name, **owner_labels()}
    client.volumes.create(name, labels={**labels, LABEL_CREATED: "2000-01-01T00:00:00+00:00"})
    try:
        cli = [sys.executable, "-m", "rempart", "sandbox", "prune", "--max-age-hours", "175200"]
        dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, check=True)
        assert f"would remove volume {name}" in dry.stdout
        assert client.volumes.list(filters={"name": name})
        plain = subprocess.run(cli[:-2], capture_output=True, text=True, check=True)
        assert name not in plain.stdout  # without the age, a live owner's is kept
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

        ok = poll(stopped, 10)
        assert ok, container.logs()
        assert b"owner detached" in container.logs()
