"""A shadow git repository per workspace, in Rempart's data dir: where checkpoints live.

It is a bare repository (`GIT_DIR` under the data dir), written with `git fast-import` and
read with `git cat-file`: no work tree, no index of the workspace, so the user's `.git`,
index and branches are never touched. Git runs with no system or global configuration,
no hooks, and a fixed identity.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from sandbox.errors import SandboxError

GIT_TIMEOUT_S = 120.0
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
IDENTITY = "Rempart checkpoints <rempart@localhost>"


class ShadowError(SandboxError):
    """The shadow repository could not be read or written."""


def repo_for(root: Path, workspace: Path) -> Path:
    """The shadow repository of `workspace` under `root` (one per workspace path)."""
    real = os.path.realpath(workspace)
    return root / f"{hashlib.sha256(real.encode()).hexdigest()[:16]}.git"


def quote_path(path: str) -> str:
    """A path as fast-import reads it (C-style quoted when it must be)."""
    if not any(c in path for c in '"\\\n') and not path.startswith('"'):
        return path
    out = []
    for char in path:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif ord(char) < 32:
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class ShadowRepo:
    def __init__(self, git_dir: Path, workspace: Path) -> None:
        self.git_dir = git_dir
        self.workspace = workspace

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_DIR": str(self.git_dir),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "HOME": "/nonexistent",
            "LC_ALL": "C",
        }

    def git(self, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
        cmd = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", *args]
        try:
            done = subprocess.run(
                cmd,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
                env=self._env(),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ShadowError(f"git {args[0]} failed in {self.git_dir}: {exc}") from exc
        if check and done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[:500]
            raise ShadowError(f"git {args[0]} failed in {self.git_dir}: {detail}")
        return done.stdout

    def ensure(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        try:
            self.git_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ShadowError(f"cannot create {self.git_dir.parent}: {exc.strerror}") from exc
        self.git("init", "--bare", "-q", str(self.git_dir))
        (self.git_dir / "rempart-workspace").write_text(str(self.workspace) + "\n")

    def resolve(self, ref: str) -> str | None:
        if not (self.git_dir / "HEAD").exists():
            return None
        out = self.git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
        return out.decode().strip() or None

    def import_stream(self, stream: bytes) -> None:
        """Run `git fast-import` on a prepared stream (commits, blobs, ref updates)."""
        self.git("fast-import", "--quiet", "--done", stdin=stream)

    def update_ref(self, ref: str, new: str | None, old: str) -> None:
        if new is None:
            self.git("update-ref", "-d", ref, old)
        else:
            self.git("update-ref", ref, new, old)

    def chain(self, ref: str) -> list[str]:
        """The commits of `ref`, oldest first."""
        if self.resolve(ref) is None:
            return []
        return self.git("rev-list", "--reverse", "--first-parent", ref).decode().split()

    def objects(self, names: list[str]) -> list[bytes | None]:
        """The content of each object name (`sha`, `rev:path`), None when missing."""
        if not names:
            return []
        if any("\n" in n for n in names):
            raise ShadowError("a checkpointed path holds a newline: it cannot be read back")
        out = self.git("cat-file", "--batch", stdin="".join(n + "\n" for n in names).encode())
        found: list[bytes | None] = []
        pos = 0
        for _ in names:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] == b"missing":
                found.append(None)
                continue
            size = int(header[2])
            found.append(out[pos : pos + size])
            pos += size + 1
        return found

    def diff(self, old: str, new: str) -> str:
        """The unified diff between two trees (`rev:path` or tree ids)."""
        out = self.git("diff", "--no-ext-diff", "--no-textconv", "--no-renames", old, new)
        return out.decode("utf-8", errors="replace")
