"""Finding the text `edit_file` should replace when the model did not copy it exactly.

Exact first. Then, line by line, ignoring each line's leading and trailing whitespace
(a small model often gets the indentation wrong): if exactly one place matches, the edit
applies there, with `new` re-indented by the same shift. Otherwise the closest places are
returned with line numbers, so the model's next call can succeed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

MAX_CANDIDATES = 2
MAX_LEFT_OUT = 12  # file lines an `old` may leave out (a docstring) and still match
CONTEXT_LINES = 1
# `calc.py:19: syntax error: ...` (a warning of ours) or `File "x.py", line 19` (a traceback)
REPORT = re.compile(r'^\s*(?:\S+?:(\d+):\s|File "[^"]*", line (\d+))')


@dataclass
class Found:
    after: str = ""  # the file with the edit applied ('' when not applied)
    repair: str = ""  # what tolerance was needed ('' for an exact match)
    error: str = ""  # why it did not apply, with the closest candidates


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _shift(line: str, have: str, want: str) -> str:
    if not line.strip():
        return line
    if line.startswith(have):
        return want + line[len(have) :]
    return want + line.lstrip()


def _reindent(new_lines: list[str], old_lines: list[str], file_lines: list[str]) -> list[str]:
    """Give `new` the file's indentation where the model's `old` had another: line by line
    when `new` has as many lines as `old`, else from the nearest line of `old` it repeats."""
    pairs = [(_indent(o), _indent(f)) for o, f in zip(old_lines, file_lines, strict=False)]
    if len(new_lines) == len(old_lines):
        return [_shift(n, have, want) for n, (have, want) in zip(new_lines, pairs, strict=True)]
    stripped = [o.strip() for o in old_lines]
    anchor = pairs[0]
    out = []
    for line in new_lines:
        if line.strip() in stripped:
            anchor = pairs[stripped.index(line.strip())]
        out.append(_shift(line, *anchor))
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
        window = lines[i : i + size]
        new_lines = _reindent(_trim(new.split("\n")), old_lines, window) if new.strip() else []
        after = "\n".join([*lines[:i], *new_lines, *lines[i + size :]])
        return Found(after=after, repair="matched `old` ignoring whitespace at the line ends")
    if not starts:
        joined = _collapsed_edit(text, old, new)
        if joined is not None:
            return Found(after=joined, repair="matched `old` ignoring line breaks and spacing")
        kept = _elided_edit(lines, old_lines, _trim(new.split("\n")))
        if kept is not None:
            return Found(
                after="\n".join(kept),
                repair="matched `old` with lines it left out (a docstring, comments), kept them",
            )
    if len(starts) > 1:
        where = ", ".join(str(i + 1) for i in starts[:5])
        return Found(
            error=f"`old` matches at lines {where} of {path} (ignoring whitespace): include "
            "more surrounding lines so it matches once"
        )
    return Found(error=_not_found(lines, old_lines, path))


def _collapsed_edit(text: str, old: str, new: str) -> str | None:
    """`text` with `old` replaced where it matches ignoring line breaks and spacing, keeping
    the model's line boundaries: an `old` that starts with indentation (or a line break)
    must start a line there, one that ends with a line break must end one; a match at the
    start of a line keeps the file's indentation (`new` re-indented, as line by line)."""
    span = _collapsed_span(text, old)
    if span is None:
        return None
    start, end = span
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    before, rest = text[line_start:start], text[end : len(text) if line_end < 0 else line_end]
    if old[:1].isspace() and before.strip():
        return None  # the model's `old` starts a line; here it would start mid-line
    if old.rstrip(" \t").endswith("\n") and rest.strip():
        return None  # the model's `old` ends a line; here the line goes on
    if before.strip():  # mid-line: `new` replaces just the span
        replacement = new if old[:1].isspace() else new.lstrip()
        replacement = replacement if old[-1:].isspace() else replacement.rstrip()
        return text[:start] + replacement + text[end:]
    old_lines = _trim(old.split("\n"))
    new_lines = _trim(new.split("\n"))
    have = _indent(old_lines[0]) if old_lines else ""
    shifted = [_shift(line, have, before) for line in new_lines]
    return text[:line_start] + "\n".join(shifted) + text[end:]


