"""Writes judged on the way out: the sandbox's change set, path by path, onto the host.

After every command and file write, the sandbox reports what changed in its copy of the
workspace (final paths: a rename is a deletion and a creation, a write through a symlink is
a change of the file it reaches). Each changed path is judged like a file tool's write,
plus rules no policy can relax (git must not be made to run programs on the host, policy
files stay as they are). What is allowed is applied to the real workspace atomically
(temporary file + rename, never through a symlink, owned by the workspace's owner); what
is refused is put back in the sandbox and reported. A path the host changed since it was
shown is never overwritten (a conflict, reported).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat as stat_mod
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from sandbox.errors import SandboxError
from sandbox.gitstores import in_planted, planted, refusal_in_store, store_of
from sandbox.spec import PROTECTED_PATHS
from sandbox.view import HARD_CAP, WALK_CAP, View, open_parent, read_nofollow

ChangeKind = Literal["created", "modified", "deleted"]
BLOCK = 4096  # what a folder or symlink costs the host's disk, at least


class Change(BaseModel):
    """One path that differs from what the host was told, as the sandbox reports it."""

    path: str
    change: ChangeKind
    kind: str = ""  # file | dir | symlink | other (absent for a deletion)
    mode: int = 0
    size: int = 0
    target: str = ""


class Verdict(BaseModel):
    allowed: bool
    reason: str = ""
    rule: str | None = None


class Outcome(BaseModel):
    """What happened to one change."""

    path: str
    change: ChangeKind
    kind: str = ""
    applied: bool
    reason: str = ""
    rule: str | None = None


class ChangeReport(BaseModel):
    outcomes: list[Outcome] = []

    @property
    def applied(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.applied]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.applied]

    def summary(self) -> str:
        """One line per refused change, for the model and the person."""
        return "\n".join(f"[write refused: {o.change} {o.path}: {o.reason}]" for o in self.refused)


Judge = Callable[[Change], Verdict]
# Called with the changes about to be applied, before the host is touched (checkpoints);
# raising NotRecorded refuses them all.
Recorder = Callable[[list[Change]], None]


class NotRecorded(SandboxError):
    """A change set could not be recorded: it is not applied."""


def builtin_refusal(change: Change, view: View) -> str:
    """Why no policy may allow this change ('' when the policy decides)."""
    parts = change.path.split("/")
    if parts[0] in PROTECTED_PATHS:
        return "policy files are never written from the sandbox"
    deleted = change.change == "deleted"
    store = store_of(change.path, view.git_dirs)
    if store is not None:
        return refusal_in_store(change.path, store, change.kind, deleted)
    if ".git" in parts:
        return (
            "creates or changes a git repository the sandbox was not shown "
            "(git would run its programs on the host)"
        )
    return ""


def canonical(path: str) -> bool:
    """A plain relative path: no empty, `.` or `..` part, no NUL, not absolute."""
    parts = path.split("/")
    return bool(path) and "\x00" not in path and all(p not in ("", ".", "..") for p in parts)


def syncfs(path: Path) -> None:
    """Flush the filesystem holding `path` (one call for a whole change set)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL(None, use_errno=True)


def _owner(root: Path) -> tuple[int, int] | None:
    """Whom new files belong to: the workspace's owner (we can only chown as root)."""
    if os.geteuid() != 0:
        return None
    st = os.stat(root)
    return st.st_uid, st.st_gid


