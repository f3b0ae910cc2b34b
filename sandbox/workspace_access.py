"""Write access for the sandbox's non-root user to a root-owned workspace.

The sandbox runs as the workspace owner when that owner is not root. When it is root (CI
jobs, root shells), the sandbox still runs as uid 1000, never as root, and gets access
through POSIX ACLs: `u:1000:rwX` on the workspace (plus a default ACL, so new files stay
accessible), and none on the paths the policy masks. Needs `setfacl` (Debian's `acl`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sandbox.errors import WorkspaceError

ACL_TIMEOUT_S = 120.0


def grant(workspace: Path, uid: int, masked: tuple[str, ...]) -> None:
    setfacl = shutil.which("setfacl")
    if setfacl is None:
        raise WorkspaceError(
            f"{workspace} is owned by root and the sandbox's user (uid {uid}) cannot write it",
            hint="install `setfacl` (apt-get install acl), or run Rempart as the workspace's owner",
        )
    entry = f"u:{uid}:rwX"
    _run([setfacl, "-R", "-P", "-m", entry, "-m", f"d:{entry}", str(workspace)], workspace)
    existing = [str(workspace / rel) for rel in masked if (workspace / rel).exists()]
    if existing:
        _run([setfacl, "-R", "-P", "-x", f"u:{uid}", "-x", f"d:u:{uid}", *existing], workspace)


def _run(cmd: list[str], workspace: Path) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=ACL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise WorkspaceError(
            f"could not give the sandbox access to {workspace}: {done.stderr.strip()[:300]}",
            hint="the file system must support POSIX ACLs, or run Rempart as the workspace's owner",
        )
