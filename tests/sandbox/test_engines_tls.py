"""A real Docker engine on tcp://127.0.0.1 with mutual TLS (a private dockerd started with
`--tlsverify` and certificates made here with openssl): sandboxes are placed on it and
work there (their exec streams are never half-closed), the judge still decides what
reaches the host, and the engine refuses a client without a certificate from its CA."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import requests
from docker.tls import TLSConfig

from sandbox import Sandbox
from sandbox.engines import LOCAL, Engines, PinnedApiClient, cli_args
from sandbox.errors import DockerUnavailable
from sandbox.executor_client import _tls_socket
from sandbox.policy_bridge import policy_judge, readable, spec_from_policy
from tests.agent.private_engine import EngineUnavailable, PrivateEngine
from tests.sandbox.conftest import make_workspace, real_policy

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DAY = "1"
API_VERSION = "1.41"  # given: the constructor then makes no call
WRITE_DENY = ("**/test_*.py",)  # tests may not be edited (as in test_folded_sync.py)
TESTS = "src/test_a.py"
ORIGINAL = "def test_a():\n    assert 1\n"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def make_ca(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True)
    openssl("req", "-x509", *EC_KEY, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", DAY,
            "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
    return folder


def issue(ca: Path, out: Path, cert: str, key: str, name: str, extensions: str) -> None:
    """A certificate for `name` signed by the CA in `ca`, written to out/cert, out/key."""
    out.mkdir(parents=True, exist_ok=True)
    ext = out / f"{cert}.ext"
    ext.write_text(
        f"{extensions}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    openssl("req", *EC_KEY, "-keyout", key, "-out", f"{cert}.csr", "-subj", f"/CN={name}",
            cwd=out)  # fmt: skip
    openssl("x509", "-req", "-in", f"{cert}.csr", "-CA", str(ca / "ca.pem"),
            "-CAkey", str(ca / "ca-key.pem"), "-CAcreateserial", "-out", cert, "-days", DAY,
            "-extfile", str(ext), cwd=out)  # fmt: skip


def client_folder(ca: Path, out: Path, trust: Path) -> Path:
    """A REMPART_DOCKER_CERT_PATH folder: a client cert from `ca`, trusting `trust`'s CA."""
    issue(ca, out, "cert.pem", "key.pem", "rempart-client", "extendedKeyUsage=clientAuth")
    shutil.copy(trust / "ca.pem", out / "ca.pem")
    return out


@dataclass
class TlsEngine:
    engine: PrivateEngine
    url: str  # tcp://127.0.0.1:PORT
    client: Path  # a good client folder: ca.pem, cert.pem, key.pem
    rogue: Path  # a client cert from another CA (trusting the engine's CA)
    impostor: Path  # the right client cert, but trusting another CA than the engine's


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory, image: str) -> Iterator[TlsEngine]:
    if os.geteuid() != 0:
        pytest.skip("a second dockerd needs root")
    root = tmp_path_factory.mktemp("tls")
    ca = make_ca(root / "ca", "rempart-test-ca")
    other = make_ca(root / "other-ca", "some-other-ca")
    server = root / "server"
    issue(ca, server, "server-cert.pem", "server-key.pem", "127.0.0.1",
          "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")  # fmt: skip
    shutil.copy(ca / "ca.pem", server / "ca.pem")
    good = client_folder(ca, root / "client", trust=ca)
    rogue = client_folder(other, root / "rogue", trust=ca)
    impostor = root / "impostor"
    shutil.copytree(good, impostor)
    shutil.copy(other / "ca.pem", impostor / "ca.pem")
    try:
        with PrivateEngine(tls=server) as engine:
            engine.load(image)
            yield TlsEngine(engine, engine.tcp_host, good, rogue, impostor)
    except EngineUnavailable as exc:
        pytest.skip(f"no private Docker engine here: {exc}")


def confined(workspace: Path, image: str, engines: Engines) -> Sandbox:
    """A sandbox under the sandbox tests' usual real policy, placed by `engines`."""
    policy = real_policy(write_deny=WRITE_DENY)
    spec = spec_from_policy(policy, workspace, image=image)
    return Sandbox(spec, readable=readable(policy), judge=policy_judge(policy), engines=engines)


