"""A stand-in for a Kubernetes API server, for the backend's tests. No cluster involved.

- `RecordedApi` replaces the client's REST transport (`ApiClient.rest_client.pool_manager`):
  it answers from JSON responses under `data/`, hand-recorded from the shapes in the
  Kubernetes API reference (v1.33) -- not captured from a live cluster -- and records
  every request the backend made.
- `Kubelet` is a websocket server speaking the `pods/exec` channel protocol
  (v5.channel.k8s.io: 0 stdin, 1 stdout, 2 stderr, 3 status, 255 close). Each exec runs
  `docker exec -i` in a real container of the local engine, as the pod's user, so the
  real executor and `tar` answer, as a kubelet would run them in the pod.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import docker
import urllib3
from kubernetes.client import ApiClient, Configuration
from websocket import ABNF
from websocket._abnf import frame_buffer

DATA = Path(__file__).parent / "data"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recording(file: str, **fill: str) -> Any:
    text = (DATA / file).read_text()
    for key, value in fill.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


class RecordedApi:
    """The pool manager the kubernetes client sends its REST calls to."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.calls: list[tuple[str, str, dict[str, list[str]], Any]] = []
        # per pod name: the recordings its successive reads return (the last repeats)
        self.reads: dict[str, deque[str]] = {}
        self.default_reads = ["pod-pending.json", "pod-running.json"]
        self.ips: dict[str, str] = {}
        self.refuse: dict[tuple[str, str], tuple[int, str]] = {}  # (method, kind) -> answer
        self.proxy_log = (DATA / "proxy-log.txt").read_text()
        self.unreachable = False  # every call fails as a refused connection does
        self.pod_list = "podlist-empty.json"  # what listing the namespace's pods returns
        self.policy_list = "networkpolicylist-empty.json"

    def client(self, host: str = "http://127.0.0.1:9") -> ApiClient:
        config = Configuration()
        config.host = host
        api = ApiClient(config)
        api.rest_client.pool_manager = self
        return api

    def bodies(self, method: str = "POST") -> list[Any]:
        return [body for m, _path, _query, body in self.calls if m == method]

    def request(
        self, method: str, url: str, body: str | None = None, **_kwargs: Any
    ) -> urllib3.HTTPResponse:
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        sent = json.loads(body) if body else None
        self.calls.append((method, parsed.path, query, sent))
        parts = parsed.path.strip("/").split("/")
        kind = "networkpolicies" if "networkpolicies" in parts else "pods"
        if self.unreachable:
            raise urllib3.exceptions.MaxRetryError(
                None,  # type: ignore[arg-type]
                url,
                urllib3.exceptions.NewConnectionError(None, "Connection refused"),  # type: ignore[arg-type]
            )
        if (method, kind) in self.refuse:
            status, name = self.refuse[(method, kind)]
            return self._answer(status, recording(name))
        if method == "POST":
            created = dict(sent or {})
            created["metadata"] = {**created["metadata"], **recording("created-metadata.json")}
            if kind == "pods":
                created["status"] = recording("pod-status-new.json")
            return self._answer(201, created)
        if method == "DELETE":
            return self._answer(200, recording("status-success.json"))
        if method == "GET" and parts[-1] == "log":
            return self._answer(200, self.proxy_log, text=True)
        if method == "GET" and parts[-1] in ("pods", "networkpolicies"):  # a list
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            listing = self.pod_list if kind == "pods" else self.policy_list
            return self._answer(200, recording(listing, namespace=self.namespace, now=now))
        if method == "GET" and kind == "pods":
            name = parts[-1]
            queue = self.reads.setdefault(name, deque(self.default_reads))
            which = queue.popleft() if len(queue) > 1 else queue[0]
            ip = self.ips.setdefault(name, f"10.244.1.{10 + len(self.ips)}")
            pod = recording(which, name=name, namespace=self.namespace, ip=ip)
            return self._answer(200, pod)
        return self._answer(404, recording("status-not-found.json"))

    @staticmethod
    def _answer(status: int, payload: Any, text: bool = False) -> urllib3.HTTPResponse:
        data = payload.encode() if text else json.dumps(payload).encode()
        kind = "text/plain" if text else "application/json"
        return urllib3.HTTPResponse(
            body=data, status=status, headers={"Content-Type": kind}, preload_content=True
        )