class Applier:
    """Applies allowed changes to the host workspace; plans reverts for the rest."""

    def __init__(self, view: View, read_sandbox: Callable[[str], bytes]) -> None:
        self.view = view
        self.root = view.root
        self.read_sandbox = read_sandbox
        self.owner = _owner(self.root)
        self._content: dict[str, bytes] = {}
        self._dirs: dict[str, int] = {}  # folder -> fd, reached without following symlinks
        # (parent folder, temporary name, final name, change): renamed in place by commit()
        self._staged: list[tuple[str, str, str, Change]] = []

    def content(self, path: str) -> bytes:
        """The sandbox's bytes of a changed file (read once)."""
        data = self._content.get(path)
        if data is None:
            data = self._content[path] = self.read_sandbox(path)
        return data

    def close(self) -> None:
        """Release the folder fds; a staged file never renamed in place is removed."""
        for path, tmp, _name, _change in self._staged:
            parent = self._dirs.get(path.rsplit("/", 1)[0] if "/" in path else "")
            if parent is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
        self._staged.clear()
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()

    def _parent(self, rel: str, create: bool) -> int | None:
        """The fd of `rel`'s folder (cached for this sync); None when a part of the way is
        missing (and not `create`), a symlink, or not a folder."""
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        cached = self._dirs.get(folder)
        if cached is not None:
            return cached
        fd = open_parent(self.root, rel, create=create)
        if fd is not None:
            self._dirs[folder] = fd
        return fd

    def _forget(self, rel: str) -> None:
        """A folder was removed: its fd (and those below it) must not be used again."""
        for key in [k for k in self._dirs if k == rel or k.startswith(rel + "/")]:
            os.close(self._dirs.pop(key))

    def conflict(self, change: Change) -> str:
        """Why the host copy must not be touched ('' when it may)."""
        try:
            st = os.lstat(self.root / change.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            return f"cannot read the host copy: {exc.strerror}"
        known = self.view.host.get(change.path)
        if st is None:
            return "" if known is None or change.change == "deleted" else (
                "removed on the host since the sandbox was shown it")  # fmt: skip
        if known is None:
            if stat_mod.S_ISDIR(st.st_mode) and change.kind == "dir":
                return ""
            return "exists on the host but was not shown to the sandbox"
        if stat_mod.S_ISDIR(st.st_mode):
            return ""
        size = st.st_size if stat_mod.S_ISREG(st.st_mode) else 0
        if (size, st.st_mtime_ns, st.st_ino) != known:
            return "changed on the host since the sandbox was shown it"
        return ""

    def budget(self, change: Change) -> str:
        """Why the host may not take this much ('' when it may): the workspace grows by at
        most `limits.disk` in a session, and never past the number of entries a sandbox can
        be started on (a later session must still be able to start)."""
        try:
            old = os.lstat(self.root / change.path).st_size if change.kind == "file" else 0
        except OSError:
            old = 0
        size = change.size if change.kind == "file" else BLOCK + len(change.target)
        growth = (size - old) if change.change != "deleted" else 0
        if self.view.disk_limit and self.view.grown + growth > self.view.disk_limit:
            return (
                f"the workspace would grow past limits.disk ({self.view.disk_limit} bytes) "
                "in this session"
            )
        if change.change == "created" and (
            self.view.entries >= WALK_CAP - 1000 or self.view.every >= HARD_CAP - 1000
        ):
            return f"the workspace would have more than {WALK_CAP - 1000} entries"
        self.view.grown += max(growth, 0)
        if change.change == "created":
            self.view.entries += 1
            self.view.every += 1
        return ""

    def apply(self, change: Change) -> str:
        """Make the host path match the sandbox ('' on success, else why not). Files and
        symlinks are staged beside their final name; `commit` puts them in place."""
        parent = self._parent(change.path, create=change.change != "deleted")
        if parent is None:
            if change.change == "deleted":
                self.view.host.pop(change.path, None)
                return ""
            return "a folder on the way is a symlink or not a folder on the host"
        name = change.path.rsplit("/", 1)[-1]
        tmp = f".{name[:200]}.rempart-{os.getpid()}.tmp"
        try:
            if change.change == "deleted":
                self._delete(parent, name, change.path)
            elif change.kind == "dir":
                self._mkdir(parent, name, change.mode)
            elif change.kind in ("symlink", "file"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=parent)
                if change.kind == "symlink":
                    os.symlink(change.target, tmp, dir_fd=parent)
                else:
                    data = self.content(change.path)
                    if len(data) != change.size:  # changed after the listing was judged
                        return (
                            f"changed in the sandbox while it was copied out ({change.size} "
                            f"bytes judged, {len(data)} read): not applied, retry"
                        )
                    self._write(parent, tmp, data, change)
                self._chown(parent, tmp)
                self._staged.append((change.path, tmp, name, change))
                return ""
            else:
                return "only files, folders and symlinks are copied out"
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            return f"host write failed: {exc.strerror or exc}"
        self._record(change)
        return ""

    def commit(self) -> dict[str, str]:
        """Flush every staged file to disk once (syncfs), then rename each over its final
        name: a crash leaves the old file or the new one, never half of one. Returns the
        paths that could not be put in place, with why."""
        failed: dict[str, str] = {}
        if not self._staged:
            return failed
        syncfs(self.root)
        for path, tmp, name, change in self._staged:
            parent = self._dirs[path.rsplit("/", 1)[0] if "/" in path else ""]
            try:
                with contextlib.suppress(FileNotFoundError):
                    if stat_mod.S_ISDIR(os.lstat(name, dir_fd=parent).st_mode):
                        os.rmdir(name, dir_fd=parent)
                os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
                failed[path] = f"host write failed: {exc.strerror or exc}"
                continue
            self._record(change)
        self._staged.clear()
        syncfs(self.root)
        return failed

    def _record(self, change: Change) -> None:
        if change.change == "deleted":
            below = change.path + "/"
            for key in [k for k in self.view.host if k == change.path or k.startswith(below)]:
                del self.view.host[key]
            return
        st = os.lstat(self.root / change.path)
        size = st.st_size if stat_mod.S_ISREG(st.st_mode) else 0
        mtime = 0 if stat_mod.S_ISDIR(st.st_mode) else st.st_mtime_ns
        self.view.host[change.path] = (size, mtime, st.st_ino)

    def _delete(self, parent: int, name: str, rel: str) -> None:
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return
        if stat_mod.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=parent)  # never recursive: a hidden file may be inside
            self._forget(rel)
        else:
            os.unlink(name, dir_fd=parent)

    def _mkdir(self, parent: int, name: str, mode: int) -> None:
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(name, mode & 0o755 or 0o755, dir_fd=parent)
            self._chown(parent, name)
            return
        if not stat_mod.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=parent)
            os.mkdir(name, mode & 0o755 or 0o755, dir_fd=parent)
            self._chown(parent, name)

    def _write(self, parent: int, tmp: str, data: bytes, change: Change) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(tmp, flags, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), self._mode(parent, change))

    def _mode(self, parent: int, change: Change) -> int:
        """A new file keeps the sandbox's mode; a changed one the host's, with its x bits
        following the sandbox (`chmod +x` is a change the agent can make)."""
        name = change.path.rsplit("/", 1)[-1]
        try:
            host = stat_mod.S_IMODE(os.lstat(name, dir_fd=parent).st_mode)
        except OSError:
            return (change.mode & 0o755) or 0o644  # never group/world-writable, no setuid
        return (host & ~0o111) | (change.mode & 0o111)

    def _chown(self, parent: int, name: str) -> None:
        if self.owner is not None:
            os.chown(name, *self.owner, dir_fd=parent, follow_symlinks=False)

    def revert_op(self, change: Change) -> dict[str, object]:
        """The operation that puts the sandbox's copy of this path back as it was shown."""
        rel = change.path
        if rel not in self.view.host:
            return {"op": "remove", "path": rel}
        host = self.root / rel
        try:
            st = os.lstat(host)
        except OSError:
            return {"op": "remove", "path": rel}
        if stat_mod.S_ISDIR(st.st_mode):
            return {"op": "dir", "path": rel, "mode": stat_mod.S_IMODE(st.st_mode) | 0o700}
        if stat_mod.S_ISLNK(st.st_mode):
            return {"op": "symlink", "path": rel, "target": os.readlink(host)}
        data = read_nofollow(self.root, rel)
        if data is None:
            return {"op": "remove", "path": rel}
        import base64

        return {
            "op": "file",
            "path": rel,
            "mode": stat_mod.S_IMODE(st.st_mode) | 0o600,
            "content_b64": base64.b64encode(data).decode(),
        }


