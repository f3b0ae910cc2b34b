"""The hardened per-session container: flags, mounts, masks, labels, listing and reaping."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import Mount
from pydantic import BaseModel

from sandbox.engine import (
    FORWARDER_ARGS,
    KEEPER_COMMAND,
    KIND_SANDBOX,
    LABEL_CREATED,
    LABEL_KIND,
    LABEL_SESSION,
    LABEL_SPEC,
    LABEL_WORKSPACE,
    SOCKET_DIR,
    runtime_dir,
)
from sandbox.errors import ImageMissing, RuntimeMissing, SandboxError, WorkspaceError
from sandbox.owner import LABEL_OWNER_PID, owner_gone, owner_labels
from sandbox.owner import pid_alive as pid_alive  # used by the model server's bookkeeping
from sandbox.spec import SandboxSpec

CONTAINER_WORKSPACE = "/workspace"
SANDBOX_UID = 1000
# PID 1 (docker-init) and the main process run as `nobody`: the sandbox user (uid 1000)
# cannot signal them, so it cannot stop the container from inside.
INIT_USER = "65534:65534"
# Resolution always fails at once: nothing listens on the sandbox's own loopback port 53.
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def labels_for(session: str, kind: str, spec: SandboxSpec) -> dict[str, str]:
    return {
        **spec.labels,
        LABEL_SESSION: session,
        LABEL_KIND: kind,
        LABEL_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
        LABEL_WORKSPACE: str(spec.workspace),
        LABEL_SPEC: spec.spec_hash(),
        **owner_labels(),
    }


def _resolv_conf() -> Path:
    """A resolv.conf that resolves nothing (the only host file the sandbox is given)."""
    folder = runtime_dir()
    folder.mkdir(parents=True, exist_ok=True)
    resolv = folder / "resolv.conf"
    if not resolv.exists() or resolv.read_text() != RESOLV_CONF:
        resolv.write_text(RESOLV_CONF)
    os.chmod(resolv, 0o644)
    return resolv


def sandbox_user(_spec: SandboxSpec | None = None) -> str:
    """The uid:gid commands run as. Nothing of the host is mounted writable, so it is
    always the image's unprivileged `agent`; host files are written by Rempart itself."""
    return f"{SANDBOX_UID}:{SANDBOX_UID}"


def workspace_tmpfs_bytes(spec: SandboxSpec, view_bytes: int) -> int:
    """The sandbox's copy of the workspace: what it was shown plus `limits.disk` to grow."""
    size = view_bytes + spec.limits.disk_bytes()
    return (size + 1024 * 1024 - 1) // (1024 * 1024) * (1024 * 1024)


