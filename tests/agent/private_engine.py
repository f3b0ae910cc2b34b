"""A private Docker engine for tests that restart it: its own dockerd (and containerd),
data root, exec root, pid file and unix socket under a temporary folder, a bridge of its
own and no iptables changes, so the shared engine and what runs on it are never touched.
(Never `--bridge=none`: dockerd then deletes the host's `docker0`, the shared engine's
bridge, and every container start there fails until it is recreated.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import docker

from tests.containers import poll

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EngineUnavailable(Exception):
    """A second dockerd cannot run here (why is the message)."""


class PrivateEngine:
    """`tls`: a folder with `ca.pem`, `server-cert.pem` and `server-key.pem`; the engine
    then also listens on `tcp_host` (127.0.0.1, a free port), verifying client certs."""

    def __init__(self, tls: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rpd-", dir="/tmp"))  # short: socket paths
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.tls = tls
        self.tcp_host = f"tcp://127.0.0.1:{free_port()}" if tls is not None else ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.bridge = "rpd" + os.urandom(4).hex()  # at most 15 characters: an interface name

    def __enter__(self) -> PrivateEngine:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def argv(self) -> list[str]:
        return [
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--host={self.host}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--cgroup-parent=rempart-private-engine",
            "--log-level=warn",
            *self.tls_args(),
        ]

    def tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            f"--host={self.tcp_host}",
            "--tlsverify",
            f"--tlscacert={self.tls / 'ca.pem'}",
            f"--tlscert={self.tls / 'server-cert.pem'}",
            f"--tlskey={self.tls / 'server-key.pem'}",
        ]

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=30)

    def holds(self, container_id: str) -> bool:
        """Whether this engine has the container."""
        client = self.client()
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return False
        finally:
            client.close()
        return True

    def answers(self) -> bool:
        # a refused connection first: docker-py leaks the socket of one it cannot make
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except docker.errors.DockerException:
            return False

    def start(self) -> None:
        if shutil.which("dockerd") is None:
            raise EngineUnavailable("no dockerd binary on this host")
        self._make_bridge()
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log)
        log.close()
        proc = self.proc

        def settled() -> bool:
            return self.answers() or proc.poll() is not None

        if not poll(settled, START_TIMEOUT_S, 0.2) or not self.answers():
            tail = (self.root / "dockerd.log").read_text(errors="replace")[-800:]
            self.stop()
            raise EngineUnavailable(f"a second dockerd did not start: {tail}")

    def _make_bridge(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            return
        subnet = 100 + int.from_bytes(os.urandom(1)) % 150
        for cmd in (
            ["ip", "link", "add", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"10.213.{subnet}.1/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise EngineUnavailable(f"cannot make a bridge for a second dockerd: {done.stderr}")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (it stops its containers first)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def load(self, image: str) -> None:
        """Copy an image from the shared engine (`docker save | docker load`)."""
        env = {**os.environ, "DOCKER_HOST": self.host}
        with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as save:
            loaded = subprocess.run(
                ["docker", "load", "-q"],
                stdin=save.stdout,
                env=env,
                capture_output=True,
                timeout=600,
            )
        if loaded.returncode != 0 or save.returncode != 0:
            raise EngineUnavailable(f"cannot load {image}: {loaded.stderr.decode()[-500:]}")
