"""Helpers for tests that watch real containers and processes (bounded polls, no sleeps)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker
from docker.models.containers import Container

from sandbox.owner import LABEL_OWNER_PID, LABEL_OWNER_START, owner_labels


def poll(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> bool:
    """Whether `condition()` became true within `timeout_s` (checked every `step_s`)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(step_s)
    return True


def owned_by(client: docker.DockerClient, pid: int) -> list[Container]:
    found = []
    for item in client.api.containers(all=True, filters={"label": f"{LABEL_OWNER_PID}={pid}"}):
        try:
            found.append(client.containers.get(item["Id"]))
        except docker.errors.NotFound:
            continue
    return found


def top(container: Container) -> list[str]:
    try:
        return [" ".join(row) for row in container.top()["Processes"]]
    except docker.errors.APIError:
        return []


def host_pids(container: Container) -> list[int]:
    """The host pids of every process in a running container (empty once it stopped)."""
    try:
        top = container.top()
    except docker.errors.APIError:
        return []
    column = top["Titles"].index("PID")
    return [int(row[column]) for row in top["Processes"]]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def describe(pid: int) -> str:
    """A process's state and command line (for a failure message)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    return f"{' '.join(state)} {cmd[:200]}"


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