def test_a_sandbox_on_a_tls_engine_runs_commands_and_only_judged_writes_reach_the_host(
    tls_engine: TlsEngine, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a host-wide CA bundle must not replace the pinned ca.pem (requests would let it)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl.get_default_verify_paths().openssl_cafile)
    ws = make_workspace(tmp_path)
    (ws / "src").mkdir()
    (ws / TESTS).write_text(ORIGINAL)
    with confined(ws, image, Engines([tls_engine.url], tls_engine.client)) as sb:
        assert sb.engine == tls_engine.url and sb.skipped == []
        assert tls_engine.engine.holds(sb.container_id)  # on the TLS engine itself
        assert sb.run("cat README.md").stdout == "hello\n"  # the view was pushed over TLS
        listing = sb.run("ls -a . certs secrets 2>&1; cat .env 2>&1").stdout
        assert ".env" not in listing.split() and "topsecret" not in listing
        assert "server.pem" not in listing and "db.txt" not in listing
        result = sb.run(f"echo allowed > notes.txt && echo HACKED > {TESTS}")
        assert {o.path for o in result.changes.applied} == {"notes.txt"}
        assert {o.path for o in result.changes.refused} == {TESTS}
        assert "write refused" in result.stderr
        sb.write_file("src/new.py", b"print('hi')\n")  # a file tool call, same stream
        # the docker CLI (MCP servers, `rempart sandbox exec`) reaches it with the same certs
        argv = ["docker", *cli_args(sb.engine), "exec", "-u", sb.user, sb.container_id]
        cat = subprocess.run([*argv, "cat", "/workspace/README.md"], capture_output=True)
        assert cat.returncode == 0 and cat.stdout == b"hello\n", cat.stderr
    assert (ws / "notes.txt").read_text() == "allowed\n"
    assert (ws / "src" / "new.py").read_bytes() == b"print('hi')\n"
    assert (ws / TESTS).read_text() == ORIGINAL


