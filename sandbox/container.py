"""The hardened per-session container: flags, mounts, masks, labels, listing and reaping."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import Mount
from pydantic import BaseModel

from sandbox.engine import (
    FORWARDER_COMMAND,
    KIND_SANDBOX,
    KIND_VOLUME,
    LABEL_CREATED,
    LABEL_KIND,
    LABEL_OWNER_PID,
    LABEL_SESSION,
    LABEL_SPEC,
    LABEL_WORKSPACE,
    SOCKET_DIR,
    runtime_dir,
)
from sandbox.errors import ImageMissing, SandboxError, WorkspaceError
from sandbox.spec import SandboxSpec

CONTAINER_WORKSPACE = "/workspace"
SANDBOX_UID = 1000
# PID 1 (docker-init) and the main process run as `nobody`: the sandbox user (uid 1000)
# cannot signal them, so it cannot stop the container from inside.
INIT_USER = "65534:65534"
IDLE_COMMAND = ["sleep", "infinity"]
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
        LABEL_OWNER_PID: str(os.getpid()),
        LABEL_SPEC: spec.spec_hash(),
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


def create_container(
    client: docker.DockerClient,
    spec: SandboxSpec,
    session: str,
    egress_volume: str | None,
    environment: dict[str, str],
    kind: str = KIND_SANDBOX,
    workspace_bytes: int = 0,
) -> Container:
    """Create and start the hardened container (idling under docker-init).

    The network is always `none`. With an egress volume, the main process is the
    forwarder to the proxy's socket (mounted read-only) instead of an idle sleep. No host
    folder is mounted: the workspace is a tmpfs that `Sandbox` fills with the read view.
    """
    if not spec.workspace.is_dir():
        raise WorkspaceError(f"workspace {spec.workspace} is not a directory")
    mounts = [Mount("/etc/resolv.conf", str(_resolv_conf()), type="bind", read_only=True)]
    command = IDLE_COMMAND
    if egress_volume is not None:
        mounts.append(Mount(SOCKET_DIR, egress_volume, type="volume", read_only=True))
        command = FORWARDER_COMMAND
    limits = spec.limits
    size = workspace_bytes or workspace_tmpfs_bytes(spec, 0)
    try:
        container = client.containers.run(
            spec.image,
            command,
            detach=True,
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
            pids_limit=limits.pids,
            ulimits=[docker.types.Ulimit(name="core", soft=0, hard=0)],
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


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (also one we may not signal)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_orphan(labels: dict[str, str], max_age_h: float) -> bool:
    try:
        created = datetime.fromisoformat(labels.get(LABEL_CREATED, "")).timestamp()
    except ValueError:
        return True
    pid = int(labels.get(LABEL_OWNER_PID, "0") or 0)
    return not pid_alive(pid) or time.time() - created > max_age_h * 3600


def list_resources(client: docker.DockerClient, max_age_h: float = 24.0) -> list[Resource]:
    found: list[Resource] = []
    for c in client.containers.list(all=True, filters={"label": LABEL_KIND}):
        labels = c.labels
        found.append(
            Resource(
                kind=labels.get(LABEL_KIND, "?"),
                name=c.name or "",
                id=c.short_id,
                session=labels.get(LABEL_SESSION, ""),
                created=labels.get(LABEL_CREATED, ""),
                workspace=labels.get(LABEL_WORKSPACE, ""),
                owner_pid=int(labels.get(LABEL_OWNER_PID, "0") or 0),
                status=c.status,
                orphan=_is_orphan(labels, max_age_h),
            )
        )
    for v in client.volumes.list(filters={"label": f"{LABEL_KIND}={KIND_VOLUME}"}):
        labels = v.attrs.get("Labels") or {}
        found.append(
            Resource(
                kind=KIND_VOLUME,
                name=v.name or "",
                id=(v.name or "")[:12],
                session=labels.get(LABEL_SESSION, ""),
                created=labels.get(LABEL_CREATED, ""),
                workspace=labels.get(LABEL_WORKSPACE, ""),
                owner_pid=int(labels.get(LABEL_OWNER_PID, "0") or 0),
                status="volume",
                orphan=_is_orphan(labels, max_age_h),
            )
        )
    return found


def remove_session(client: docker.DockerClient, session: str) -> None:
    """Remove the containers, then the volumes, of one session (missing ones are fine)."""
    flt: dict[str, str | list[str] | bool] = {"label": f"{LABEL_SESSION}={session}"}
    for c in client.containers.list(all=True, filters=flt):
        try:
            c.remove(force=True)
        except NotFound:
            continue
    for v in client.volumes.list(filters=flt):
        try:
            v.remove(force=True)
        except NotFound:
            continue


def prune(client: docker.DockerClient, everything: bool, max_age_h: float = 24.0) -> list[str]:
    """Remove orphaned sessions (owner gone or older than `max_age_h`), or all with `everything`."""
    sessions = sorted(
        {r.session for r in list_resources(client, max_age_h) if everything or r.orphan}
    )
    for session in sessions:
        remove_session(client, session)
    return sessions