def quantity_bytes(text: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    for suffix, unit in units.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * unit
    return int(text)


def run_pod(client: docker.DockerClient, pod: dict[str, Any], image: str) -> str:
    """Start what a kubelet would for this sandbox pod, on the local engine, from its
    manifest alone: its command as PID 1 (no docker-init: a pod has none), env, user and
    fsGroup, read-only root, no capabilities, no escalation, its emptyDirs (medium Memory)
    as tmpfs owned as the kubelet leaves them (root:fsGroup, mode 2777), cpu and memory
    limits; no network (its NetworkPolicy allows no egress). Returns the container id."""
    spec = pod["spec"]
    [box] = spec["containers"]
    ctx, pod_ctx = box["securityContext"], spec["securityContext"]
    volumes = {v["name"]: v["emptyDir"] for v in spec["volumes"]}
    tmpfs = {}
    for mount in box["volumeMounts"]:
        empty = volumes[mount["name"]]
        assert empty["medium"] == "Memory"
        size = quantity_bytes(empty["sizeLimit"])
        tmpfs[mount["mountPath"]] = (
            f"rw,nosuid,nodev,size={size},gid={pod_ctx['fsGroup']},mode=2777"
        )
    limits = box["resources"]["limits"]
    container = client.containers.run(
        image,
        entrypoint=box["command"],
        command=[],
        detach=True,
        hostname=spec["hostname"],
        working_dir=box["workingDir"],
        environment={e["name"]: e["value"] for e in box["env"]},
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        group_add=[str(pod_ctx["fsGroup"])],
        read_only=ctx["readOnlyRootFilesystem"],
        cap_drop=ctx["capabilities"]["drop"],
        security_opt=[] if ctx["allowPrivilegeEscalation"] else ["no-new-privileges"],
        privileged=ctx["privileged"],
        network_mode="none",
        tmpfs=tmpfs,
        mem_limit=quantity_bytes(limits["memory"]),
        memswap_limit=quantity_bytes(limits["memory"]),
        nano_cpus=int(limits["cpu"].removesuffix("m")) * 1_000_000,
        labels={"rempart.test": "k8s-pod"},
    )
    # Docker copies the image folder's mode onto a tmpfs (its `mode=` is lost): set it as
    # the kubelet sets an emptyDir's, from outside the pod's user
    done = container.exec_run(["chmod", "2777", *tmpfs], user="0:0")
    assert done.exit_code == 0, done.output
    return str(container.id)


class Kubelet:
    """`pods/exec` over a websocket. `containers` maps pod names to local containers; a pod
    without one is started from its manifest by `start_pod` (when given) on first exec."""

    def __init__(self, user: str = "1000:1000") -> None:
        self.user = user
        self.containers: dict[str, str] = {}
        self.start_pod: Callable[[str], str | None] | None = None
        self.execs: list[tuple[str, list[str]]] = []
        self.protocol = "v5.channel.k8s.io"
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="fake-kubelet", daemon=True)
        self._acceptor.start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        # shutdown wakes the blocked accept(): a bare close would leave it waiting on a
        # file descriptor number that the next test's server may be given
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=10)
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
            target = lines[0].split(" ")[1]
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            url = urlparse(target)
            pod = url.path.strip("/").split("/")[-2]
            argv = parse_qs(url.query)["command"]
            key = headers["sec-websocket-key"]
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            if pod not in self.containers and self.start_pod is not None:
                started = self.start_pod(pod)
                if started is not None:
                    self.containers[pod] = started
            container = self.containers.get(pod)
            if container is None:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                    f"Sec-WebSocket-Protocol: {self.protocol}\r\n\r\n"
                ).encode()
            )
            self.execs.append((pod, argv))
            self._exec(conn, container, argv)

    def _exec(self, conn: socket.socket, container: str, argv: list[str]) -> None:
        proc = subprocess.Popen(
            ["docker", "exec", "-i", "-u", self.user, container, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin and proc.stdout and proc.stderr
        send_lock = threading.Lock()

        def send(payload: bytes, opcode: int = ABNF.OPCODE_BINARY) -> None:
            frame = ABNF(fin=1, opcode=opcode, mask_value=0, data=payload).format()
            with send_lock, contextlib.suppress(OSError):
                conn.sendall(frame)

        def out(stream: Any, channel: int) -> None:
            while chunk := stream.read1(65536):
                send(bytes([channel]) + chunk)

        pumps = [
            threading.Thread(target=out, args=(proc.stdout, 1), daemon=True),
            threading.Thread(target=out, args=(proc.stderr, 2), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        stdin = proc.stdin

        def inbound() -> None:
            frames = frame_buffer(conn.recv, True)
            try:
                while True:
                    frame = frames.recv_frame()
                    if frame.opcode == ABNF.OPCODE_CLOSE:
                        break
                    data = bytes(frame.data)
                    if data[:1] == b"\x00":
                        stdin.write(data[1:])
                        stdin.flush()
                    elif data[:2] == b"\xff\x00":  # v5: the client closed stdin
                        break
            except (OSError, ValueError, Exception):  # the client went away: as a close
                pass
            with contextlib.suppress(OSError):
                stdin.close()

        reader = threading.Thread(target=inbound, daemon=True)
        reader.start()
        code = proc.wait()
        for pump in pumps:
            pump.join(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        if code == 0:
            status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            status = recording("exec-status-exit.json", code=str(code))
        send(b"\x03" + json.dumps(status).encode())
        send(b"\x03\xe8", ABNF.OPCODE_CLOSE)
        reader.join(timeout=5)


def start_pods_from_manifests(
    kubelet: Kubelet, api: RecordedApi, client: docker.DockerClient, image: str
) -> list[str]:
    """Have `kubelet` start each pod from the Pod the backend POSTed (`run_pod`) on its
    first exec; the returned list fills with the started containers' ids."""
    started: list[str] = []

    def start_pod(name: str) -> str | None:
        sent = [
            b for b in api.bodies("POST") if (b["kind"], b["metadata"]["name"]) == ("Pod", name)
        ]
        if not sent:
            return None
        started.append(run_pod(client, sent[0], image))
        return started[-1]

    kubelet.start_pod = start_pod
    return started
