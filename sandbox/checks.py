"""`rempart doctor` sandbox checks, judged by behaviour rather than version strings."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import subprocess
import uuid
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from pydantic import BaseModel

from sandbox.engine import LABEL_KIND, LABEL_SESSION, docker_client
from sandbox.engines import Engines
from sandbox.errors import SandboxError
from sandbox.image_build import image_tag
from sandbox.owner import owner_labels

PROBE_TIMEOUT_S = 30
EXTERNAL_NAMES = ("pypi.org", "deb.debian.org", "example.com", "github.com")
CONNECT_PROBE = (
    "import socket,sys\n"
    "s=socket.socket(); s.settimeout(3)\n"
    "try:\n    s.connect(('1.1.1.1', 53)); print('CONNECTED')\n"
    "except OSError as e:\n    print('BLOCKED', e.errno)\n"
)
RESOLVE_PROBE = (
    "import socket,sys\n"
    "try:\n    print('RESOLVED', socket.getaddrinfo(sys.argv[1], 443)[0][4][0])\n"
    "except OSError as e:\n    print('FAILED', e)\n"
)


class Check(BaseModel):
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True


def _probe(client: docker.DockerClient, image: str, argv: list[str], **kw: Any) -> tuple[int, str]:
    """Run a short-lived labelled container; (exit code, output). Raises APIError at start."""
    session = "check-" + uuid.uuid4().hex[:8]
    labels = {LABEL_KIND: "check", LABEL_SESSION: session, **owner_labels()}
    container = client.containers.create(image, argv, labels=labels, user="1000:1000", **kw)
    try:
        container.start()
        status = container.wait(timeout=PROBE_TIMEOUT_S)
        return int(status.get("StatusCode", -1)), container.logs().decode(errors="replace")
    finally:
        with contextlib.suppress(NotFound):  # already gone is fine
            container.remove(force=True)


def _host_resolves(timeout: float = 5.0) -> str | None:
    """An external name the host itself can resolve (else the DNS check proves nothing)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(EXTERNAL_NAMES)) as pool:
        futures = {pool.submit(socket.getaddrinfo, n, 443): n for n in EXTERNAL_NAMES}
        done, _ = concurrent.futures.wait(futures, timeout=timeout)
        for fut in done:
            if fut.exception() is None:
                return futures[fut]
    return None


def check_engine(client: docker.DockerClient) -> Check:
    info = client.version()
    parts = [f"engine {info.get('Version')}", f"API {info.get('ApiVersion')}"]
    for comp in info.get("Components", []):
        if comp.get("Name") in ("containerd", "runc", "docker-init"):
            parts.append(f"{comp['Name']} {comp.get('Version')}")
    return Check(name="docker engine reachable", ok=True, detail=", ".join(parts))


def check_image(client: docker.DockerClient, image: str) -> Check:
    try:
        client.images.get(image)
    except ImageNotFound:
        return Check(
            name="sandbox image present",
            ok=False,
            detail=f"{image} not found",
            hint="run `rempart sandbox build`",
        )
    return Check(name="sandbox image present", ok=True, detail=image)


def check_no_network_egress(client: docker.DockerClient, image: str) -> Check:
    code, out = _probe(client, image, ["python3", "-c", CONNECT_PROBE], network_mode="none")
    ok = code == 0 and out.startswith("BLOCKED")
    return Check(
        name="no egress from --network none",
        ok=ok,
        detail=f"connect to 1.1.1.1:53 -> {out.strip()}",
        hint="" if ok else "the engine lets `--network none` containers reach the network",
    )


def check_internal_dns(client: docker.DockerClient, image: str) -> Check:
    name = _host_resolves()
    if name is None:
        return Check(
            name="internal network resolves no external name",
            ok=True,
            detail="inconclusive: the host resolves none of " + ", ".join(EXTERNAL_NAMES),
            required=False,
        )
    labels = {LABEL_KIND: "check", **owner_labels()}
    net = client.networks.create(
        "rempart-check-" + uuid.uuid4().hex[:8], internal=True, labels=labels
    )
    try:
        _, out = _probe(client, image, ["python3", "-c", RESOLVE_PROBE, name], network=net.name)
    finally:
        net.remove()
    ok = out.startswith("FAILED")
    return Check(
        name="internal network resolves no external name",
        ok=ok,
        detail=f"{name} from an internal network -> {out.strip()[:200]}",
        hint=""
        if ok
        else "Docker's embedded DNS forwards external queries (CVE-2024-29018): upgrade to "
        "Docker >= 26.0; Rempart sandboxes also override resolv.conf and upstream DNS",
    )


