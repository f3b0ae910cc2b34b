"""Whose is a container: the owning process, named so that its death can be proved.

Every container, volume and network Rempart creates carries the owner's pid, the pid's
start time (a reused pid has another one), the boot id and the pid namespace. A resource
is an orphan only when its owner is *provably* gone: same boot and pid namespace as this
process, and no process with that pid and start time; or another boot (the owner cannot
have survived a reboot). Resources of another pid namespace (another machine sharing the
engine, a containerised Rempart) are never judged from here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

LABEL_OWNER_PID = "rempart.owner_pid"
LABEL_OWNER_START = "rempart.owner_start"
LABEL_OWNER_BOOT = "rempart.owner_boot"
LABEL_OWNER_PIDNS = "rempart.owner_pidns"


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


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' when it does not exist)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return ""
    fields = raw.rsplit(b")", 1)[-1].split()
    return fields[19].decode() if len(fields) > 19 else ""


@functools.cache
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def owner_labels() -> dict[str, str]:
    """The labels that name this process as the owner."""
    pid = os.getpid()
    return {
        LABEL_OWNER_PID: str(pid),
        LABEL_OWNER_START: start_time(pid),
        LABEL_OWNER_BOOT: boot_id(),
        LABEL_OWNER_PIDNS: pid_namespace(),
    }


def owner_gone(labels: dict[str, str]) -> bool:
    """Is the owner named by these labels provably dead?"""
    try:
        pid = int(labels.get(LABEL_OWNER_PID, "") or 0)
    except ValueError:
        return False
    if pid <= 0:
        return False
    boot = labels.get(LABEL_OWNER_BOOT, "")
    if boot and boot_id() and boot != boot_id():
        return True
    pidns = labels.get(LABEL_OWNER_PIDNS, "")
    if pidns and pidns != pid_namespace():
        return False
    started = labels.get(LABEL_OWNER_START, "")
    if not pid_alive(pid):
        return True
    return bool(started) and start_time(pid) not in ("", started)