def _elided_edit(lines: list[str], old_lines: list[str], new_lines: list[str]) -> list[str] | None:
    """The file's lines with the edit applied when `old` is the file's text with a few
    lines left out (a small model skips a docstring or a comment it did not think part of
    the code), found at exactly one place: the left-out lines are kept where they were, next
    to the line of `old` they followed, as long as `new` keeps that line."""
    key = [line.strip() for line in old_lines]
    if len(key) < 3 or not key[0] or not key[-1]:
        return None
    places = [p for p in (_subsequence(lines, key, i) for i in range(len(lines))) if p]
    if len(places) != 1:
        return None
    at = places[0]  # file line index of each line of `old`
    gaps = {k: lines[at[k] + 1 : at[k + 1]] for k in range(len(at) - 1) if at[k + 1] > at[k] + 1}
    wanted = [line.strip() for line in new_lines]
    kept_at: dict[int, int] = {}  # line of `old` -> the same line in `new`
    for block in difflib.SequenceMatcher(None, key, wanted, autojunk=False).get_matching_blocks():
        for n in range(block.size):
            kept_at[block.a + n] = block.b + n
    if any(k not in kept_at for k in gaps):
        return None  # the line a left-out part followed is gone from `new`: no place for it
    have, want = _indent(old_lines[0]), _indent(lines[at[0]])
    out: list[str] = []
    inserts = {kept_at[k]: gap for k, gap in gaps.items()}
    for j, line in enumerate(new_lines):
        out.append(_shift(line, have, want))
        out.extend(inserts.get(j, []))
    return [*lines[: at[0]], *out, *lines[at[-1] + 1 :]]


def _subsequence(lines: list[str], key: list[str], start: int) -> list[int] | None:
    """Where each of `key` is found in order from `start`, the first on `start` itself,
    with at most MAX_LEFT_OUT lines of the file skipped in all."""
    if lines[start].strip() != key[0]:
        return None
    at, i = [start], start + 1
    for wanted in key[1:]:
        while i < len(lines) and lines[i].strip() != wanted:
            i += 1
        if i >= len(lines) or i - start - len(at) > MAX_LEFT_OUT:
            return None
        at.append(i)
        i += 1
    return at if at[-1] - at[0] + 1 > len(key) else None


def _collapsed_span(text: str, old: str) -> tuple[int, int] | None:
    """Where `old` is in `text` when every run of whitespace counts as one space (a line
    the model joined or split), if it is there exactly once."""
    wanted = " ".join(old.split())
    if len(wanted) < 8:
        return None
    chars: list[str] = []
    origin: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not space and chars:
                chars.append(" ")
                origin.append(i)
            space = True
            continue
        space = False
        chars.append(ch)
        origin.append(i)
    flat = "".join(chars)
    first = flat.find(wanted)
    if first < 0 or flat.find(wanted, first + 1) >= 0:
        return None
    return origin[first], origin[first + len(wanted) - 1] + 1


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
    report = REPORT.match(old_lines[0]) if old_lines else None
    if report:  # the model pasted a problem report as `old`: show the line it names
        line = int(report.group(1) or report.group(2))
        if 1 <= line <= len(lines):
            lo, hi = max(line - 1 - CONTEXT_LINES, 0), min(line + CONTEXT_LINES, len(lines))
            block = "\n".join(f"{n + 1:>5}| {lines[n]}" for n in range(lo, hi))
            return (
                text + f" `old` is a problem report, not text of the file. Line {line} "
                f"and its neighbours are:\n{block}\nCopy the text of the line to change "
                "(without the `N| ` numbers) as `old`, and the corrected line as `new`."
            )
    if not scored or scored[0][0] < 0.4:
        return text + _no_match(lines, old_lines, path)
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


def _no_match(lines: list[str], old_lines: list[str], path: str) -> str:
    """Nothing like `old` is in the file: most often (config_cli_limit, five times) the
    model sent as `old` the code it wanted to add. Say that `old` must be text the file
    has, and name the line most like it as the place to anchor the addition."""
    words = {w.lower() for w in WORD.findall("\n".join(old_lines))}
    best, where = 0, -1
    for i, line in enumerate(lines):
        shared = len(words & {w.lower() for w in WORD.findall(line)})
        if shared > best:
            best, where = shared, i
    if where < 0:
        return " read_file it and copy the exact lines you want to replace."
    have = {line.strip() for line in lines}
    none = not any(line.strip() in have for line in old_lines if line.strip())
    told = f"None of its lines is in {path}" if none else "It is not text of the file"
    return (
        f" {told}: `old` must be text the file already has (to add "
        "new code, use as `old` an existing line where the code goes, and send that line "
        f"followed by your new lines as `new`). The line most like yours is {where + 1}:\n"
        f"{where + 1:>5}| {lines[where][:200]}"
    )