def check_runc_fd_leak(client: docker.DockerClient, image: str) -> Check:
    started: list[int] = []
    for fd in range(3, 10):
        try:
            _probe(client, image, ["true"], working_dir=f"/proc/self/fd/{fd}", network_mode="none")
        except APIError:
            continue  # a patched runc refuses to start with a cwd through a leaked fd
        started.append(fd)
    ok = not started
    return Check(
        name="runc safe from CVE-2024-21626",
        ok=ok,
        detail="every start with cwd=/proc/self/fd/3..9 was refused"
        if ok
        else f"container started with cwd=/proc/self/fd/{started}: host fd leaks into it",
        hint="" if ok else "upgrade runc to >= 1.1.12 (or your distribution's patched build)",
    )


def check_seccomp(client: docker.DockerClient, image: str) -> Check:
    code, out = _probe(
        client, image, ["grep", "^Seccomp:", "/proc/self/status"], network_mode="none"
    )
    value = out.split(":")[-1].strip()
    ok = code == 0 and value == "2"
    return Check(
        name="seccomp filter active",
        ok=ok,
        detail=f"Seccomp mode inside a container: {value or out.strip()}",
        hint="" if ok else "the engine runs containers without seccomp (unconfined profile?)",
    )


def check_gvisor(client: docker.DockerClient, image: str, required: bool = False) -> Check:
    """runsc registered with the engine (scripts/gvisor.sh), its version, and a container
    that really boots gVisor's kernel. Optional unless a policy asks `sandbox.runtime:
    gvisor` (then `required`)."""
    name = "gVisor runtime (runsc)"
    hint = "as root: bash scripts/gvisor.sh (installs Debian's runsc, registers it)"
    entry = (client.info().get("Runtimes") or {}).get("runsc")
    if not isinstance(entry, dict):
        detail = "not registered with the engine: policies asking sandbox.runtime: gvisor fail"
        return Check(name=name, ok=False, detail=detail, hint=hint, required=required)
    path = str(entry.get("path", "runsc"))
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError) as exc:
        version = [f"cannot run {path}: {exc}"]
    # gVisor's kernel answers `uname` itself (its seccomp filter keeps `dmesg` from PID 1)
    code, out = _probe(client, image, ["uname", "-r"], network_mode="none", runtime="runsc")
    host = os.uname().release
    booted = code == 0 and bool(out.strip()) and out.strip() != host
    args = " ".join(str(a) for a in entry.get("runtimeArgs") or [])
    detail = f"{path} ({(version or ['?'])[0]}) {args}".strip()
    detail += (
        f", a container boots gVisor's kernel ({out.strip()}, host {host})"
        if booted
        else f", probe failed: {out[-200:]}"
    )
    return Check(
        name=name, ok=booted, detail=detail, hint="" if booted else hint, required=required
    )


def engine_checks(engines: Engines, image: str) -> list[Check]:
    """With several engines, one line each: a dead engine (or one without the image) is a
    warning while another can take sandboxes (sessions skip it), else a failure."""
    if not engines.several:
        return []
    states = engines.survey(image)
    usable = any(s.ok for s in states)
    return [
        Check(
            name=f"engine {s.url}",
            ok=s.ok,
            detail=f"answers, has the image, {s.running} sandbox(es) running"
            if s.ok
            else s.problem,
            hint=""
            if s.ok
            else "start it (or drop it from REMPART_DOCKER_HOSTS); "
            "sessions are placed on the other engines meanwhile",
            required=not usable,
        )
        for s in states
    ]


def run_checks(
    image: str | None = None, engines: Engines | None = None, gvisor_required: bool = False
) -> list[Check]:
    """Every sandbox check; never raises for a failing check, only reports it. With several
    engines, each is listed, and the probes run on the one a sandbox would be placed on.
    gVisor's check is required when the policy asks `sandbox.runtime: gvisor`."""
    checks: list[Check] = []
    try:
        if engines is not None and engines.several:
            checks = engine_checks(engines, image or image_tag())
            client = engines.place(image or image_tag()).client
        else:
            client = docker_client()
    except SandboxError as exc:
        failed = Check(name="docker engine reachable", ok=False, detail=exc.message, hint=exc.hint)
        return [*checks, failed]
    try:
        checks.append(check_engine(client))
        tag = image or image_tag()
        checks.append(check_image(client, tag))
        if not checks[-1].ok:
            return checks
        for probe in (
            check_no_network_egress,
            check_internal_dns,
            check_runc_fd_leak,
            check_seccomp,
        ):
            try:
                checks.append(probe(client, tag))
            except DockerException as exc:
                name = probe.__name__.removeprefix("check_").replace("_", " ")
                checks.append(Check(name=name, ok=False, detail=f"probe failed: {exc}"))
        try:
            checks.append(check_gvisor(client, tag, gvisor_required))
        except DockerException as exc:
            checks.append(
                Check(name="gVisor runtime (runsc)", ok=False, detail=f"probe failed: {exc}",
                      required=gvisor_required)
            )  # fmt: skip
    finally:
        client.close()
    return checks
