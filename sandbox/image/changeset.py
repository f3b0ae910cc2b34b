"""The sandbox's change layer, in-container side: what changed in /workspace since the last
sync, and the reverts the host asks for. Standard library only.

/workspace is the sandbox's own copy of the readable part of the project (a tmpfs sized by
`limits.disk`). The host never trusts this side to judge anything: it asks `changes`, judges
every path with the policy, applies what is allowed to the real workspace and sends back
`revert` operations for the rest. A change is detected by type, mode, size, inode, mtime
and ctime (ctime cannot be set back by an unprivileged process), symlinks by their target.
"""

from __future__ import annotations

import base64
import os
import stat as stat_mod
from typing import Any

WORKSPACE = "/workspace"
WALK_CAP = 500_000
READ_MANY_CAP = 8 * 1024 * 1024
Json = dict[str, Any]
Entry = tuple[str, int, int, int, int, int, str]  # kind, mode, size, ino, mtime, ctime, target


def _entry(st: os.stat_result, full: str) -> Entry | None:
    mode = st.st_mode
    if stat_mod.S_ISREG(mode):
        kind, target = "file", ""
    elif stat_mod.S_ISDIR(mode):
        kind, target = "dir", ""
    elif stat_mod.S_ISLNK(mode):
        kind, target = "symlink", os.readlink(full)
    else:
        kind, target = "other", ""
    size = st.st_size if kind == "file" else 0
    mtime = st.st_mtime_ns if kind != "dir" else 0
    ctime = st.st_ctime_ns if kind != "dir" else 0
    return (kind, stat_mod.S_IMODE(mode), size, st.st_ino, mtime, ctime, target)


def manifest() -> dict[str, Entry]:
    """Every entry under /workspace (relative path -> Entry); symlinks are not followed."""
    out: dict[str, Entry] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = os.path.join(WORKSPACE, rel) if rel else WORKSPACE
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for item in entries:
            path = f"{rel}/{item.name}" if rel else item.name
            try:
                st = item.stat(follow_symlinks=False)
                found = _entry(st, item.path)
            except OSError:
                continue
            if found is None:
                continue
            out[path] = found
            if len(out) > WALK_CAP:
                raise OSError(f"more than {WALK_CAP} entries in /workspace")
            if found[0] == "dir":
                stack.append(path)
    return out


def _describe(path: str, change: str, entry: Entry | None) -> Json:
    item: Json = {"path": path, "change": change}
    if entry is not None:
        kind, mode, size, _ino, _mtime, _ctime, target = entry
        item.update(kind=kind, mode=mode, size=size)
        if kind == "symlink":
            item["target"] = target
    return item


class ChangeLayer:
    """The baseline (what the host has been told about) and the diff against it."""

    def __init__(self) -> None:
        self.baseline: dict[str, Entry] = {}

    def snapshot(self, _req: Json) -> Json:
        self.baseline = manifest()
        return {"entries": len(self.baseline)}

    def changes(self, _req: Json) -> Json:
        """Created, modified and deleted paths since the last sync; the baseline moves on."""
        now = manifest()
        out: list[Json] = []
        for path, entry in now.items():
            old = self.baseline.get(path)
            if old is None:
                out.append(_describe(path, "created", entry))
            elif old[0] != entry[0] or (entry[0] != "dir" and old != entry) or old[1] != entry[1]:
                out.append(_describe(path, "modified", entry))
        for path in self.baseline:
            if path not in now:
                out.append(_describe(path, "deleted", None))
        out.sort(key=lambda c: c["path"])
        self.baseline = now
        return {"changes": out, "entries": len(now)}

    def read_many(self, req: Json) -> Json:
        """Contents of several plain files at once (up to `cap`, at most `READ_MANY_CAP`,
        bytes in all; the rest is left for `read`): a change set of many small files in one
        round trip."""
        paths = req.get("paths")
        if not isinstance(paths, list):
            raise ValueError("read_many needs paths (a list)")
        cap = min(int(req.get("cap", READ_MANY_CAP)), READ_MANY_CAP)
        files: Json = {}
        total = 0
        for path in paths:
            full = os.path.join(WORKSPACE, str(path))
            if ".." in str(path).split("/"):
                continue
            try:
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if not stat_mod.S_ISREG(os.fstat(fh.fileno()).st_mode) or (total + size > cap):
                    continue
                data = fh.read()
            total += len(data)
            files[str(path)] = base64.b64encode(data).decode()
        return {"files": files}

    def revert(self, req: Json) -> Json:
        """Apply the host's undo operations; the baseline records the result."""
        ops = req.get("ops")
        if not isinstance(ops, list):
            raise ValueError("revert needs ops (a list)")
        failed: list[Json] = []
        for op in ops:
            path = str(op.get("path", ""))
            full = os.path.join(WORKSPACE, path)
            if not path or path.startswith("/") or ".." in path.split("/"):
                failed.append({"path": path, "error": "bad path"})
                continue
            try:
                _undo(op, full)
            except OSError as exc:
                failed.append({"path": path, "error": str(exc)})
            self._refresh(path, full)
        return {"reverted": len(ops) - len(failed), "failed": failed}

    def _refresh(self, path: str, full: str) -> None:
        try:
            entry = _entry(os.lstat(full), full)
        except OSError:
            entry = None
        for key in [k for k in self.baseline if k == path or k.startswith(path + "/")]:
            del self.baseline[key]
        if entry is not None:
            self.baseline[path] = entry
            if entry[0] == "dir":
                for sub, sub_entry in _walk_under(path).items():
                    self.baseline[sub] = sub_entry


def _walk_under(rel: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for root, dirs, files in os.walk(os.path.join(WORKSPACE, rel)):
        for name in dirs + files:
            full = os.path.join(root, name)
            try:
                entry = _entry(os.lstat(full), full)
            except OSError:
                continue
            if entry is not None:
                out[os.path.relpath(full, WORKSPACE)] = entry
    return out


def _remove(full: str) -> None:
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return
    if stat_mod.S_ISDIR(st.st_mode):
        for name in os.listdir(full):
            _remove(os.path.join(full, name))
        os.rmdir(full)
    else:
        os.unlink(full)


def _parents(full: str) -> None:
    parent = os.path.dirname(full)
    probe = parent
    while probe != WORKSPACE and not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if os.path.islink(probe) or (os.path.lexists(probe) and not os.path.isdir(probe)):
        _remove(probe)
    os.makedirs(parent, exist_ok=True)


def _undo(op: Json, full: str) -> None:
    """Put one path back: `remove`, or restore a `file`/`dir`/`symlink` as the host has it."""
    action = op.get("op")
    if action == "remove":
        _remove(full)
        return
    mode = int(op.get("mode", 0o644)) & 0o7777
    if action == "dir":
        if os.path.lexists(full) and not (os.path.isdir(full) and not os.path.islink(full)):
            _remove(full)
        _parents(full)
        os.makedirs(full, exist_ok=True)
        os.chmod(full, mode)
        return
    _remove(full)
    _parents(full)
    if action == "symlink":
        os.symlink(str(op.get("target", "")), full)
    elif action == "file":
        data = base64.b64decode(str(op.get("content_b64", "")))
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), mode)
    else:
        raise ValueError(f"unknown revert op: {action!r}")
