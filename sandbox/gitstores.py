"""Git stores: every folder git would use as a repository, and what may change in one.

Git treats a folder as a repository when it holds `HEAD` and `objects/` or `refs/` (or a
`commondir` file): a `.git` folder, a bare mirror (`backup.git`), a submodule's store under
`.git/modules/`, a worktree's `.git/worktrees/x`, or a folder a sandbox plants anywhere.
A store's `config`, `hooks/`, `info/` and its rebase/sequencer todo lists make git run
programs, so the sandbox may change only git's data in a store it was shown, never create
a store, and never put a symlink in one (git writes through it, out of the workspace).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MARKERS = frozenset({"HEAD", "objects", "refs", "commondir"})
# what a planted store must not get: its markers and what makes git run programs
PLANTED = MARKERS | {"config", "hooks", "info", "packed-refs", "gitdir"}
# the top-level entries a shown store may show: git's own; anything else (`lost-found/`
# from `git fsck --lost-found`, `rr-cache/` with conflict contents, `lfs/` objects, a
# developer's stray file) may hold any content and is hidden
SHOWN_ENTRIES = frozenset(
    {"HEAD", "config", "description", "hooks", "info", "objects", "refs", "logs", "index",
     "packed-refs", "FETCH_HEAD", "ORIG_HEAD", "COMMIT_EDITMSG", "MERGE_HEAD", "MERGE_MSG",
     "MERGE_MODE", "CHERRY_PICK_HEAD", "REVERT_HEAD", "REBASE_HEAD", "AUTO_MERGE",
     "SQUASH_MSG", "shallow", "branches", "modules", "worktrees", "commondir", "gitdir"}
)  # fmt: skip
# what the sandbox may change in a shown store: data, never configuration, hooks or todo
# lists (`rebase-merge/git-rebase-todo` holds `exec` lines git runs on --continue)
DATA_DIRS = ("objects", "refs", "logs")
DATA_FILES = frozenset(
    {"index", "HEAD", "ORIG_HEAD", "FETCH_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD",
     "REVERT_HEAD", "REBASE_HEAD", "AUTO_MERGE", "COMMIT_EDITMSG", "MERGE_MSG", "MERGE_MODE",
     "SQUASH_MSG", "packed-refs", "description", "index.lock", "HEAD.lock"}
)  # fmt: skip
NEVER = frozenset({"objects/info/alternates", "objects/info/http-alternates"})


def looks_like_store(has: Callable[[str], bool]) -> bool:
    """Would git take a folder with these entries (`has(name)`) for a repository? Git's
    own test: `HEAD`, `refs/`, and `objects/` or a `commondir` (so `.git/logs`, which holds
    `HEAD` and `refs/` too, is not one)."""
    return has("HEAD") and has("refs") and (has("objects") or has("commondir"))


def store_of(path: str, stores: Iterable[str]) -> str | None:
    """The innermost store `path` is in (or is), None when it is in none."""
    best: str | None = None
    for store in stores:
        if (path == store or path.startswith(store + "/")) and (
            best is None or len(store) > len(best)
        ):
            best = store
    return best


def refusal_in_store(path: str, store: str, kind: str, deleted: bool) -> str:
    """Why a change inside shown store `store` may not reach the host ('' when it may)."""
    inner = path[len(store) + 1 :] if path != store else ""
    if not inner:
        if not deleted and kind == "dir":
            return ""
        return "a shown git store is never removed or replaced"
    if kind == "symlink" and not deleted:
        return "no symlink inside a git store (git would write through it, out of the workspace)"
    if inner in NEVER:
        return f"git {inner} points git at objects outside the workspace"
    first = inner.split("/", 1)[0]
    if first in DATA_DIRS or inner in DATA_FILES:
        return ""
    return f"git {inner} can make git run programs on the host"


def planted(changed: Iterable[tuple[str, bool]], stores: Iterable[str],
            exists: Callable[[str], bool]) -> set[str]:  # fmt: skip
    """Folders a change set would turn into git stores that the sandbox was not shown, at
    any depth: also inside a shown store's `objects/` or `refs/` (host git would later run
    on it, with its config). `changed` holds (path, deleted) for every change; `exists(path)`
    tells whether the host has a path now."""
    items = list(changed)
    created = {path for path, deleted in items if not deleted}
    removed = {path for path, deleted in items if deleted}
    known = list(stores)
    candidates: set[str] = set()
    for path, deleted in items:
        if deleted:
            continue
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part in MARKERS:
                candidates.add("/".join(parts[:i]))
    found: set[str] = set()
    for folder in candidates:
        if folder in known:  # a store the sandbox was shown; one planted inside it is not
            continue

        def has(name: str, folder: str = folder) -> bool:
            path = f"{folder}/{name}" if folder else name
            if path in created or any(c.startswith(path + "/") for c in created):
                return True
            return path not in removed and exists(path)

        if looks_like_store(has):
            found.add(folder)
    return found


def in_planted(path: str, stores: Iterable[str]) -> str | None:
    """The planted store `path` would help make, if any."""
    for folder in stores:
        rest = path[len(folder) + 1 :] if folder else path
        if folder and not path.startswith(folder + "/"):
            continue
        if rest.split("/", 1)[0] in PLANTED:
            return folder
    return None
