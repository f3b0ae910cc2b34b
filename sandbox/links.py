"""Where a workspace path leads through the workspace's symlinks, worked out by name.

The read view and the change layer judge a path under every name it has; those names come
from the symlinks (link -> target text), resolved here lexically and link by link, so the
answer reflects the links as the sandbox has them after a change set, not only as the host
had them at start (an intermediate link retargeted in the same command counts at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_HOPS = 40


def _parts(text: str) -> list[str]:
    return [p for p in text.split("/") if p not in ("", ".")]


def resolve(path: str, links: Mapping[str, str], roots: Iterable[str]) -> str | None:
    """The workspace path `path` leads to ('' for the root), or None when it leaves the
    workspace or loops. `roots` are the absolute spellings of the workspace (`/workspace`
    in the sandbox, its host path): an absolute target under one of them stays inside."""
    prefixes = sorted({r.rstrip("/") for r in roots if r}, key=len, reverse=True)
    queue = _parts(path)
    out: list[str] = []
    hops = 0
    while queue:
        part = queue.pop(0)
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        target = links.get("/".join([*out, part]))
        if target is None:
            out.append(part)
            continue
        hops += 1
        if hops > MAX_HOPS:
            return None
        if target.startswith("/"):
            root = next((r for r in prefixes if target == r or target.startswith(r + "/")), None)
            if root is None:
                return None
            out = []
            queue = _parts(target[len(root) :]) + queue
        else:
            queue = _parts(target) + queue
    return "/".join(out)


def aliases(links: Mapping[str, str], roots: Iterable[str]) -> list[tuple[str, str]]:
    """(where it leads, symlink) for every symlink that stays inside the workspace."""
    spellings = list(roots)
    found: list[tuple[str, str]] = []
    for link in sorted(links):
        real = resolve(link, links, spellings)
        if real is not None and real != link:
            found.append((real, link))
    return found
