"""The sandbox's read view: the part of the workspace that the policy lets be read under
every name it has, built on the host and copied into the sandbox's own filesystem.

A file is in the view only when every name that reaches it in the workspace is readable:
its own path, the names of its hard links, and the paths through symlinks that lead to it
or to one of its folders. A symlink is copied as a symlink (it can only reach what is in
the view). A `.git` folder is in the view only when its whole object store can be read: no
object of it is reachable through a read-denied path, and no object is unreachable (a
dropped stash or an amended commit may hold anything). Names that are not UTF-8, devices,
fifos and sockets are left out. Nothing of the host is mounted: the copy is the view.
"""

from __future__ import annotations

import os
import stat as stat_mod
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sandbox.errors import WorkspaceError
from sandbox.gitstores import SHOWN_ENTRIES, looks_like_store
from sandbox.links import aliases as link_aliases

WALK_CAP = 200_000
HARD_CAP = 1_000_000
ALIAS_DEPTH = 8
GIT_TIMEOUT_S = 120.0
PAGE = 4096
HostState = tuple[int, int, int]  # size, mtime_ns, inode: what the host had when shown


@dataclass
class Item:
    rel: str
    kind: str  # file | dir | symlink
    mode: int
    size: int = 0
    target: str = ""
    mtime: float = 0.0


