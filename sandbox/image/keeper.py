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

if TYPE_CHECKING:  # on the host (mypy); in the container both files sit in /opt/rempart
    from sandbox.image import forwarder
else:
    import forwarder

POLL_S = 0.25
# The owner may re-attach (a new executor) within this time; longer than the host waits
# for a dying container (2 s), so that a dead executor is told apart from a killed container.
GRACE_S = 5.0
STARTUP_S = 120.0
# The container's exit code says why it ended (docker-init passes it on).
EXIT_DETACHED = 3
EXIT_LIFETIME = 4
EXIT_NO_OWNER = 5


def attached(me: int) -> bool:
    """Is any process of the container exec'd from outside (parent pid 0, not PID 1)?"""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[0] != b"Z" and fields[1] == b"0":
            return True
    return False


def watch(lifetime_s: float, startup_s: float, grace_s: float) -> tuple[int, str]:
    """Block until the container should end; returns the exit code and why."""
    me = os.getpid()
    started = time.monotonic()
    seen = False
    absent_since: float | None = None
    while True:
        now = time.monotonic()
        if now - started > lifetime_s:
            return EXIT_LIFETIME, f"lifetime of {lifetime_s:g} s reached"
        if attached(me):
            seen, absent_since = True, None
        elif seen:
            absent_since = absent_since or now
            if now - absent_since >= grace_s:
                return EXIT_DETACHED, "owner detached (no exec'd process left)"
        elif now - started > startup_s:
            return EXIT_NO_OWNER, f"no owner attached within {startup_s:g} s"
        time.sleep(POLL_S)


def _forward(listen: str, sock: str) -> None:
    import asyncio

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
    print(f"rempart keeper: stopping the sandbox: {why}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
