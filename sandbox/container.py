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
    data_dir,
)
from sandbox.errors import ImageMissing, SandboxError, WorkspaceError
from sandbox.spec import PROTECTED_PATHS, SandboxSpec

CONTAINER_WORKSPACE = "/workspace"
SANDBOX_UID = 1000
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


def _support_files() -> tuple[Path, Path]:
    """An unreadable empty file (mask source) and a resolv.conf that resolves nothing."""
    folder = data_dir() / "run"
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "masked-empty"
    if not empty.exists():
        empty.touch()
    os.chmod(empty, 0)
    resolv = folder / "resolv.conf"
    if not resolv.exists() or resolv.read_text() != RESOLV_CONF:
        resolv.write_text(RESOLV_CONF)
    os.chmod(resolv, 0o644)
    return empty, resolv


def sandbox_user(spec: SandboxSpec) -> str:
    """The workspace owner's uid:gid when that is not root (so it can write), else 1000."""
    st = spec.workspace.stat()
    if st.st_uid != 0:
        return f"{st.st_uid}:{st.st_gid}"
    return f"{SANDBOX_UID}:{SANDBOX_UID}"


def mounts_for(spec: SandboxSpec) -> list[Mount]:
    if not spec.workspace.is_dir():
        raise WorkspaceError(f"workspace {spec.workspace} is not a directory")
    empty, resolv = _support_files()
    whole_ro = "." in spec.read_only_paths
    mounts = [
        Mount(CONTAINER_WORKSPACE, str(spec.workspace), type="bind", read_only=whole_ro),
        Mount("/etc/resolv.conf", str(resolv), type="bind", read_only=True),
    ]
    for rel in spec.read_only_paths:
        if rel == "." or not is_plain(spec.workspace, rel):
            continue
        host = spec.workspace / rel
        mounts.append(Mount(f"{CONTAINER_WORKSPACE}/{rel}", str(host), "bind", read_only=True))
    for rel in spec.masked_files:
        mounts.append(Mount(f"{CONTAINER_WORKSPACE}/{rel}", str(empty), "bind", read_only=True))
    return mounts


def is_plain(workspace: Path, rel: str) -> bool:
    """True when `rel` exists and no part of it is a symlink (it resolves to itself).

    A bind mount's source is resolved by the engine on the host: a symlink planted in the
    workspace (`.git -> /home/me`) would mount a host folder into the next sandbox. Such
    paths are never used as mount sources.
    """
    host = workspace / rel
    return os.path.lexists(host) and os.path.realpath(host) == os.path.join(
        os.path.realpath(workspace), rel
    )


def tmpfs_for(spec: SandboxSpec, uid: str, gid: str) -> dict[str, str]:
    """Writable scratch space, plus an empty, unreadable, read-only tmpfs per masked folder."""
    limits = spec.limits
    tmpfs = {
        "/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmp_size}",
        "/home/agent": f"rw,nosuid,nodev,size={limits.home_size},uid={uid},gid={gid},mode=0700",
    }
    for rel in spec.masked_dirs:
        # runc gives the tmpfs the mode of the folder it covers: empty and read-only
        tmpfs[f"{CONTAINER_WORKSPACE}/{rel}"] = "ro,noexec,nosuid,nodev,size=4k"
    for rel in PROTECTED_PATHS:
        # Policy files are never writable from inside, also when the folder does not exist
        # yet (the agent must not plant one) or is a symlink: an empty read-only tmpfs.
        if not (is_plain(spec.workspace, rel) and (spec.workspace / rel).is_dir()):
            tmpfs[f"{CONTAINER_WORKSPACE}/{rel}"] = "ro,noexec,nosuid,nodev,size=4k"
    return tmpfs


def create_container(
    client: docker.DockerClient,
    spec: SandboxSpec,
    session: str,
    egress_volume: str | None,
    environment: dict[str, str],
    kind: str = KIND_SANDBOX,
) -> Container:
    """Create and start the hardened container (idling under docker-init).

    The network is always `none`. With an egress volume, the main process is the
    forwarder to the proxy's socket (mounted read-only) instead of an idle sleep.
    """
    mounts = mounts_for(spec)
    command = IDLE_COMMAND
    if egress_volume is not None:
        mounts.append(Mount(SOCKET_DIR, egress_volume, type="volume", read_only=True))
        command = FORWARDER_COMMAND
    limits = spec.limits
    user = sandbox_user(spec)
    uid, gid = user.split(":")
    try:
        container = client.containers.run(
            spec.image,
            command,
            detach=True,
            name=f"rempart-{session}",
            hostname="sandbox",
            user=user,
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
            tmpfs=tmpfs_for(spec, uid, gid),
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
