"""The sandbox's main process: the container lives only while its owner is attached.

Rempart talks to the sandbox through processes it starts with `docker exec` (the executor,
the view's `tar`, MCP servers, `sandbox shell`). Inside the container those have parent
pid 0; nothing the sandbox user starts can have it (its parent is inside the container,
or PID 1 after a re-parenting). When the owning Rempart process dies, the engine closes
the exec streams, the executor kills what it ran and exits, and no exec'd process is left:
this keeper then exits, docker-init (PID 1) follows, and the kernel kills everything left
in the container. It also exits when no owner attaches within `--startup` seconds and,
whatever happens, after `--lifetime` seconds.

With `--forward-socket`, it also runs the egress forwarder (`forwarder.py`), which holds
a lease on the proxy: the proxy exits when the last lease closes. Runs as `nobody`, so
the sandbox user cannot signal it. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

POLL_S = 0.25
# The executor leaves this mark when it starts: an owner that attached and left before the
# keeper's first look (a slow start under load) still counts as having attached.
OWNER_MARK = "/tmp/.rempart-owner"
# The owner may re-attach (a new executor) within this time; longer than the host waits
# for a dying container (2 s), so that a dead executor is told apart from a killed container.
GRACE_S = 5.0
STARTUP_S = 120.0
# The container's exit code says why it ended (docker-init passes it on).
EXIT_DETACHED = 3
EXIT_LIFETIME = 4
EXIT_NO_OWNER = 5


def attached(me: int) -> list[str]:
    """The processes of the container exec'd from outside (parent pid 0, not PID 1)."""
    found: list[str] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        name, _, rest = raw.partition(b" (")[2].rpartition(b")")
        fields = rest.split()
        if len(fields) > 1 and fields[0] not in (b"Z", b"X") and fields[1] == b"0":
            found.append(f"{entry} {name.decode(errors='replace')} {fields[0].decode()}")
    return found


def say(text: str) -> None:
    print(f"rempart keeper: {text}", file=sys.stderr, flush=True)


def watch(lifetime_s: float, startup_s: float, grace_s: float) -> tuple[int, str]:
    """Block until the container should end; returns the exit code and why."""
    me = os.getpid()
    say(f"watching (pid {me}; lifetime {lifetime_s:g} s, startup {startup_s:g} s)")
    started = time.monotonic()
    seen = False
    absent_since: float | None = None
    last: list[str] = []
    while True:
        now = time.monotonic()
        if now - started > lifetime_s:
            return EXIT_LIFETIME, f"lifetime of {lifetime_s:g} s reached"
        owners = attached(me)
        if owners != last:
            say("owner processes: " + (", ".join(owners) or "none"))
            last = owners
        seen = seen or bool(owners) or os.path.exists(OWNER_MARK)
        if owners:
            absent_since = None
        elif seen:
            absent_since = absent_since or now
            if now - absent_since >= grace_s:
                return EXIT_DETACHED, "owner detached (no exec'd process left)"
        elif now - started > startup_s:
            return EXIT_NO_OWNER, f"no owner attached within {startup_s:g} s"
        time.sleep(POLL_S)


def _forward(listen: str, sock: str) -> None:
    # imported here, in its thread: the watch starts at once, not after asyncio's import
    import asyncio

    if TYPE_CHECKING:  # on the host (mypy); in the container it sits in /opt/rempart
        from sandbox.image import forwarder
    else:
        import forwarder

    asyncio.run(forwarder.serve(listen, sock, lease=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=86400.0)
    parser.add_argument("--startup", type=float, default=STARTUP_S)
    parser.add_argument("--grace", type=float, default=GRACE_S)
    parser.add_argument("--forward-listen", default="127.0.0.1:3128")
    parser.add_argument("--forward-socket", default="")
    args = parser.parse_args(argv)
    if args.forward_socket:
        threading.Thread(
            target=_forward, args=(args.forward_listen, args.forward_socket), daemon=True
        ).start()
    code, why = watch(args.lifetime, args.startup, args.grace)
    say(f"stopping the sandbox: {why}")
    return code


if __name__ == "__main__":
    sys.exit(main())