@dataclass
class View:
    """What the sandbox was shown, and the host state each shown path had."""

    root: Path
    items: list[Item] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # read-denied under some name
    skipped: list[str] = field(default_factory=list)  # odd names and special files
    git_dirs: list[str] = field(default_factory=list)  # shown .git folders
    git_hidden: dict[str, str] = field(default_factory=dict)  # hidden .git -> why
    host: dict[str, HostState] = field(default_factory=dict)
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (real target, symlink)
    links: dict[str, str] = field(default_factory=dict)  # symlink -> target text, as now
    entries: int = 0  # readable entries the workspace has (the change layer keeps it capped)
    every: int = 0  # all its entries, read-denied folders included
    disk_limit: int = 0  # bytes the host workspace may grow by (`limits.disk`; 0: no cap)
    grown: int = 0  # bytes it grew by through applied changes

    def set_link(self, link: str, target: str | None) -> None:
        """A symlink the sandbox made, changed or removed (target None): names follow."""
        if target is None:
            for key in [k for k in self.links if k == link or k.startswith(link + "/")]:
                del self.links[key]
        else:
            self.links[link] = target

    def refresh_aliases(self) -> None:
        roots = ("/workspace", str(self.root), os.path.realpath(self.root))
        self.aliases = link_aliases(self.links, roots)

    def names(self, path: str) -> frozenset[str]:
        """Every name `path` has through the workspace's symlinks (itself included)."""
        return _Names(self.aliases).of(path)

    def pages(self) -> int:
        """Bytes the copy takes on a tmpfs (whole pages per file, one per folder)."""
        return sum(-(-max(item.size, 1) // PAGE) * PAGE for item in self.items)

    def write_tar(self, out: IO[bytes], uid: int, gid: int) -> None:
        """The view as a tar stream, owned by the sandbox user; content read without
        following symlinks, so a file swapped for a link after the walk is left out."""
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for item in self.items:
                info = tarfile.TarInfo(item.rel)
                info.uid, info.gid, info.mode, info.mtime = uid, gid, item.mode, item.mtime
                if item.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif item.kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, item.target
                    tar.addfile(info)
                else:
                    data = read_nofollow(self.root, item.rel)
                    if data is None:
                        continue
                    info.size = len(data)
                    tar.addfile(info, _Bytes(data))


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return chunk


def open_parent(root: Path, rel: str, create: bool = False) -> int | None:
    """An fd of `rel`'s parent folder reached without following any symlink (None if a
    part is missing, or is a symlink or not a folder). `create` makes missing folders."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in rel.split("/")[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                os.close(fd)
                return None
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_nofollow(root: Path, rel: str) -> bytes | None:
    """The bytes of workspace file `rel`, or None if it is not a plain file any more."""
    parent = open_parent(root, rel)
    if parent is None:
        return None
    try:
        fd = os.open(rel.rsplit("/", 1)[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        return None
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as fh:
        if not stat_mod.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read()


@dataclass
class _Walked:
    files: dict[str, os.stat_result] = field(default_factory=dict)
    dirs: dict[str, os.stat_result] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # symlink -> its target text
    skipped: list[str] = field(default_factory=list)
    count: int = 0  # entries counted against WALK_CAP
    every: int = 0  # entries counted against HARD_CAP


def _walk(root: Path, readable: Callable[[str], bool]) -> _Walked:
    """Every entry, without following symlinks. Entries below a read-denied folder are
    walked too (a hard link there hides its other names) but count only towards
    `HARD_CAP`, so denying a big folder is the way to work with it."""
    walked = _Walked()
    stack: list[tuple[str, bool]] = [("", False)]
    count = every = 0
    while stack:
        rel, denied = stack.pop()
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except OSError as exc:
            raise WorkspaceError(f"cannot read {root / rel}: {exc}") from exc
        for entry in entries:
            every += 1
            count += 0 if denied else 1
            if count > WALK_CAP or every > HARD_CAP:
                raise WorkspaceError(
                    f"workspace has more than {WALK_CAP} readable entries "
                    f"({HARD_CAP} in all); refusing to copy it",
                    hint="point --workspace at the project folder, or deny big folders for reads",
                )
            path = f"{rel}/{entry.name}" if rel else entry.name
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                walked.skipped.append(path.encode("utf-8", "backslashreplace").decode())
                continue
            st = entry.stat(follow_symlinks=False)
            if stat_mod.S_ISDIR(st.st_mode):
                walked.dirs[path] = st
                stack.append((path, denied or not readable(path)))
            elif stat_mod.S_ISREG(st.st_mode):
                walked.files[path] = st
            elif stat_mod.S_ISLNK(st.st_mode):
                walked.links[path] = os.readlink(entry.path)
            else:
                walked.skipped.append(path)
    walked.count, walked.every = count, every
    return walked


class _Names:
    """Every name a workspace path has: through symlinks to it or to a folder above it."""

    def __init__(self, aliases: list[tuple[str, str]]) -> None:
        self.aliases = aliases
        self._memo: dict[str, frozenset[str]] = {}

    def of(self, path: str, depth: int = 0) -> frozenset[str]:
        cached = self._memo.get(path)
        if cached is not None:
            return cached
        names = {path}
        if depth < ALIAS_DEPTH:
            for target, link in self.aliases:
                if target == "" or path == target or path.startswith(target + "/"):
                    rest = path if target == "" else path[len(target) :].lstrip("/")
                    for name in self.of(link, depth + 1):
                        names.add(f"{name}/{rest}" if rest else name)
        found = frozenset(names)
        self._memo[path] = found
        return found


def build_view(root: Path, readable: Callable[[str], bool]) -> View:
    """Walk `root` once and decide, name by name, what the sandbox may see."""
    root = root.resolve()
    walked = _walk(root, readable)
    view = View(
        root=root,
        skipped=list(walked.skipped),
        links=dict(walked.links),
        entries=walked.count,
        every=walked.every,
    )
    view.refresh_aliases()
    names = _Names(view.aliases)

    def shown(path: str) -> bool:
        return all(readable(name) for name in names.of(path))

    hidden_dirs: list[str] = []
    for rel in sorted(walked.dirs):
        if any(rel.startswith(h + "/") for h in hidden_dirs):
            continue
        if not shown(rel):
            hidden_dirs.append(rel)
            view.hidden.append(rel)
    stores = _git_stores(root, walked, names)
    for rel, why in _unsafe_git_dirs(root, stores, shown).items():
        hidden_dirs.append(rel)
        view.git_hidden[rel] = why
    for store in sorted(stores):
        if store in view.git_hidden or any(store.startswith(h + "/") for h in hidden_dirs):
            continue
        if not shown(store):
            continue
        view.git_dirs.append(store)
        for entry in _top_entries(walked, store):
            if entry.rsplit("/", 1)[-1] not in SHOWN_ENTRIES:
                hidden_dirs.append(entry)
                view.hidden.append(entry)

    def under_hidden(rel: str) -> bool:
        return any(rel == h or rel.startswith(h + "/") for h in hidden_dirs)

    inodes: dict[tuple[int, int], list[str]] = {}
    for rel, st in walked.files.items():
        if st.st_nlink > 1:
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    for rel in sorted(walked.dirs):
        if not under_hidden(rel):
            st = walked.dirs[rel]
            mode = stat_mod.S_IMODE(st.st_mode) | 0o700
            view.items.append(Item(rel, "dir", mode, mtime=st.st_mtime))
            view.host[rel] = (0, 0, st.st_ino)
    for rel in sorted(walked.files):
        st = walked.files[rel]
        siblings = inodes.get((st.st_dev, st.st_ino), [rel])
        if under_hidden(rel) or not all(shown(s) and not under_hidden(s) for s in siblings):
            if not under_hidden(rel):
                view.hidden.append(rel)
            continue
        mode = stat_mod.S_IMODE(st.st_mode) | 0o600
        view.items.append(Item(rel, "file", mode, st.st_size, mtime=st.st_mtime))
        view.host[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
    for rel in sorted(walked.links):
        if under_hidden(rel) or not shown(rel):
            if not under_hidden(rel):
                view.hidden.append(rel)
            continue
        st = os.lstat(root / rel)
        view.items.append(Item(rel, "symlink", 0o777, target=walked.links[rel], mtime=st.st_mtime))
        view.host[rel] = (0, st.st_mtime_ns, st.st_ino)
    view.items.sort(key=lambda item: (item.rel.count("/"), item.rel))
    view.hidden.sort()
    return view


def _top_entries(walked: _Walked, store: str) -> list[str]:
    prefix = store + "/"
    every = [*walked.dirs, *walked.files, *walked.links]
    return [p for p in every if p.startswith(prefix) and "/" not in p[len(prefix) :]]


def _git_stores(root: Path, walked: _Walked, names: _Names) -> dict[str, tuple[str, ...]]:
    """Every folder git may use as a repository -> the worktree prefixes its history's paths
    may be read under: a `.git` folder (directly or through a symlink: its parent), a folder
    a `.git` file points to (`gitdir: ...`: that file's folder), and any other folder that
    looks like one (`HEAD` and `objects/`, `refs/` or `commondir`: a bare mirror, a
    submodule or worktree store; its worktree is unknown, so both the workspace root and
    the store's own folder are tried)."""
    stores: dict[str, tuple[str, ...]] = {}
    for rel in walked.dirs:
        for name in names.of(rel):
            if name.rsplit("/", 1)[-1] == ".git":
                stores.setdefault(rel, (name[: -len(".git")],))
    real_root = os.path.realpath(root)
    for rel, st in walked.files.items():
        if rel.rsplit("/", 1)[-1] != ".git" or st.st_size > 4096:
            continue
        text = (read_nofollow(root, rel) or b"").decode("utf-8", "replace").strip()
        if text.startswith("gitdir:"):
            target = os.path.realpath(os.path.join(root, os.path.dirname(rel), text[7:].strip()))
            if target.startswith(real_root + os.sep):
                stores.setdefault(os.path.relpath(target, real_root), (rel[: -len(".git")],))
    for rel in walked.dirs:

        def has(name: str, rel: str = rel) -> bool:
            path = f"{rel}/{name}"
            if name in ("objects", "refs"):
                return path in walked.dirs
            return path in walked.files or path in walked.links

        if rel not in stores and looks_like_store(has):
            parent = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
            stores[rel] = ("", parent) if parent else ("",)
    return stores


def _unsafe_git_dirs(
    root: Path, stores: dict[str, tuple[str, ...]], shown: Callable[[str], bool]
) -> dict[str, str]:
    """The git stores whose objects could show a read-denied path's content."""
    unsafe: dict[str, str] = {}
    for rel, prefixes in sorted(stores.items()):
        if not shown(rel) or any(rel.startswith(u + "/") for u in unsafe):
            continue

        def in_history(path: str, pre: tuple[str, ...] = prefixes) -> bool:
            return all(shown(p + path) for p in pre)

        why = _git_history_problem(root / rel, in_history)
        if why:
            unsafe[rel] = why
    return unsafe


def _git(git_dir: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "HOME": "/nonexistent",
        "GIT_ALLOW_PROTOCOL": "rempart-none",  # no transport at all: no lazy fetch
        "GIT_TERMINAL_PROMPT": "0",
    }
    # the store's own config is read by any git command on it: nothing it says may make
    # this run a program (fsmonitor, hooks, a promisor remote's upload-pack, ...)
    cmd = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
           "-c", "protocol.allow=never", f"--git-dir={git_dir}", *args]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise OSError(done.stderr.decode(errors="replace").strip()[:300])
    return done.stdout.decode("utf-8", "surrogateescape")


def _git_history_problem(git_dir: Path, readable: Callable[[str], bool]) -> str:
    """Why this repository's objects may not be shown ('' when they may)."""
    try:
        listed = _git(
            git_dir, "rev-list", "--objects", "--all", "--reflog", "--indexed-objects",
            "--missing=allow-any",
        )  # fmt: skip
        every = _git(git_dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"git could not list its objects ({exc}); hidden to be safe"
    reachable: set[str] = set()
    for line in listed.splitlines():
        sha, _, path = line.partition(" ")
        reachable.add(sha)
        if path and not readable(path):
            return f"its history holds read-denied path {path!r}"
    stray = set(every.split()) - reachable
    if stray:
        return (
            f"{len(stray)} unreachable objects may hold anything "
            "(`git gc --prune=now` removes them)"
        )
    return ""


def spool_tar(view: View, uid: int, gid: int) -> IO[bytes]:
    """The view's tar in a temporary file (memory up to 64 MiB), rewound."""
    out = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115
    view.write_tar(out, uid, gid)
    out.seek(0)
    return out
