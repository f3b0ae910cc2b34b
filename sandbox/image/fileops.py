"""File operations of the in-container executor, with its path rule: every path is
resolved (symlinks included) and must stay under /workspace. Standard library only."""

from __future__ import annotations

import base64
import fnmatch
import os
import stat as stat_mod
from typing import Any

WORKSPACE = "/workspace"
READ_CAP = 16 * 1024 * 1024
LIST_CAP = 100_000
Json = dict[str, Any]


class RequestError(Exception):
    """A request the executor refuses; reported back, the executor keeps running."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def resolve(path: object) -> str:
    """Absolute real path under /workspace, or RequestError('path_escape')."""
    if not isinstance(path, str) or "\x00" in path:
        raise RequestError("bad_request", "path must be a string")
    joined = os.path.join(WORKSPACE, path)
    real = os.path.realpath(joined)
    if real != WORKSPACE and not real.startswith(WORKSPACE + "/"):
        raise RequestError("path_escape", f"path escapes the workspace: {path}")
    return real


def _relative(real: str) -> str:
    return os.path.relpath(real, WORKSPACE)


def number(req: Json, key: str, default: float) -> float:
    value = req.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RequestError("bad_request", f"{key} must be a non-negative number")
    return float(value)


def read(req: Json) -> Json:
    real = resolve(req.get("path"))
    offset = int(number(req, "offset", 0))
    limit = min(int(number(req, "limit", READ_CAP)), READ_CAP)
    with open(real, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(offset)
        data = fh.read(limit)
    end = offset + len(data)
    return {
        "data_b64": base64.b64encode(data).decode(),
        "size": size,
        "eof": end >= size,
        "path": _relative(real),
    }


def write(req: Json) -> Json:
    real = resolve(req.get("path"))
    content = req.get("content_b64")
    if not isinstance(content, str):
        raise RequestError("bad_request", "write needs content_b64")
    data = base64.b64decode(content, validate=True)
    if real == WORKSPACE or os.path.isdir(real):
        raise RequestError("is_a_directory", f"is a directory: {req.get('path')}")
    os.makedirs(os.path.dirname(real), exist_ok=True)
    with open(real, "wb") as fh:
        fh.write(data)
    return {"written": len(data), "path": _relative(real)}


def list_dir(req: Json) -> Json:
    root = resolve(req.get("path") or ".")
    pattern = req.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise RequestError("bad_request", "pattern must be a string")
    recursive = req.get("recursive", True) is not False
    cap = min(int(number(req, "cap", LIST_CAP)), LIST_CAP)
    if not os.path.isdir(root):
        raise RequestError("not_a_directory", f"not a directory: {req.get('path')}")
    entries: list[str] = []
    stack = [root]
    truncated = False
    while stack and not truncated:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # masked (mode 000) or vanished: not listable, like for `ls`
        for item in items:
            rel = _relative(item.path)
            is_dir = item.is_dir(follow_symlinks=False)
            if is_dir and recursive:
                stack.append(item.path)
            target = rel if "/" in (pattern or "") else item.name
            if pattern is None or fnmatch.fnmatchcase(target, pattern):
                if len(entries) >= cap:
                    truncated = True
                    break
                entries.append(rel + "/" if is_dir else rel)
    return {"entries": sorted(entries), "truncated": truncated}


def stat(req: Json) -> Json:
    real = resolve(req.get("path"))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return {"exists": False, "path": _relative(real)}
    kind = "dir" if stat_mod.S_ISDIR(st.st_mode) else "file"
    kind = kind if stat_mod.S_ISDIR(st.st_mode) or stat_mod.S_ISREG(st.st_mode) else "other"
    return {
        "exists": True,
        "path": _relative(real),
        "type": kind,
        "size": st.st_size,
        "mode": stat_mod.S_IMODE(st.st_mode),
        "mtime": st.st_mtime,
        "readable": os.access(real, os.R_OK),
        "writable": os.access(real, os.W_OK),
    }
