"""Checkpoints of every change the agent makes to the workspace, and undo.

Each change set the change layer is about to apply (`sandbox.changes.settle`) is recorded
first, as one step of the session: a commit in the workspace's shadow repository
(`sandbox.shadow`) on `refs/sessions/<session>`, whose tree holds `before/<path>` (the
path as it was before the session first changed it) and `after/<path>` (as this step
leaves it), and whose message holds each path's kinds. The content of a path the policy
denies reading is never stored (its kind is `hidden`).

`undo(to)` puts every path changed after step `to` back as it was then, byte for byte,
atomically per file; it refuses, naming the files and changing nothing, when a path is no
longer what the session left there (the user, or a later session, changed it since).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat as stat_mod
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from sandbox.changes import Change, NotRecorded, syncfs
from sandbox.errors import SandboxError
from sandbox.shadow import EMPTY_TREE, IDENTITY, ShadowError, ShadowRepo, quote_path, repo_for
from sandbox.view import open_parent, read_nofollow

Kind = Literal["absent", "file", "exec", "symlink", "dir", "hidden"]
CONTENT_KINDS = ("file", "exec", "symlink")
GIT_MODES = {"file": "100644", "exec": "100755", "symlink": "120000"}


class FileState(BaseModel):
    kind: Kind
    data: bytes = b""  # a file's bytes or a symlink's target


ChangeSet = dict[str, tuple[FileState, FileState]]  # path -> (before, after)


class UndoRefused(SandboxError):
    """Some paths are not what the session left: nothing was changed."""

    def __init__(self, paths: list[str]) -> None:
        shown = ", ".join(paths[:20]) + (f" (+{len(paths) - 20} more)" if len(paths) > 20 else "")
        super().__init__(
            f"not undone: changed since the session wrote them: {shown}",
            hint="undo the later session first, or put these files back as the session left "
            "them (`rempart sessions diff ID` shows its change)",
        )
        self.paths = paths


class Step(BaseModel):
    number: int
    commit: str
    label: str
    ts: float
    paths: dict[str, tuple[Kind, Kind]]  # path -> (kind before this step, kind after)


class UndoReport(BaseModel):
    restored: list[str] = []
    unchanged: list[str] = []  # already as they should be
    left: dict[str, str] = {}  # path -> why it was left as it is


def host_state(root: Path, rel: str, readable: bool = True) -> FileState:
    """What the host has at `rel` (reached without following symlinks)."""
    parent = open_parent(root, rel)
    if parent is None:
        return FileState(kind="absent")
    name = rel.rsplit("/", 1)[-1]
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat_mod.S_ISDIR(st.st_mode):
            return FileState(kind="dir")
        if not readable:
            return FileState(kind="hidden")
        if stat_mod.S_ISLNK(st.st_mode):
            return FileState(kind="symlink", data=os.readlink(name, dir_fd=parent).encode())
    except FileNotFoundError:
        return FileState(kind="absent")
    finally:
        os.close(parent)
    data = read_nofollow(root, rel)
    if data is None:
        return FileState(kind="absent")
    return FileState(kind="exec" if st.st_mode & 0o100 else "file", data=data)


def sandbox_state(change: Change, content: Callable[[str], bytes], readable: bool) -> FileState:
    """What applying `change` will leave on the host."""
    if change.change == "deleted":
        return FileState(kind="absent")
    if change.kind == "dir":
        return FileState(kind="dir")
    if not readable:
        return FileState(kind="hidden")
    if change.kind == "symlink":
        return FileState(kind="symlink", data=change.target.encode())
    return FileState(kind="exec" if change.mode & 0o100 else "file", data=content(change.path))


def _same(a: FileState, b: FileState) -> bool:
    """Same kind (the executable bit included) and the same bytes."""
    return a.kind == b.kind and a.data == b.data


class Checkpoints:
    """The checkpoints of one session in one workspace."""

    def __init__(self, root: Path, workspace: Path, session: str) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self.repo = ShadowRepo(repo_for(root, self.workspace), self.workspace)
        self.session = session
        self.ref = f"refs/sessions/{session}"
        self._steps: list[Step] | None = None

    # recording ---------------------------------------------------------------------
    def steps(self) -> list[Step]:
        if self._steps is None:
            commits = self.repo.chain(self.ref)
            bodies = self.repo.objects(commits)
            pairs = zip(commits, bodies, strict=True)
            self._steps = [_step(i, sha, body or b"") for i, (sha, body) in enumerate(pairs, 1)]
        return self._steps

    def record(self, changes: ChangeSet, label: str) -> int:
        """Write one step (before anything is applied); returns its number."""
        if not changes:
            return len(self.steps())
        try:
            self.repo.ensure()
            steps = self.steps()
            last = _last_kinds(steps)
            number = len(steps) + 1
            kinds = {p: (b.kind, a.kind) for p, (b, a) in sorted(changes.items())}
            meta = {"session": self.session, "step": number, "label": label[:300], "paths": kinds}
            message = f"step {number}: {label[:200]}\n\n{json.dumps(meta)}\n".encode()
            stream = _stream(self.ref, steps[-1].commit if steps else None, message, changes, last)
            self.repo.import_stream(stream)
            head = self.repo.resolve(self.ref)
        except (ShadowError, OSError) as exc:
            raise NotRecorded(f"checkpoint not written: {exc}") from exc
        assert head is not None
        steps.append(Step(number=number, commit=head, label=label, ts=time.time(), paths=kinds))
        return number

    # reading -----------------------------------------------------------------------
    def diff(self, upto: int | None = None) -> str:
        """The session's whole change (or up to step `upto`) as a unified diff."""
        steps = self.steps()
        if upto is not None:
            steps = steps[:upto]
        if not steps:
            return ""
        head = steps[-1].commit
        trees = self.repo.objects([f"{head}:before", f"{head}:after"])
        before = f"{head}:before" if trees[0] is not None else EMPTY_TREE
        after = f"{head}:after" if trees[1] is not None else EMPTY_TREE
        text = self.repo.diff(before, after)
        first = _first_kinds(steps)
        notes = []
        for path, kind in sorted(_last_kinds(steps).items()):
            was = first[path]
            if "dir" in (was, kind) and was != kind:
                notes.append(f"folder {'created' if kind == 'dir' else 'removed'}: {path}")
            elif "hidden" in (was, kind) and was != kind:
                verb = "created" if kind == "hidden" else "changed"
                notes.append(f"read-denied file {verb}: {path} (content not kept)")
        return text + "".join(f"# {note}\n" for note in notes)

    # undo --------------------------------------------------------------------------
    def undo(self, to: int = 0) -> UndoReport:
        steps = self.steps()
        if not 0 <= to <= len(steps):
            raise SandboxError(f"step {to} does not exist: this session has steps 0..{len(steps)}")
        later = steps[to:]
        if not later:
            return UndoReport()
        final, kept = _last_kinds(steps), _last_kinds(steps[:to])
        base = _first_kinds(steps)
        paths = sorted({p for s in later for p in s.paths})
        head, then = steps[-1].commit, steps[to - 1].commit if to else None
        wanted = {p: kept.get(p, base[p]) for p in paths}
        names: list[str] = []
        for p in paths:
            names.append(f"{head}:after/{p}")
            names.append(f"{then}:after/{p}" if p in kept and then else f"{head}:before/{p}")
        blobs = self.repo.objects(names)
        report, plan, refused = UndoReport(), [], []
        for i, p in enumerate(paths):
            end, goal = _state(final[p], blobs[2 * i]), _state(wanted[p], blobs[2 * i + 1])
            if "hidden" in (end.kind, goal.kind):
                report.left[p] = "read-denied: its content was never kept, so it is left as is"
                continue
            now = host_state(self.workspace, p)
            if _same(now, goal):
                report.unchanged.append(p)
            elif _same(now, end):
                plan.append((p, goal))
            else:
                refused.append(p)
        if refused:
            raise UndoRefused(refused)
        _restore(self.workspace, plan, report)
        self._move_ref(then, head)
        return report

    def _move_ref(self, then: str | None, head: str) -> None:
        keep = f"refs/undone/{self.session}/{int(time.time() * 1000)}"
        self.repo.update_ref(keep, head, "0" * 40)
        self.repo.update_ref(self.ref, then, head)
        self._steps = None


