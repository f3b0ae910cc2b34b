"""Which workspace paths git ignores, from the `.gitignore` files the sandbox can read.

`list_files` leaves these out (as `git ls-files` and ripgrep do), so a listing shows the
project, not its build output or virtualenv. Matching is pathspec's `GitIgnoreSpec` (git's
own rules); files nearer the path win over those above, as in git. `.git/` itself is always
left out. Only `.gitignore` files are read (not `.git/info/exclude` or a global excludes
file: those are the person's, not the project's). A `.gitignore` the policy hides from the
sandbox cannot be read, so it does not apply: that only shows more, never less.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from pathspec import GitIgnoreSpec

from agent.tools.base import SandboxLike
from sandbox.errors import SandboxRequestError

NAME = ".gitignore"


@dataclass(frozen=True)
class GitIgnore:
    specs: tuple[tuple[str, GitIgnoreSpec], ...]  # (folder, its patterns), outermost first

    @classmethod
    def load(cls, sandbox: SandboxLike, folder: str = ".") -> GitIgnore:
        """The `.gitignore` files of `folder`, its parents up to the root, and below it."""
        parents = [str(p) for p in reversed(PurePosixPath(folder).parents)] + [folder]
        below = sandbox.list_files(folder, pattern=NAME, recursive=True)
        candidates = [_join(p, NAME) for p in dict.fromkeys(parents)] + below
        specs: list[tuple[str, GitIgnoreSpec]] = []
        for path in dict.fromkeys(candidates):
            try:
                text = sandbox.read_file(path).decode("utf-8", errors="replace")
            except SandboxRequestError:  # absent, or not in the sandbox's view
                continue
            base = str(PurePosixPath(path).parent)
            specs.append((base, GitIgnoreSpec.from_lines(text.splitlines())))
        specs.sort(key=lambda item: 0 if item[0] == "." else item[0].count("/") + 1)
        return cls(tuple(specs))

    def ignored(self, path: str) -> bool:
        """Whether git ignores `path` (workspace-relative; a folder ends with `/`)."""
        parts = PurePosixPath(path).parts
        if ".git" in parts:
            return True
        verdict = False
        for base, spec in self.specs:
            rel = _relative(path, base)
            if rel is None:
                continue
            include = _check(spec, rel)
            if include is not None:
                verdict = include
        return verdict


def _check(spec: GitIgnoreSpec, rel: str) -> bool | None:
    """The file's own verdict, or its nearest ignored folder's (git never looks inside)."""
    parts = PurePosixPath(rel.rstrip("/")).parts
    for depth in range(1, len(parts)):
        if spec.check_file("/".join(parts[:depth]) + "/").include:
            return True
    return spec.check_file(rel).include


def _join(folder: str, name: str) -> str:
    return name if folder in (".", "") else f"{folder}/{name}"


def _relative(path: str, base: str) -> str | None:
    if base in (".", ""):
        return path
    prefix = base.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None