def pooled_tmpfs_bytes(spec: SandboxSpec) -> int:
    """A warm pool's sandbox is booted before its workspace is known: room for the largest
    view `Sandbox._check_fits` lets in (half the memory limit) plus `limits.disk` to grow.
    The host still caps the growth it accepts at `limits.disk` (`View.disk_limit`)."""
    return workspace_tmpfs_bytes(spec, spec.limits.memory_bytes() // 2)


def tmpfs_for(spec: SandboxSpec, workspace_bytes: int) -> dict[str, str]:
    """Writable scratch space and the workspace copy, all inside the memory limit's reach."""
    limits = spec.limits
    uid = gid = SANDBOX_UID
    return {
        "/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmp_size}",
        "/home/agent": f"rw,nosuid,nodev,size={limits.home_size},uid={uid},gid={gid},mode=0700",
        CONTAINER_WORKSPACE: (
            f"rw,nosuid,nodev,size={workspace_bytes},uid={uid},gid={gid},mode=0755"
        ),
    }


# built into the image where it has a C compiler (image/statx_compat.c); the executor
# drops the variable for its commands when the file is missing
GVISOR_PRELOAD = "/opt/rempart/statx_compat.so"
# what `sandbox.runtime` names, as registered with the engine (scripts/gvisor.sh)
ENGINE_RUNTIMES = {"runc": "runc", "gvisor": "runsc"}


def engine_runtimes(client: docker.DockerClient) -> set[str]:
    """The runtimes the engine has registered (`docker info`)."""
    return set((client.info().get("Runtimes") or {}).keys())


def engine_runtime(
    client: docker.DockerClient, spec: SandboxSpec, names: Mapping[str, str] = ENGINE_RUNTIMES
) -> str | None:
    """The engine runtime for `spec`: None (the engine's default) for runc; for gvisor,
    `runsc` (`names`), which must be registered: never a silent fallback to runc."""
    if spec.runtime == "runc":
        return None
    name = names[spec.runtime]
    if name not in engine_runtimes(client):
        raise RuntimeMissing(
            f"the policy asks sandbox.runtime: {spec.runtime}, and the Docker engine has no "
            f"`{name}` runtime registered; refusing to run the sandbox without it",
            hint="as root run `bash scripts/gvisor.sh` (installs runsc, registers it); "
            "`rempart doctor` checks it",
        )
    return name


# Under gVisor the host's pids cgroup counts the sentry's own tasks (about 60 idle, and
# some 15 per process of the sandbox on the ptrace platform), so it cannot count the
# sandbox's processes: there `limits.pids` is RLIMIT_NPROC, which gVisor's kernel enforces
# for the sandbox alone (under runc, NPROC would count the uid's processes host-wide), and
# the host cgroup only bounds the sentry.
GVISOR_HOST_PIDS_BASE = 128
GVISOR_HOST_PIDS_PER_PROCESS = 24


def host_pids_limit(spec: SandboxSpec) -> int:
    """The container's pids cgroup limit: `limits.pids`, or the sentry's bound (gVisor)."""
    pids = spec.limits.pids
    if spec.runtime == "gvisor":
        return GVISOR_HOST_PIDS_BASE + GVISOR_HOST_PIDS_PER_PROCESS * pids
    return pids


def ulimits_for(spec: SandboxSpec) -> list[docker.types.Ulimit]:
    """No core dumps; under gVisor, `limits.pids` processes per sandbox (NPROC)."""
    out = [docker.types.Ulimit(name="core", soft=0, hard=0)]
    if spec.runtime == "gvisor":
        pids = spec.limits.pids
        out.append(docker.types.Ulimit(name="nproc", soft=pids, hard=pids))
    return out


def create_container(
    client: docker.DockerClient,
    spec: SandboxSpec,
    session: str,
    egress_volume: str | None,
    environment: dict[str, str],
    kind: str = KIND_SANDBOX,
    workspace_bytes: int = 0,
) -> Container:
    """Create and start the hardened container (its keeper under docker-init).

    The network is always `none`. The main process is the keeper (`image/keeper.py`): it
    stops the container when no process exec'd by the owner is left (the owner died), or
    at the end of `spec.lifetime_s`. With an egress volume, it also runs the forwarder to
    the proxy's socket (mounted read-only). No host folder is mounted: the workspace is a
    tmpfs that `Sandbox` fills with the read view.
    """
    if not spec.workspace.is_dir():
        raise WorkspaceError(f"workspace {spec.workspace} is not a directory")
    mounts = [Mount("/etc/resolv.conf", str(_resolv_conf()), type="bind", read_only=True)]
    command = [*KEEPER_COMMAND, "--lifetime", f"{spec.lifetime_s:g}"]
    if egress_volume is not None:
        mounts.append(Mount(SOCKET_DIR, egress_volume, type="volume", read_only=True))
        command += FORWARDER_ARGS
    limits = spec.limits
    size = workspace_bytes or workspace_tmpfs_bytes(spec, 0)
    runtime = engine_runtime(client, spec)
    if spec.runtime == "gvisor":  # coreutils' statx flag, which runsc 2022 refuses
        environment = {**environment, "LD_PRELOAD": GVISOR_PRELOAD}
    try:
        container = client.containers.run(
            spec.image,
            command,
            detach=True,
            runtime=runtime,
            name=f"rempart-{session}",
            hostname="sandbox",
            user=INIT_USER,
            working_dir=CONTAINER_WORKSPACE,
            environment=environment,
            labels=labels_for(session, kind, spec),
            init=True,
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            privileged=False,
            ipc_mode="private",
            network_mode="none",
            tmpfs=tmpfs_for(spec, size),
            mounts=mounts,
            nano_cpus=int(limits.cpus * 1e9),
            mem_limit=limits.memory_bytes(),
            memswap_limit=limits.memory_bytes(),
            pids_limit=host_pids_limit(spec),
            ulimits=ulimits_for(spec),
        )
    except ImageNotFound as exc:
        raise ImageMissing(
            f"sandbox image {spec.image} not found", hint="run `rempart sandbox build`"
        ) from exc
    except APIError as exc:
        raise SandboxError(f"cannot create the sandbox container: {exc.explanation}") from exc
    return container


class Resource(BaseModel):
    """One thing Rempart created in Docker, as `rempart sandbox ls` shows it."""

    kind: str
    name: str
    id: str
    session: str
    created: str
    workspace: str
    owner_pid: int
    status: str
    orphan: bool
    type: str = "container"  # container | volume | network
    engine: str = ""  # the engine it is on (sandbox.engines), when several are walked


def _is_orphan(labels: dict[str, str], max_age_h: float | None) -> bool:
    """The owner is provably gone, or (only when `max_age_h` is given) it is that old."""
    if owner_gone(labels):
        return True
    if max_age_h is None:
        return False
    try:
        created = datetime.fromisoformat(labels.get(LABEL_CREATED, "")).timestamp()
    except ValueError:
        return False
    return time.time() - created > max_age_h * 3600


def _resource(
    kind_of: str, name: str, rid: str, labels: dict[str, str], status: str, max_age_h: float | None
) -> Resource:
    try:
        pid = int(labels.get(LABEL_OWNER_PID, "0") or 0)
    except ValueError:
        pid = 0
    return Resource(
        kind=labels.get(LABEL_KIND, "?"),
        name=name,
        id=rid,
        session=labels.get(LABEL_SESSION, ""),
        created=labels.get(LABEL_CREATED, ""),
        workspace=labels.get(LABEL_WORKSPACE, ""),
        owner_pid=pid,
        status=status,
        orphan=_is_orphan(labels, max_age_h),
        type=kind_of,
    )


def list_resources(client: docker.DockerClient, max_age_h: float | None = None) -> list[Resource]:
    """Every container, volume and network labelled by Rempart, with an orphan flag."""
    found: list[Resource] = []
    # one summary call (no inspect per container: another pruner may remove one meanwhile)
    for c in client.api.containers(all=True, filters={"label": LABEL_KIND}):
        name = str((c.get("Names") or ["?"])[0]).lstrip("/")
        labels = c.get("Labels") or {}
        status = str(c.get("State", "?"))
        found.append(_resource("container", name, str(c["Id"]), labels, status, max_age_h))
    for v in client.volumes.list(filters={"label": LABEL_KIND}):
        labels = v.attrs.get("Labels") or {}
        found.append(_resource("volume", v.name or "", v.name or "", labels, "volume", max_age_h))
    for n in client.networks.list(filters={"label": LABEL_KIND}):
        labels = n.attrs.get("Labels") or {}
        found.append(_resource("network", n.name or "", n.id or "", labels, "network", max_age_h))
    return found


def _remove(client: docker.DockerClient, resource: Resource) -> None:
    """Remove one resource; one already gone (or being removed by another pruner) is fine."""
    with contextlib.suppress(NotFound):
        try:
            if resource.type == "container":
                client.containers.get(resource.id).remove(force=True)
            elif resource.type == "volume":
                client.volumes.get(resource.id).remove(force=True)
            else:
                client.networks.get(resource.id).remove()
        except APIError as exc:
            if exc.status_code != 409:  # "removal already in progress": another pruner
                raise


def remove_session(client: docker.DockerClient, session: str) -> None:
    """Remove the containers, then the volumes, of one session (missing ones are fine)."""
    flt: dict[str, str | list[str] | bool] = {"label": f"{LABEL_SESSION}={session}"}
    for c in client.containers.list(all=True, filters=flt, ignore_removed=True):
        try:
            c.remove(force=True)
        except NotFound:
            continue
    for v in client.volumes.list(filters=flt):
        try:
            v.remove(force=True)
        except NotFound:
            continue


def prune(
    client: docker.DockerClient,
    everything: bool = False,
    max_age_h: float | None = None,
    dry_run: bool = False,
) -> list[Resource]:
    """Remove orphans (owner provably gone; or older than `max_age_h` when given), or every
    Rempart resource with `everything`: containers first, then volumes, then networks.
    Returns what was (with `dry_run`: would be) removed."""
    order = {"container": 0, "volume": 1, "network": 2}
    doomed = sorted(
        (r for r in list_resources(client, max_age_h) if everything or r.orphan),
        key=lambda r: (order.get(r.type, 3), r.name),
    )
    if not dry_run:
        for resource in doomed:
            _remove(client, resource)
    return doomed