def _state(kind: Kind, stored: bytes | None) -> FileState:
    """A state from its kind and what the repository holds under its name (a folder's
    name may hold a tree: not content)."""
    return FileState(kind=kind, data=(stored or b"") if kind in CONTENT_KINDS else b"")


def _step(number: int, sha: str, body: bytes) -> Step:
    text = body.decode("utf-8", errors="replace")
    header, _, message = text.partition("\n\n")
    committer = [line for line in header.splitlines() if line.startswith("committer ")]
    ts = float(committer[0].split()[-2]) if committer else 0.0
    meta = json.loads(message.split("\n\n", 1)[1]) if "\n\n" in message else {}
    paths = {p: (k[0], k[1]) for p, k in dict(meta.get("paths", {})).items()}
    return Step(number=number, commit=sha, label=str(meta.get("label", "")), ts=ts, paths=paths)


def _last_kinds(steps: list[Step]) -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for step in steps:
        out.update({p: k[1] for p, k in step.paths.items()})
    return out


def _first_kinds(steps: list[Step]) -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for step in steps:
        for p, k in step.paths.items():
            out.setdefault(p, k[0])
    return out


def _stream(
    ref: str, parent: str | None, message: bytes, changes: ChangeSet, last: dict[str, Kind]
) -> bytes:
    out = [f"commit {ref}\ncommitter {IDENTITY} {int(time.time())} +0000\n".encode()]
    out.append(f"data {len(message)}\n".encode() + message + b"\n")
    if parent:
        out.append(f"from {parent}\n".encode())
    # removals first (a file that became a folder), then contents
    for path, (_before, after) in sorted(changes.items()):
        if after.kind not in CONTENT_KINDS and last.get(path) in CONTENT_KINDS:
            out.append(f"D {quote_path('after/' + path)}\n".encode())
    for path, (before, after) in sorted(changes.items()):
        if path not in last and before.kind in CONTENT_KINDS:
            out.append(_blob(f"before/{path}", before))
        if after.kind in CONTENT_KINDS:
            out.append(_blob(f"after/{path}", after))
    out.append(b"\ndone\n")
    return b"".join(out)


