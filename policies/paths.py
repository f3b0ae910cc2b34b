"""Path normalisation: what a path really names, before any rule sees it.

Paths are resolved lexically against the sandbox mount (`/workspace`): `..`, `//`, `./`,
`/workspace/...`, `/proc/<pid>/root` and `/proc/<pid>/cwd` all collapse to one form, a
workspace-relative path (`src/a.py`, `.` for the root) or an absolute path outside it.
`folded` is the form deny/ask rules match: NFKC, invisible characters removed, case-folded,
trailing dots and spaces of components dropped, so `.ENV`, `.env\u200b` and `．ｅｎｖ` are `.env`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WORKSPACE = "/workspace"
MAX_PATH = 4096
MAX_DEPTH = 128

_PROC = re.compile(r"^/proc/(?:self|thread-self|[0-9]+)(?:/task/[0-9]+)?/(root|cwd)(?=/|$)")
PSEUDO_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty"})


@dataclass(frozen=True, slots=True)
class NormPath:
    exact: str
    folded: str
    absolute: bool
    error: str | None = None


def fold_text(text: str) -> str:
    """Case-folded NFKC text without invisible (format) characters."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text.casefold())


def _fold_path(path: str) -> str:
    folded = fold_text(path)
    if "." not in folded and " " not in folded:
        return folded
    parts = []
    for comp in folded.split("/"):
        stripped = comp.rstrip(". ")
        parts.append(stripped if stripped and comp not in (".", "..") else comp)
    return "/".join(parts)


def _resolve(path: str) -> list[str] | None:
    stack: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if stack:
                stack.pop()
            continue
        stack.append(comp)
        if len(stack) > MAX_DEPTH:
            return None
    return stack


def normalise(path: str, cwd: str = ".") -> NormPath:
    """Resolve `path` (relative to `cwd`, itself workspace-relative or absolute)."""
    if "\x00" in path or "\x00" in cwd:
        return NormPath(path, path, False, "path contains a NUL byte")
    if len(path) + len(cwd) > MAX_PATH:
        return NormPath(path[:64], path[:64], False, f"path longer than {MAX_PATH} characters")
    if not path:
        return NormPath("", "", False, "empty path")
    if path.startswith("/"):
        full = path
    elif cwd.startswith("/"):
        full = cwd + "/" + path
    else:
        full = WORKSPACE + "/" + cwd + "/" + path
    for _ in range(16):
        m = _PROC.match(full)
        if m is None:
            break
        rest = full[m.end() :]
        full = (rest or "/") if m.group(1) == "root" else WORKSPACE + rest
    stack = _resolve(full)
    if stack is None:
        return NormPath(path[:64], path[:64], False, f"path deeper than {MAX_DEPTH} components")
    if stack[:1] == [WORKSPACE[1:]]:
        exact = "/".join(stack[1:]) or "."
        return NormPath(exact, _fold_path(exact), False)
    exact = "/" + "/".join(stack)
    return NormPath(exact, _fold_path(exact), True)


def normalise_pattern(pattern: str) -> str:
    """A rule's path pattern in the same form as normalised paths (raises ValueError)."""
    if "\x00" in pattern:
        raise ValueError("pattern contains a NUL byte")
    if any(unicodedata.category(c) == "Cf" for c in pattern):
        raise ValueError("pattern contains invisible characters")
    p = pattern
    if p == WORKSPACE or p == WORKSPACE + "/":
        return "**"
    if p.startswith(WORKSPACE + "/"):
        p = p[len(WORKSPACE) + 1 :]
    while p.startswith("./"):
        p = p[2:]
    if p.endswith("/") and p.strip("/"):
        p = p.rstrip("/")
    comps = p.split("/")
    body = comps[1:] if p.startswith("/") else comps
    if any(c in ("", ".", "..") for c in body):
        raise ValueError("pattern has empty, `.` or `..` components: it can never match a path")
    return p
