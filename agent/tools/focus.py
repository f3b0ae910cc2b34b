"""Where a failure points, in one line: the file, the line and the error.

A traceback is long and its useful line is the last frame in the project's own code; a
small model often reads the top of it (or the test) and edits the wrong place. The line
added to a failed command's output (and to a refused finish) names the project file and
line closest to the error, preferring code under test over the tests themselves, and the
error message. It is read from the output only: nothing is run or opened.
"""

from __future__ import annotations

import re

PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
PYTEST_FRAME = re.compile(r"^(?P<path>[\w./-]+\.py):(?P<line>\d+): ", re.MULTILINE)
ERROR_LINE = re.compile(
    r"^(?:E\s+)?(?P<error>[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*)$", re.MULTILINE
)
PYTEST_E = re.compile(r"^E\s+(?P<error>[^\s+].*)$", re.MULTILINE)  # `E   assert 1 == 5`
WORKSPACE = "/workspace/"
OUTSIDE = ("/usr/", "/lib/", "/opt/", "site-packages", "dist-packages", "<frozen", "<string>")


def _frames(output: str) -> list[tuple[str, int]]:
    found: list[tuple[int, str, int]] = []
    for pattern in (PY_FRAME, PYTEST_FRAME):
        for m in pattern.finditer(output):
            found.append((m.start(), m.group("path"), int(m.group("line"))))
    frames: list[tuple[str, int]] = []
    for _, path, line in sorted(found):
        if path.startswith(WORKSPACE):
            path = path[len(WORKSPACE) :]
        if path.startswith("/") or any(part in path for part in OUTSIDE):
            continue
        frames.append((path, line))
    return frames


def _is_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "tests/" in f"/{path}"


def focus(output: str) -> str:
    """`where to look: PATH line N (ERROR)`, or "" when the output names no project file."""
    frames = _frames(output)
    if not frames:
        return ""
    code = [f for f in frames if not _is_test(f[0])]
    path, line = (code or frames)[-1]
    found = [(m.start(), m.group("error")) for m in ERROR_LINE.finditer(output)]
    found += [(m.start(), m.group("error")) for m in PYTEST_E.finditer(output)]
    errors = [error.strip() for _, error in sorted(found) if not error.startswith("where ")]
    error = f" ({errors[-1][:200]})" if errors else ""
    return f"where to look: {path} line {line}{error}"
