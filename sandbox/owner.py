"""Whose is a container: the owning process, named so that its death can be proved.

Every container, volume and network Rempart creates carries the owner's machine id, pid,
the pid's start time (a reused pid has another one), the boot id and the pid namespace. A
resource is an orphan only when its owner is *provably* gone: same machine, boot and pid
namespace as this process, and no process with that pid and start time; or the same
machine's other boot (the owner cannot have survived a reboot). Resources of another
machine (sharing an engine, or on one of several engines) or another pid namespace (a
containerised Rempart) are never judged from here.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

LABEL_OWNER_PID = "rempart.owner_pid"
LABEL_OWNER_START = "rempart.owner_start"
LABEL_OWNER_BOOT = "rempart.owner_boot"
LABEL_OWNER_PIDNS = "rempart.owner_pidns"
# the machine (systemd's machine id, else the host name): with several engines, or one
# engine shared by several hosts, another host's boot id differs from ours while its pid
# namespace can read the same (the initial one), so the boot alone would call its live
# sessions orphans
LABEL_OWNER_MACHINE = "rempart.owner_machine"


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


@functools.cache
def machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return socket.gethostname()


def owner_labels() -> dict[str, str]:
    """The labels that name this process as the owner."""
    pid = os.getpid()
    return {
        LABEL_OWNER_MACHINE: machine_id(),
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
    machine = labels.get(LABEL_OWNER_MACHINE, "")
    if machine and machine != machine_id():
        return False  # another host's: nothing about its processes can be proved from here
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