def test_concurrent_streaming_commands_share_one_tls_stream_and_each_gets_its_own_output(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    # one reader thread and many writer threads on one TLS socket, as on a unix one
    replies: dict[int, dict[str, object]] = {}
    streamed: dict[int, list[str]] = {n: [] for n in range(6)}
    with confined(
        make_workspace(tmp_path), image, Engines([tls_engine.url], tls_engine.client)
    ) as sb:

        def run(n: int) -> None:
            shell = f"seq 1 3000 | sed 's/^/{n}-/'"
            op = {"op": "run", "shell": shell, "cwd": ".", "env": {}, "stream": True}
            replies[n] = sb.executor.request(
                op, 120.0, lambda e: streamed[n].append(str(e["data"]))
            )

        workers = [threading.Thread(target=run, args=(n,)) for n in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120.0)
        assert sb.run("echo still").stdout == "still\n"
    for n in range(6):
        expected = "".join(f"{n}-{i}\n" for i in range(1, 3001))
        assert replies[n]["exit_code"] == 0 and replies[n]["stdout"] == expected
        assert "".join(streamed[n]) == expected


def test_requests_from_many_threads_at_once_on_one_tls_stream_all_get_their_answers(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    # OpenSSL takes one thread at a time on a connection: unserialized, the stream broke
    # within a few hundred requests (the executor was taken for dead and restarted)
    errors: list[BaseException] = []
    engines = Engines([tls_engine.url], tls_engine.client)
    with confined(make_workspace(tmp_path), image, engines) as sb:

        def hammer() -> None:
            try:
                for _ in range(500):
                    assert sb.executor.request({"op": "ping"}, 30.0)["event"] != "error"
            except BaseException as exc:  # reported below, with its kind
                errors.append(exc)

        workers = [threading.Thread(target=hammer) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120.0)
        assert errors == [] and sb.executor.restarts == 0 and sb.executor.forged == 0


def test_a_workspace_of_many_tls_records_arrives_whole_and_a_large_output_comes_back(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path)
    blob = os.urandom(6 << 20)  # 6 MiB: hundreds of records, sent a record at a time
    (ws / "blob.bin").write_bytes(blob)
    with confined(ws, image, Engines([tls_engine.url], tls_engine.client)) as sb:
        digest = sb.run("sha256sum blob.bin").stdout.split()[0]
        assert digest == hashlib.sha256(blob).hexdigest()
        assert sb.read_file("blob.bin") == blob


def test_a_pooled_sandbox_booted_on_a_tls_engine_loads_a_workspace_when_adopted(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    # the pool opens the `tar -x` stream at boot, before the workspace (and its size) exist
    ws = make_workspace(tmp_path)
    policy = real_policy(write_deny=WRITE_DENY)
    spec = spec_from_policy(policy, ws, image=image)
    sb = Sandbox(spec, engines=Engines([tls_engine.url], tls_engine.client))
    try:
        sb.boot()
        assert sb.engine == tls_engine.url
        sb.adopt(spec, readable=readable(policy), judge=policy_judge(policy))
        assert sb.run("cat README.md; ls -a").stdout.startswith("hello\n")
        assert ".env" not in sb.run("ls -a").stdout.split()
    finally:
        sb.close()


def test_the_tls_engine_refuses_clients_without_a_certificate_from_its_ca(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    good = Engines([tls_engine.url], tls_engine.client).survey(image)
    assert good[0].ok  # the same engine, with the right certificate, answers
    ca_only = TLSConfig(ca_cert=str(tls_engine.client / "ca.pem"), verify=True)
    no_cert = PinnedApiClient(base_url=tls_engine.url, tls=ca_only, version=API_VERSION)
    with pytest.raises(requests.exceptions.RequestException) as caught:
        no_cert.ping()
    no_cert.close()
    assert "certificate" in str(caught.value).lower()
    plain_url = tls_engine.url.replace("tcp://", "http://")
    plain = PinnedApiClient(base_url=plain_url, version=API_VERSION)  # no TLS at all
    with pytest.raises(docker.errors.APIError, match="HTTPS server"):
        plain.ping()
    plain.close()
    [rogue] = Engines([tls_engine.url], tls_engine.rogue).survey(image)
    assert not rogue.ok and rogue.problem.startswith("unreachable")
    refused = confined(make_workspace(tmp_path), image, Engines([tls_engine.url], tls_engine.rogue))
    with pytest.raises(DockerUnavailable):
        refused.start()
    # the raw exec-stream path alone: the handshake (or its first read) fails
    context = ssl.create_default_context(cafile=str(tls_engine.client / "ca.pem"))
    host, port = tls_engine.url.removeprefix("tcp://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        tls.recv(100)


def test_an_engine_that_is_not_signed_by_the_trusted_ca_is_never_given_a_sandbox(
    tls_engine: TlsEngine, image: str
) -> None:
    # our own client certificate is good, but the engine's is not from the CA we trust:
    # an impostor engine (on the same address) must not receive the workspace
    folder = tls_engine.impostor
    [state] = Engines([tls_engine.url], folder).survey(image)
    assert not state.ok and "SSLCertVerificationError" in state.problem
    # the exec stream's own TLS connection (not docker-py's) verifies the engine too
    tls = TLSConfig(
        client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
        ca_cert=str(folder / "ca.pem"),
        verify=True,
    )
    api = PinnedApiClient(base_url=tls_engine.url, tls=tls, version=API_VERSION)
    port = int(tls_engine.url.rsplit(":", 1)[1])
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_socket(api, "127.0.0.1", port, 10.0).close()
    api.close()
    # and a client told not to verify the engine gets no exec stream at all
    blind = TLSConfig(client_cert=tls.cert, verify=False)
    api = PinnedApiClient(base_url=tls_engine.url, tls=blind, version=API_VERSION)
    with pytest.raises(DockerUnavailable, match="not verified"):
        _tls_socket(api, "127.0.0.1", port, 10.0).close()
    api.close()


def test_a_session_listing_the_tls_engine_and_the_local_one_places_by_load_and_both_work(
    tls_engine: TlsEngine, image: str, tmp_path: Path
) -> None:
    engines = Engines([tls_engine.url, LOCAL], tls_engine.client)
    opened: list[Sandbox] = []
    try:
        for n in range(6):  # the shared local engine may run other tests' sandboxes
            (tmp_path / str(n)).mkdir()
            sb = confined(make_workspace(tmp_path / str(n)), image, engines)
            sb.start()
            opened.append(sb)
            if sb.engine == LOCAL:
                break
        places = [sb.engine for sb in opened]
        assert places[0] == tls_engine.url  # it runs none of ours: never more than local
        if places[-1] != LOCAL:
            pytest.skip(f"the local engine runs {len(places)}+ sandboxes of other tests")
        for sb in opened[-2:]:
            assert sb.run("cat README.md").stdout == "hello\n"
            sb.run("echo from-$HOSTNAME > where.txt")
        assert all(sb.skipped == [] for sb in opened)
    finally:
        for sb in opened:
            sb.close()
    for n in range(len(opened)):
        assert (tmp_path / str(n) / "ws" / "where.txt").exists() == (n >= len(opened) - 2)