def settle(
    changes: list[Change],
    view: View,
    judge: Judge,
    applier: Applier,
    record: Recorder | None = None,
) -> tuple[ChangeReport, list[dict[str, object]]]:
    """Judge every change; record the ones that pass (`record`), then apply them. Returns
    the report and the reverts for the sandbox."""
    report = ChangeReport()
    refused_dirs: list[str] = []

    # deletions deepest first (a folder after its contents), then creations parents first
    def order(c: Change) -> tuple[bool, int, str]:
        depth = c.path.count("/")
        return (c.change != "deleted", -depth if c.change == "deleted" else depth, c.path)

    ordered = sorted(changes, key=order)
    for change in ordered:  # links as the sandbox has them now name their targets now
        if not canonical(change.path):
            continue
        if change.change == "deleted" or change.kind != "symlink":
            view.set_link(change.path, None)
        if change.kind == "symlink" and change.change != "deleted":
            view.set_link(change.path, change.target)
    view.refresh_aliases()
    new_stores = planted(
        [(c.path, c.change == "deleted") for c in changes if canonical(c.path)],
        view.git_dirs,
        lambda path: os.path.lexists(view.root / path),
    )
    try:
        passing: list[tuple[Change, Outcome]] = []
        for change in ordered:
            reason, rule = _refusal(change, view, judge, refused_dirs)
            store = in_planted(change.path, new_stores) if not reason else None
            if store is not None and change.change != "deleted":
                reason, rule = (
                    f"makes {store or 'the workspace root'} a git repository the sandbox was "
                    "not shown (git would run its programs on the host)",
                    "builtin",
                )
            reason = reason or applier.conflict(change) or applier.budget(change)
            if reason and change.kind == "dir" and change.change != "deleted":
                refused_dirs.append(change.path)
            outcome = Outcome(
                path=change.path, change=change.change, kind=change.kind,
                applied=not reason, reason=reason, rule=rule,
            )  # fmt: skip
            report.outcomes.append(outcome)
            if not reason:
                passing.append((change, outcome))
        if record is not None and passing:
            try:
                record([change for change, _ in passing])
            except NotRecorded as exc:
                for _, outcome in passing:
                    outcome.applied, outcome.reason = False, exc.message
                passing = []
        failed_dirs: list[str] = []
        for change, outcome in passing:
            if any(change.path.startswith(d + "/") for d in failed_dirs):
                outcome.applied, outcome.reason = False, "its folder could not be created"
                continue
            reason = applier.apply(change)
            if reason:
                outcome.applied, outcome.reason = False, reason
                if change.kind == "dir" and change.change != "deleted":
                    failed_dirs.append(change.path)
        failed = applier.commit()
    finally:
        applier.close()
    by_path = {c.path: c for c in changes}
    reverts: list[dict[str, object]] = []
    for outcome in report.outcomes:
        if outcome.path in failed:
            outcome.applied, outcome.reason = False, failed[outcome.path]
        if not outcome.applied:
            reverts.append(applier.revert_op(by_path[outcome.path]))
    return report, reverts


