"""Finding the text `edit_file` should replace when the model did not copy it exactly.

Exact first. Then, line by line, ignoring each line's leading and trailing whitespace
(a small model often gets the indentation wrong): if exactly one place matches, the edit
applies there, with `new` re-indented by the same shift. Otherwise the closest places are
returned with line numbers, so the model's next call can succeed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MAX_CANDIDATES = 2
CONTEXT_LINES = 1


@dataclass
class Found:
    after: str = ""  # the file with the edit applied ('' when not applied)
    repair: str = ""  # what tolerance was needed ('' for an exact match)
    error: str = ""  # why it did not apply, with the closest candidates


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _reindent(new_lines: list[str], old_first: str, file_first: str) -> list[str]:
    """Shift `new` by the indentation difference between what the model wrote as the
    first line of `old` and what the file has there."""
    have, want = _indent(old_first), _indent(file_first)
    if have == want:
        return new_lines
    out = []
    for line in new_lines:
        if not line.strip():
            out.append(line)
        elif line.startswith(have):
            out.append(want + line[len(have) :])
        else:
            out.append(want + line.lstrip())
    return out


def replace_once(text: str, old: str, new: str, path: str) -> Found:
    count = text.count(old)
    if count == 1:
        return Found(after=text.replace(old, new, 1))
    if count > 1:
        return Found(
            error=f"`old` occurs {count} times in {path}: include more surrounding lines so "
            "it matches exactly once"
        )
    lines = text.split("\n")
    old_lines = _trim(old.split("\n"))
    if not old_lines:
        return Found(error="`old` is only whitespace: give the exact text to replace")
    key = [line.strip() for line in old_lines]
    size = len(old_lines)
    starts = [
        i
        for i in range(len(lines) - size + 1)
        if [line.strip() for line in lines[i : i + size]] == key
    ]
    if len(starts) == 1:
        i = starts[0]
        new_lines = _reindent(_trim(new.split("\n")), old_lines[0], lines[i]) if new.strip() else []
        after = "\n".join([*lines[:i], *new_lines, *lines[i + size :]])
        return Found(after=after, repair="matched `old` ignoring whitespace at the line ends")
    if len(starts) > 1:
        where = ", ".join(str(i + 1) for i in starts[:5])
        return Found(
            error=f"`old` matches at lines {where} of {path} (ignoring whitespace): include "
            "more surrounding lines so it matches once"
        )
    return Found(error=_not_found(lines, old_lines, path))


def _not_found(lines: list[str], old_lines: list[str], path: str) -> str:
    size = len(old_lines)
    wanted = "\n".join(line.strip() for line in old_lines)
    scored: list[tuple[float, int]] = []
    for i in range(max(len(lines) - size + 1, 1)):
        window = "\n".join(line.strip() for line in lines[i : i + size])
        matcher = difflib.SequenceMatcher(None, wanted, window, autojunk=False)
        if matcher.real_quick_ratio() < 0.3 or matcher.quick_ratio() < 0.3:
            continue
        scored.append((matcher.ratio(), i))
    scored.sort(key=lambda s: (-s[0], s[1]))
    text = f"`old` was not found in {path}."
    if not scored or scored[0][0] < 0.4:
        return text + " read_file it and copy the exact lines you want to replace."
    shown: list[str] = []
    for _, i in scored[:MAX_CANDIDATES]:
        lo, hi = max(i - CONTEXT_LINES, 0), min(i + size + CONTEXT_LINES, len(lines))
        block = "\n".join(f"{n + 1:>5}| {lines[n]}" for n in range(lo, hi))
        shown.append(f"closest match, lines {lo + 1}-{hi}:\n{block}")
    return (
        text
        + " Copy the text exactly from these lines (without the `N| ` numbers):\n"
        + "\n".join(shown)
    )