def _blob(path: str, state: FileState) -> bytes:
    head = f"M {GIT_MODES[state.kind]} inline {quote_path(path)}\ndata {len(state.data)}\n"
    return head.encode() + state.data + b"\n"


def _restore(root: Path, plan: list[tuple[str, FileState]], report: UndoReport) -> None:
    """Put each path in its wanted state: removals deepest first, then creations parents
    first; files and symlinks through a temporary file renamed in place."""

    def order(item: tuple[str, FileState]) -> tuple[bool, int, str]:
        path, goal = item
        depth = path.count("/")
        return (goal.kind != "absent", -depth if goal.kind == "absent" else depth, path)

    for path, goal in sorted(plan, key=order):
        why = _put(root, path, goal)
        if why:
            report.left[path] = why
        else:
            report.restored.append(path)
    syncfs(root)


def _put(root: Path, rel: str, goal: FileState) -> str:
    parent = open_parent(root, rel, create=goal.kind != "absent")
    if parent is None:
        return "" if goal.kind == "absent" else "a folder on the way is a symlink or a file"
    name = rel.rsplit("/", 1)[-1]
    tmp = f".{name[:200]}.rempart-{os.getpid()}.tmp"
    try:
        try:
            st: os.stat_result | None = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        is_dir = st is not None and stat_mod.S_ISDIR(st.st_mode)
        if goal.kind == "dir":
            if st is not None and not is_dir:
                os.unlink(name, dir_fd=parent)
            if not is_dir:
                os.mkdir(name, 0o755, dir_fd=parent)
            return ""
        if goal.kind == "absent":
            if is_dir:
                os.rmdir(name, dir_fd=parent)
            elif st is not None:
                os.unlink(name, dir_fd=parent)
            return ""
        if is_dir:
            os.rmdir(name, dir_fd=parent)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=parent)
        if goal.kind == "symlink":
            os.symlink(goal.data.decode(), tmp, dir_fd=parent)
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(tmp, flags, 0o600, dir_fd=parent)
            with os.fdopen(fd, "wb") as out:
                out.write(goal.data)
                mode = stat_mod.S_IMODE(st.st_mode) if st is not None and not is_dir else 0o644
                os.fchmod(out.fileno(), (mode | 0o111) if goal.kind == "exec" else mode & ~0o111)
                out.flush()
                os.fsync(out.fileno())
        os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        return ""
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=parent)
        return f"not restored: {exc.strerror or exc}"
    finally:
        os.close(parent)