def _refusal(
    change: Change, view: View, judge: Judge, refused_dirs: list[str]
) -> tuple[str, str | None]:
    try:
        change.path.encode("utf-8")
    except UnicodeEncodeError:
        return "file names must be UTF-8", None
    if not canonical(change.path):
        return "not a plain workspace path", "builtin"
    if any(change.path.startswith(d + "/") for d in refused_dirs):
        return "its folder was refused", None
    if change.change != "deleted" and change.kind not in ("file", "dir", "symlink"):
        # a FIFO or socket a command made: never read (an open of a FIFO waits for a writer)
        return "only files, folders and symlinks are copied out", "builtin"
    # judged under every name it has: `realgit/hooks/x` is also `.git/hooks/x` when `.git`
    # is a symlink to `realgit`
    names = sorted(view.names(change.path), key=lambda n: (n != change.path, n))
    rule: str | None = None
    for name in names:
        named = change if name == change.path else change.model_copy(update={"path": name})
        builtin = builtin_refusal(named, view)
        if builtin:
            return _as(name, change, builtin), "builtin"
        verdict = judge(named)
        if not verdict.allowed:
            return _as(name, change, verdict.reason or "denied by the policy"), verdict.rule
        rule = rule or verdict.rule
    return "", rule


def _as(name: str, change: Change, reason: str) -> str:
    return reason if name == change.path else f"as {name}: {reason}"
