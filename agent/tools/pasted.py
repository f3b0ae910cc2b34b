"""Framing a small model copies back from tool output into a file, found and removed.

`read_file` shows a file as a header line, then the file's text as it is (no gutter), then
maybe a `[... N more lines ...]` footer. Small models still paste the header, the footer,
a line-number gutter (`   12| `, `12: `, from older output or their own habit) or the chat
template's `<tool_response>` tags into `write_file` and `edit_file`. Each is stripped only
when it is unambiguous (a gutter on *every* non-empty line, numbered consecutively), and
each strip is named so the loop counts it as a repair.
"""

from __future__ import annotations

import itertools
import re

HEADER = re.compile(r"^\s*(\[)?[^\n]{1,300} lines \d+-\d+ of \d+(:|\])\s*$")
FOOTER = re.compile(r"^\s*(\[\.\.\. \d+ more lines.*\]|\.\.\. \(\d+ more lines\))\s*$")
TAGS = re.compile(r"^\s*</?(tool_response|tool_call|file|content)>\s*$")
GUTTER = re.compile(r"^( *)(\d{1,6})(\| |\|$|│ ?|\t)")


def header(path: str, first: int, last: int, total: int) -> str:
    """The one line `read_file` puts above a file's text."""
    return f"[{path} lines {first}-{last} of {total}]"


def _strip_gutter(lines: list[str]) -> list[str] | None:
    """The lines without their number gutter, when every non-empty line has one and the
    numbers count up; else None."""
    numbered = [(i, GUTTER.match(line)) for i, line in enumerate(lines) if line.strip()]
    if len(numbered) < 2 or any(m is None for _, m in numbered):
        return None
    numbers = [int(m.group(2)) for _, m in numbered if m is not None]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        return None
    out = list(lines)
    for i, match in numbered:
        assert match is not None
        out[i] = lines[i][match.end() :]
    return out


# `\b` and `\f` in a JSON string are a backspace and a form feed: a model writing the regex
# `r'\b[a-z]+\b'` sends them, and the file gets control characters that match nothing (bench:
# create_wordfreq printed nothing). No source text holds them: they go back to the escape.
JSON_SLIPS = {"\x08": ("\\b", "backspace"), "\x0c": ("\\f", "form feed")}


def unpaste(text: str) -> tuple[str, list[str]]:
    """`text` without pasted tool-output framing, and what was removed (empty: unchanged)."""
    repairs: list[str] = []
    lines = text.split("\n")
    kept = [line for line in lines if not TAGS.match(line)]
    if len(kept) != len(lines):
        repairs.append("removed pasted <tool_response> tags")
        lines = kept
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and HEADER.match(lines[first]):
        del lines[first]
        repairs.append("removed a pasted read_file header line")
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
    if last is not None and FOOTER.match(lines[last]):
        del lines[last]
        repairs.append("removed a pasted read_file footer line")
    stripped = _strip_gutter(lines)
    if stripped is not None:
        lines = stripped
        repairs.append("removed a pasted line-number gutter")
    out = "\n".join(lines) if repairs else text
    for char, (escape, name) in JSON_SLIPS.items():
        if char in out:
            repairs.append(f"wrote {out.count(char)} {name} character(s) as {escape}")
            out = out.replace(char, escape)
    return out, repairs
